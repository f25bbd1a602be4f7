"""Helpers of the tests/web differential tests: the servers, and what a client saw.

Each web app in ``tests/web/apps`` runs twice: under a plain HTTP server
(uvicorn for ASGI, werkzeug for WSGI) and in-process in lambdastream's
runtime behind ``lambdastream dev`` (a real subprocess). The same httpx
request goes to both; :func:`seen` reduces each reply to what must be equal
(status, headers less the :data:`IGNORED` ones, cookies, body bytes), and
:func:`chunk_arrivals` says when each streamed chunk reached the client.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
from support import DevServer, start_dev

APPS = Path(__file__).resolve().parent / "apps"
# Every request and stream is bounded: nothing here should take more than a few seconds.
TIMEOUT = 30.0

# Response headers left out of the comparison, each with why. Everything
# else the app or the server sends must be the same on both sides.
IGNORED = {
    # Each server stamps its own clock (dev adds one as AWS's front end does).
    "date": "the time of the reply",
    # uvicorn and werkzeug name themselves; a Function URL sends no Server header.
    "server": "names the HTTP server, not the app",
    # Hop-by-hop (RFC 9110 §7.6.1): they describe one connection, and a proxy
    # (AWS's front end, dev) drops them. sse-starlette sets Connection:
    # keep-alive itself, werkzeug's dev server sends Connection: close.
    "connection": "hop-by-hop",
    "keep-alive": "hop-by-hop",
    # Framing: dev always answers a Function URL stream chunked (as AWS does),
    # while uvicorn and werkzeug send Content-Length when the app gave one.
    # The app's own Content-Length is compared through
    # x-amzn-remapped-content-length, below.
    "transfer-encoding": "framing, hop-by-hop",
    # dev announces Lambda's error trailers on every streamed response
    # (Lambda-Runtime-Function-Error-Type/-Body): the place a mid-stream
    # error goes (docs: lambda-facts.md, "What callers see").
    "trailer": "dev announces Lambda's error trailers",
    # The invocation's request id, added by AWS's front end (and dev).
    "x-amzn-requestid": "the invocation id, added by the Function URL front end",
}
# A Function URL renames the app's Content-Length (it streams chunked);
# lambda-facts.md: "Function URLs rename a response's Content-Length to
# x-amzn-remapped-content-length". Compared as the app's content-length.
REMAPPED = {"x-amzn-remapped-content-length": "content-length"}
# A streamed Function URL response whose app set no Content-Type (an empty
# redirect, a 204/304) gets `application/octet-stream` from dev
# (local/function_url.py, _UrlSink._prelude_headers -> response_headers). The
# AWS documentation and lambda-facts.md do not say what a Function URL sends
# then; application/octet-stream is the stream's own default Content-Type
# (lambda-facts.md, "Streaming a response": Node's default) and what the AWS
# Rust runtime puts in the prelude (research16 §4). Unverified on AWS: the
# tests pin dev's choice, so that a change to it is seen.
DEV_DEFAULT_CONTENT_TYPE = "application/octet-stream"


def normalized_headers(reply: httpx.Response, *, dev: bool) -> dict[str, str]:
    """The reply's headers to compare: lower-cased, less IGNORED, remapped, grouped.

    Repeated headers are joined with ", " as a Function URL joins them (its
    prelude's ``headers`` is a map of one string each; RFC 9110 §5.3 makes
    the two forms equal for every field but Set-Cookie). Set-Cookie is kept
    apart, one value each, as both servers send it.
    """
    grouped: dict[str, list[str]] = {}
    for name, value in reply.headers.multi_items():
        key = name.lower()
        if key in IGNORED:
            continue
        if dev:
            key = REMAPPED.get(key, key)
        grouped.setdefault(key, []).append(value)
    out = {k: ", ".join(v) for k, v in grouped.items() if k != "set-cookie"}
    if "set-cookie" in grouped:
        out["set-cookie"] = "\n".join(sorted(grouped["set-cookie"]))
    return out


def seen(
    reply: httpx.Response,
    base: str,
    *,
    dev: bool,
    mask: Callable[[bytes], bytes] | None = None,
) -> dict[str, Any]:
    """What a client saw, with URLs of the server that answered made relative to ``base``."""
    headers = normalized_headers(reply, dev=dev)
    if "location" in headers:
        headers["location"] = headers["location"].replace(base, "BASE")
    body = reply.content.replace(base.encode(), b"BASE")
    return {
        "request": f"{reply.request.method} {reply.request.url.raw_path.decode()}",
        "status": reply.status_code,
        "headers": headers,
        "cookies": sorted(reply.cookies.items()),
        "body": mask(body) if mask else body,
    }


def drop_dev_content_type(want: dict[str, Any], have: dict[str, Any]) -> dict[str, Any]:
    """``have`` (dev's) without the Content-Type dev adds when the app sent none.

    Only where uvicorn/werkzeug sent none; checks dev sent the documented default.
    """
    if "content-type" in want["headers"]:
        return have
    assert have["headers"].get("content-type") == DEV_DEFAULT_CONTENT_TYPE, have
    headers = {k: v for k, v in have["headers"].items() if k != "content-type"}
    return {**have, "headers": headers}


_PRODUCED = re.compile(rb"produced \d+\.\d+")


def mask_produced(body: bytes) -> bytes:
    """A streamed body without the production times its chunks carry."""
    return _PRODUCED.sub(b"produced T", body)


def chunk_arrivals(
    client: httpx.Client, path: str
) -> tuple[httpx.Response, list[tuple[float, float, bytes]]]:
    """Stream ``path``; for each line ``... produced T``: (T, when it arrived, the line).

    Times are wall-clock (``time.time``) on both sides: the app runs on this
    machine. A line arrives when the read that completes it returns, read
    with httpx's ``iter_raw`` (no decoding, no buffering beyond the socket's).
    """
    lines: list[tuple[float, float, bytes]] = []
    pending = b""
    with client.stream("GET", path) as reply:
        for data in reply.iter_raw():
            now = time.time()
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                match = re.search(rb"produced (\d+\.\d+)", line)
                lines.append((float(match.group(1)) if match else 0.0, now, line + b"\n"))
    return reply, lines


def assert_each_chunk_before_the_next(lines: list[tuple[float, float, bytes]], n: int) -> None:
    """Each timed chunk reached the client before the app produced the next one."""
    timed = [entry for entry in lines if entry[0]]
    assert len(timed) == n, lines
    for (produced, arrived, line), (next_produced, _, _) in pairwise(timed):
        assert produced <= arrived + 0.05, (line, produced, arrived)  # same clock, some slack
        assert arrived < next_produced, (
            f"{line!r} arrived {arrived - produced:.3f} s after it was produced,"
            f" after the next chunk was produced ({next_produced - produced:.3f} s later)"
        )


# -- servers -------------------------------------------------------------------------


@contextmanager
def uvicorn_server(
    app: str,
    env: dict[str, str] | None = None,
    app_dir: Path = APPS,
    lifespan: str = "on",
) -> Iterator[tuple[str, list[str]]]:
    """``uvicorn APP`` from ``app_dir`` on a free loopback port; yields (base URL, its log)."""
    command = [
        sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", "0",
        "--app-dir", str(app_dir), "--no-access-log", "--lifespan", lifespan,
    ]  # fmt: skip
    with _server_process(command, env, rb"Uvicorn running on (http://\S+)", "uvicorn") as found:
        yield found


@contextmanager
def gunicorn_server(
    app: str, env: dict[str, str] | None = None, app_dir: Path = APPS
) -> Iterator[tuple[str, list[str]]]:
    """``gunicorn APP`` (its sync worker) from ``app_dir`` on a free loopback port."""
    command = [
        sys.executable, "-m", "gunicorn", app, "--bind", "127.0.0.1:0", "--chdir", str(app_dir),
        "--workers", "1", "--log-level", "info",
    ]  # fmt: skip
    with _server_process(command, env, rb"Listening at: (http://\S+)", "gunicorn") as found:
        yield found


@contextmanager
def _server_process(
    command: list[str], env: dict[str, str] | None, banner: bytes, name: str
) -> Iterator[tuple[str, list[str]]]:
    """Run a server; yield (the URL its ``banner`` regex captured, its log so far)."""
    proc = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})},
    )  # fmt: skip
    found: list[str] = []
    log: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in iter(proc.stderr.readline, b""):
            log.append(line.decode("utf-8", "replace"))
            match = re.search(banner, line)
            if match and not found:
                found.append(match.group(1).decode())
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        ready.wait(TIMEOUT)
        assert found, f"{name} did not start:\n" + "".join(log)
        yield found[0], log
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def wsgi_server(app: Any) -> Iterator[str]:
    """``app`` under werkzeug's threaded server (make_server) on a free loopback port."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@contextmanager
def dev_server(
    handler: str, *args: str, env: dict[str, str] | None = None, root: Path = APPS
) -> Iterator[DevServer]:
    """``lambdastream dev HANDLER --root ROOT`` (tests/web/apps); ``env`` goes to the function."""
    # No __pycache__ written into the source tree by the function's runtime.
    function_env = {"PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    extra = [f"--env={key}={value}" for key, value in function_env.items()]
    server = start_dev(
        handler, root, "--timeout", "30", *extra, *args, env={"PYTHONDONTWRITEBYTECODE": "1"}
    )
    try:
        yield server
    finally:
        server.stop()


def client(base: str, **kwargs: Any) -> httpx.Client:
    """A fresh client (its own connections): uvicorn closes a connection after an
    app's exception, and a reused one would race that close."""
    return httpx.Client(base_url=base, timeout=TIMEOUT, **kwargs)
