"""A real FastAPI app under uvicorn and in-process under ``lambdastream dev``: same answers.

The app (``apps/fastapi_app.py``) runs under uvicorn over HTTP, and in
lambdastream's runtime behind ``lambdastream dev``, named both ways
(``_HANDLER=fastapi_app.app``, the app itself, and
``fastapi_handler.handler = asgi(app)``). httpx sends each the same request
and what it sees must be equal (see ``webdiff.seen``): JSON routes, path and
query parameters, cookies both ways, a binary body of every byte value, a
1 MiB body both ways, a redirect, 404, 422, an exception before the first
byte, HEAD, lifespan state, a background task; streams (async and sync
generators, sse-starlette with its pings) must reach the client chunk by
chunk, each before the next is produced, on both.

Where the two cannot be equal, the test says what each does:
an exception after the first byte (uvicorn cuts the connection; a Function
URL ends the body and puts the error in trailers), and the Content-Type dev
gives a response that has none (``webdiff.DEV_DEFAULT_CONTENT_TYPE``).
Beyond what a client sees through httpx: a 204 or 304 carries no body on
the wire, and the lifespan runs once per process.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from h11client import request as raw_request
from support import DevServer
from webdiff import (
    DEV_DEFAULT_CONTENT_TYPE,
    assert_each_chunk_before_the_next,
    chunk_arrivals,
    client,
    dev_server,
    drop_dev_content_type,
    mask_produced,
    normalized_headers,
    seen,
    uvicorn_server,
)

pytestmark = pytest.mark.timeout(120)

# 1 MiB of random bytes, NULs and every other value among them, the same each run.
PAYLOAD = b"\x00\x00\xff\x00" + random.Random(20261128).randbytes((1 << 20) - 4)
HANDLERS = ["fastapi_app.app", "fastapi_handler.handler"]


@pytest.fixture(scope="module")
def state_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Where each server's background tasks leave their effect (one directory each)."""
    return {name: tmp_path_factory.mktemp(f"state-{name}") for name in ("uvicorn", "dev")}


@pytest.fixture(scope="module")
def uvicorn_url(state_dirs: dict[str, Path]) -> Iterator[str]:
    with uvicorn_server(
        "fastapi_app:app", env={"WEB_TEST_STATE_DIR": str(state_dirs["uvicorn"])}
    ) as (url, _log):
        yield url


@pytest.fixture(scope="module", params=HANDLERS)
def dev(request: pytest.FixtureRequest, state_dirs: dict[str, Path]) -> Iterator[DevServer]:
    with dev_server(request.param, env={"WEB_TEST_STATE_DIR": str(state_dirs["dev"])}) as server:
        yield server


# Each case: the request (method, path, httpx keyword arguments), and how to
# mask what legitimately differs between two runs of the same app.
Case = tuple[str, str, dict[str, Any], Callable[[bytes], bytes] | None]
CASES: dict[str, Case] = {
    "json": ("GET", "/json", {}, None),
    "path-and-query": (
        "GET",
        "/items/5",
        {"params": [("q", "a b+c&d=é"), ("tag", "x"), ("tag", "y")]},
        None,
    ),
    "validation-error-422": ("GET", "/items/not-a-number", {}, None),
    "not-found-404": ("GET", "/no/such/route", {}, None),
    "lifespan-state": ("GET", "/lifespan", {}, None),
    "cookies-in-and-out": (
        "GET",
        "/cookies",
        {"cookies": {"flavour": "old", "theme": "dark", "session": "s1"}},
        None,
    ),
    "binary-post-1MiB": (
        "POST",
        "/binary",
        {"content": PAYLOAD, "headers": {"content-type": "application/octet-stream"}},
        None,
    ),
    "large-response-1MiB": ("GET", "/large", {}, None),
    "redirect-303": ("GET", "/redirect", {}, None),
    "exception-before-first-byte-500": ("GET", "/fail", {}, None),
    "head": ("HEAD", "/head", {}, None),
    "get-of-the-head-route": ("GET", "/head", {}, None),
    "repeated-headers": ("GET", "/multi-header", {}, None),
    "no-content-204": ("DELETE", "/items/3", {}, None),
    "not-modified-304": ("GET", "/not-modified", {}, None),
    "stream-async-generator": ("GET", "/stream/async?n=3&delay=0.05", {}, mask_produced),
    "stream-sync-generator": ("GET", "/stream/sync?n=3&delay=0.05", {}, mask_produced),
}


