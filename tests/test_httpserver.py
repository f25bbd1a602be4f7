"""The shared HTTP server on its own: the request reader on bytes alone, and
coroutine handlers over real loopback sockets (flow control, clients that
leave, handlers that fail)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from probes import read_until_closed

from lambdastream.httpserver import AsyncResponse, UploadBudget, async_app, serve
from lambdastream.httpserver.reader import Failed, Received, Refused, RequestReader
from lambdastream.wire.request import HttpRequest

# ------------------------------------------------------------------ the reader, on bytes

PIPELINE = (
    b"POST /one HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    b"POST /two HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    b"GET /three HTTP/1.1\r\nHost: x\r\n\r\n"
)


def _requests(items: list) -> list[tuple[str, str, bytes, int]]:
    return [(i.request.method, i.request.target, i.request.body, i.held) for i in items]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(PIPELINE)), max_size=20))
def test_any_split_of_the_bytes_reads_the_same_requests(cuts):
    budget = UploadBudget(1000)
    reader = RequestReader(max_body=100, budget=budget)
    items: list = []
    start = 0
    for cut in [*sorted(set(cuts)), len(PIPELINE)]:
        items += reader.feed(PIPELINE[start:cut])
        start = cut
    assert _requests(items) == [
        ("POST", "/one", b"hello", 5),
        ("POST", "/two", b"abcde", 5),
        ("GET", "/three", b"", 0),
    ]
    assert budget.held == 10  # held by the two bodies until their answers end


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(PIPELINE)))
def test_closing_mid_request_gives_every_byte_back(cut):
    budget = UploadBudget(1000)
    reader = RequestReader(max_body=100, budget=budget)
    received = [i for i in reader.feed(PIPELINE[:cut]) if isinstance(i, Received)]
    reader.close()
    assert budget.held == sum(item.held for item in received)
    assert reader.feed(PIPELINE[cut:]) == []


def test_a_body_the_budget_cannot_hold_is_refused_from_its_head():
    budget = UploadBudget(10)
    assert budget.reserve(8)
    [refused] = RequestReader(100, budget).feed(
        b"POST /x HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
    )
    assert isinstance(refused, Refused) and refused.reason == "throttled"
    assert (refused.request.target, refused.request.body, budget.held) == ("/x", b"", 8)


def test_a_chunked_body_is_bounded_as_it_grows():
    budget = UploadBudget(1000)
    reader = RequestReader(max_body=10, budget=budget)
    items = reader.feed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n")
    assert items == [] and budget.held == 6
    [refused] = reader.feed(b"6\r\nghijkl\r\n")  # 12 > 10: no need to wait for the end
    assert isinstance(refused, Refused) and refused.reason == "too_large"
    assert budget.held == 0


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 100_000, 431),  # a head that never ends
        (b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", 431),
        (b"\x16\x03\x01 garbage\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n", 400),
    ],
    ids=["endless-head", "101-fields", "garbage", "upgrade"],
)
def test_bytes_that_are_no_request_fail_once(raw, status):
    reader = RequestReader(100, UploadBudget(1000))
    [failed] = reader.feed(raw)
    assert isinstance(failed, Failed) and failed.status == status
    assert reader.feed(b"GET / HTTP/1.1\r\n\r\n") == []


def test_expect_100_continue_is_wanted_until_the_body_comes():
    reader = RequestReader(100, UploadBudget(1000))
    reader.feed(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
    assert reader.wants_continue
    reader.feed(b"h")  # a client may send its body without waiting (RFC 9110 10.1.1)
    assert not reader.wants_continue
    reader = RequestReader(100, UploadBudget(1000))
    reader.feed(b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
    assert not reader.wants_continue  # HTTP/1.0 knows no 100


# ------------------------------------------------------------------ coroutine handlers


@contextlib.contextmanager
def _serving(handler, **options) -> Iterator[tuple[str, int]]:
    """``serve(async_app(handler))`` on a loopback port, from a thread."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict = {}

    async def main() -> None:
        options.setdefault("max_body", 1024)
        server = await serve(async_app(handler), "127.0.0.1", 0, **options)
        holder["port"] = server.sockets[0].getsockname()[1]
        holder["stop"] = stop = asyncio.Event()
        ready.set()
        await stop.wait()
        server.close()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield "127.0.0.1", holder["port"]
    finally:
        loop.call_soon_threadsafe(holder["stop"].set)
        thread.join(10)
        loop.close()


