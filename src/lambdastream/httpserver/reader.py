"""One connection's requests, read from bytes within their limits (sans-I/O).

httptools parses; this module decides what a request may cost before its
body is read: the head is bounded (``MAX_HEAD``, ``MAX_HEADERS``), and so are
a chunked body's trailers, which count against the same limits; a body over
``max_body`` is refused as soon as its ``Content-Length`` says so (or,
chunked, as soon as it grows past it), and the bytes of every body are taken
from an :class:`UploadBudget` first, so that a request the process cannot
hold is refused rather than buffered. A body of known length is read into a
buffer of exactly that length; none grows by copying. A head that llhttp
reads but Go's net/http refuses (see :mod:`lambdastream.wire.http1`) is
refused too, before its body is read.

Example::

    >>> from lambdastream.httpserver.limits import UploadBudget
    >>> reader = RequestReader(max_body=10, budget=UploadBudget(100))
    >>> [item] = reader.feed(b"POST /a HTTP/1.1\\r\\nHost: h\\r\\nContent-Length: 2\\r\\n\\r\\nhi")
    >>> item.request.body, item.held
    (b'hi', 2)
    >>> [refused] = RequestReader(10, UploadBudget(100)).feed(
    ...     b"POST / HTTP/1.1\\r\\nHost: h\\r\\nContent-Length: 11\\r\\n\\r\\n")
    >>> refused.reason
    'too_large'
    >>> [failed] = RequestReader(10, UploadBudget(100)).feed(b"GET / HTTP/1.1\\r\\n\\r\\n")
    >>> failed.status, failed.detail
    (400, 'missing required Host header')
"""

from __future__ import annotations

from dataclasses import dataclass

import httptools

from lambdastream.httpserver.limits import MAX_HEAD, MAX_HEADERS, UploadBudget
from lambdastream.wire.http1 import head_problem
from lambdastream.wire.request import HttpRequest

__all__ = ["Failed", "Item", "Received", "Refused", "RequestReader"]

# Phases of the request being read, for the connection's timers.
IDLE = "idle"  # no byte of a request yet
HEAD = "head"  # request line and headers
BODY = "body"  # the head is complete, the body is coming
STOPPED = "stopped"  # refused or malformed: nothing more is read

TOO_LARGE = "too_large"
THROTTLED = "throttled"

_HEAD_TOO_LARGE = (
    431,
    b"Request Header Fields Too Large",
    f"a request head over {MAX_HEAD} bytes or {MAX_HEADERS} fields",
)
_TRAILERS_TOO_LARGE = (
    431,
    b"Request Header Fields Too Large",
    f"request trailers over {MAX_HEAD} bytes or {MAX_HEADERS} fields, with the head",
)

# Bytes handed to the parser at a time while a head or a chunked body is
# coming, so that the bytes of a head or trailer that never ends are counted
# to within one slice (httptools holds a header until its line ends, growing
# it by copying; the callbacks alone cannot bound it).
_FEED = 16 * 1024


@dataclass
class Received:
    """A whole request. ``held``: bytes of the budget it holds until answered."""

    request: HttpRequest
    keep_alive: bool
    held: int


@dataclass
class Refused:
    """A request answered from its head alone (body never read); the connection ends."""

    request: HttpRequest  # with an empty body
    reason: str  # TOO_LARGE or THROTTLED
    detail: str  # for the log


@dataclass
class Failed:
    """Bytes that are no request we can answer: the server's own error, then close."""

    status: int
    message: bytes  # for the client
    detail: str  # for the log


Item = Received | Refused | Failed


class _Stop(Exception):
    """Raised from a callback to stop httptools where it stands."""


