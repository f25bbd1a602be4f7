"""A real Flask app under werkzeug and in-process under ``lambdastream dev``: same answers.

The app (``apps/flask_app.py``) runs under werkzeug's threaded server
(``make_server``, in this process) and in lambdastream's runtime behind
``lambdastream dev``, named both ways (``_HANDLER=flask_app.app``, the Flask
app itself, and ``flask_handler.handler = wsgi(app)``). httpx sends each the
same request; what it sees must be equal (see ``webdiff.seen``): JSON,
path and query, a urlencoded form, a multipart upload with a binary file,
a ``send_file`` download with its headers (and HEAD of it), cookies both
ways, a redirect, 404, an exception (Flask's 500 page); and streams
(``Response(generate())``, ``stream_with_context``) must reach the client
chunk by chunk, each before the next is produced, on both.
"""

from __future__ import annotations

import hashlib
import importlib.util
import random
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from h11client import request as raw_request
from support import DevServer
from webdiff import (
    APPS,
    assert_each_chunk_before_the_next,
    chunk_arrivals,
    client,
    dev_server,
    drop_dev_content_type,
    mask_produced,
    normalized_headers,
    seen,
    wsgi_server,
)

pytestmark = pytest.mark.timeout(120)

HANDLERS = ["flask_app.app", "flask_handler.handler"]
# 256 KiB of random bytes, NULs and every other value among them, the same each run.
FILE = b"\x00\xff\x00" + random.Random(3333).randbytes(256 * 1024 - 3)


@pytest.fixture(scope="module")
def werkzeug_url() -> Iterator[str]:
    # The app module, loaded from its file under a name of its own: tests/web/apps
    # is not put on this process's sys.path.
    spec = importlib.util.spec_from_file_location("web_flask_app", APPS / "flask_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        with wsgi_server(module.app) as url:
            yield url
    finally:
        sys.modules.pop(spec.name, None)


@pytest.fixture(scope="module", params=HANDLERS)
def dev(request: pytest.FixtureRequest) -> Iterator[DevServer]:
    with dev_server(request.param) as server:
        yield server


CASES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "json": ("GET", "/json", {"params": [("a", "1"), ("a", "2"), ("b", "é &=")]}),
    "path-and-query": ("GET", "/items/5", {"params": [("q", "x y"), ("tag", "a"), ("tag", "b")]}),
    "form-urlencoded": (
        "POST",
        "/form",
        {"data": {"a": ["1", "2"], "b": "ü & = + %", "empty": ""}},
    ),
    "multipart-with-a-file": (
        "POST",
        "/upload",
        {
            "data": {"field": "välue", "other": ["1", "2"]},
            "files": {"file": ("data ✓.bin", FILE, "application/octet-stream")},
        },
    ),
    "send-file-download": ("GET", "/download", {}),
    "head-of-the-download": ("HEAD", "/download", {}),
    "cookies-in-and-out": ("GET", "/cookies", {"cookies": {"theme": "dark", "gone": "x"}}),
    "redirect-302": ("GET", "/redirect", {}),
    "not-found-404": ("GET", "/no/such/route", {}),
    "exception-500": ("GET", "/fail", {}),
    "stream-generator": ("GET", "/stream?n=3&delay=0.05", {}),
    "stream-with-context": ("GET", "/stream/context?n=3&delay=0.05&who=me", {}),
}


def fetch(base: str, name: str, *, dev: bool) -> dict[str, Any]:
    method, path, kwargs = CASES[name]
    kwargs = dict(kwargs)
    with client(base, cookies=kwargs.pop("cookies", None)) as http:
        return seen(http.request(method, path, **kwargs), base, dev=dev, mask=mask_produced)


@pytest.mark.parametrize("name", list(CASES))
def test_same_answer_as_werkzeug(name: str, werkzeug_url: str, dev: DevServer) -> None:
    want = fetch(werkzeug_url, name, dev=False)
    have = drop_dev_content_type(want, fetch(dev.url, name, dev=True))
    assert have == want


