"""Every door of ``lambdastream dev`` (Function URL, REST API, Invoke API,
bedrock-local) against hostile or sloppy clients: a trailer that never ends,
20,000 idle connections, and request heads Go's net/http (what Lambda runs)
refuses. Raw sockets on loopback against the real process, bounded in bytes
and time; its memory read from /proc."""

from __future__ import annotations

import contextlib
import re
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from h11client import request
from probes import address, connect, median_latency, read_until_closed, rss_kib
from rest_support import start_rest
from support import DevServer, write_handler

HANDLER = """
def handler(event, context):
    if event.get("rawPath") == "/stream":
        def body():
            yield "streamed "
            yield "answer"
        return body()
    return {"statusCode": 200, "body": "fine"}
"""

MIB = 1024 * 1024
RSS_LIMIT_KIB = 150 * 1024  # what dev may hold through any of these floods
FAST = 0.050  # a normal request, answered while a flood runs (median of several)
INVOKE_PATH = "/2015-03-31/functions/app/invocations"
CONVERSE_PATH = "/model/amazon.nova-micro-v1:0/converse"


def _start(dev_server, tmp_path, *args: str, **env: str) -> DevServer:
    server = dev_server("app.handler", write_handler(tmp_path, HANDLER), *args, env=env)
    reply = request(server.url + "/")
    assert (reply.status, reply.body) == (200, b"fine")  # the runtime is warm
    return server


def _bedrock_url(server: DevServer) -> str:
    return server.wait_for_log(r"local Bedrock: (http://\S+)").group(1)


def _assert_fast(url: str) -> None:
    """A normal request is answered at once (median of 7: one slow turn of a
    busy machine does not decide), with its status and body."""
    assert median_latency(url, count=7) < FAST
    reply = request(url)
    assert (reply.status, reply.body) == (200, b"fine")


# ------------------------------------------------------------------ a trailer that never ends


class TrailerFlood:
    """A chunked request whose trailer section never ends, sent from a thread
    in 1 MiB pieces until the server closes the connection, ``limit`` bytes
    are out, or ``seconds`` pass. ``answer``: what the server sent back."""

    def __init__(self, url: str, path: str, limit: int, seconds: float = 30.0) -> None:
        self.sock = connect(url)
        self.head = (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            "3\r\nabc\r\n0\r\nX-Endless: "
        ).encode()
        self.limit, self.seconds = limit, seconds
        self.sent = 0
        self.answer = b""
        self.closed = False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TrailerFlood:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.join(self.seconds + 15)
        self.sock.close()

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    def _run(self) -> None:
        sock, piece = self.sock, memoryview(b"a" * MIB)
        sock.sendall(self.head)
        sock.setblocking(False)
        deadline = time.monotonic() + self.seconds
        offset = 0
        while time.monotonic() < deadline:
            readable, writable, _ = select.select(
                [sock], [sock] if self.sent < self.limit else [], [], 0.5
            )
            try:
                if readable:
                    data = sock.recv(65536)
                    if not data:
                        break
                    self.answer += data
                if writable:
                    offset += sock.send(piece[offset:])
                    if offset == len(piece):
                        self.sent += offset
                        offset = 0
            except BlockingIOError:
                continue
            except OSError:  # reset: closed too
                break
        else:
            return
        self.closed = True


@pytest.mark.timeout(120)
def test_a_300_mb_trailer_is_431_and_costs_neither_memory_nor_time(dev_server, tmp_path):
    server = _start(dev_server, tmp_path)
    with TrailerFlood(server.url, "/", 300 * MIB) as flood:
        while flood.running and flood.sent < 32 * MIB:
            time.sleep(0.01)
        _assert_fast(server.url + "/")  # while it streams (or the server has cut it off)
    assert flood.closed and flood.answer.startswith(b"HTTP/1.1 431 "), (
        flood.sent,
        flood.answer[:200],
    )
    assert rss_kib(server.proc.pid).hwm < RSS_LIMIT_KIB, rss_kib(server.proc.pid)
    server.wait_for_log(r"431 Request Header Fields Too Large: request trailers over")


@pytest.fixture
def rest_server(tmp_path) -> Iterator[DevServer]:
    server = start_rest("app.handler", write_handler(tmp_path, HANDLER), "--auth", "AWS_IAM")
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("door", ["invoke-api", "bedrock-local"])
def test_a_trailer_that_never_ends_is_431_at_every_door(dev_server, tmp_path, door):
    server = _start(dev_server, tmp_path, "--bedrock-local")
    url, path = (
        (server.api_url, INVOKE_PATH)
        if door == "invoke-api"
        else (_bedrock_url(server), CONVERSE_PATH)
    )
    with TrailerFlood(url, path, 64 * MIB, seconds=20) as flood:
        pass
    assert flood.closed and flood.answer.startswith(b"HTTP/1.1 431 "), flood.answer[:200]
    assert rss_kib(server.proc.pid).hwm < RSS_LIMIT_KIB