def fetch(base: str, case: Case, *, dev: bool) -> dict[str, Any]:
    method, path, kwargs, mask = case
    kwargs = dict(kwargs)
    with client(base, cookies=kwargs.pop("cookies", None)) as http:
        return seen(http.request(method, path, **kwargs), base, dev=dev, mask=mask)


@pytest.mark.parametrize("name", list(CASES))
def test_same_answer_as_uvicorn(name: str, uvicorn_url: str, dev: DevServer) -> None:
    case = CASES[name]
    want = fetch(uvicorn_url, case, dev=False)
    have = drop_dev_content_type(want, fetch(dev.url, case, dev=True))
    assert have == want


def test_what_the_comparison_rests_on(uvicorn_url: str, dev: DevServer) -> None:
    """The compared answers are the ones meant (not two equal errors)."""
    for base in (uvicorn_url, dev.url):
        with client(base) as http:
            item = http.get("/items/5", params=[("q", "a b+c&d=é"), ("tag", "x"), ("tag", "y")])
            assert item.json() == {"item_id": 5, "q": "a b+c&d=é", "tags": ["x", "y"]}
            assert http.get("/items/x").status_code == 422
            assert http.get("/items/x").json()["detail"][0]["loc"] == ["path", "item_id"]
            assert http.get("/nope").json() == {"detail": "Not Found"}

            # A value set at startup, seen through request.state; the lifespan ran once.
            assert http.get("/lifespan").json() == {
                "greeting": "set at startup",
                "startups_in_state": 1,
                "startups": 1,
            }

            http.cookies.update({"theme": "dark", "session": "s1"})
            reply = http.get("/cookies")
            assert reply.json() == {"got": {"session": "s1", "theme": "dark"}}
            assert len(reply.headers.get_list("set-cookie")) == 3
            assert reply.cookies["flavour"] == "oatmeal"

            echoed = http.post(
                "/binary", content=PAYLOAD, headers={"content-type": "application/octet-stream"}
            )
            assert echoed.content == PAYLOAD
            assert echoed.headers["x-sha256"] == hashlib.sha256(PAYLOAD).hexdigest()
            assert echoed.headers["x-length"] == str(1 << 20)
            large = http.get("/large")
            assert len(large.content) == 1 << 20
            assert large.content[:256] == bytes(range(256))
            head = http.head("/head")
            assert (head.status_code, head.content, head.headers["x-head"]) == (200, b"", "yes")

            # Last on this client: uvicorn closes the connection after an app's exception.
            failed = http.get("/fail")
            assert (failed.status_code, failed.text) == (500, "Internal Server Error")
            assert failed.headers["content-type"] == "text/plain; charset=utf-8"


def test_dev_content_type_default(uvicorn_url: str, dev: DevServer) -> None:
    """An app that sends no Content-Type gets none from uvicorn, dev's default from dev."""
    with client(uvicorn_url) as http:
        assert "content-type" not in http.get("/redirect", follow_redirects=False).headers
    with client(dev.url) as http:
        moved = http.get("/redirect", follow_redirects=False)
        assert moved.headers["content-type"] == DEV_DEFAULT_CONTENT_TYPE
        assert moved.headers["x-amzn-remapped-content-length"] == "0"


def test_redirect_lands_on_the_server_that_answered(uvicorn_url: str, dev: DevServer) -> None:
    for base in (uvicorn_url, dev.url):
        with client(base, follow_redirects=True) as http:
            reply = http.get("/redirect")
        assert reply.status_code == 200
        assert [r.status_code for r in reply.history] == [303]
        assert reply.history[0].headers["location"] == f"{base}/items/7?q=moved"
        assert urlsplit(str(reply.url)).netloc == urlsplit(base).netloc
        assert reply.json() == {"item_id": 7, "q": "moved", "tags": []}


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_stream_chunks_arrive_as_produced(kind: str, uvicorn_url: str, dev: DevServer) -> None:
    """A StreamingResponse yields a chunk, then waits 300 ms: each chunk reaches
    the client before the next is produced, under uvicorn and through dev."""
    bodies = []
    for base, is_dev in ((uvicorn_url, False), (dev.url, True)):
        with client(base) as http:
            reply, lines = chunk_arrivals(http, f"/stream/{kind}?n=4&delay=0.3")
        assert reply.status_code == 200
        assert_each_chunk_before_the_next(lines, 4)
        assert lines[-1][2] == b"end\n"
        body = mask_produced(b"".join(line for _, _, line in lines))
        bodies.append((body, normalized_headers(reply, dev=is_dev)))
    assert bodies[1] == bodies[0]