def test_what_the_comparison_rests_on(werkzeug_url: str, dev: DevServer) -> None:
    """The compared answers are the ones meant (not two equal errors)."""
    for base in (werkzeug_url, dev.url):
        with client(base) as http:
            form = http.post("/form", data={"a": ["1", "2"], "b": "ü & = + %"})
            assert form.json() == {
                "content_type": "application/x-www-form-urlencoded",
                "form": {"a": ["1", "2"], "b": ["ü & = + %"]},
            }
            upload = http.post(
                "/upload",
                data={"field": "välue"},
                files={"file": ("data ✓.bin", FILE, "application/octet-stream")},
            )
            assert upload.json() == {
                "fields": {"field": ["välue"]},
                "files": {
                    "file": {
                        "filename": "data ✓.bin",
                        "content_type": "application/octet-stream",
                        "size": len(FILE),
                        "sha256": hashlib.sha256(FILE).hexdigest(),
                    }
                },
            }
            download = http.get("/download")
            assert download.content == (APPS / "assets" / "report.csv").read_bytes()
            assert download.headers["content-type"] == "text/csv; charset=utf-8"
            assert download.headers["content-disposition"].startswith("attachment;")
            assert download.headers["etag"] and download.headers["last-modified"]

            http.cookies.update({"theme": "dark"})
            cookies = http.get("/cookies")
            assert cookies.json() == {"got": {"theme": "dark"}}
            assert len(cookies.headers.get_list("set-cookie")) == 3

            moved = http.get("/redirect", follow_redirects=True)
            assert [r.status_code for r in moved.history] == [302]
            assert moved.json() == {"item_id": 7, "q": "moved", "tags": []}
            assert http.get("/nope").status_code == 404
            failed = http.get("/fail")
            assert failed.status_code == 500
            assert "<h1>Internal Server Error</h1>" in failed.text


@pytest.mark.parametrize("path", ["/stream?n=4&delay=0.3", "/stream/context?n=4&delay=0.3&who=me"])
def test_stream_chunks_arrive_as_produced(path: str, werkzeug_url: str, dev: DevServer) -> None:
    """The generator yields a chunk, then waits 300 ms: each chunk reaches the
    client before the next is produced, under werkzeug and through dev."""
    bodies = []
    for base, is_dev in ((werkzeug_url, False), (dev.url, True)):
        with client(base) as http:
            reply, lines = chunk_arrivals(http, path)
        assert reply.status_code == 200
        assert_each_chunk_before_the_next(lines, 4)
        body = mask_produced(b"".join(line for _, _, line in lines))
        bodies.append((body, normalized_headers(reply, dev=is_dev)))
    assert bodies[1] == bodies[0]
    if "context" in path:  # the request was still there at the end of the stream
        assert bodies[0][0].endswith(b"end /stream/context\n")
        assert b" for me " in bodies[0][0]


def test_exception_after_the_first_byte(werkzeug_url: str, dev: DevServer) -> None:
    """The generator raises after two chunks: the same bytes reach the client;
    werkzeug then closes the connection mid-body (httpx: incomplete chunked
    read), a Function URL ends the body and puts the error in trailers
    (lambda-facts.md, "What callers see"), which httpx does not show."""
    with client(werkzeug_url) as http, http.stream("GET", "/stream/cut") as reply:
        got = b""
        with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
            for data in reply.iter_raw():
                got += data
    assert got == b"first part\nsecond part\n"

    with client(dev.url) as http:
        reply = http.get("/stream/cut")
    assert (reply.status_code, reply.content) == (200, got)
    dev_raw = raw_request(f"{dev.url}/stream/cut")
    assert (dev_raw.status, dev_raw.body, dev_raw.complete) == (200, got, True)
    assert dict(dev_raw.trailers)["lambda-runtime-function-error-type"] == "RuntimeError"
    dev.wait_for_log(r"\[ERROR\] RuntimeError: boom after the first byte")


def test_flask_exception_is_logged(dev: DevServer) -> None:
    with client(dev.url) as http:
        assert http.get("/fail").status_code == 500
    # Flask logs it itself (app.logger), through the runtime's log handler.
    dev.wait_for_log(r"\[ERROR\].*Exception on /fail \[GET\]")
    dev.wait_for_log(r"RuntimeError: boom in a Flask view")
