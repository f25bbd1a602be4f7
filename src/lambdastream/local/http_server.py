"""A small HTTP/1.1 server shell for the Function URL and Invoke API frontends.

httptools parses requests; the frontend gets a whole request (bodies are
bounded, as Lambda bounds payloads) and answers through a ``ResponseWriter``
that can stream: chunked framing, trailers, and flow control hooks that fire
when the client reads slower than we write. Requests on one connection are
answered in order; reading pauses while a response is in progress.

Example::

    def app(request: HttpRequest, writer: ResponseWriter) -> None:
        writer.send(200, [("content-type", "text/plain")], b"hi")

    server = await serve(app, "127.0.0.1", 9000)
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable
from email.utils import formatdate

import httptools

from lambdastream.local.url_event import HttpRequest

__all__ = ["App", "ResponseWriter", "http_date", "serve"]

App = Callable[[HttpRequest, "ResponseWriter"], None]

_REASONS = {
    200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 206: "Partial Content",
    301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified",
    307: "Temporary Redirect", 308: "Permanent Redirect", 400: "Bad Request",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    409: "Conflict", 410: "Gone", 413: "Request Entity Too Large", 415: "Unsupported Media Type",
    422: "Unprocessable Entity", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 500: "Internal Server Error",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}  # fmt: skip
_WRITE_HIGH_WATER = 256 * 1024
# Pieces below this are joined into one write; larger ones are written as
# they are.
_JOIN_LIMIT = 16 * 1024
# A request head (request line and headers) is bounded like the body is:
# over 64 KiB or over 100 header fields, the answer is 431. AWS documents no
# figure for Function URLs that we could find; 64 KiB is above nginx's
# default (4 x 8 KiB buffers) and any real browser's cookies, and 100 fields
# is Apache's LimitRequestFields default, so a request that production
# accepts is not refused here, while a client cannot make us hold an
# unbounded head.
MAX_HEAD = 64 * 1024
MAX_HEADERS = 100
_FEED = 16 * 1024  # bytes handed to the parser at a time
_LINGER = 2.0  # seconds a refused connection drains the client's bytes before closing


_date_second = -1
_date_text = ""


def http_date() -> str:
    """Now as an HTTP ``Date`` value, e.g. ``Wed, 25 Nov 2026 16:06:28 GMT``.

    Formatted once per second rather than per response (``formatdate``
    costs ~6 µs, and every response and Runtime API answer carries one).
    """
    global _date_second, _date_text
    now = time.time()
    second = int(now)
    if second != _date_second:
        _date_second, _date_text = second, formatdate(second, usegmt=True)
    return _date_text


class ResponseWriter:
    """Writes one response: whole (``send``) or streamed (``start``/``write``/``end``)."""

    def __init__(self, conn: _HttpConnection, request: HttpRequest, keep_alive: bool) -> None:
        self._conn = conn
        self.peer = conn.peer
        self._head_only = request.method == "HEAD"
        self._keep_alive = keep_alive
        self._http10 = request.http_version == "1.0"
        self._chunked = False
        self._head = b""  # a streamed head not sent yet: it leaves with the first bytes
        self.started = False
        self.finished = False
        self.on_pause: Callable[[], None] = _nothing
        self.on_resume: Callable[[], None] = _nothing
        self.on_close: Callable[[], None] = _nothing

    @property
    def closed(self) -> bool:
        """The client went away; further writes are dropped."""
        return self._conn.closed

    def _head_bytes(self, status: int, headers: Iterable[tuple[str, str]], framing: str) -> bytes:
        """The status line and headers; raises ``UnicodeEncodeError`` for a non-Latin-1 header.

        Header values go out as Latin-1 (RFC 7230 obs-text): the frontends
        validate what a function sets (``prelude.py``) before it gets here.
        """
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}"]
        lines.extend(f"{name}: {value}" for name, value in headers)
        lines.append(f"Date: {http_date()}")
        if framing:
            lines.append(framing)
        if not self._keep_alive:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """Send a complete response.

        Raises (and sends nothing) if the head cannot be encoded: the
        response has then not started, and ``abort`` can still answer.
        """
        head = self._head_bytes(status, headers, f"Content-Length: {len(body)}")
        self.started = True
        self._conn.write(head if self._head_only else head + body)
        self._finish()

    def start(
        self,
        status: int,
        headers: list[tuple[str, str]],
        trailers: str = "",
        *,
        with_body: bool = False,
    ) -> None:
        """Send the head of a streamed response (chunked, or close-delimited for HTTP/1.0).

        ``with_body``: the caller writes (or ends) right away; the head then
        leaves in the same send as those bytes.
        """
        if self._http10:
            framing = ""
        else:
            framing = "Transfer-Encoding: chunked" + (
                f"\r\nTrailer: {trailers}" if trailers else ""
            )
        # Encoded before anything changes: a head that cannot be sent leaves
        # the response unstarted, so the client can still get a 502.
        head = self._head_bytes(status, headers, framing)
        self.started = True
        if self._http10:
            self._keep_alive = False
        else:
            self._chunked = True
        if with_body:
            self._head = head  # one send, one packet for head and first bytes
        else:
            self._conn.write(head)

    def write(self, pieces: list[memoryview] | list[bytes]) -> None:
        """Send body pieces in one write; each piece becomes one chunk.

        Pieces straight from ``ChunkedDecoder`` (``Pieces``) carry the bytes
        that already frame most of them, one chunk per piece: those go out
        as received rather than framed again.
        """
        if self.finished:
            return
        out: list[bytes | memoryview] = [self._head] if self._head else []
        self._head = b""
        if self._head_only:
            pass
        elif not self._chunked:
            out.extend(pieces)
        else:
            frames = getattr(pieces, "frames", None)
            if frames is None:
                _frame(pieces, out)
            else:
                first, stop, raw = frames
                _frame(pieces[:first], out)
                out.append(raw)
                _frame(pieces[stop:], out)
        if out:
            self._conn.writelines(out)

    def end(self, trailers: list[tuple[str, str]] | None = None) -> None:
        """End a streamed response, with trailers if given."""
        if self.finished:
            return
        # Encoded first: trailers that cannot be sent raise with nothing sent.
        tail = "".join(f"{k}: {v}\r\n" for k, v in trailers or ()).encode("latin-1")
        head, self._head = self._head, b""
        if self._chunked and not self._head_only:
            self._conn.write(head + b"0\r\n" + tail + b"\r\n")
        elif head:
            self._conn.write(head)
        if not self._chunked:
            self._keep_alive = False
        self._finish()

    def abort(self, status: int = 502) -> None:
        """End this response after a failure on our side, leaving the connection usable.

        Nothing sent yet: a plain ``status`` response. A stream under way:
        its body ends (the terminating chunk, or the connection closes for a
        close-delimited HTTP/1.0 body). Never raises.
        """
        if self.finished:
            return
        try:
            if not self.started or self._head:  # the head never left
                self._head = b""
                self._chunked = False
                self.started = False
                reason = _REASONS.get(status, "Error")
                self.send(status, [("content-type", "text/plain")], reason.encode())
            elif self._chunked:
                self.end()
            else:
                self._keep_alive = False
                self._finish()
        except Exception:  # nothing more can be said on this connection
            self._keep_alive = False
            self._finish()

    def _finish(self) -> None:
        self.finished = True
        self._conn.response_done(self._keep_alive)


def _frame(pieces: list[memoryview] | list[bytes], out: list[bytes | memoryview]) -> None:
    """Append each non-empty piece to ``out`` as one chunk (an empty one would end the body)."""
    for piece in pieces:
        if len(piece):
            out += (b"%x\r\n" % len(piece), piece, b"\r\n")


def _nothing() -> None:
    pass


class _Parsed:
    """httptools callbacks collecting complete requests."""

    def __init__(self, conn: _HttpConnection) -> None:
        self.conn = conn
        self.url = b""
        self.headers: list[tuple[str, str]] = []
        self.body = bytearray()
        self.too_large = False
        self.in_head = False  # between the start of a request and the end of its headers
        self.head_size = 0  # request line and complete headers
        self.head_read = 0  # bytes of reads that fell wholly inside the head
        self.head_too_large = False

    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = []
        self.body = bytearray()
        self.too_large = False
        self.in_head = True
        self.head_size = 0
        self.head_read = 0

    def on_url(self, url: bytes) -> None:
        self.url += url
        self._count(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))
        self._count(len(name) + len(value) + 4)
        if len(self.headers) > MAX_HEADERS:
            self._head_too_large()

    def _count(self, size: int) -> None:
        self.head_size += size
        if self.head_size > MAX_HEAD:
            self._head_too_large()

    def _head_too_large(self) -> None:
        self.head_too_large = True
        raise _HeadTooLarge  # stops the parser; feed_data raises HttpParserCallbackError

    def on_headers_complete(self) -> None:
        self.in_head = False
        for name, value in self.headers:
            if name.lower() == "expect" and value.lower() == "100-continue":
                self.conn.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        if self.too_large:
            return
        self.body += body
        if len(self.body) > self.conn.max_body:
            self.too_large = True
            self.body = bytearray()

    def on_message_complete(self) -> None:
        parser = self.conn.parser
        request = HttpRequest(
            method=parser.get_method().decode("latin-1"),
            target=self.url.decode("latin-1"),
            headers=self.headers,
            body=bytes(self.body),
            http_version=parser.get_http_version(),
        )
        self.conn.queue.append((request, parser.should_keep_alive(), self.too_large))


class _HeadTooLarge(Exception):
    pass


class _HttpConnection(asyncio.Protocol):
    def __init__(self, app: App, max_body: int, on_too_large: App) -> None:
        self.app = app
        self.max_body = max_body
        self.on_too_large = on_too_large
        self.queue: deque[tuple[HttpRequest, bool, bool]] = deque()
        self._parsed = _Parsed(self)
        self.parser = httptools.HttpRequestParser(self._parsed)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._eof = False
        self._discard = False  # refused: what the client still sends is dropped
        self.peer = "127.0.0.1"
        self._writer: ResponseWriter | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.set_write_buffer_limits(high=_WRITE_HIGH_WATER)  # type: ignore[attr-defined]
        peer = transport.get_extra_info("peername")
        if peer:
            self.peer = peer[0]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        writer, self._writer = self._writer, None
        if writer is not None and not writer.finished:
            writer.on_close()

    def pause_writing(self) -> None:
        if self._writer is not None:
            self._writer.on_pause()

    def resume_writing(self) -> None:
        if self._writer is not None:
            self._writer.on_resume()

    def data_received(self, data: bytes) -> None:
        if self._discard:
            return
        parsed = self._parsed
        view = memoryview(data)
        # Fed in slices so that the bytes of a head still being received are
        # counted to within one slice (see below).
        for start in range(0, len(view), _FEED):
            piece = view[start : start + _FEED]
            was_in_head = parsed.in_head
            try:
                self.parser.feed_data(piece)
            except httptools.HttpParserUpgrade:
                self._reject(400, b"Upgrade is not supported")
                return
            except httptools.HttpParserError:
                if parsed.head_too_large:
                    self._reject(431, b"Request Header Fields Too Large")
                else:
                    self._reject(400, b"Bad Request")
                return
            if was_in_head and parsed.in_head:
                # The slice lies wholly inside one head. httptools holds a
                # header until its line ends, so a head that never ends is
                # bounded here, not by the callbacks' count.
                parsed.head_read += len(piece)
                if parsed.head_read > MAX_HEAD:
                    self._reject(431, b"Request Header Fields Too Large")
                    return
        if len(self.queue) > 1 and self.transport is not None:
            self.transport.pause_reading()  # a pipelining client waits its turn
        self._next()

    def _reject(self, status: int, body: bytes) -> None:
        transport = self.transport
        if self._writer is not None or transport is None or self.closed:
            self.close()  # a response is under way: nothing else can be said
            return
        reason = _REASONS.get(status, "Error")
        transport.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n".encode()
            + body
        )
        # Lingering close: closing with the client's bytes still unread
        # would reset the connection, and a reset can destroy our answer
        # before the client reads it (a 431 while it still sends its huge
        # head). End our side, drop what still arrives, close when the
        # client does or after a few seconds.
        self._discard = True
        self.queue.clear()
        if transport.can_write_eof():
            transport.write_eof()
        asyncio.get_running_loop().call_later(_LINGER, self.close)

    def _next(self) -> None:
        if self._writer is not None or not self.queue or self.closed:
            return
        request, keep_alive, too_large = self.queue.popleft()
        self._writer = writer = ResponseWriter(self, request, keep_alive and not too_large)
        try:
            if too_large:
                self.on_too_large(request, writer)
            else:
                self.app(request, writer)
        except Exception as exc:  # a bug of ours must not kill the server
            import traceback

            traceback.print_exception(exc)
            writer.abort(500)

    def eof_received(self) -> bool:
        # A client may half-close (shutdown(SHUT_WR)) once its request is
        # sent: keep our side open until the requests it sent are answered.
        self._eof = True
        return not self._discard and (self._writer is not None or bool(self.queue))

    def response_done(self, keep_alive: bool) -> None:
        self._writer = None
        if not keep_alive or (self._eof and not self.queue):
            self.close()
            return
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()
        asyncio.get_running_loop().call_soon(self._next)

    def write(self, data: bytes) -> None:
        if not self.closed and self.transport is not None:
            self.transport.write(data)

    def writelines(self, pieces: list) -> None:
        """Send ``pieces`` in order: one send for a batch of small ones.

        Small pieces are joined into one write; a large piece is written as
        it is (a view of the runtime's immutable read, so the transport may
        keep it): copying it costs more than a send of its own, and asyncio
        3.11's own ``writelines`` would join everything into a fresh object.
        """
        transport = self.transport
        if self.closed or transport is None:
            return
        if sum(map(len, pieces)) <= _JOIN_LIMIT:
            transport.write(b"".join(pieces))
            return
        group: list = []
        for piece in pieces:
            if len(piece) < _JOIN_LIMIT:
                group.append(piece)
                continue
            if group:
                transport.write(b"".join(group))
                group = []
            transport.write(piece)
        if group:
            transport.write(b"".join(group))

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.close()
        self.closed = True


async def serve(
    app: App,
    host: str,
    port: int,
    *,
    max_body: int,
    on_too_large: App,
) -> asyncio.base_events.Server:
    """Serve ``app`` on ``host:port``; a body over ``max_body`` goes to ``on_too_large``."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: _HttpConnection(app, max_body, on_too_large), host, port, reuse_address=True
    )
