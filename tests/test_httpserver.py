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
from dataclasses import dataclass

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from probes import read_until_closed

from lambdastream.httpserver import AsyncResponse, Limits, UploadBudget, async_app, serve
from lambdastream.httpserver.limits import MAX_HEAD, MAX_HEADERS
from lambdastream.httpserver.reader import Failed, Received, Refused, RequestReader
from lambdastream.wire.request import HttpRequest

# ------------------------------------------------------------------ the reader, on bytes

PIPELINE = (
    b"POST /one HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    b"POST /two HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n"
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
        b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
    )
    assert isinstance(refused, Refused) and refused.reason == "throttled"
    assert (refused.request.target, refused.request.body, budget.held) == ("/x", b"", 8)


def test_a_chunked_body_is_bounded_as_it_grows():
    budget = UploadBudget(1000)
    reader = RequestReader(max_body=10, budget=budget)
    items = reader.feed(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n"
    )
    assert items == [] and budget.held == 6
    [refused] = reader.feed(b"6\r\nghijkl\r\n")  # 12 > 10: no need to wait for the end
    assert isinstance(refused, Refused) and refused.reason == "too_large"
    assert budget.held == 0


CHUNKED_HEAD = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize("piece", [1000, 16 * 1024 + 1, 256 * 1024], ids=["1k", "16k+1", "256k"])
def test_a_trailer_that_never_ends_is_431_within_the_head_limit(piece):
    """The trailer section is head-like: its bytes count against MAX_HEAD
    as they come, not when a line ends (httptools holds a line, growing it
    by copying, until it ends)."""
    budget = UploadBudget(1000)
    reader = RequestReader(max_body=100, budget=budget)
    assert reader.feed(CHUNKED_HEAD + b"3\r\nabc\r\n0\r\nX-Endless: ") == []
    sent, items = 0, []
    while not items and sent < 20 * MAX_HEAD:
        items = reader.feed(b"a" * piece)
        sent += piece
    [failed] = items
    assert isinstance(failed, Failed) and failed.status == 431, failed
    assert "trailers" in failed.detail
    assert sent <= MAX_HEAD + 2 * 16 * 1024 + piece, sent
    assert budget.held == 0  # the body's 3 bytes were given back


