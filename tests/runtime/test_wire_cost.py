"""Wire cost, counted (not timed): syscalls per buffered invocation and
writes per streamed chunk of the real runtime process, under strace.

Each invocation is counted on its own, between the runtime's requests for
its event and for the next one (``bench.syscalls.trace_invocations``), and
each must cost exactly what is claimed: no average over a run, whose start
and exit (a reconnect that races the stub's close) vary with the machine's
load. Only what the runtime decides is counted: its writes, and for a
buffered invocation (blocking I/O, one thread) every syscall; an event
loop's ``epoll_wait`` calls depend on timing and are not.
"""

from __future__ import annotations

import shutil
import sys

import pytest
from support import missing

from bench.runtime_api_stub import base_env
from bench.syscalls import CHUNKS_PER_STREAM, HANDLERS, Traced, trace_invocations

pytestmark = pytest.mark.strace


@pytest.fixture(autouse=True)
def strace() -> None:
    if shutil.which("strace") is None:
        missing("strace", "make system-deps installs it")


@pytest.fixture
def root(tmp_path):
    (tmp_path / "app.py").write_text(HANDLERS)
    return str(tmp_path)


def each_invocation(root: str, handler: str, count: int = 6) -> list[Traced]:
    """The syscalls of each invocation but the first (it may import lazily), in order."""
    command = [sys.executable, "-m", "lambdastream.runtime", handler]
    return trace_invocations(command, base_env(root, handler), root, count)


@pytest.mark.timeout(60)
def test_a_buffered_invocation_costs_at_most_five_syscalls(root):
    invocations = each_invocation(root, "app.buffered", 21)
    assert len(invocations) == 20
    assert all(len(traced.calls) <= 5 for traced in invocations), invocations


@pytest.mark.timeout(60)
def test_each_streamed_chunk_is_exactly_one_write(root):
    invocations = each_invocation(root, "app.streamed")
    # every chunk, plus the last chunk that ends the stream and the GET for the next event
    assert [traced.writes for traced in invocations] == [CHUNKS_PER_STREAM + 2] * 5, invocations


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


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("handler", "sent"),
    [
        # one turn: its chunks and the end of the stream in one write
        ("one_turn", 1),
        # ten turns of ten chunks; the generator yields to the loop after its
        # last chunk too, so the end leaves alone
        ("ten_turns", 11),
    ],
)
def test_async_chunks_of_one_loop_turn_leave_in_one_write(tmp_path, handler, sent):
    (tmp_path / "app.py").write_text(ASYNC_HANDLERS)
    invocations = each_invocation(str(tmp_path), f"app.{handler}")
    # plus the GET for the next event
    assert [traced.writes for traced in invocations] == [sent + 1] * 5, invocations


@pytest.mark.timeout(60)
def test_an_asgi_apps_body_messages_of_one_turn_leave_in_one_write(tmp_path):
    (tmp_path / "app.py").write_text(ASYNC_HANDLERS)
    invocations = each_invocation(str(tmp_path), "app.asgi_handler")
    # the head, prelude, 100 chunks and the end in one write; the GET for the next event
    assert [traced.writes for traced in invocations] == [1 + 1] * 5, invocations
