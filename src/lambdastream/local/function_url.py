"""The Function URL frontend: HTTP request -> invocation -> HTTP response.

A streamed response goes to the client as it arrives: the prelude (when the
runtime sends ``application/vnd.awslambda.http-integration-response``)
becomes status, headers and Set-Cookie; each batch of body bytes read from
the runtime is one write to the client. A buffered response is mapped from
the Function URL response format. Errors look the way Function URLs show
them: 502 ``Internal Server Error`` when the function fails before its
response began; after that, the chunked body ends and the error travels in
trailers (``Lambda-Runtime-Function-Error-Type``/``-Body``).

Example::

    url = FunctionUrl(pool, printer)
    server = await serve(url, "127.0.0.1", 9000, max_body=MAX_REQUEST, on_too_large=url.too_large)
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from json.encoder import encode_basestring_ascii

from lambdastream.httpserver import ResponseWriter
from lambdastream.local.environments import Pool, TooManyRequests
from lambdastream.local.invocation import TRACE_HEADER, FunctionError, Invocation
from lambdastream.local.logs import LogPrinter
from lambdastream.local.prelude import (
    HTTP_INTEGRATION_CONTENT_TYPE,
    Prelude,
    PreludeDecoder,
    PreludeError,
)
from lambdastream.local.sigv4 import AuthError
from lambdastream.local.url_event import HttpRequest, build_event
from lambdastream.local.url_response import map_buffered, response_headers
from lambdastream.runtime.chunked import ERROR_BODY_TRAILER, ERROR_TYPE_TRAILER

__all__ = ["MAX_REQUEST", "TRAILERS", "FunctionUrl", "event_json"]

# Function URL request payloads are limited like synchronous Invoke payloads.
MAX_REQUEST = 6 * 1024 * 1024
TRAILERS = f"{ERROR_TYPE_TRAILER}, {ERROR_BODY_TRAILER}"
_JSON = [("content-type", "application/json")]


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


# An event's JSON, as Lambda passes it; the REST API frontend's too.
event_json = _event_encoder()

# Authorizer check: returns the requestContext.authorizer object; raises
# sigv4.AuthError to refuse.
Authorize = Callable[[HttpRequest], dict]
# CORS: returns (handled-as-preflight response headers | None, extra headers for others).
Cors = Callable[[HttpRequest], "tuple[list[tuple[str, str]] | None, list[tuple[str, str]]]"]


class FunctionUrl:
    """The Function URL app for ``http_server.serve``."""

    def __init__(
        self,
        pool: Pool,
        printer: LogPrinter,
        *,
        region: str = "us-east-1",
        authorize: Authorize | None = None,
        cors: Cors | None = None,
    ) -> None:
        self.pool = pool
        self.printer = printer
        self.region = region
        self.authorize = authorize
        self.cors = cors

    def __call__(self, request: HttpRequest, writer: ResponseWriter) -> None:
        extra: list[tuple[str, str]] = []
        if self.cors is not None:
            preflight, extra = self.cors(request)
            if preflight is not None:
                writer.send(200, preflight, b"")
                return
        authorizer = None
        if self.authorize is not None:
            try:
                authorizer = self.authorize(request)
            except AuthError as refused:
                # A Function URL says no more than Forbidden; the log says why.
                self.printer.warning(
                    f"Function URL: 403 {request.method} from {writer.peer}: {refused}"
                )
                writer.send(403, [*_JSON, *extra], b'{"Message":"Forbidden"}')
                return
        # Its request id and the caller's trace go into the event.
        inv = Invocation(b"", trace_header=request.header(TRACE_HEADER))
        event = build_event(
            request,
            request_id=inv.request_id,
            source_ip=writer.peer,
            region=self.region,
            authorizer=authorizer,
            scheme="http",  # the dev server speaks plain HTTP; AWS's front end, https
            trace_header=inv.trace_header,
        )
        inv.payload = event_json(event).encode()
        sink = _UrlSink(writer, self.printer, extra, strip_cors=self.cors is not None)
        inv.attach_client(sink, writer)
        try:
            self.pool.invoke(inv)
        except TooManyRequests:
            inv.detach()
            writer.send(429, [*_JSON, *extra], b'{"Message":"Rate Exceeded."}')

    def too_large(self, request: HttpRequest, writer: ResponseWriter) -> None:
        """Answer a request whose body is over the payload limit."""
        body = json.dumps(
            {
                "Message": f"Request must be smaller than {MAX_REQUEST} bytes"
                " for the InvokeFunction operation"
            }
        ).encode()
        writer.send(413, _JSON, body)

    def throttled(self, request: HttpRequest, writer: ResponseWriter) -> None:
        """Answer a request the server's upload budget cannot hold, as Lambda throttles."""
        writer.send(429, _JSON, b'{"Message":"Rate Exceeded."}')


