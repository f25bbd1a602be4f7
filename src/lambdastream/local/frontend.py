"""What the two HTTP frontends of ``lambdastream dev`` share.

The Function URL frontend (``function_url.py``) and the REST API frontend
(``rest_api.py``) invoke the function the same way and relay its answer the
same way; :class:`Frontend` and :class:`ResponseSink` are that one piece of
code, and each frontend's subclass says only where it differs.

The relay, for both:

- a streamed response: its prelude (status and headers) starts the chunked
  HTTP response, each batch of body bytes read from the runtime is one write
  to the client, and the end of the stream ends it; a function error after
  the response began ends the body with the error in trailers
  (``Lambda-Runtime-Function-Error-Type``/``-Body``);
- a buffered response is mapped whole and sent with its length;
- a failure before the response began is the frontend's 502;
- an answer that cannot be sent (a bad prelude, a bad header, a buffered
  result the frontend refuses) is logged under the invocation's request id
  and is the frontend's 502, or, once the response began, the end of the
  stream with ``Runtime.InvalidResponse`` in its trailer;
- a bug of ours, or a response we could not send, aborts this client's
  connection alone.

Where they differ (each frontend's module docstring says why): which
prelude a stream opens with and how it is parsed, how a buffered result is
mapped, which headers the frontend adds, what its 502 looks like, what its
log lines say, and the REST API's idle timeout.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from json.encoder import encode_basestring_ascii
from typing import ClassVar

from lambdastream.httpserver import ResponseWriter
from lambdastream.local.invocation import FunctionError, Invocation
from lambdastream.local.logs import LogPrinter
from lambdastream.local.pool import Pool, TooManyRequests
from lambdastream.local.url_response import HttpResponse
from lambdastream.wire.chunks import ERROR_BODY_TRAILER, ERROR_TYPE_TRAILER
from lambdastream.wire.prelude import Prelude, PreludeDecoder, PreludeError

__all__ = ["TRAILERS", "Frontend", "ResponseSink", "error_trailers", "event_json"]

# The trailers a streamed response may end with.
TRAILERS = f"{ERROR_TYPE_TRAILER}, {ERROR_BODY_TRAILER}"


def _no_default(obj: object) -> object:
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def _event_encoder() -> Callable[[object], str]:
    """``json.dumps`` for events, same text: its C encoder made once, not per
    call as ``json.dumps`` does (~8 µs of every request). No circular check:
    an event is built fresh from strings, numbers and lists."""
    make = getattr(json.encoder, "c_make_encoder", None)  # not in typeshed
    if make is None:  # pragma: no cover (CPython has the C encoder)
        return json.dumps
    encode = make(None, _no_default, encode_basestring_ascii, None, ": ", ", ", False, False, True)
    return lambda obj: "".join(encode(obj, 0))


# An event's JSON, as Lambda passes it (both frontends' events).
event_json = _event_encoder()


def error_trailers(error: FunctionError) -> list[tuple[str, str]]:
    """The trailers that end a stream whose function failed after it began."""
    return [
        (ERROR_TYPE_TRAILER, error.error_type),
        (ERROR_BODY_TRAILER, base64.b64encode(error.body).decode()),
    ]


class Frontend:
    """Base of an app for ``http_server.serve`` that invokes the function."""

    def __init__(self, pool: Pool, printer: LogPrinter, region: str) -> None:
        self.pool = pool
        self.printer = printer
        self.region = region

    def _invoke(
        self,
        inv: Invocation,
        event: dict,
        sink: ResponseSink,
        writer: ResponseWriter,
        throttled: Callable[[], None],
    ) -> None:
        """Invoke the function with ``event`` as ``inv``, its answer to ``sink``.

        If Lambda throttles it, now or after a short wait for an environment
        about to be free (``Pool.invoke``), ``inv`` is detached and
        ``throttled()`` answers; the client's ``writer`` paces the invocation.
        """
        inv.payload = event_json(event).encode()
        sink.attach(inv, writer)

        def refuse() -> None:
            inv.detach()
            sink._done()
            throttled()

        try:
            self.pool.invoke(inv, refuse)
        except TooManyRequests:
            refuse()


class ResponseSink:
    """Turns one invocation's response into the HTTP response (a ``Sink``).

    A subclass opens a stream in ``on_start``: it sets ``decoder`` (the
    stream opens with a prelude) or ``plain`` (the head to send with the
    first body byte, for a stream without prelude), and says the rest in
    the hooks below.
    """

    # The log line of an answer that cannot be sent: "<request id> <invalid_log><why>".
    invalid_log: ClassVar[str]
    # What a buffered result the frontend refuses is called in that line.
    buffered_problem: ClassVar[str]
    # Whether a stream that ended with no byte at all has the default
    # prelude (200, no header) rather than being an invalid answer.
    empty_stream_ok: ClassVar[bool]

    def __init__(self, writer: ResponseWriter, printer: LogPrinter) -> None:
        self.writer = writer
        self.printer = printer
        self.decoder: PreludeDecoder | None = None
        self.plain: Prelude | None = None  # head of a stream without prelude, not yet sent
        self.buffered: list[bytes] = []
        self.failed = False

    # what each frontend says for itself
    def _prelude_headers(self, prelude: Prelude) -> list[tuple[str, str]]:
        """The function's headers for a streamed response, as the frontend sends them."""
        raise NotImplementedError

    def _map_buffered(self, payload: bytes) -> HttpResponse:
        """A buffered result as the frontend maps it; ``PreludeError`` if it refuses it."""
        raise NotImplementedError

    def _headers(self, inv: Invocation, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The function's headers with the frontend's own (its ids...) on a response."""
        raise NotImplementedError

    def _prelude_problem(self, inv: Invocation, why: str) -> str:
        """The log's words for a stream whose prelude is invalid."""
        raise NotImplementedError

    def _internal_error(self) -> None:
        """Answer the frontend's 502 (the response has not begun) and fail."""
        raise NotImplementedError

    def _touch(self) -> None:
        """A byte (or the start of the answer) came from the function."""

    def _done(self) -> None:
        """The response is over: ended, refused or failed."""

    def attach(self, inv: Invocation, writer: ResponseWriter) -> None:
        """Receive ``inv``'s response, paced by the client's ``writer``."""
        inv.attach_client(self, writer)

    # Sink
    def on_start(self, inv: Invocation) -> None:
        """The answer began: a stream sets ``decoder`` or ``plain``."""
        raise NotImplementedError

    def on_body(self, inv: Invocation, pieces: list[memoryview] | list[bytes]) -> None:
        if self.failed:
            return
        self._touch()
        if not inv.streaming:
            self.buffered.extend(bytes(p) for p in pieces)
            return
        decoder = self.decoder
        if decoder is not None and decoder.prelude is None:
            body: list[bytes | memoryview] = []
            try:
                for piece in pieces:
                    body.extend(decoder.feed(piece))
            except PreludeError as exc:
                self._bad_response(inv, self._prelude_problem(inv, str(exc)))
                return
            if decoder.prelude is None:
                return
            self._start_stream(inv, decoder.prelude)
            self.writer.write(body)  # type: ignore[arg-type]
            return
        if self.plain is not None:
            if not any(len(p) for p in pieces):
                return
            self._start_stream(inv, self.plain)
            self.plain = None
        self.writer.write(pieces)

    def on_end(self, inv: Invocation, error: FunctionError | None) -> None:
        self._done()
        if self.failed:
            return
        writer = self.writer
        if writer.started:
            writer.end(None if error is None else error_trailers(error))
            return
        if error is not None:
            self._internal_error()
            return
        if inv.streaming and self.plain is not None:
            self._start_stream(inv, self.plain)
            writer.end()
            return
        if inv.streaming:
            decoder = self.decoder
            assert decoder is not None
            try:
                if not decoder.received and not self.empty_stream_ok:
                    raise PreludeError("the stream ended empty")
                prelude = decoder.finish()
            except PreludeError as exc:
                self._bad_response(inv, self._prelude_problem(inv, str(exc)))
                return
            self._start_stream(inv, prelude)
            writer.end()
            return
        try:
            response = self._map_buffered(b"".join(self.buffered))
        except PreludeError as exc:
            self._bad_response(inv, f"{self.buffered_problem}: {exc}")
            return
        writer.send(response.status, self._headers(inv, response.headers), response.body)

    def on_failure(self, inv: Invocation, exc: Exception) -> None:
        # A bug of ours or a response we could not send: this client alone
        # gets a 502 (or the end of its stream); the server and the runtime
        # carry on.
        self._done()
        self.failed = True
        self.printer.error(f"{inv.request_id} could not send the response: {exc!r}")
        self.writer.abort()

    # helpers
    def _start_stream(self, inv: Invocation, prelude: Prelude) -> None:
        headers = self._headers(inv, self._prelude_headers(prelude))
        # Always followed at once by the first body bytes or the end.
        self.writer.start(prelude.status, headers, TRAILERS, with_body=True)

    def _bad_response(self, inv: Invocation, why: str) -> None:
        # The function's answer cannot be sent as HTTP (bad prelude, bad
        # header): a function error, as Lambda reports an invalid response.
        self.printer.error(f"{inv.request_id} {self.invalid_log}{why}")
        self.failed = True
        self._done()
        if self.writer.started:
            self.writer.end([(ERROR_TYPE_TRAILER, "Runtime.InvalidResponse")])
        else:
            self._internal_error()