def _chunked_body(data: bytes) -> bytes:
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(data)
    body = b""
    while (event := conn.next_event()) not in (h11.NEED_DATA, h11.PAUSED):
        if isinstance(event, h11.Data):
            body += bytes(event.data)
        if isinstance(event, h11.EndOfMessage):
            return body
    raise AssertionError("the body did not end")


@pytest.mark.timeout(60)
def test_writes_wait_while_the_client_does_not_read():
    piece, count = b"z" * 65536, 400  # 25 MiB: far more than the socket buffers hold
    written: list[int] = []

    async def handler(request: HttpRequest, response: AsyncResponse) -> None:
        await response.start(200, [("content-type", "application/octet-stream")])
        for i in range(count):
            await response.write(piece)
            written.append(i)
        await response.end()

    with _serving(handler) as address, socket.create_connection(address, timeout=30) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        time.sleep(1.0)  # not reading: the handler must be held back
        held_back = len(written)
        answer, closed = read_until_closed(sock, timeout=30)
    assert held_back < count // 2, held_back
    assert closed and len(written) == count
    assert _chunked_body(answer) == piece * count


@pytest.mark.timeout(30)
def test_a_client_that_leaves_cancels_its_handler():
    cancelled = threading.Event()

    async def handler(request: HttpRequest, response: AsyncResponse) -> None:
        await response.start(200, [("content-type", "text/plain")])
        try:
            while True:
                await response.write(b"tick\n")
                await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with _serving(handler) as address:
        with socket.create_connection(address, timeout=10) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            received = b""
            while b"tick" not in received:
                received += sock.recv(65536)
        assert cancelled.wait(5)


@pytest.mark.timeout(30)
def test_a_failing_handler_costs_its_client_alone(capsys):
    async def handler(request: HttpRequest, response: AsyncResponse) -> None:
        if request.target == "/fail-before":
            raise RuntimeError("bug before the answer")
        await response.start(200, [("content-type", "text/plain")])
        await response.write(b"partial")
        if request.target == "/fail-during":
            raise RuntimeError("bug in the middle")
        await response.end()

    with _serving(handler) as address:
        for target, expected in (("/fail-before", b"HTTP/1.1 500 "), ("/fail-during", None)):
            with socket.create_connection(address, timeout=10) as sock:
                sock.sendall(
                    f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
                )
                answer, closed = read_until_closed(sock)
            assert closed
            if expected:
                assert answer.startswith(expected)
            else:  # the stream ends cleanly, with what was written
                assert _chunked_body(answer) == b"partial"
        with socket.create_connection(address, timeout=10) as sock:
            sock.sendall(b"GET /fine HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert _chunked_body(read_until_closed(sock)[0]) == b"partial"
    assert "bug in the middle" in capsys.readouterr().err


@pytest.mark.timeout(60)
def test_a_body_is_freed_at_once_without_the_garbage_collector():
    """Whole and abandoned uploads alike: their buffers go when their
    connection goes, by reference counting, not at some later collection."""
    import gc
    import tracemalloc

    size = 4 * 1024 * 1024
    body = b"x" * size

    async def handler(request: HttpRequest, response: AsyncResponse) -> None:
        await response.send(200, [], str(len(request.body)).encode())

    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        with _serving(handler, max_body=size) as address:
            baseline = tracemalloc.get_traced_memory()[0]
            peaks = []
            for i in range(12):
                head = f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n".encode()
                with socket.create_connection(address, timeout=10) as sock:
                    if i % 2:  # abandoned halfway
                        sock.sendall(head + body[: size // 2])
                        time.sleep(0.1)
                    else:
                        sock.sendall(head + body)
                        assert read_until_closed(sock, timeout=0.5)[0].endswith(b"4194304")
                time.sleep(0.1)  # the server sees the close
                peaks.append(tracemalloc.get_traced_memory()[0] - baseline)
    finally:
        tracemalloc.stop()
        gc.enable()
    assert max(peaks) < size, [p // 1024 for p in peaks]
