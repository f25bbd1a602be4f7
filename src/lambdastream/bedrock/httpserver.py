"""A small asyncio HTTP/1.1 server on httptools: keep-alive, Content-Length or chunked answers.

Only what ``bedrock-local`` needs: whole request bodies in, and answers that
are either one body or a stream written one chunk per event (so a client sees
each event the moment it is produced).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus

import httptools

MAX_BODY = 32 * 1024 * 1024


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    keep_alive: bool = True


@dataclass
class _Collector:
    """httptools callbacks: accumulate the requests a byte feed completes."""

    headers: dict[str, str] = field(default_factory=dict)
    url: bytearray = field(default_factory=bytearray)
    body: bytearray = field(default_factory=bytearray)
    done: list[Request] = field(default_factory=list)
    too_large: bool = False
    parser: httptools.HttpRequestParser | None = None

    def on_message_begin(self) -> None:
        self.headers, self.url, self.body = {}, bytearray(), bytearray()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        if len(self.body) + len(body) > MAX_BODY:
            self.too_large = True
        else:
            self.body += body

    def on_message_complete(self) -> None:
        # Read method and keep-alive now: the parser forgets them once the next message begins.
        assert self.parser is not None
        self.done.append(
            Request(
                self.parser.get_method().decode("ascii", "replace"),
                self.url.decode("latin-1"),
                self.headers,
                bytes(self.body),
                self.parser.should_keep_alive(),
            )
        )


class Response:
    """One answer: :meth:`send` a whole body, or :meth:`start`, :meth:`write`, :meth:`end`."""

    def __init__(self, writer: asyncio.StreamWriter, keep_alive: bool) -> None:
        self._writer = writer
        self._keep_alive = keep_alive
        self.started = False

    def _head(self, status: int, headers: dict[str, str]) -> bytes:
        lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if not self._keep_alive:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.started = True
        headers = {**headers, "Content-Length": str(len(body))}
        self._writer.write(self._head(status, headers) + body)
        await self._writer.drain()

    async def start(self, status: int, headers: dict[str, str]) -> None:
        self.started = True
        self._writer.write(self._head(status, {**headers, "Transfer-Encoding": "chunked"}))

    async def write(self, data: bytes) -> None:
        """One chunk, flushed now: the client sees it before the next is produced."""
        if data:
            self._writer.writelines((b"%x\r\n" % len(data), data, b"\r\n"))
            await self._writer.drain()

    async def end(self) -> None:
        self._writer.write(b"0\r\n\r\n")
        await self._writer.drain()


Handler = Callable[[Request, Response], Awaitable[None]]


async def serve_connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handler: Handler
) -> None:
    """Serve requests on one connection until the peer closes it or asks to."""
    collector = _Collector()
    parser = httptools.HttpRequestParser(collector)
    collector.parser = parser
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                return
            try:
                parser.feed_data(data)
            except httptools.HttpParserError:
                await Response(writer, keep_alive=False).send(
                    400, {"Content-Type": "text/plain"}, b"malformed HTTP request\n"
                )
                return
            while collector.done:
                request = collector.done.pop(0)
                if collector.too_large:
                    await Response(writer, keep_alive=False).send(
                        413, {"Content-Type": "text/plain"}, b"request body too large\n"
                    )
                    return
                await handler(request, Response(writer, request.keep_alive))
                if not request.keep_alive:
                    return
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
