"""One connection from a runtime to its Runtime API: requests read, replies relayed.

Request heads are parsed by httptools; bodies are read here, so that a
streamed response goes from the socket through the strict chunked decoder
(:mod:`lambdastream.wire.dechunk`) straight into the ``Invocation`` (no
copy, no queue), and so that reading can pause when the client downstream
is slow (or, with ``--emulate-bandwidth``, at Lambda's 2 MB/s after the
first 6 MB). What each call may do is the Runtime API's to decide
(:mod:`lambdastream.local.runtime_api`).

Example (what a runtime sends on one connection)::

    GET /2018-06-01/runtime/invocation/next HTTP/1.1
    POST /2018-06-01/runtime/invocation/<id>/response HTTP/1.1
    Transfer-Encoding: chunked
    Lambda-Runtime-Function-Response-Mode: streaming
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Callable

import httptools

from lambdastream.local.invocation import FunctionError, Invocation
from lambdastream.local.runtime_api import (
    ACCEPTED,
    MAX_BUFFERED_RESPONSE,
    RuntimeApi,
    error_response,
    response,
)
from lambdastream.wire.chunks import ERROR_TYPE_TRAILER, TRAILERS_LIMIT
from lambdastream.wire.dechunk import ChunkedDecoder, ChunkedError

__all__ = ["RuntimeConnection"]

# Lambda's streaming bandwidth: the first 6 MB uncapped, then 2 MB/s.
BANDWIDTH_FREE = 6 * 1000 * 1000
BANDWIDTH_RATE = 2 * 1000 * 1000
_MAX_HEAD = 64 * 1024
_MAX_ERROR_BODY = 1024 * 1024
_READ_SIZE = 1024 * 1024

_PREFIX = "/2018-06-01/runtime/"
# Header names as httptools hands them over, lower-cased.
_ERROR_TYPE = ERROR_TYPE_TRAILER.lower()


class _Head:
    """httptools callbacks for one request head."""

    __slots__ = ("headers", "url")

    def __init__(self) -> None:
        self.url = b""
        self.headers: dict[str, str] = {}

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        # Repeated headers (two "Trailer:" lines) fold into one list, as HTTP allows.
        self.headers[key] = f"{self.headers[key]}, {text}" if key in self.headers else text


_HEAD, _BODY, _CLOSED = range(3)


class RuntimeConnection(asyncio.Protocol):
    """One connection from the runtime; requests are served strictly in order."""

    def __init__(self, api: RuntimeApi) -> None:
        self.api = api
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self._state = _HEAD
        self._buf = bytearray()
        self._chunked: ChunkedDecoder | None = None
        self._remaining = 0
        self._on_data: Callable[[list[memoryview] | list[bytes]], None] = _ignore
        self._on_end: Callable[[list[tuple[str, str]]], None] = _ignore
        self._inv: Invocation | None = None  # the invocation whose body is being read
        # The invocation whose reply (a /response or /error) this connection carries.
        self._replying: Invocation | None = None
        # Reading resumes only when neither the client nor the rate limit holds it.
        self._held_by_client = False
        self._held_by_rate = False
        self._free_until = 0.0  # when the 6 MB free allowance ran out

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if hasattr(transport, "max_size"):
            # Reads of up to 1 MiB, not asyncio's 256 KiB: a stream of large
            # chunks is relayed in a quarter of the reads (and writes).
            transport.max_size = _READ_SIZE
        self.api.connection_made(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._state = _CLOSED
        if self._replying:  # the runtime went away in the middle of its reply
            self._reply_over()
        if self._inv is not None and not self._inv.done:
            self.api.listener.on_truncated(self._inv)
        self.api.connection_gone(self)

    def write(self, data: bytes) -> None:
        """Answer the runtime."""
        self.transport.write(data)

    def abort(self) -> None:
        """Drop the connection at once."""
        self.transport.abort()

    def data_received(self, data: bytes) -> None:
        try:
            while data and self._state != _CLOSED:
                data = (
                    self._body_received(data) if self._state == _BODY else self._head_received(data)
                )
        except Exception as exc:  # a bug of ours: answer the runtime, never leave it waiting
            traceback.print_exception(exc)
            self._truncate_invocation("the Runtime API failed reading the response")
            self._fail("500 Internal Server Error", "ServiceException", repr(exc))

    # Producer, for Invocation backpressure
    def pause_producing(self) -> None:
        self._held_by_client = True
        self._update_reading()

    def resume_producing(self) -> None:
        self._held_by_client = False
        self._update_reading()

    def _update_reading(self) -> None:
        if self._state == _CLOSED:
            return
        if self._held_by_client or self._held_by_rate:
            self.transport.pause_reading()
        else:
            self.transport.resume_reading()

    def _limit_rate(self, sent: int) -> None:
        over = sent - BANDWIDTH_FREE
        if over <= 0:
            return
        now = time.monotonic()
        if not self._free_until:
            self._free_until = now
        wait = self._free_until + over / BANDWIDTH_RATE - now
        if wait > 0 and not self._held_by_rate:
            self._held_by_rate = True
            self._update_reading()

            def release() -> None:
                self._held_by_rate = False
                self._update_reading()

            asyncio.get_running_loop().call_later(wait, release)

    # request parsing
    def _head_received(self, data: bytes) -> bytes:
        start = max(0, len(self._buf) - 3)
        self._buf += data
        end = self._buf.find(b"\r\n\r\n", start)
        if end < 0:
            if len(self._buf) > _MAX_HEAD:
                self._fail(
                    "431 Request Header Fields Too Large", "InvalidRequest", "head too large"
                )
            return b""
        head_bytes = bytes(self._buf[: end + 4])
        rest = bytes(self._buf[end + 4 :])
        self._buf = bytearray()
        head = _Head()
        parser = httptools.HttpRequestParser(head)
        try:
            parser.feed_data(head_bytes)
        except httptools.HttpParserError as exc:
            self._fail("400 Bad Request", "InvalidRequest", f"malformed request: {exc}")
            return b""
        method = parser.get_method().decode()
        self._route(method, head.url.decode("latin-1"), head.headers)
        if self._state == _CLOSED:
            return b""
        te = head.headers.get("transfer-encoding", "").lower()
        if "chunked" in te:
            self._chunked = ChunkedDecoder(max_trailers=TRAILERS_LIMIT)
            self._state = _BODY
        else:
            try:
                self._remaining = int(head.headers.get("content-length", "0"))
            except ValueError:
                self._fail("400 Bad Request", "InvalidRequest", "bad Content-Length")
                return b""
            self._chunked = None
            self._state = _BODY
            if self._remaining == 0:
                self._end_body([])
        return rest

    def _body_received(self, data: bytes) -> bytes:
        if self._chunked is not None:
            return self._chunked_received(data, len(data))
        take = min(self._remaining, len(data))
        if take:
            self._on_data([memoryview(data)[:take]])
        self._remaining -= take
        if self._remaining == 0:
            self._end_body([])
        return data[take:]

    def _chunked_received(self, data: bytes, end: int) -> bytes:
        """Decode ``data[:end]`` of a chunked body; return what follows the body."""
        decoder = self._chunked
        assert decoder is not None
        try:
            pieces = decoder.feed(data, end)
        except ChunkedError as exc:
            if exc.pieces:  # what was validly framed before the fault was sent
                self._on_data(exc.pieces)
            self._truncate_invocation()
            self._fail("400 Bad Request", "InvalidChunkedBody", str(exc))
            return b""
        if pieces:
            self._on_data(pieces)
        if decoder.done:
            self._end_body(decoder.trailers)
            return decoder.tail if self._state != _CLOSED else b""
        return b""

    def _end_body(self, trailers: list[tuple[str, str]]) -> None:
        self._state = _HEAD
        on_end, self._on_end, self._on_data = self._on_end, _ignore, _ignore
        on_end(trailers)

    def _reply_over(self) -> None:
        inv, self._replying = self._replying, None
        if inv is not None:
            self.api.reply_over(inv)

    def _fail(self, status: str, error_type: str, message: str) -> None:
        self.transport.write(error_response(status, error_type, message))
        self.transport.close()
        self._state = _CLOSED

    def _truncate_invocation(self, why: str = "the runtime sent a malformed body") -> None:
        inv, self._inv = self._inv, None
        if self._replying:
            self._reply_over()
        if inv is not None and not inv.done:
            self.api.listener.on_result(inv, FunctionError.make("Runtime.TruncatedResponse", why))

    # routing
    def _route(self, method: str, path: str, headers: dict[str, str]) -> None:
        path = path.split("?", 1)[0]
        if not path.startswith(_PREFIX):
            return self._reply_after_body(
                error_response("404 Not Found", "InvalidRequest", "not found")
            )
        parts = path[len(_PREFIX) :].split("/")
        if parts == ["invocation", "next"] and method == "GET":
            self._on_end = lambda _t: self._next_requested()
            return None
        if len(parts) == 3 and parts[0] == "invocation" and method == "POST":
            if parts[2] == "response":
                return self._start_response(parts[1], headers)
            if parts[2] == "error":
                return self._start_error(parts[1], headers)
        if parts == ["init", "error"] and method == "POST":
            header_type = headers.get(_ERROR_TYPE)
            return self._collect(
                headers, _MAX_ERROR_BODY, lambda body: self._init_error_done(header_type, body)
            )
        if parts == ["restore", "next"] and method == "GET":
            self._on_end = lambda _t: self._restore_requested()
            return None
        if parts[0] == "restore" and not self.api.snap_start:
            return self._reply_after_body(
                error_response(
                    "403 Forbidden",
                    "InvalidStateTransition",
                    "restore is served only to SnapStart functions (lambdastream dev --snap-start)",
                )
            )
        if parts == ["restore", "error"] and method == "POST":
            header_type = headers.get(_ERROR_TYPE)
            return self._collect(
                headers, _MAX_ERROR_BODY, lambda body: self._restore_error_done(header_type, body)
            )
        return self._reply_after_body(
            error_response("404 Not Found", "InvalidRequest", f"no route {method} {path}")
        )

    def _reply_after_body(self, response: bytes) -> None:
        self._on_end = lambda _t: self.transport.write(response)

    def _next_requested(self) -> None:
        answer = self.api.next_requested(self)
        if answer is not None:
            self.transport.write(answer)

    def _restore_requested(self) -> None:
        refused = self.api.restore_requested()
        if refused is not None:
            self.transport.write(refused)
            return
        # Locally there is no snapshot to take: the environment is "restored"
        # at once. Connections made before a snapshot do not survive its
        # restore, so this one is closed, as a runtime must expect.
        self.transport.write(response("200 OK", b"", "Connection: close\r\n"))
        self.transport.close()
        self._state = _CLOSED

    def _invocation_for(
        self, request_id: str, headers: dict[str, str], error: bool = False
    ) -> Invocation | None:
        inv, refused = self.api.begin_reply(request_id, headers, error)
        if inv is None:
            self._reply_after_body(refused)
            return None
        self._replying = inv
        return inv

    def _start_response(self, request_id: str, headers: dict[str, str]) -> None:
        inv = self._invocation_for(request_id, headers)
        if inv is None:
            return
        mode = headers.get("lambda-runtime-function-response-mode")
        content_type = headers.get("content-type")
        if mode is None:
            self._collect(
                headers,
                MAX_BUFFERED_RESPONSE,
                lambda body: self._buffered_done(inv, content_type, body),
                on_too_large=lambda: self._buffered_too_large(inv),
            )
            return
        if mode.lower() != "streaming":
            message = f"invalid Lambda-Runtime-Function-Response-Mode: {mode!r}"

            def refused(_trailers: list[tuple[str, str]]) -> None:
                self._reply_over()
                self.transport.write(
                    error_response("400 Bad Request", "InvalidFunctionResponseMode", message)
                )
                if not inv.done:
                    error = FunctionError.make("Runtime.InvalidResponseModeHeader", message)
                    self.api.listener.on_result(inv, error)

            self._on_end = refused
            return
        self._inv = inv
        inv.start(content_type, streaming=True, producer=self)
        self._on_data = self._stream_data
        self._on_end = self._stream_end

    def _stream_data(self, pieces: list[memoryview] | list[bytes]) -> None:
        inv = self._inv
        if inv is None or inv.done:
            return  # cut off (size limit, timeout): read and drop the rest
        size = sum(map(len, pieces))
        if inv.bytes_sent + size > self.api.max_stream:
            self.api.listener.on_result(
                inv,
                FunctionError.make(
                    "Function.ResponseSizeTooLarge",
                    f"Response stream exceeded maximum allowed size ({self.api.max_stream} bytes).",
                ),
            )
            return
        inv.push(pieces)
        if self.api.emulate_bandwidth:
            self._limit_rate(inv.bytes_sent)

    def _stream_end(self, trailers: list[tuple[str, str]]) -> None:
        inv, self._inv = self._inv, None
        self._free_until = 0.0
        self._reply_over()
        self.transport.write(ACCEPTED)
        if inv is None or inv.done:
            return
        self.api.listener.on_result(inv, FunctionError.from_trailers(trailers))

    def _buffered_done(self, inv: Invocation, content_type: str | None, body: bytes) -> None:
        self._reply_over()
        self.transport.write(ACCEPTED)
        if inv.done:
            return
        inv.start(content_type, streaming=False)
        inv.push([body])
        self.api.listener.on_result(inv, None)

    def _buffered_too_large(self, inv: Invocation) -> None:
        self._reply_over()
        self.transport.write(
            error_response(
                "413 Request Entity Too Large",
                "Function.ResponseSizeTooLarge",
                "response too large",
            )
        )
        if not inv.done:
            self.api.listener.on_result(
                inv,
                FunctionError.make(
                    "Function.ResponseSizeTooLarge",
                    "Response payload size exceeded maximum allowed payload size "
                    f"({MAX_BUFFERED_RESPONSE} bytes).",
                ),
            )

    def _start_error(self, request_id: str, headers: dict[str, str]) -> None:
        inv = self._invocation_for(request_id, headers, error=True)
        if inv is None:
            return
        header_type = headers.get(_ERROR_TYPE)

        def done(body: bytes) -> None:
            self._reply_over()
            self.transport.write(ACCEPTED)
            if not inv.done:
                self.api.listener.on_result(inv, FunctionError.from_post(header_type, body))

        self._collect(headers, _MAX_ERROR_BODY, done)

    def _init_error_done(self, header_type: str | None, body: bytes) -> None:
        self.transport.write(ACCEPTED)
        error = FunctionError.from_post(header_type, body)
        self.api.init_failed(error)
        self.api.listener.on_init_error(error)

    def _restore_error_done(self, header_type: str | None, body: bytes) -> None:
        self.transport.write(ACCEPTED)
        error = FunctionError.from_post(header_type, body)
        self.api.init_failed(error)
        self.api.listener.on_restore_error(error)

    def _collect(
        self,
        headers: dict[str, str],
        limit: int,
        done: Callable[[bytes], None],
        on_too_large: Callable[[], None] | None = None,
    ) -> None:
        """Read a whole body of at most ``limit`` bytes, then call ``done``."""
        buf = bytearray()
        over = False

        def data(pieces: list[memoryview] | list[bytes]) -> None:
            nonlocal over
            if over:
                return
            for p in pieces:
                buf.extend(p)
            if len(buf) > limit:
                over = True
                buf.clear()

        def end(_trailers: list[tuple[str, str]]) -> None:
            if not over:
                done(bytes(buf))
            elif on_too_large is not None:
                on_too_large()
            else:
                self.transport.write(
                    error_response(
                        "413 Request Entity Too Large", "InvalidRequest", "body too large"
                    )
                )

        self._on_data = data
        self._on_end = end


def _ignore(*_args: object) -> None:
    pass