def test_the_head_and_trailers_share_one_limit():
    head = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nX-Big: "
    head += b"h" * (MAX_HEAD - 20_000) + b"\r\n\r\n"
    trailer = b"X-T: " + b"t" * 30_000 + b"\r\n\r\n"  # whole: counted as it ends
    [failed] = RequestReader(100, UploadBudget(1000)).feed(head + b"1\r\na\r\n0\r\n" + trailer)
    assert isinstance(failed, Failed) and failed.status == 431, failed
    many = b"".join(b"X-T%d: t\r\n" % i for i in range(MAX_HEADERS))
    [failed] = RequestReader(100, UploadBudget(1000)).feed(CHUNKED_HEAD + b"0\r\n" + many)
    assert isinstance(failed, Failed) and failed.status == 431, failed


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=20_000))
def test_trailers_and_chunk_framing_within_the_limit_are_read(size):
    """Framing bytes are not body, but they are no trailers either: a body
    sent a byte per chunk, or in chunks of any size, is read whole."""
    body = bytes(range(256)) * 80  # 20,480 bytes
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
        for i in range(0, len(body), size)
    )
    raw = CHUNKED_HEAD + chunks + b"0\r\nX-T: " + b"t" * 40_000 + b"\r\n\r\n"
    reader = RequestReader(max_body=len(body), budget=UploadBudget(10**6))
    items = []
    for start in range(0, len(raw), 4096):  # as a socket would hand it over
        items += reader.feed(raw[start : start + 4096])
    [received] = items
    assert isinstance(received, Received) and received.request.body == body


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 100_000, 431),  # a head that never ends
        (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", 431),
        (b"\x16\x03\x01 garbage\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n", 400),
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
    reader.feed(b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
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


# ------------------------------------------------------------------ the connection cap


def _get(sock: socket.socket, target: str = "/") -> bytes:
    """One keep-alive GET on ``sock``; its whole answer."""
    sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return _answer(sock)


def _answer(sock: socket.socket) -> bytes:
    """The next answer on ``sock`` (our handlers answer ``hi``, with a Content-Length)."""
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.endswith(b"hi"):
        piece = sock.recv(65536)
        assert piece, f"closed after {answer!r}"
        answer += piece
    return answer


@dataclass
class _Capped:
    address: tuple[str, int]
    lines: list[str]  # what the server logged
    holding: threading.Semaphore  # released once per /hold request under way
    release: threading.Event  # lets every /hold request be answered


@contextlib.contextmanager
def _capped(cap: int) -> Iterator[_Capped]:
    """A server of at most ``cap`` connections; ``/hold`` is answered once released."""
    capped = _Capped(("", 0), [], threading.Semaphore(0), threading.Event())

    async def handler(request: HttpRequest, response: AsyncResponse) -> None:
        if request.target == "/hold":
            capped.holding.release()
            await asyncio.get_running_loop().run_in_executor(None, capped.release.wait, 20)
        await response.send(200, [("content-type", "text/plain")], b"hi")

    limits = Limits(max_connections=cap)
    with _serving(handler, limits=limits, log=capped.lines.append) as address:
        capped.address = address
        try:
            yield capped
        finally:
            capped.release.set()


def _cap_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if "connections open" in line]


def _hold(sock: socket.socket, capped: _Capped) -> None:
    """A request under way on ``sock`` until ``capped.release`` is set."""
    sock.sendall(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
    assert capped.holding.acquire(timeout=10)


@pytest.mark.timeout(30)
def test_at_the_cap_the_longest_idle_connection_makes_room():
    with _capped(3) as capped, contextlib.ExitStack() as stack:
        address = capped.address
        socks = [stack.enter_context(socket.create_connection(address, timeout=10)) for _ in "abc"]
        for sock in socks:  # each answered, so each is known to the server, in this order
            assert _get(sock).startswith(b"HTTP/1.1 200 ")
        newcomer = stack.enter_context(socket.create_connection(address, timeout=10))
        assert _get(newcomer).startswith(b"HTTP/1.1 200 ")
        assert read_until_closed(socks[0], timeout=5) == (b"", True)  # quietly, like idle
        for sock in (*socks[1:], newcomer):
            assert _get(sock).startswith(b"HTTP/1.1 200 ")  # still there
        [line] = _cap_lines(capped.lines)
        assert "3 connections open" in line


@pytest.mark.timeout(30)
def test_a_connection_with_a_request_under_way_is_never_made_room_from():
    with _capped(2) as capped, contextlib.ExitStack() as stack:
        address = capped.address
        busy = stack.enter_context(socket.create_connection(address, timeout=10))
        _hold(busy, capped)
        idle = stack.enter_context(socket.create_connection(address, timeout=10))
        assert _get(idle).startswith(b"HTTP/1.1 200 ")
        newcomer = stack.enter_context(socket.create_connection(address, timeout=10))
        assert _get(newcomer).startswith(b"HTTP/1.1 200 ")  # made room: the idle one went
        assert read_until_closed(idle, timeout=5) == (b"", True)
        _hold(newcomer, capped)  # now none is idle: no room
        for _ in range(20):
            with socket.create_connection(address, timeout=10) as late:
                answer, closed = read_until_closed(late, timeout=5)
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 503 Service Unavailable\r\n"), answer
            assert b"\r\nConnection: close" in head and body == b"Service Unavailable"
            assert closed
        assert len(_cap_lines(capped.lines)) == 1  # once, not per refused socket
        capped.release.set()  # the held requests are answered, on connections kept all along
        for sock in (busy, newcomer):
            assert _answer(sock).startswith(b"HTTP/1.1 200 ")
            assert _get(sock).startswith(b"HTTP/1.1 200 ")


@pytest.mark.timeout(30)
def test_the_cap_is_logged_again_only_after_going_back_under_it():
    with _capped(4) as capped:
        for round_ in (1, 2):
            with contextlib.ExitStack() as stack:
                for _ in range(12):
                    sock = stack.enter_context(socket.create_connection(capped.address, 10))
                    assert _get(sock).startswith(b"HTTP/1.1 200 ")
            # All closed by us: the server's count goes back to 0.
            with socket.create_connection(capped.address, timeout=10) as sock:
                assert _get(sock).startswith(b"HTTP/1.1 200 ")
            assert len(_cap_lines(capped.lines)) == round_, capped.lines


EMFILE_SERVER = """
import asyncio, os, sys
from lambdastream.httpserver import async_app, serve

async def hello(request, response):
    await response.send(200, [("content-type", "text/plain")], b"hi")

async def main():
    loop = asyncio.get_running_loop()
    server = await serve(async_app(hello), "127.0.0.1", 0, max_body=1024,
                         log=lambda line: print(line, flush=True))
    print("port", server.sockets[0].getsockname()[1], flush=True)
    held = []  # every file descriptor left, so that accept() fails with EMFILE
    while True:
        try:
            held.append(os.open(os.devnull, os.O_RDONLY))
        except OSError:
            break
    print("full", flush=True)
    freed = asyncio.Event()
    loop.add_reader(sys.stdin.fileno(), freed.set)
    await freed.wait()
    for fd in held:
        os.close(fd)
    print("freed", flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


@pytest.mark.timeout(60)
def test_accept_errors_are_logged_once_not_per_attempt():
    """Out of file descriptors, asyncio logs "socket.accept() out of system
    resource" (with a traceback) up to 100 times a second: the server says
    it once, and serves again once descriptors are back."""
    import resource
    import subprocess
    import sys

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    proc = subprocess.Popen(
        [sys.executable, "-c", EMFILE_SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=low_limit,
    )
    assert proc.stdout is not None and proc.stdin is not None
    lines: list[bytes] = []
    # Read as it comes: a flood of log lines would otherwise fill the pipe and stop the server.
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or ()), daemon=True)
    try:
        port = int(proc.stdout.readline().split()[1])
        assert proc.stdout.readline() == b"full\n"
        reader.start()
        with contextlib.ExitStack() as stack:
            waiting = [
                stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=10))
                for _ in range(10)  # under the cap (16: a quarter of 64 descriptors)
            ]
            time.sleep(2.5)  # asyncio retries a failed accept every second
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
            assert _get(waiting[0]).startswith(b"HTTP/1.1 200 ")  # accepted once fds are back
    finally:
        proc.kill()
        proc.wait(10)
        if reader.is_alive():
            reader.join(10)
    output = b"".join(lines).decode()
    assert output.count("cannot accept connections") == 1, output[-3000:]
    assert "out of system resource" not in output, output[-3000:]
    assert len(output) < 2000, output[-3000:]


def test_a_trailer_is_not_a_header_of_the_request():
    # A trailer naming Host (or a signed header) after the body must not
    # reach the request the frontends read: Go keeps trailers apart.
    from lambdastream.httpserver.limits import UploadBudget
    from lambdastream.httpserver.reader import Received, RequestReader

    wire = (
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\nhi\r\n0\r\nHost: evil\r\nX-Amz-Date: 1\r\n\r\n"
    )
    [item] = RequestReader(max_body=100, budget=UploadBudget(1000)).feed(wire)
    assert isinstance(item, Received)
    assert item.request.headers == [("Host", "h"), ("Transfer-Encoding", "chunked")]
    assert item.request.body == b"hi"