class _UrlSink:
    """Turns one invocation's response into the HTTP response."""

    def __init__(
        self,
        writer: ResponseWriter,
        printer: LogPrinter,
        extra: list[tuple[str, str]],
        strip_cors: bool = False,
    ) -> None:
        self.writer = writer
        self.printer = printer
        self.extra = extra
        self.strip_cors = strip_cors
        self.decoder: PreludeDecoder | None = None
        self.plain: Prelude | None = None  # head of a stream without prelude, not yet sent
        self.buffered: list[bytes] = []
        self.failed = False

    def on_start(self, inv: Invocation) -> None:
        if not inv.streaming:
            return
        if (inv.content_type or "").split(";")[0].strip() == HTTP_INTEGRATION_CONTENT_TYPE:
            self.decoder = PreludeDecoder()
        else:
            # Like Lambda, send the head with the first byte: a stream that
            # fails before writing anything is a 502, whatever the runtime.
            content_type = inv.content_type or "application/octet-stream"
            self.plain = Prelude(headers=[("content-type", content_type)])

    def on_body(self, inv: Invocation, pieces: list[memoryview] | list[bytes]) -> None:
        if self.failed:
            return
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
                self._bad_response(inv, f"invalid HTTP integration prelude: {exc}")
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
        if self.failed:
            return
        writer = self.writer
        if writer.started:
            if error is None:
                writer.end()
            else:
                writer.end(
                    [
                        (ERROR_TYPE_TRAILER, error.error_type),
                        (
                            ERROR_BODY_TRAILER,
                            base64.b64encode(error.body).decode(),
                        ),
                    ]
                )
            return
        if error is not None:
            self._internal_error()
            return
        if inv.streaming and self.plain is not None:
            self._start_stream(inv, self.plain)
            writer.end()
            return
        if inv.streaming:
            assert self.decoder is not None
            try:
                prelude = self.decoder.finish()
            except PreludeError as exc:
                self._bad_response(inv, f"invalid HTTP integration prelude: {exc}")
                return
            self._start_stream(inv, prelude)
            writer.end()
            return
        try:
            response = map_buffered(b"".join(self.buffered))
        except PreludeError as exc:
            self._bad_response(inv, f"invalid Function URL response: {exc}")
            return
        headers = self._headers(response.headers, inv)
        writer.send(response.status, headers, response.body)

    def _headers(self, headers: list[tuple[str, str]], inv: Invocation) -> list[tuple[str, str]]:
        if self.strip_cors:  # the URL's CORS config wins over the function's own
            headers = [h for h in headers if not h[0].lower().startswith("access-control-")]
        return [*headers, ("x-amzn-RequestId", inv.request_id), *self.extra]

    def _start_stream(self, inv: Invocation, prelude: Prelude) -> None:
        headers = self._headers(response_headers(prelude, "application/octet-stream"), inv)
        # Always followed at once by the first body bytes or the end.
        self.writer.start(prelude.status, headers, TRAILERS, with_body=True)

    def on_failure(self, inv: Invocation, exc: Exception) -> None:
        # A bug of ours or a response we could not send: this client alone
        # gets a 502 (or the end of its stream); the server and the runtime
        # carry on.
        self.failed = True
        self.printer.error(f"{inv.request_id} could not send the response: {exc!r}")
        self.writer.abort()

    def _bad_response(self, inv: Invocation, why: str) -> None:
        # The function's answer cannot be sent as HTTP (bad prelude, bad
        # header): a function error, as Lambda reports an invalid response.
        self.printer.error(f"{inv.request_id} Runtime.InvalidResponse: {why}")
        self.failed = True
        if self.writer.started:
            self.writer.end([(ERROR_TYPE_TRAILER, "Runtime.InvalidResponse")])
        else:
            self._internal_error()

    def _internal_error(self) -> None:
        self.failed = True
        self.writer.send(
            502, [("content-type", "text/plain"), *self.extra], b"Internal Server Error"
        )
