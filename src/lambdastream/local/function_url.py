"""The Function URL frontend: HTTP request -> invocation -> HTTP response.

A streamed response goes to the client as it arrives: the prelude (when the
runtime sends ``application/vnd.awslambda.http-integration-response``)
becomes status, headers and Set-Cookie; each batch of body bytes read from
the runtime is one write to the client. A buffered response is mapped from
the Function URL response format. Errors look the way Function URLs show
them: 502 ``Internal Server Error`` when the function fails before its
response began; after that, the chunked body ends and the error travels in
trailers (``Lambda-Runtime-Function-Error-Type``/``-Body``). The relay
itself is the one the REST API frontend uses too (``frontend.py``); what is
a Function URL's own is in ``_UrlSink``.

Example::

    url = FunctionUrl(pool, printer)
    server = await serve(url, "127.0.0.1", 9000, max_body=MAX_REQUEST, on_too_large=url.too_large)
"""

from __future__ import annotations

import json
from collections.abc import Callable

from lambdastream.httpserver import ResponseWriter
from lambdastream.local.frontend import TRAILERS, Frontend, ResponseSink, event_json
from lambdastream.local.invocation import TRACE_HEADER, Invocation
from lambdastream.local.logs import LogPrinter
from lambdastream.local.pool import Pool
from lambdastream.local.url_event import build_event
from lambdastream.local.url_response import HttpResponse, map_buffered, response_headers
from lambdastream.wire.prelude import HTTP_INTEGRATION_CONTENT_TYPE, Prelude, PreludeDecoder
from lambdastream.wire.request import HttpRequest
from lambdastream.wire.sigv4 import AuthError

__all__ = ["MAX_REQUEST", "TRAILERS", "FunctionUrl", "event_json"]

# Function URL request payloads are limited like synchronous Invoke payloads.
MAX_REQUEST = 6 * 1024 * 1024
_JSON = [("content-type", "application/json")]

# Authorizer check: returns the requestContext.authorizer object; raises
# sigv4.AuthError to refuse.
Authorize = Callable[[HttpRequest], dict]
# CORS: returns (handled-as-preflight response headers | None, extra headers for others).
Cors = Callable[[HttpRequest], "tuple[list[tuple[str, str]] | None, list[tuple[str, str]]]"]


class FunctionUrl(Frontend):
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
        super().__init__(pool, printer, region)
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
        sink = _UrlSink(writer, self.printer, extra, strip_cors=self.cors is not None)
        self._invoke(
            inv,
            event,
            sink,
            writer,
            lambda: writer.send(429, [*_JSON, *extra], b'{"Message":"Rate Exceeded."}'),
        )

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


class _UrlSink(ResponseSink):
    """Turns one invocation's response into the Function URL's HTTP response.

    The relay is :class:`ResponseSink`'s; a Function URL's own: a stream
    with the HTTP integration content type opens with a prelude, any other
    is sent as it is (its content type, status 200), the head going with its
    first byte; a stream that ends with no byte at all is a 200 with no
    body; a buffered result not in the response format is a 200 JSON body;
    the URL's CORS headers replace the function's; its 502 is plain text.
    """

    invalid_log = "Runtime.InvalidResponse: "
    buffered_problem = "invalid Function URL response"
    empty_stream_ok = True

    def __init__(
        self,
        writer: ResponseWriter,
        printer: LogPrinter,
        extra: list[tuple[str, str]],
        strip_cors: bool = False,
    ) -> None:
        super().__init__(writer, printer)
        self.extra = extra
        self.strip_cors = strip_cors

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

    def _prelude_headers(self, prelude: Prelude) -> list[tuple[str, str]]:
        return response_headers(prelude, "application/octet-stream")

    def _map_buffered(self, payload: bytes) -> HttpResponse:
        return map_buffered(payload)

    def _headers(self, inv: Invocation, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        if self.strip_cors:  # the URL's CORS config wins over the function's own
            headers = [h for h in headers if not h[0].lower().startswith("access-control-")]
        return [*headers, ("x-amzn-RequestId", inv.request_id), *self.extra]

    def _prelude_problem(self, inv: Invocation, why: str) -> str:
        return f"invalid HTTP integration prelude: {why}"

    def _internal_error(self) -> None:
        self.failed = True
        self.writer.send(
            502, [("content-type", "text/plain"), *self.extra], b"Internal Server Error"
        )
