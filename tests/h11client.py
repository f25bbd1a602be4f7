"""A raw-socket HTTP/1.1 client built on h11 (an independent parser), that
records when each piece of the body arrived and keeps the trailers."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import h11


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    chunks: list[tuple[float, bytes]] = field(default_factory=list)  # (seconds since send, data)
    trailers: list[tuple[str, str]] = field(default_factory=list)
    complete: bool = False

    @property
    def body(self) -> bytes:
        return b"".join(data for _, data in self.chunks)

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name.lower()]
        return ", ".join(values) if values else None

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name.lower()]


def request(
    url: str,
    method: str = "GET",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    timeout: float = 30.0,
) -> Reply:
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
    conn = h11.Connection(h11.CLIENT)
    all_headers = [("Host", parts.netloc), *(headers or [])]
    if body:
        all_headers.append(("Content-Length", str(len(body))))
    start = time.monotonic()
    sock.sendall(conn.send(h11.Request(method=method, target=target, headers=all_headers)))
    if body:
        sock.sendall(conn.send(h11.Data(data=body)))
    sock.sendall(conn.send(h11.EndOfMessage()))
    reply: Reply | None = None
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = sock.recv(65536)
                conn.receive_data(data)
                continue
            if isinstance(event, h11.Response):
                reply = Reply(
                    event.status_code,
                    [(k.decode().lower(), v.decode("latin-1")) for k, v in event.headers],
                )
            elif isinstance(event, h11.Data):
                assert reply is not None
                reply.chunks.append((time.monotonic() - start, bytes(event.data)))
            elif isinstance(event, h11.EndOfMessage):
                assert reply is not None
                reply.trailers = [
                    (k.decode().lower(), v.decode("latin-1")) for k, v in event.headers
                ]
                reply.complete = True
                return reply
            elif isinstance(event, h11.ConnectionClosed):
                assert reply is not None
                return reply
    except h11.RemoteProtocolError:
        assert reply is not None
        return reply
    finally:
        sock.close()