# -- sse-starlette --------------------------------------------------------------------

_PING = re.compile(r": ping - \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\+00:00")


def sse_events(client_: httpx.Client) -> tuple[httpx.Response, list[tuple[float, str]]]:
    """The SSE stream's events (their text, CRLF line ends) and when each arrived."""
    events: list[tuple[float, str]] = []
    pending = ""
    start = time.monotonic()
    with client_.stream("GET", "/sse?n=4&delay=0.5") as reply:
        for data in reply.iter_raw():
            pending += data.decode()
            while "\r\n\r\n" in pending:
                event, pending = pending.split("\r\n\r\n", 1)
                events.append((time.monotonic() - start, event))
    assert pending == ""
    return reply, events


def test_sse_events_and_pings(uvicorn_url: str, dev: DevServer) -> None:
    """sse-starlette's EventSourceResponse with a 0.2 s ping: the same events, in
    the same structure, pings between them while the generator waits (their
    payload is a timestamp, so only their form is compared), on both."""
    structures = []
    for base, is_dev in ((uvicorn_url, False), (dev.url, True)):
        with client(base) as http:
            reply, events = sse_events(http)
        assert reply.status_code == 200
        assert reply.headers["content-type"] == "text/event-stream; charset=utf-8"
        pings = [text for _, text in events if text.startswith(":")]
        assert pings and all(_PING.fullmatch(p) for p in pings), pings
        data = [(at, text) for at, text in events if not text.startswith(":")]
        assert [text for _, text in data] == [
            "id: 0\r\nevent: tick\r\ndata: tick 0",
            "id: 1\r\nevent: tick\r\ndata: tick 1",
            "id: 2\r\nevent: tick\r\ndata: tick 2",
            "id: 3\r\nevent: tick\r\ndata: tick 3",
            "event: done\r\ndata: bye\r\ndata: second line",
        ]
        # Between two ticks (0.5 s apart) the client got pings, as they were sent:
        # at least one ping arrived before the next tick.
        for (at, _), (next_at, _) in pairwise(data):
            between = [t for t, text in events if text.startswith(":") and at < t < next_at]
            assert between, (at, next_at, events)
        # The structure: each event as its kind, pings collapsed to one.
        kinds = ["ping" if text.startswith(":") else text for _, text in events]
        collapsed = [k for i, k in enumerate(kinds) if k != "ping" or kinds[i - 1 : i] != ["ping"]]
        structures.append((collapsed, normalized_headers(reply, dev=is_dev)))
    assert structures[1] == structures[0]


# -- failures -------------------------------------------------------------------------


def test_exception_after_the_first_byte(uvicorn_url: str, dev: DevServer) -> None:
    """The app raises after two chunks. What reaches the client before the cut is
    the same; then uvicorn closes the connection mid-body (httpx: incomplete
    chunked read), while a Function URL ends the chunked body cleanly and
    passes the error on as trailers (lambda-facts.md, "What callers see":
    users see the body simply end). httpx, which ignores trailers, reports
    no error through dev: that is the documented difference."""
    with client(uvicorn_url) as http, http.stream("GET", "/stream/cut") as reply:
        got = b""
        with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
            for data in reply.iter_raw():
                got += data
    assert got == b"first part\nsecond part\n"
    uv_raw = raw_request(f"{uvicorn_url}/stream/cut")
    assert (uv_raw.status, uv_raw.body, uv_raw.complete) == (200, got, False)

    with client(dev.url) as http:
        reply = http.get("/stream/cut")
    assert (reply.status_code, reply.content) == (200, got)  # no error for httpx
    dev_raw = raw_request(f"{dev.url}/stream/cut")
    assert (dev_raw.status, dev_raw.body, dev_raw.complete) == (200, got, True)
    trailers = dict(dev_raw.trailers)
    assert trailers["lambda-runtime-function-error-type"] == "RuntimeError"
    assert "boom after the first byte" in trailers_body(trailers)["errorMessage"]
    dev.wait_for_log(r"\[ERROR\] RuntimeError: boom after the first byte")


