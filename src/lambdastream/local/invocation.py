"""One invocation: the streaming core every frontend consumes.

The Runtime API side (``runtime_api.py``) produces into an ``Invocation``:
``start`` when the response begins, ``push`` for each batch of body bytes as
it arrives, ``finish`` with an optional error at the end (error trailers, an
``/error`` post, a timeout or a crash). A frontend (Function URL, Invoke API,
a benchmark or an ASGI adapter) attaches one ``Sink`` and receives the same
calls; it applies backpressure with ``pause_producer``/``resume_producer``,
which stop and restart reading from the runtime's socket, so a slow client
makes the runtime's socket back up instead of making us buffer.

Example::

    >>> class Print:
    ...     def on_start(self, inv): print("start", inv.content_type)
    ...     def on_body(self, inv, pieces): print([bytes(p) for p in pieces])
    ...     def on_end(self, inv, error): print("end", error)
    >>> inv = Invocation(b"{}")
    >>> inv.attach(Print())
    >>> inv.start("text/plain", streaming=True)
    start text/plain
    >>> inv.push([b"hi"])
    [b'hi']
    >>> inv.finish(None)
    end None
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from lambdastream.wire.chunks import ERROR_BODY_TRAILER, ERROR_TYPE_TRAILER

__all__ = [
    "TRACE_HEADER",
    "FunctionError",
    "Invocation",
    "Producer",
    "Sink",
    "TraceContext",
    "parse_trace_header",
]

# The request header a caller's trace arrives in, on a Function URL and on
# the Invoke API alike (botocore's add_recursion_detection_header sends it).
TRACE_HEADER = "x-amzn-trace-id"

# The X-Ray tracing header (X-Amzn-Trace-Id), as the X-Ray developer guide
# defines it (xray-concepts.html#xray-concepts-tracingheader and, for the
# ids, xray-api-sendingdata.html#xray-api-traceids): ";"-separated
# key=value fields; Root is "1-", the epoch seconds in 8 hex digits, "-"
# and 96 random bits in 24 hex digits; Parent a segment id of 16 hex
# digits; Sampled 1, 0 or ? (the decision left to the receiver). Other
# fields (Self, Lineage) are allowed and not carried. The X-Ray SDKs and
# OpenTelemetry's AwsXRayPropagator read the same keys, case-sensitively.
_TRACE_ROOT = re.compile(r"1-[0-9a-fA-F]{8}-[0-9a-fA-F]{24}")
_SEGMENT_ID = re.compile(r"[0-9a-fA-F]{16}")
_SAMPLED = frozenset({"0", "1", "?"})
# Lambda's recursion-loop lineage field; locally no loop is counted.
_LINEAGE = "Lineage=1:00000000:0"


@dataclass(frozen=True)
class TraceContext:
    """The fields of a valid X-Ray tracing header that Lambda carries on."""

    root: str
    parent: str | None = None
    sampled: str | None = None


def parse_trace_header(value: str | None) -> TraceContext | None:
    """The trace a caller's ``X-Amzn-Trace-Id`` names, or None if absent or malformed.

    >>> parse_trace_header("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
    TraceContext(root='1-5759e988-bd862e3fe1be46a994272793', parent=None, sampled='1')
    >>> parse_trace_header("Root=1-abc") is None
    True
    """
    if not value:
        return None
    found: dict[str, str] = {}
    for part in value.split(";"):
        key, sep, field_value = part.partition("=")
        key = key.strip()
        if not sep:
            if key:
                return None  # a field without a value: not the header X-Ray writes
            continue  # an empty field (a trailing ";")
        if key in found:
            return None  # a field twice (the header sent twice, joined): which trace?
        found[key] = field_value.strip()
    root, parent, sampled = found.get("Root"), found.get("Parent"), found.get("Sampled")
    if root is None or not _TRACE_ROOT.fullmatch(root):
        return None
    if parent is not None and not _SEGMENT_ID.fullmatch(parent):
        return None
    if sampled is not None and sampled not in _SAMPLED:
        return None
    return TraceContext(root, parent, sampled)


@dataclass(frozen=True)
class FunctionError:
    """An invocation error: its Lambda error type and its error JSON bytes."""

    error_type: str
    body: bytes

    @classmethod
    def make(cls, error_type: str, message: str) -> FunctionError:
        """Build one of our own errors (timeouts, crashes, limits).

        >>> FunctionError.make("Sandbox.Timeout", "late").body
        b'{"errorType": "Sandbox.Timeout", "errorMessage": "late"}'
        """
        body = json.dumps({"errorType": error_type, "errorMessage": message}).encode()
        return cls(error_type, body)

    @classmethod
    def from_trailers(cls, trailers: list[tuple[str, str]]) -> FunctionError | None:
        """The error a stream's trailers carry (lower-cased names), or None if none.

        >>> FunctionError.from_trailers([(ERROR_TYPE_TRAILER.lower(), "E")]).body
        b'{"errorType": "E", "errorMessage": ""}'
        """
        values = dict(trailers)
        error_type = values.get(ERROR_TYPE_TRAILER.lower())
        encoded = values.get(ERROR_BODY_TRAILER.lower())
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
        return cls(error_type or _type_in_body(body) or "Unhandled", body)

    @classmethod
    def from_post(cls, header_type: str | None, body: bytes) -> FunctionError:
        """The error an ``/error`` post carries: its header's type, else its body's."""
        error_type = header_type or _type_in_body(body) or "Unhandled"
        if not body:
            body = json.dumps({"errorType": error_type, "errorMessage": ""}).encode()
        return cls(error_type, body)

    @property
    def message(self) -> str:
        """The error's ``errorMessage``, or its raw body if that is not JSON."""
        try:
            obj = json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return self.body.decode("utf-8", "replace")
        if isinstance(obj, dict) and isinstance(obj.get("errorMessage"), str):
            return obj["errorMessage"]
        return self.body.decode("utf-8", "replace")


def _type_in_body(body: bytes) -> str | None:
    try:
        obj = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    value = obj.get("errorType") if isinstance(obj, dict) else None
    return value if isinstance(value, str) and value else None


def _uuid4(hex32: str) -> str:
    """A random (version 4) UUID string from 32 random hex digits.

    >>> _uuid4("0123456789abcdef0123456789abcdef")
    '01234567-89ab-4def-8123-456789abcdef'
    """
    variant = "89ab"[int(hex32[16], 16) & 3]
    return f"{hex32[:8]}-{hex32[8:12]}-4{hex32[13:16]}-{variant}{hex32[17:20]}-{hex32[20:32]}"


class PacedConnection(Protocol):
    """A client connection that reports when it stalls, drains and closes."""

    on_pause: Callable[[], None]
    on_resume: Callable[[], None]
    on_close: Callable[[], None]


class Sink(Protocol):
    """What a frontend implements to receive an invocation's response."""

    def on_start(self, inv: Invocation) -> None:
        """The response began: ``inv.content_type`` and ``inv.streaming`` are set."""

    def on_body(self, inv: Invocation, pieces: list[memoryview] | list[bytes]) -> None:
        """Body bytes, in order, as they arrived from the runtime."""

    def on_end(self, inv: Invocation, error: FunctionError | None) -> None:
        """The response is complete; ``error`` says how it failed, if it did."""

    def on_failure(self, inv: Invocation, exc: Exception) -> None:
        """One of the calls above raised ``exc``: end the client's response as best it can.

        The sink is detached first and gets no further calls.
        """


class Producer(Protocol):
    """The runtime-side connection feeding an invocation."""

    def pause_producing(self) -> None: ...
    def resume_producing(self) -> None: ...


class _NullSink:
    def on_start(self, inv: Invocation) -> None:
        pass

    def on_body(self, inv: Invocation, pieces: list[memoryview] | list[bytes]) -> None:
        pass

    def on_end(self, inv: Invocation, error: FunctionError | None) -> None:
        pass

    def on_failure(self, inv: Invocation, exc: Exception) -> None:
        pass


class Invocation:
    """One request to the function and its (possibly streamed) response."""

    def __init__(
        self,
        payload: bytes,
        *,
        request_id: str | None = None,
        client_context: str | None = None,
        cognito_identity: str | None = None,
        trace_header: str | None = None,
    ) -> None:
        # One read of randomness for every id (uuid.uuid4() costs ~5 µs each,
        # and this is on the path of every request).
        rand = os.urandom(52).hex()
        self.request_id = request_id or _uuid4(rand)
        # Echoed by runtimes so a late answer from a timed-out run is refused.
        self.invocation_id = _uuid4(rand[32:64])
        caller = parse_trace_header(trace_header)
        if caller is None:
            # No trace (or a malformed header, which is none): Lambda starts one.
            caller = TraceContext(f"1-{int(time.time()):08x}-{rand[64:88]}")
            trace_header = None
        # The caller's X-Amzn-Trace-Id as a Function URL event carries it: the
        # caller's own when valid, else the root Lambda started.
        self.trace_header: str = (trace_header or f"Root={caller.root}").strip()
        # Lambda-Runtime-Trace-Id: the caller's Root and sampling decision; its
        # Parent is the id of Lambda's own function segment, under which the
        # function's subsegments go (the X-Ray SDK's Lambda context builds its
        # facade segment from it: aws_xray_sdk/core/lambda_launcher.py), so a
        # fresh one and never the caller's. Nothing records segments here: an
        # undecided "?" is not sampled.
        sampled = caller.sampled if caller.sampled in ("0", "1") else "0"
        self.trace_id = f"Root={caller.root};Parent={rand[88:104]};Sampled={sampled};{_LINEAGE}"
        self.payload = payload
        self.client_context = client_context
        self.cognito_identity = cognito_identity
        self.content_type: str | None = None
        self.streaming = False
        self.started = False
        self.done = False
        self.error: FunctionError | None = None
        self.bytes_sent = 0
        self.log_tail: bytes = b""
        self._sink: Sink = _NullSink()
        self._producer: Producer | None = None
        self._paused = False

    # consumer side
    def attach(self, sink: Sink) -> None:
        """Receive this invocation's response through ``sink`` (one per invocation)."""
        self._sink = sink

    def attach_client(self, sink: Sink, connection: PacedConnection) -> None:
        """Attach ``sink`` and let the client's ``connection`` pace this invocation.

        A client that stops reading pauses the runtime (bounded buffering);
        one that goes away detaches the sink.
        """
        self.attach(sink)
        connection.on_pause = self.pause_producer
        connection.on_resume = self.resume_producer
        connection.on_close = self.detach

    def detach(self) -> None:
        """Stop delivering (the client went away); the function still runs to its end."""
        self._sink = _NullSink()
        self.resume_producer()

    def pause_producer(self) -> None:
        """Stop reading from the runtime until ``resume_producer``."""
        if not self._paused:
            self._paused = True
            if self._producer is not None:
                self._producer.pause_producing()

    def resume_producer(self) -> None:
        """Read from the runtime again."""
        if self._paused:
            self._paused = False
            if self._producer is not None:
                self._producer.resume_producing()

    # producer side
    def start(
        self, content_type: str | None, *, streaming: bool, producer: Producer | None = None
    ) -> None:
        """The runtime began its response."""
        self.content_type = content_type
        self.streaming = streaming
        self.started = True
        self._producer = producer
        if self._paused and producer is not None:
            producer.pause_producing()
        try:
            self._sink.on_start(self)
        except Exception as exc:
            self._sink_failed(exc)

    def push(self, pieces: list[memoryview] | list[bytes]) -> None:
        """Body bytes from the runtime, in arrival order."""
        self.bytes_sent += sum(map(len, pieces))
        try:
            self._sink.on_body(self, pieces)
        except Exception as exc:
            self._sink_failed(exc)

    def finish(self, error: FunctionError | None) -> None:
        """The response ended (``error`` set if it failed); later calls are ignored."""
        if self.done:
            return
        self.done = True
        self.error = error
        self._producer = None
        try:
            self._sink.on_end(self, error)
        except Exception as exc:
            self._sink_failed(exc)

    def _sink_failed(self, exc: Exception) -> None:
        """A frontend's callback raised: the frontend ends its client's response.

        The exception stops here: it must not reach the Runtime API
        connection that called us (that would drop the runtime's connection
        and leave its request unanswered). The function runs on, its bytes
        are dropped, and the runtime gets its usual answer.
        """
        sink, self._sink = self._sink, _NullSink()
        self.resume_producer()
        on_failure = getattr(sink, "on_failure", None)
        try:
            if on_failure is None:
                raise exc
            on_failure(self, exc)
        except Exception as unhandled:
            traceback.print_exception(unhandled)
