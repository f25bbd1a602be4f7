"""One HTTP/1.1 response on the wire: whole, or streamed chunk by chunk.

``ResponseWriter`` frames (Content-Length, chunked with trailers, or
close-delimited for HTTP/1.0) and hands bytes to its connection; flow
control reaches the application through ``on_pause``/``on_resume`` (the
client reads slower than we write) and ``on_close`` (the client went away).

Example::

    def app(request: HttpRequest, writer: ResponseWriter) -> None:
        writer.start(200, [("content-type", "text/plain")])
        writer.write([b"hello, ", b"world"])  # two chunks, one send
        writer.end()
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from email.utils import formatdate
from typing import Protocol

from lambdastream.wire.chunks import frame_chunks, last_chunk
from lambdastream.wire.request import HttpRequest

__all__ = ["REASONS", "ResponseWriter", "http_date"]

# A table rather than http.HTTPStatus: its phrases changed between Python
# versions (413 became "Content Too Large" in 3.13), and clients log these.
REASONS = {
    100: "Continue",
    200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 206: "Partial Content",
    301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified",
    307: "Temporary Redirect", 308: "Permanent Redirect", 400: "Bad Request",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    408: "Request Timeout", 409: "Conflict", 410: "Gone", 413: "Request Entity Too Large",
    415: "Unsupported Media Type", 422: "Unprocessable Entity", 424: "Failed Dependency",
    429: "Too Many Requests", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout", 505: "HTTP Version Not Supported",
}  # fmt: skip

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


class Wire(Protocol):
    """What a response needs of its connection."""

    peer: str
    closed: bool

    def write(self, data: bytes) -> None: ...
    def writelines(self, pieces: list[bytes | memoryview]) -> None: ...
    def response_done(self, keep_alive: bool) -> None: ...


def _nothing() -> None:
    pass


def _bodiless(status: int) -> bool:
    """Whether a response with ``status`` has no body on the wire (RFC 9110, 6.4.1)."""
    return status < 200 or status in (204, 304)


class ResponseWriter:
    """Writes one response: whole (``send``) or streamed (``start``/``write``/``end``)."""

    def __init__(self, conn: Wire, request: HttpRequest, keep_alive: bool) -> None:
        self._conn = conn
        self.peer = conn.peer
        self._head_only = request.method == "HEAD"
        self._keep_alive = keep_alive
        self._http10 = request.http_version == "1.0"
        self._chunked = False
        self._bodiless = False
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

    def _head_bytes(
        self, status: int, headers: Iterable[tuple[str, str]], framing: str, keep_alive: bool
    ) -> bytes:
        """The status line and headers; raises ``UnicodeEncodeError`` for a non-Latin-1 header.

        Header values go out as Latin-1 (RFC 7230 obs-text): the frontends
        validate what a function sets (``prelude.py``) before it gets here.
        """
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}"]
        lines.extend(f"{name}: {value}" for name, value in headers)
        lines.append(f"Date: {http_date()}")
        if framing:
            lines.append(framing)
        if not keep_alive:
            lines.append("Connection: close")
        elif self._http10:
            # RFC 9112 9.3 (and Go): an HTTP/1.0 client that asked to keep
            # the connection is told it is kept, else it expects a close.
            lines.append("Connection: keep-alive")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """Send a complete response.

        Raises (and sends nothing) if the head cannot be encoded: the
        response has then not started, and ``abort`` can still answer.
        """
        if _bodiless(status):
            head = self._head_bytes(status, headers, "", self._keep_alive)
            body = b""
        else:
            framing = f"Content-Length: {len(body)}"
            head = self._head_bytes(status, headers, framing, self._keep_alive)
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
        bodiless = _bodiless(status)
        keep_alive = self._keep_alive
        if bodiless:
            # A 1xx, 204 or 304 ends at its head (RFC 9112, section 6.3): no
            # framing, no last chunk, whatever the function streams after it.
            framing = ""
        elif self._http10:
            framing = ""
            keep_alive = False  # the body ends when the connection does
        else:
            framing = "Transfer-Encoding: chunked" + (
                f"\r\nTrailer: {trailers}" if trailers else ""
            )
        # Encoded before anything changes: a head that cannot be sent leaves
        # the response unstarted, so the client can still get a 502.
        head = self._head_bytes(status, headers, framing, keep_alive)
        if bodiless:
            self._head_only = self._bodiless = True
        self.started = True
        if self._bodiless:
            pass  # no body to delimit: the connection stays usable
        elif self._http10:
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
                out += frame_chunks(pieces)
            else:
                first, stop, raw = frames
                out += frame_chunks(pieces[:first])
                out.append(raw)
                out += frame_chunks(pieces[stop:])
        if out:
            self._conn.writelines(out)

    def end(self, trailers: list[tuple[str, str]] | None = None) -> None:
        """End a streamed response, with trailers if given."""
        if self.finished:
            return
        # Encoded first: trailers that cannot be sent raise with nothing sent.
        tail = last_chunk(trailers or ())
        head, self._head = self._head, b""
        if self._chunked and not self._head_only:
            self._conn.write(head + tail)
        elif head:
            self._conn.write(head)
        if not self._chunked and not self._bodiless:
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
                reason = REASONS.get(status, "Error")
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
        # Nothing fires these any more; they point back at the app's side
        # (an invocation, a coroutine's response), which points at us: let go
        # now, so that the pair and the request body it holds are freed by
        # reference counting, not by a later garbage collection.
        self.on_pause = self.on_resume = self.on_close = _nothing
        self._conn.response_done(self._keep_alive)