class RequestReader:
    """Feed bytes in, take complete (or refused) requests out, in order."""

    def __init__(self, max_body: int, budget: UploadBudget) -> None:
        self.max_body = max_body
        self.budget = budget
        self.phase = IDLE
        self.heads = 0  # heads begun so far: the caller's clock restarts when it changes
        self.wants_continue = False  # the request waits for "100 Continue" before its body
        self._parser: httptools.HttpRequestParser | None = httptools.HttpRequestParser(self)
        self._out: list[Item] = []
        self._failure: Failed | None = None
        self._begin()

    def _begin(self) -> None:
        self._url = b""
        self._headers: list[tuple[str, str]] = []
        self._head_size = 0  # request line and complete headers (and trailers)
        self._fields = 0  # header and trailer fields
        self._head_read = 0  # bytes of feeds that fell wholly inside the head
        self._head_end = 0  # _head_size when the head was complete
        # Bytes of feeds that fell wholly between two pieces of a chunked
        # body: chunk framing, and the trailers once the last chunk is read.
        self._framing = 0
        self._got_body = False  # on_body ran during the current feed
        self._buffer: bytearray | None = None
        self._filled = 0
        self._chunked = False
        self._held = 0

    # ------------------------------------------------------------ the caller

    def feed(self, data: bytes) -> list[Item]:
        """Parse ``data``; return what it completed. After a ``Refused`` or
        ``Failed`` item the reader is stopped and ignores what follows."""
        parser = self._parser
        if parser is None or self.phase == STOPPED:
            return []
        out: list[Item] = []
        self._out = out
        view = memoryview(data)
        start, end = 0, len(view)
        while start < end:
            phase, heads = self.phase, self.heads
            sliced = phase in (IDLE, HEAD) or (phase == BODY and self._chunked)
            piece = view[start : start + _FEED] if sliced else view[start:]
            start += len(piece)
            self._got_body = False
            try:
                parser.feed_data(piece)
            except httptools.HttpParserUpgrade:
                # httptools cannot go on after an upgrade request: refuse it
                # rather than answer it and then have to drop the connection.
                if out and isinstance(upgrade := out[-1], Received):
                    out.pop()
                    self.budget.release(upgrade.held)
                self._fail(400, b"Upgrade is not supported", "an Upgrade request")
            except httptools.HttpParserError as exc:
                if self.phase != STOPPED:  # a refusal already said why
                    failure = self._failure or Failed(400, b"Bad Request", f"not HTTP/1.1: {exc}")
                    self._fail(failure.status, failure.message, failure.detail)
            if self.phase == STOPPED:
                break
            if self.heads != heads or self.phase != phase:
                continue  # the piece crossed a boundary: only whole pieces are counted
            if phase == HEAD:
                self._head_read += len(piece)
                if self._head_read > MAX_HEAD:
                    self._fail(*_HEAD_TOO_LARGE)
                    break
            elif phase == BODY and self._chunked and not self._got_body:
                # No body byte in a whole piece: framing, or the trailer
                # section (after the last chunk), which may never end. Real
                # framing between two pieces of a body is a few bytes.
                self._framing += len(piece)
                if self._head_end + self._framing > MAX_HEAD:
                    self._fail(*_TRAILERS_TOO_LARGE)
                    break
        self._out = []  # the requests are the caller's now: holding them would hold their bodies
        return out

    def continue_sent(self) -> None:
        """The server told the client to send its body."""
        self.wants_continue = False

    def close(self) -> None:
        """Give back what the request being read holds; nothing more is read."""
        self.budget.release(self._held)
        self._held = 0
        self._buffer = None
        self._parser = None  # the parser refers to us: no cycle left for the GC to find
        self.phase = STOPPED
        self.wants_continue = False

    def _fail(self, status: int, message: bytes, detail: str) -> None:
        self.close()
        self._out.append(Failed(status, message, detail))

    def _refuse(self, reason: str, detail: str) -> None:
        request = HttpRequest(
            method=self._method(),
            target=self._url.decode("latin-1"),
            headers=self._headers,
            body=b"",
            http_version=self._version(),
        )
        self.close()
        self._out.append(Refused(request, reason, detail))
        raise _Stop

    def _method(self) -> str:
        assert self._parser is not None
        return self._parser.get_method().decode("latin-1")

    def _version(self) -> str:
        assert self._parser is not None
        return self._parser.get_http_version()

    # ------------------------------------------------------------ httptools callbacks

    def on_message_begin(self) -> None:
        self._begin()
        self.phase = HEAD
        self.heads += 1

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._count(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        # Trailers come here too, after the last chunk: they count with the
        # head but are not headers (as Go keeps them apart, and as a Function
        # URL passes none on), so that a trailer cannot add a second Host or
        # a header the head's checks never saw.
        self._fields += 1
        if self.phase != BODY:
            self._headers.append((name.decode("latin-1"), value.decode("latin-1")))
        self._count(len(name) + len(value) + 4)
        if self._fields > MAX_HEADERS:
            self._head_too_large()

    def _count(self, size: int) -> None:
        self._head_size += size
        if self._head_size > MAX_HEAD:
            self._head_too_large()

    def _head_too_large(self) -> None:
        self._failure = Failed(*(_TRAILERS_TOO_LARGE if self.phase == BODY else _HEAD_TOO_LARGE))
        raise _Stop

    def on_headers_complete(self) -> None:
        problem = head_problem(self._version(), self._headers)
        if problem is not None:
            self._failure = Failed(problem.status, problem.reason.encode(), problem.reason)
            raise _Stop
        self.phase = BODY
        self._head_end = self._head_size
        length: int | None = None
        expect = ""
        for name, value in self._headers:
            lowered = name.lower()
            if lowered == "content-length" and length is None:
                length = int(value)  # llhttp has checked it: digits, one value
            elif lowered == "transfer-encoding":
                self._chunked = True  # llhttp accepts only a chunked request body
            elif lowered == "expect":
                expect = value.strip().lower()
        if length is not None and length > self.max_body:
            self._refuse(TOO_LARGE, f"Content-Length {length} is over {self.max_body}")
        if length:
            # The whole body's bytes are taken now, before any is read: a
            # request that does not fit is refused before the client sends it.
            if not self.budget.reserve(length):
                self._refuse(THROTTLED, self._over_budget(length))
            self._held = length
            self._buffer = bytearray(length)
        elif self._chunked:
            self._buffer = bytearray()
        # RFC 9110 10.1.1: only an HTTP/1.1 request with a body to send waits.
        self.wants_continue = (
            expect == "100-continue" and self._buffer is not None and self._version() == "1.1"
        )

    def on_body(self, body: bytes) -> None:
        self.wants_continue = False  # the client did not wait (RFC 9110 10.1.1 lets it)
        self._got_body = True
        self._framing = 0
        buffer = self._buffer
        assert buffer is not None
        size = len(body)
        if self._chunked:
            if len(buffer) + size > self.max_body:
                self._refuse(TOO_LARGE, f"a chunked body over {self.max_body} bytes")
            if not self.budget.reserve(size):
                self._refuse(THROTTLED, self._over_budget(len(buffer) + size))
            self._held += size
            buffer += body
        else:  # llhttp never gives more than Content-Length
            buffer[self._filled : self._filled + size] = body
            self._filled += size

    def _over_budget(self, size: int) -> str:
        return (
            f"a body of {size} bytes does not fit the upload budget"
            f" ({self.budget.held} of {self.budget.limit} bytes held)"
        )

    def on_message_complete(self) -> None:
        assert self._parser is not None
        buffer, self._buffer = self._buffer, None
        request = HttpRequest(
            method=self._method(),
            target=self._url.decode("latin-1"),
            headers=self._headers,
            body=bytes(buffer) if buffer else b"",
            http_version=self._version(),
        )
        del buffer  # freed now, not at the next request
        self._out.append(Received(request, self._parser.should_keep_alive(), self._held))
        self._held = 0
        self.phase = IDLE
        self.wants_continue = False
