"""A corpus of web apps as users write them: through ``lambdastream dev``, and under their server.

Each app in ``tests/web/corpus`` (FastAPI with ``is_disconnected()``
checks, sse-starlette with pings, plain Starlette, Quart, Litestar, Flask's
``stream_with_context``, a LangChain ``astream`` over bedrock-local turned
into SSE, an async generator of 100,000 rows, ``BackgroundTasks``) runs
unchanged under uvicorn (gunicorn for the WSGI app) and in lambdastream's
runtime behind ``lambdastream dev``. httpx sends both the same requests:
status, headers (less what ``webdiff.IGNORED`` lists, with why) and body
bytes must be equal. Under dev every HTTP request is counted by its
request id (``corpus/counted.py``): each must have run the app once.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from webdiff import client, dev_server, drop_dev_content_type, gunicorn_server, seen, uvicorn_server

from lambdastream.bedrock.local_server import BackgroundServer, start_background

pytestmark = pytest.mark.timeout(180)

CORPUS = Path(__file__).resolve().parent / "corpus"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIDCORPUS",
    "AWS_SECRET_ACCESS_KEY": "corpus-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def send(self, http: httpx.Client) -> httpx.Response:
        return http.request(self.method, self.path, **self.kwargs)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


# sse-starlette's keep-alive comment carries the time it was sent.
_PING = re.compile(rb": ping - [^\r\n]*\r\n\r\n")


def without_pings(body: bytes) -> bytes:
    return _PING.sub(b"", body)


@dataclass(frozen=True)
class App:
    module: str
    calls: list[Call]
    wsgi: bool = False
    mask: Callable[[bytes], bytes] | None = None
    lifespan: str = "on"
    observed: bool = False  # the app logs what it saw to observed.log: compared too


APPS = [
    App(
        "fastapi_llm",
        [
            Call("POST", "/chat", {"json": {"prompt": "why stream a model's answer at all"}}),
            Call("GET", "/tokens?n=30"),
            Call("POST", "/chat", {"json": {"prompt": 42}}),  # 422 from pydantic
        ],
    ),
    App("sse_app", [Call("GET", "/events?n=8&delay=0.05")], mask=without_pings),
    App(
        "starlette_app",
        [
            Call("GET", "/"),
            Call("GET", "/echo?a=1&b=two&b=three"),
            Call("POST", "/echo", {"content": b"\x00\x01binary\xff" * 100}),
            Call("PUT", "/echo", {"json": {"k": "v"}}),
            Call("POST", "/form", {"data": {"name": "Ada", "lang": "Python ✓"}}),
            Call("GET", "/text"),
            Call("GET", "/stream?n=200"),
            Call("GET", "/moved"),
            Call("DELETE", "/empty"),
            Call("GET", "/no/such/page"),
            Call("PATCH", "/form"),
        ],
    ),
    App(
        "quart_app",
        [
            Call("GET", "/json?x=1&y=2"),
            Call("POST", "/echo", {"json": {"list": [1, 2, 3]}}),
            Call("GET", "/stream?n=10"),
            Call("GET", "/old"),
            Call("GET", "/missing"),
        ],
    ),
    App(
        "litestar_app",
        [
            Call("GET", "/items/5?q=hello"),
            Call("POST", "/items", {"json": {"name": "widget"}}),
            Call("GET", "/stream?n=10"),
            Call("GET", "/items/not-a-number"),
            Call("GET", "/nowhere"),
        ],
    ),
    App(
        "flask_stream",
        [
            Call("GET", "/stream?n=10&prefix=row"),
            Call("POST", "/echo?a=1", {"json": {"k": [1, 2]}}),
            Call("GET", "/missing-page"),
            Call("GET", "/nowhere"),
        ],
        wsgi=True,
    ),
    App("langchain_sse", [Call("POST", "/chat", {"json": {"question": "Why stream answers?"}})]),
    App("rows_app", [Call("GET", "/export.csv"), Call("GET", "/export.csv?rows=3")]),
    App("background_app", [Call("POST", "/orders/k1"), Call("POST", "/orders/k2")]),
    App(
        "asgi_orders",
        [
            Call("GET", "/receive-first"),
            Call("GET", "/start-first"),
            Call("GET", "/waiting"),
            Call("GET", "/cancelled"),
            Call("GET", "/never-read"),
            Call("GET", "/task-group"),
            Call("POST", "/post", {"content": b"0123456789" * 1000}),
        ],
        lifespan="off",
        observed=True,
    ),
]


@pytest.fixture(scope="module")
def bedrock() -> Iterator[BackgroundServer]:
    # The echo script: the same answer for the same question, on both servers.
    with start_background(first_token_latency=0.01, tokens_per_second=500, script="echo") as s:
        yield s


def _env(state: Path, bedrock: BackgroundServer) -> dict[str, str]:
    return {
        "CORPUS_STATE_DIR": str(state),
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock.url,
        **CREDENTIALS,
    }


@pytest.mark.parametrize("app", APPS, ids=lambda a: a.module)
def test_each_corpus_app_answers_through_dev_as_under_its_own_server(
    app: App, tmp_path: Path, bedrock: BackgroundServer
) -> None:
    reference_state, dev_state = tmp_path / "reference", tmp_path / "dev"
    reference_state.mkdir()
    dev_state.mkdir()
    if app.wsgi:
        reference = gunicorn_server(f"{app.module}:app", _env(reference_state, bedrock), CORPUS)
    else:
        reference = uvicorn_server(
            f"{app.module}:app", _env(reference_state, bedrock), CORPUS, app.lifespan
        )
    with (
        reference as (base, _log),
        dev_server(f"counted.{app.module}", env=_env(dev_state, bedrock), root=CORPUS) as dev,
    ):
        with client(base) as theirs, client(dev.url) as ours:
            for call in app.calls:
                want_reply, have_reply = call.send(theirs), call.send(ours)
                if app.mask is without_pings:
                    # Both kept the connection alive with pings while events were slow.
                    assert _PING.search(want_reply.content), want_reply.content
                    assert _PING.search(have_reply.content), have_reply.content
                want = seen(want_reply, base, dev=False, mask=app.mask)
                have = seen(have_reply, dev.url, dev=True, mask=app.mask)
                assert drop_dev_content_type(want, have) == want, str(call)
        if app.observed:
            # What each receive() returned, message order by message order.
            for state in (reference_state, dev_state):
                _wait_for(state / "observed.log")
            want_seen = _observed(reference_state, len(app.calls))
            assert _observed(dev_state, len(app.calls)) == want_seen
        if app.module == "background_app":
            # Each task ran once, after its answer (before the servers stop).
            for state in (reference_state, dev_state):
                for key in ("k1", "k2"):
                    _wait_for(state / f"{key}.log")
                    assert (state / f"{key}.log").read_text() == "ran\n", state
        logs = dev.logs()
    assert "Traceback" not in logs and "InvalidStateError" not in logs, logs
    assert "delivered again" not in logs, logs
    # One run of the app per request, each under its own request id.
    runs = Counter((dev_state / "runs.log").read_text().split())
    assert sorted(runs.values()) == [1] * len(app.calls), runs


def _observed(state: Path, count: int, timeout: float = 10.0) -> list[str]:
    """The app's observed.log once it has ``count`` lines, sorted (requests end in any order)."""
    deadline = time.monotonic() + timeout
    while len(lines := (state / "observed.log").read_text().splitlines()) < count:
        assert time.monotonic() < deadline, lines
        time.sleep(0.05)
    return sorted(lines)


def _wait_for(path: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never written"
        time.sleep(0.05)
