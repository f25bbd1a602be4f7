"""Hostile-client probes for the HTTP server's limits: raw sockets on loopback,
bounded in count and time, and the memory a server process holds.

Example::

    with open_sockets(server.url, 10) as socks:
        ...
    assert rss_kib(server.proc.pid).hwm < 150 * 1024
"""

from __future__ import annotations

import contextlib
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from h11client import request

__all__ = [
    "Memory",
    "Trickle",
    "address",
    "connect",
    "median_latency",
    "read_until_closed",
    "rss_kib",
    "wait_closed",
]


@dataclass
class Memory:
    rss: int  # VmRSS, KiB: resident now
    hwm: int  # VmHWM, KiB: the peak resident size since the process started


def rss_kib(pid: int) -> Memory:
    """The resident memory of process ``pid``, from /proc/<pid>/status."""
    fields: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0])
    return Memory(fields["VmRSS"], fields["VmHWM"])


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname in ("127.0.0.1", "::1", "localhost"), url  # loopback only
    assert parts.port is not None
    return parts.hostname, parts.port


def connect(url: str, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(address(url), timeout=timeout)


def read_until_closed(sock: socket.socket, timeout: float = 10.0) -> tuple[bytes, bool]:
    """Everything the server sends until it closes; ``(data, closed)``.

    ``closed`` is False when ``timeout`` passed first (the server held the
    connection open), True when the server closed it (EOF or reset).
    """
    sock.settimeout(0.2)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            piece = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:  # reset: closed too
            return data, True
        if not piece:
            return data, True
        data += piece
    return data, False


def wait_closed(socks: list[socket.socket], timeout: float) -> list[bytes | None]:
    """For each socket, what the server sent before closing it, or None if still open."""
    results: list[bytes | None] = [None] * len(socks)
    done = threading.Event()

    def watch(i: int, sock: socket.socket) -> None:
        data, closed = read_until_closed(sock, timeout)
        results[i] = data if closed else None

    threads = [threading.Thread(target=watch, args=(i, s)) for i, s in enumerate(socks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 5)
    done.set()
    return results


def median_latency(url: str, count: int = 5) -> float:
    """The median time, in seconds, of ``count`` GETs of ``url`` (each checked 200)."""
    times = []
    for _ in range(count):
        started = time.monotonic()
        reply = request(url, timeout=10)
        times.append(time.monotonic() - started)
        assert reply.status == 200, (reply.status, reply.body)
    return statistics.median(times)


class Trickle:
    """``count`` connections that each send ``head`` one byte at a time, round-robin.

    Every ``interval`` seconds each open socket gets its next byte; a socket
    the server closed is left alone. ``closed_at[i]`` is when socket ``i``
    was found closed (None while open).
    """

    def __init__(self, url: str, count: int, head: bytes, interval: float = 0.1) -> None:
        self.head = head
        self.interval = interval
        self.socks = [connect(url) for _ in range(count)]
        self.closed_at: list[float | None] = [None] * count
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Trickle:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        for sock in self.socks:
            with contextlib.suppress(OSError):
                sock.close()

    def _run(self) -> None:
        for sock in self.socks:
            sock.setblocking(False)
        position = 0
        while not self._stop.is_set() and position < len(self.head):
            byte = self.head[position : position + 1]
            for i, sock in enumerate(self.socks):
                if self.closed_at[i] is not None:
                    continue
                if self._server_closed(sock):
                    self.closed_at[i] = time.monotonic() - self.started
                    continue
                try:
                    sock.send(byte)
                except OSError:
                    self.closed_at[i] = time.monotonic() - self.started
            position += 1
            self._stop.wait(self.interval)
        # The head is out (or we were stopped): keep watching for closes.
        while not self._stop.is_set():
            for i, sock in enumerate(self.socks):
                if self.closed_at[i] is None and self._server_closed(sock):
                    self.closed_at[i] = time.monotonic() - self.started
            self._stop.wait(self.interval)

    @staticmethod
    def _server_closed(sock: socket.socket) -> bool:
        try:
            while True:
                piece = sock.recv(65536)
                if not piece:
                    return True
        except BlockingIOError:
            return False
        except OSError:
            return True

    def open_count(self) -> int:
        return sum(1 for at in self.closed_at if at is None)


@contextlib.contextmanager
def open_sockets(url: str, count: int) -> Iterator[list[socket.socket]]:
    socks = [connect(url) for _ in range(count)]
    try:
        yield socks
    finally:
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.close()