def trailers_body(trailers: dict[str, str]) -> dict[str, Any]:
    return json.loads(base64.b64decode(trailers["lambda-runtime-function-error-body"]))


def test_exception_before_the_first_byte_is_logged(dev: DevServer) -> None:
    with client(dev.url) as http:
        reply = http.get("/fail")
    assert (reply.status_code, reply.text) == (500, "Internal Server Error")
    dev.wait_for_log(r"\[ERROR\] RuntimeError: boom before the first byte")


def raw_exchange(base: str, method: str, path: str) -> tuple[bytes, bytes]:
    """One request on its own connection (Connection: close); the reply's head
    and every byte after it, read to the end of the connection."""
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        ask = f"{method} {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n"
        sock.sendall(ask.encode() + b"\r\n")
        received = b""
        while data := sock.recv(65536):
            received += data
    head, _, rest = received.partition(b"\r\n\r\n")
    return head, rest


def test_head_sends_no_body(uvicorn_url: str, dev: DevServer) -> None:
    """HEAD: the head only, on the wire; the next request on the connection is fine."""
    for base in (uvicorn_url, dev.url):
        head, rest = raw_exchange(base, "HEAD", "/head")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n") and rest == b"", (base, head, rest)
        with client(base) as http:
            for _ in range(2):
                head = http.head("/head")
                assert (head.status_code, head.content) == (200, b"")
                assert http.get("/json").status_code == 200


@pytest.mark.parametrize(("method", "path"), [("DELETE", "/items/3"), ("GET", "/not-modified")])
def test_no_body_statuses_have_no_body_on_the_wire(
    method: str, path: str, uvicorn_url: str, dev: DevServer
) -> None:
    """A 204 or 304 ends with its head (RFC 9112 §6.3): no Transfer-Encoding
    (§6.1: a server MUST NOT send it in a 204), no chunk after it. A client
    reads nothing more, so any byte sent after the head is read as the start
    of the next response on the connection."""
    for base in (uvicorn_url, dev.url):
        head, rest = raw_exchange(base, method, path)
        assert b"transfer-encoding" not in head.lower(), (base, head)
        assert rest == b"", (base, head, rest)
        with client(base) as http:  # one kept-alive connection
            for _ in range(3):
                assert http.request(method, path).status_code in (204, 304)
                assert http.get("/json").status_code == 200


def test_background_task_runs_after_the_response(
    uvicorn_url: str, dev: DevServer, state_dirs: dict[str, Path]
) -> None:
    """A background task (0.2 s) runs after the client has its response, and its
    effect is there for the requests after it, on both servers."""
    for base in (uvicorn_url, dev.url):
        key = uuid.uuid4().hex
        with client(base) as http:
            scheduled = http.post("/background", params={"key": key})
            answered_at = time.time()
            assert scheduled.json() == {"scheduled": key}
            deadline = time.monotonic() + 10
            while True:
                result = http.get(f"/background/{key}").json()
                if result["effect"] is not None or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        assert result["effect"] == f"done {key}"
        assert result["at"] > answered_at  # it finished after the response arrived


# -- lifespan, when the module also builds the handler ---------------------------------


@pytest.mark.parametrize("server", ["uvicorn", "dev"])
def test_lifespan_runs_once_when_the_module_also_builds_the_handler(server: str) -> None:
    """``lambdastream.asgi``'s own example puts ``app`` and ``handler = asgi(app)``
    in one module. asgi(app) runs the lifespan when it is called, at import:
    under uvicorn (``app_and_handler:app``) the process then runs the
    lifespan twice, once on a loop of its own that uvicorn never sees; and
    ``_HANDLER=app_and_handler.app`` wraps the app a second time, running
    it again in the same environment. Each process should run it once."""
    context = (
        uvicorn_server("app_and_handler:app")
        if server == "uvicorn"
        else dev_server("app_and_handler.app")
    )
    with context as started:
        base = started[0] if server == "uvicorn" else started.url
        with client(base) as http:
            counts = http.get("/lifespan").json()
    assert counts == {"startups": 1, "startups_in_state": 1}