@pytest.mark.timeout(60)
def test_a_trailer_that_never_ends_is_431_before_authentication(rest_server):
    """REST API, AWS_IAM, unsigned: the trailer is refused before any
    signature is looked at (the request never ends, so it is never checked)."""
    with TrailerFlood(rest_server.url, "/Prod/", 64 * MIB, seconds=20) as flood:
        pass
    assert flood.closed and flood.answer.startswith(b"HTTP/1.1 431 "), flood.answer[:200]
    assert rss_kib(rest_server.proc.pid).hwm < RSS_LIMIT_KIB


# ------------------------------------------------------------------ 20,000 idle connections

OPENER = """
import resource, socket, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # this test's own limit, raised
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
socks, failed = [], 0
for _ in range(count):
    try:
        socks.append(socket.create_connection((host, port), timeout=10))
    except OSError:
        failed += 1
print("opened", len(socks), "failed", failed, flush=True)
sys.stdin.readline()  # held open until the test is done
"""


@contextlib.contextmanager
def idle_connections(url: str, count: int, processes: int = 2) -> Iterator[int]:
    """``count`` connections to ``url`` that send nothing, opened by helper
    processes (one process alone may not hold 20,000 descriptors); yields
    how many were opened."""
    host, port = address(url)
    helpers = [
        subprocess.Popen(
            [sys.executable, "-c", OPENER, host, str(port), str(count // processes)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    try:
        opened = 0
        for helper in helpers:
            assert helper.stdout is not None
            line = helper.stdout.readline()
            assert line.startswith("opened "), line
            opened += int(line.split()[1])
        yield opened
    finally:
        for helper in helpers:
            with contextlib.suppress(OSError):
                helper.communicate("done\n", timeout=30)
            if helper.poll() is None:
                helper.kill()
                helper.wait()


@pytest.mark.timeout(120)
def test_20000_idle_connections_leave_room_for_a_real_client(dev_server, tmp_path):
    server = _start(dev_server, tmp_path)
    # ~20 s here, most of it clients waiting to retry a SYN the full listening queue dropped.
    with idle_connections(server.url, 20_000) as opened:
        assert opened == 20_000
        _assert_fast(server.url + "/")
        assert rss_kib(server.proc.pid).hwm < RSS_LIMIT_KIB, rss_kib(server.proc.pid)
    logs = server.logs()
    [line] = [line for line in logs.splitlines() if "connections open" in line]
    assert re.search(r"HTTP 127\.0\.0\.1:\d+: \d+ connections open, the most", line), line
    assert "out of system resource" not in logs and "Traceback" not in logs
    assert len(logs) < 20_000, len(logs)  # a few lines, not one per socket


# ------------------------------------------------------------------ heads Go refuses

BAD_HEADS = [
    (b"GET {path} HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", b"400", "too many Host headers"),
    (b"GET {path} HTTP/1.1\r\nX-A: 1\r\n\r\n", b"400", "missing required Host header"),
    (b"GET {path}\r\nHost: x\r\n\r\n", b"400", "no HTTP version"),
    (b"GET {path} HTTP/2.0\r\nHost: x\r\n\r\n", b"505", "HTTP/2.0"),
    (
        b"POST {path} HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{{}}\r\n0\r\n\r\n",
        b"400",
        "Transfer-Encoding in an HTTP/1.0 request",
    ),
]


@pytest.mark.timeout(60)
def test_heads_go_refuses_are_refused_at_every_door(dev_server, tmp_path):
    server = _start(dev_server, tmp_path, "--bedrock-local")
    doors = [
        (server.url, "/"),
        (server.api_url, INVOKE_PATH),
        (_bedrock_url(server), CONVERSE_PATH),
    ]
    for url, path in doors:
        for raw, status, why in BAD_HEADS:
            with connect(url) as sock:
                sock.sendall(raw.replace(b"{path}", path.encode()).replace(b"{{}}", b"{}"))
                answer, closed = read_until_closed(sock, timeout=10)
            assert answer.startswith(b"HTTP/1.1 " + status + b" "), (url, raw, answer[:200])
            assert b"\r\nConnection: close\r\n" in answer and closed, (url, raw)
            server.wait_for_log(re.escape(why))  # the log line is read in the background
    assert server.logs().count("START RequestId") == 1  # none reached the function


@pytest.mark.timeout(30)
def test_http10_keep_alive_is_kept_only_when_asked_and_said(dev_server, tmp_path):
    """RFC 9112 9.3 and Go: an HTTP/1.0 connection persists only when the
    request asks "Connection: keep-alive", and the answer then says so."""
    server = _start(dev_server, tmp_path)
    with connect(server.url) as sock:
        for _ in range(2):  # the same connection, twice
            sock.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            answer = b""
            while not answer.endswith(b"fine"):
                piece = sock.recv(65536)
                assert piece, answer
                answer += piece
            head = answer.partition(b"\r\n\r\n")[0].lower()
            assert b"\r\nconnection: keep-alive" in head and b"content-length: 4" in head, answer
    for raw in (
        b"GET / HTTP/1.0\r\n\r\n",
        b"GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",  # close-delimited body
    ):
        with connect(server.url) as sock:
            sock.sendall(raw)
            answer, closed = read_until_closed(sock, timeout=10)
        assert closed and b"\r\nConnection: close\r\n" in answer, answer
        assert answer.endswith((b"fine", b"streamed answer")), answer
