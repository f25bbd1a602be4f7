"""The Runtime API (2018-06-01) as Lambda serves it to one environment.

One ``RuntimeApi`` listens on its own loopback port per environment, so a
runtime's ``GET /next`` needs no routing: it can only mean this environment.
Request heads are parsed by httptools; bodies are read here, so that a
streamed response goes from the socket through ``ChunkedDecoder`` straight
into the ``Invocation`` (no copy, no queue), and so that reading can pause
when the client downstream is slow.

Example (what a runtime does)::

    GET  /2018-06-01/runtime/invocation/next            -> 200, event, headers
    POST /2018-06-01/runtime/invocation/{id}/response   -> 202 (buffered or streamed)
    POST /2018-06-01/runtime/invocation/{id}/error      -> 202
    POST /2018-06-01/runtime/init/error                 -> 202
    GET  /2018-06-01/runtime/restore/next               -> 200 once "restored" (SnapStart)
    POST /2018-06-01/runtime/restore/error              -> 202
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
import traceback
from collections.abc import Callable
from typing import Protocol

import httptools

from lambdastream.httpserver import http_date
from lambdastream.local.invocation import FunctionError, Invocation
from lambdastream.wire.chunks import ERROR_BODY_TRAILER, ERROR_TYPE_TRAILER
from lambdastream.wire.dechunk import ChunkedDecoder, ChunkedError

__all__ = [
    "MAX_BUFFERED_RESPONSE",
    "MAX_STREAMED_RESPONSE",
    "RuntimeApi",
    "RuntimeApiListener",
]

# Lambda: 6 MiB for a buffered response (plus ~100 bytes of slack), 200 MB for
# a stream.
MAX_BUFFERED_RESPONSE = 6 * 1024 * 1024 + 100
MAX_STREAMED_RESPONSE = 200 * 1000 * 1000
# Lambda's streaming bandwidth: the first 6 MB uncapped, then 2 MB/s.
BANDWIDTH_FREE = 6 * 1000 * 1000
BANDWIDTH_RATE = 2 * 1000 * 1000
_MAX_HEAD = 64 * 1024
_MAX_ERROR_BODY = 1024 * 1024

_PREFIX = "/2018-06-01/runtime/"
# Header names as httptools hands them over, lower-cased.
_ERROR_TYPE = ERROR_TYPE_TRAILER.lower()
_ERROR_BODY = ERROR_BODY_TRAILER.lower()


class RuntimeApiListener(Protocol):
    """What the environment learns from its runtime."""

    def on_ready(self) -> None:
        """The runtime asked for work (``/next``) and none was waiting."""

    def on_delivered(self, inv: Invocation) -> None:
        """``inv`` was handed to the runtime."""

    def on_redelivered(self, inv: Invocation, delivery: int) -> None:
        """The runtime asked ``/next`` again without answering ``inv``: it got ``inv`` again."""

    def on_result(self, inv: Invocation, error: FunctionError | None) -> None:
        """The runtime finished ``inv`` (``error`` set when it failed)."""

    def on_init_error(self, error: FunctionError) -> None:
        """The runtime could not initialize."""

    def on_truncated(self, inv: Invocation) -> None:
        """The runtime's connection closed in the middle of ``inv``'s response."""

    def on_restore(self) -> None:
        """SnapStart: the runtime is initialized and waits to be restored."""

    def on_restore_error(self, error: FunctionError) -> None:
        """SnapStart: an after-restore hook failed."""


def _response(status: str, body: bytes, extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nDate: {http_date()}"
        f"\r\n{extra}Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def _error_response(status: str, error_type: str, message: str) -> bytes:
    body = json.dumps({"errorMessage": message, "errorType": error_type}).encode()
    return _response(status, body)


_ACCEPTED = _response("202 Accepted", b'{"status":"OK"}\n')


class RuntimeApi:
    """The Runtime API of one environment.

    Example::

        api = RuntimeApi(listener, function_arn="arn:...", timeout=3.0)
        address = await api.start()          # "127.0.0.1:41234" for AWS_LAMBDA_RUNTIME_API
        api.deliver(Invocation(b"{}"))       # answers the runtime's /next
    """

    def __init__(
        self,
        listener: RuntimeApiListener,
        *,
        function_arn: str,
        timeout: float,
        max_stream: int = MAX_STREAMED_RESPONSE,
        emulate_bandwidth: bool = False,
        snap_start: bool = False,
    ) -> None:
        self.listener = listener
        self.snap_start = snap_start
        self.function_arn = function_arn
        self.timeout = timeout
        self.max_stream = max_stream
        self.emulate_bandwidth = emulate_bandwidth
        self.current: Invocation | None = None
        self._pending: Invocation | None = None
        self._waiting: _Connection | None = None
        # The current invocation as the runtime sees it: the /next answer that
        # delivered it, whether a /response or /error for it has begun, and
        # whether the runtime has finished replying (only then may it have
        # another: an environment serves one invocation at a time).
        self._delivered = b""
        self._deliveries = 0
        self._responding = False
        self._answered = True
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[_Connection] = set()
        self._drained: Callable[[], None] | None = None
        self._drain_timer: asyncio.TimerHandle | None = None

    async def start(self, host: str = "127.0.0.1") -> str:
        """Listen on a free port; return ``host:port``."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), host, 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"{host}:{port}"

    def close(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections):
            conn.transport.abort()
        self._drain_done()

    def drain(self, done: Callable[[], None], timeout: float) -> None:
        """The runtime is gone: read what its connections still hold, then ``done()``.

        A runtime that exits mid-stream has sent bytes that still sit in its
        connection's buffers; closing at once would drop them. Each
        connection is read to its end (at the client's pace) and ``done``
        runs once all are closed, or after ``timeout`` with the rest cut.
        """
        if self._server is not None:
            self._server.close()
        self._drained = done
        if not self._connections:
            self._drain_done()
            return
        self._drain_timer = asyncio.get_running_loop().call_later(timeout, self.close)

    def _connection_gone(self, conn: _Connection) -> None:
        self._connections.discard(conn)
        if self._waiting is conn:
            self._waiting = None
        if self._drained is not None and not self._connections:
            self._drain_done()

    def _drain_done(self) -> None:
        if self._drain_timer is not None:
            self._drain_timer.cancel()
            self._drain_timer = None
        done, self._drained = self._drained, None
        if done is not None:
            done()

    def deliver(self, inv: Invocation) -> None:
        """Give ``inv`` to the runtime now, or on its next ``/next``."""
        self._pending = inv
        if self._waiting is not None:
            conn, self._waiting = self._waiting, None
            self._answer_next(conn)

    def _restore_requested(self, conn: _Connection) -> None:
        # Locally there is no snapshot to take: the environment is "restored"
        # at once. Connections made before a snapshot do not survive its
        # restore, so this one is closed, as a runtime must expect.
        self.listener.on_restore()
        conn.transport.write(_response("200 OK", b"", "Connection: close\r\n"))
        conn.transport.close()
        conn._state = _CLOSED

    def _next_requested(self, conn: _Connection) -> None:
        # Lambda's Runtime API (the runtime interface emulator's state
        # machine, lambda/core/states.go): /next while the runtime is Ready
        # with an unanswered invocation renders that invocation again; /next
        # while a response is being sent is an invalid state transition.
        if self._waiting is not None and self._waiting is not conn:
            return conn.refuse_transition("Ready", "a /next call is already waiting")
        if not self._answered:
            if self._responding:
                return conn.refuse_transition("InvocationResponse", "not allowed")
            conn.transport.write(self._delivered)
            self._deliveries += 1
            assert self.current is not None
            self.listener.on_redelivered(self.current, self._deliveries)
            return None
        if self._pending is not None:
            self._answer_next(conn)
        else:
            self._waiting = conn
            self.listener.on_ready()

    def _answer_next(self, conn: _Connection) -> None:
        inv, self._pending = self._pending, None
        assert inv is not None
        self.current = inv
        deadline_ms = int((time.time() + self.timeout) * 1000)
        headers = [
            ("Lambda-Runtime-Aws-Request-Id", inv.request_id),
            ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
            ("Lambda-Runtime-Invoked-Function-Arn", self.function_arn),
            ("Lambda-Runtime-Trace-Id", inv.trace_id),
            ("Lambda-Runtime-Invocation-Id", inv.invocation_id),
        ]
        if inv.client_context:
            headers.append(("Lambda-Runtime-Client-Context", inv.client_context))
        if inv.cognito_identity:
            headers.append(("Lambda-Runtime-Cognito-Identity", inv.cognito_identity))
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers)
        self._delivered = _response("200 OK", inv.payload, extra)
        self._deliveries = 1
        self._responding = False
        self._answered = False
        # START must be logged before the runtime can print anything for it.
        self.listener.on_delivered(inv)
        conn.transport.write(self._delivered)

    def _replied(self) -> None:
        """The runtime finished its reply to the current invocation (or gave up on it)."""
        self._responding = False
        self._answered = True
        self._delivered = b""


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


