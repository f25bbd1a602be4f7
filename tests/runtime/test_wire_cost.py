"""Wire cost, counted (not timed): syscalls per buffered invocation and
writes per streamed chunk of the real runtime process, under strace."""

from __future__ import annotations

import shutil
import sys

import pytest
from support import missing

from bench.runtime_api_stub import base_env
from bench.syscalls import CHUNKS_PER_STREAM, HANDLERS, per_invocation


@pytest.fixture(autouse=True)
def strace() -> None:
    if shutil.which("strace") is None:
        missing("strace", "make system-deps installs it")


@pytest.fixture
def root(tmp_path):
    (tmp_path / "app.py").write_text(HANDLERS)
    return str(tmp_path)


@pytest.mark.timeout(60)
def test_a_buffered_invocation_costs_at_most_five_syscalls(root):
    command = [sys.executable, "-m", "lambdastream.runtime", "app.buffered"]
    total, detail = per_invocation(command, base_env(root, "app.buffered"), root, 20)
    assert total <= 5, detail


@pytest.mark.timeout(60)
def test_each_streamed_chunk_is_exactly_one_write(root):
    command = [sys.executable, "-m", "lambdastream.runtime", "app.streamed"]
    _, detail = per_invocation(command, base_env(root, "app.streamed"), root, 5)
    writes = sum(detail.get(name, 0) for name in ("sendto", "sendmsg", "write", "writev"))
    # every chunk, plus the last chunk that ends the stream and the GET for the next event
    assert writes == CHUNKS_PER_STREAM + 2, detail


ASYNC_HANDLERS = """
import asyncio

CHUNK = b"x" * 16


async def one_turn(event, context):
    # 100 chunks before the generator first yields to the loop
    for _ in range(100):
        yield CHUNK


async def ten_turns(event, context):
    for i in range(100):
        yield CHUNK
        if i % 10 == 9:
            await asyncio.sleep(0)


async def asgi_app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    for _ in range(100):
        await send({"type": "http.response.body", "body": CHUNK, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


# The stub's event is fixed: give the app a Function URL request instead.
URL_EVENT = {
    "version": "2.0",
    "rawPath": "/",
    "headers": {"host": "abc.lambda-url.us-east-1.on.aws"},
    "requestContext": {
        "domainName": "abc.lambda-url.us-east-1.on.aws",
        "http": {"method": "GET", "sourceIp": "1.2.3.4"},
    },
}
from lambdastream.asgi import asgi

_served = asgi(asgi_app)


def asgi_handler(event, context):
    return _served(URL_EVENT, context)
"""


def _sends(detail: dict[str, float]) -> float:
    return sum(detail.get(name, 0) for name in ("sendto", "sendmsg", "write", "writev"))


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("handler", "writes"),
    [
        # one turn: its chunks and the end of the stream in one write
        ("one_turn", 1),
        # ten turns of ten chunks; the generator yields to the loop after its
        # last chunk too, so the end leaves alone
        ("ten_turns", 11),
    ],
)
def test_async_chunks_of_one_loop_turn_leave_in_one_write(tmp_path, handler, writes):
    (tmp_path / "app.py").write_text(ASYNC_HANDLERS)
    root = str(tmp_path)
    command = [sys.executable, "-m", "lambdastream.runtime", f"app.{handler}"]
    _, detail = per_invocation(command, base_env(root, f"app.{handler}"), root, 5)
    # plus the GET for the next event
    assert _sends(detail) == writes + 1, detail


@pytest.mark.timeout(60)
def test_an_asgi_apps_body_messages_of_one_turn_leave_in_one_write(tmp_path):
    (tmp_path / "app.py").write_text(ASYNC_HANDLERS)
    root = str(tmp_path)
    command = [sys.executable, "-m", "lambdastream.runtime", "app.asgi_handler"]
    _, detail = per_invocation(command, base_env(root, "app.asgi_handler"), root, 5)
    # the head, prelude, 100 chunks and the end in one write; the GET for the next event
    assert _sends(detail) == 1 + 1, detail