class _Connection(asyncio.Protocol):
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
        self._replying = False  # a /response or /error of the current invocation is being read
        # Reading resumes only when neither the client nor the rate limit holds it.
        self._held_by_client = False
        self._held_by_rate = False
        self._free_until = 0.0  # when the 6 MB free allowance ran out

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.api._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._state = _CLOSED
        if self._replying:  # the runtime went away in the middle of its reply
            self._reply_over()
        if self._inv is not None and not self._inv.done:
            self.api.listener.on_truncated(self._inv)
        self.api._connection_gone(self)

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
            self._chunked = ChunkedDecoder()
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
        self._replying = False
        self.api._replied()

    def refuse_transition(self, state: str, why: str) -> None:
        """403 ``InvalidStateTransition``, as Lambda answers a call out of turn."""
        message = f"State transition from {state} to Ready failed for runtime. Error: {why}"
        self.transport.write(_error_response("403 Forbidden", "InvalidStateTransition", message))

    def _fail(self, status: str, error_type: str, message: str) -> None:
        self.transport.write(_error_response(status, error_type, message))
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
                _error_response("404 Not Found", "InvalidRequest", "not found")
            )
        parts = path[len(_PREFIX) :].split("/")
        if parts == ["invocation", "next"] and method == "GET":
            self._on_end = lambda _t: self.api._next_requested(self)
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
        if parts[0] == "restore" and not self.api.snap_start:
            return self._reply_after_body(
                _error_response(
                    "403 Forbidden",
                    "InvalidStateTransition",
                    "restore is served only to SnapStart functions (lambdastream dev --snap-start)",
                )
            )
        if parts == ["restore", "next"] and method == "GET":
            self._on_end = lambda _t: self.api._restore_requested(self)
            return None
        if parts == ["restore", "error"] and method == "POST":
            header_type = headers.get(_ERROR_TYPE)
            return self._collect(
                headers, _MAX_ERROR_BODY, lambda body: self._restore_error_done(header_type, body)
            )
        return self._reply_after_body(
            _error_response("404 Not Found", "InvalidRequest", f"no route {method} {path}")
        )

    def _reply_after_body(self, response: bytes) -> None:
        self._on_end = lambda _t: self.transport.write(response)

    def _invocation_for(self, request_id: str, headers: dict[str, str]) -> Invocation | None:
        inv = self.api.current
        if inv is None or inv.request_id != request_id:
            self._reply_after_body(
                _error_response("400 Bad Request", "InvalidRequestID", "Invalid request ID")
            )
            return None
        echoed = headers.get("lambda-runtime-invocation-id")
        if echoed is not None and echoed != inv.invocation_id:
            self._reply_after_body(
                _error_response("410 Gone", "InvalidRequestID", "stale invocation")
            )
            return None
        if inv.started or inv.done or self.api._responding or self.api._answered:
            self._reply_after_body(
                _error_response(
                    "403 Forbidden", "InvalidStateTransition", "the invocation already has a result"
                )
            )
            return None
        self.api._responding = True
        self._replying = True
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
            self._reply_after_body(
                _error_response(
                    "400 Bad Request",
                    "Runtime.InvalidResponseModeHeader",
                    f"invalid Lambda-Runtime-Function-Response-Mode: {mode!r}",
                )
            )
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
        self.transport.write(_ACCEPTED)
        if inv is None or inv.done:
            return
        self.api.listener.on_result(inv, _error_from_trailers(trailers))

    def _buffered_done(self, inv: Invocation, content_type: str | None, body: bytes) -> None:
        self._reply_over()
        self.transport.write(_ACCEPTED)
        if inv.done:
            return
        inv.start(content_type, streaming=False)
        inv.push([body])
        self.api.listener.on_result(inv, None)

    def _buffered_too_large(self, inv: Invocation) -> None:
        self._reply_over()
        self.transport.write(
            _error_response(
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
        inv = self._invocation_for(request_id, headers)
        if inv is None:
            return
        header_type = headers.get(_ERROR_TYPE)

        def done(body: bytes) -> None:
            self._reply_over()
            self.transport.write(_ACCEPTED)
            if not inv.done:
                self.api.listener.on_result(inv, _error_from_post(header_type, body))

        self._collect(headers, _MAX_ERROR_BODY, done)

    def _init_error_done(self, header_type: str | None, body: bytes) -> None:
        self.transport.write(_ACCEPTED)
        self.api.listener.on_init_error(_error_from_post(header_type, body))

    def _restore_error_done(self, header_type: str | None, body: bytes) -> None:
        self.transport.write(_ACCEPTED)
        self.api.listener.on_restore_error(_error_from_post(header_type, body))

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
                    _error_response(
                        "413 Request Entity Too Large", "InvalidRequest", "body too large"
                    )
                )

        self._on_data = data
        self._on_end = end


def _ignore(*_args: object) -> None:
    pass


def _error_from_trailers(trailers: list[tuple[str, str]]) -> FunctionError | None:
    values = dict(trailers)
    error_type = values.get(_ERROR_TYPE)
    encoded = values.get(_ERROR_BODY)
    if error_type is None and encoded is None:
        return None
    body = b""
    if encoded:
        try:
            body = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            body = encoded.encode("latin-1")
    if not body:
        body = json.dumps({"errorType": error_type, "errorMessage": ""}).encode()
    return FunctionError(error_type or _type_in_body(body) or "Unhandled", body)


def _error_from_post(header_type: str | None, body: bytes) -> FunctionError:
    error_type = header_type or _type_in_body(body) or "Unhandled"
    if not body:
        body = json.dumps({"errorType": error_type, "errorMessage": ""}).encode()
    return FunctionError(error_type, body)


def _type_in_body(body: bytes) -> str | None:
    try:
        obj = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    value = obj.get("errorType") if isinstance(obj, dict) else None
    return value if isinstance(value, str) and value else None
