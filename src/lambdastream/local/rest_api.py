"""The API Gateway REST API frontend: ``lambdastream dev --entry rest``.

The dev server's HTTP port becomes the ``execute-api`` URL of a REST API
deployed to one stage, whose ``ANY /`` and ``ANY /{proxy+}`` methods are
Lambda proxy integrations with response streaming (``responseTransferMode:
STREAM``): ``GET http://127.0.0.1:9000/Prod/hello?x=1`` invokes the function
with the REST proxy event (payload 1.0, ``rest_event.py``), ``path``
``/hello``, ``requestContext.path`` ``/Prod/hello``.

The answer, as API Gateway gives it (``rest_response.py``):

- streamed: the HTTP integration prelude (``statusCode``, ``headers``,
  ``multiValueHeaders``, ``cookies``, then 8 NUL bytes, within 16 KiB) gives
  status and headers, and the rest of the stream is the body, relayed as it
  arrives; a stream without that prelude is a 502;
- buffered: the proxy output format (``statusCode``, ``headers``,
  ``multiValueHeaders``, ``body``, ``isBase64Encoded``), anything else a
  502 ``{"message": "Internal server error"}``.

API Gateway's own answers are JSON ``{"message": ...}`` with
``x-amzn-ErrorType``: outside the stage 403 ``Forbidden``; a failed
function (an error before its response began, a timeout, a crash) or an
invalid answer 502 ``Internal server error``; a throttled invocation 500
``Internal server error``; no byte for ``idle_timeout`` seconds before the
response began 504 ``Endpoint request timed out``. Every answer carries
API Gateway's ``x-amzn-RequestId`` and ``x-amz-apigw-id``. After the
response began, a failure ends the chunked body with the error in trailers,
as the Function URL frontend does (``Lambda-Runtime-Function-Error-Type``
and ``-Body``), and so does the idle timeout (``Gateway.IdleTimeout``):
API Gateway closes an idle stream (5 minutes on a regional API, 30 s on an
edge-optimized one) and the function runs on.

The relay (prelude, body writes, trailers, abort) is the Function URL
frontend's too (``frontend.py``); what is a REST API's own is in
``_RestSink``.

Example::

    rest = RestApi(pool, printer, stage="Prod")
    server = await serve(rest, "127.0.0.1", 9000, max_body=MAX_REQUEST)
"""

from __future__ import annotations

import asyncio
import json
import uuid

from lambdastream.httpserver import ResponseWriter
from lambdastream.local.frontend import Frontend, ResponseSink, error_trailers
from lambdastream.local.function_url import MAX_REQUEST
from lambdastream.local.iam import ACCOUNT_ID, LOCAL_USER_ARN, IamAuthorizer
from lambdastream.local.invocation import TRACE_HEADER, FunctionError, Invocation
from lambdastream.local.logs import LogPrinter
from lambdastream.local.pool import Pool
from lambdastream.local.rest_event import (
    DEFAULT_STAGE,
    build_rest_event,
    extended_request_id,
    route,
)
from lambdastream.local.rest_response import (
    MAX_REST_PRELUDE,
    map_rest_buffered,
    parse_rest_prelude,
    rest_response_headers,
)
from lambdastream.local.url_response import HttpResponse
from lambdastream.wire.prelude import HTTP_INTEGRATION_CONTENT_TYPE, Prelude, PreludeDecoder
from lambdastream.wire.request import HttpRequest
from lambdastream.wire.sigv4 import AuthError

__all__ = ["DEFAULT_IDLE_TIMEOUT", "MAX_REQUEST", "SIGNING_SERVICE", "RestApi"]

# A regional REST API ends a stream idle for 5 minutes (response-transfer-mode.html).
DEFAULT_IDLE_TIMEOUT = 300.0
# The signing name of API Gateway's execute-api endpoints (an AWS_IAM method).
SIGNING_SERVICE = "execute-api"
_INTERNAL_ERROR = "Internal server error"


def gateway_error(
    writer: ResponseWriter,
    status: int,
    error_type: str | None,
    message: str,
    ids: list[tuple[str, str]],
) -> None:
    """One of API Gateway's own answers: ``{"message": ...}`` and its headers."""
    headers = [("content-type", "application/json"), *ids]
    if error_type:
        headers.append(("x-amzn-ErrorType", error_type))
    # Compact, as API Gateway writes it: {"message":"Forbidden"}
    writer.send(status, headers, json.dumps({"message": message}, separators=(",", ":")).encode())


def _gateway_ids() -> list[tuple[str, str]]:
    """A fresh ``x-amzn-RequestId`` and ``x-amz-apigw-id``, for an answer no function gives."""
    return [("x-amzn-RequestId", str(uuid.uuid4())), ("x-amz-apigw-id", extended_request_id())]


class RestApi(Frontend):
    """The REST API app for ``http_server.serve``.

    ``authorize``: the SigV4 check of an ``AWS_IAM`` method (service
    ``execute-api``), or None; ``idle_timeout``: seconds without a byte from
    the function after which the stream is cut (None: never).
    """

    def __init__(
        self,
        pool: Pool,
        printer: LogPrinter,
        *,
        stage: str = DEFAULT_STAGE,
        region: str = "us-east-1",
        authorize: IamAuthorizer | None = None,
        idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT,
    ) -> None:
        super().__init__(pool, printer, region)
        self.stage = stage
        self.authorize = authorize
        self.idle_timeout = idle_timeout

    def __call__(self, request: HttpRequest, writer: ResponseWriter) -> None:
        request_id = str(uuid.uuid4())  # API Gateway's, not the invocation's
        extended = extended_request_id()
        ids = [("x-amzn-RequestId", request_id), ("x-amz-apigw-id", extended)]
        where = route(request.target, self.stage)
        if where is None:
            # No stage of this API by that name: API Gateway says no more.
            self.printer.warning(
                f"REST API: 403 {request.method} {request.target.partition('?')[0]}:"
                f" not under the stage /{self.stage}/"
            )
            return gateway_error(writer, 403, "ForbiddenException", "Forbidden", ids)
        identity = None
        if self.authorize is not None:
            try:
                access_key = self.authorize.check(request)
            except AuthError as refused:
                self.printer.warning(
                    f"REST API: 403 {request.method} from {writer.peer}: {refused}"
                )
                return gateway_error(writer, 403, refused.error_type, refused.message, ids)
            # An AWS_IAM method's caller, as requestContext.identity names it.
            identity = {
                "accessKey": access_key,
                "accountId": ACCOUNT_ID,
                "caller": "LOCAL",
                "user": "LOCAL",
                "userArn": LOCAL_USER_ARN,
            }
        inv = Invocation(b"", trace_header=request.header(TRACE_HEADER))
        event = build_rest_event(
            request,
            where,
            stage=self.stage,
            request_id=request_id,
            source_ip=writer.peer,
            region=self.region,
            extended_id=extended,
            identity=identity,
            scheme="http",  # the dev server speaks plain HTTP; AWS's front end, https
            trace_header=inv.trace_header,
        )
        sink = _RestSink(writer, self.printer, inv, ids, self.idle_timeout)

        def throttled() -> None:
            # Lambda's 429 reaches the caller as API Gateway's 500.
            self.printer.warning(
                f"REST API: 500 {request.method} {request.target.partition('?')[0]}: the"
                f" function is at its concurrency ({self.pool.config.concurrency}), Lambda"
                " throttled the invocation"
            )
            gateway_error(writer, 500, "InternalServerErrorException", _INTERNAL_ERROR, ids)

        sink.watch()
        self._invoke(inv, event, sink, writer, throttled)
        return None

    def too_large(self, request: HttpRequest, writer: ResponseWriter) -> None:
        """Answer a request whose body is over Lambda's payload limit."""
        gateway_error(writer, 413, None, "Request Too Long", _gateway_ids())

    def throttled(self, request: HttpRequest, writer: ResponseWriter) -> None:
        """Answer a request the server's upload budget cannot hold, as API Gateway throttles."""
        gateway_error(writer, 429, "TooManyRequestsException", "Too Many Requests", _gateway_ids())


class _RestSink(ResponseSink):
    """Turns one invocation's response into the REST API's HTTP response.

    The relay is :class:`ResponseSink`'s; a REST API's own: every stream
    opens with the REST prelude (``multiValueHeaders`` too, within 16 KiB),
    whatever its content type, and one without it, or empty, is a 502; a
    buffered result must be in the proxy output format; every answer
    carries API Gateway's ids and the trace; its 502 is API Gateway's JSON;
    and the idle timeout.
    """

    invalid_log = "REST API: 502, "
    buffered_problem = "malformed Lambda proxy response"
    empty_stream_ok = False

    def __init__(
        self,
        writer: ResponseWriter,
        printer: LogPrinter,
        inv: Invocation,
        ids: list[tuple[str, str]],
        idle_timeout: float | None,
    ) -> None:
        super().__init__(writer, printer)
        self.inv = inv
        self.ids = ids
        self.idle_timeout = idle_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._last = 0.0  # when the function last sent a byte (or the request came)

    def attach(self, inv: Invocation, writer: ResponseWriter) -> None:
        super().attach(inv, writer)
        detach = writer.on_close

        def client_gone() -> None:
            self.unwatch()  # no timer keeps a gone client's response alive
            detach()

        writer.on_close = client_gone

    # idle timeout: one timer per request, moved only when it fires (a
    # chunk costs one clock read, never a timer of its own)
    def watch(self) -> None:
        """Start counting idle time, if there is a timeout and the answer is not done."""
        if self.idle_timeout is None or self.failed or self.writer.finished:
            return
        self._loop = asyncio.get_running_loop()
        self._last = self._loop.time()
        self._timer = self._loop.call_at(self._last + self.idle_timeout, self._check_idle)

    def _touch(self) -> None:
        if self._loop is not None:
            self._last = self._loop.time()

    def unwatch(self) -> None:
        """Stop counting idle time (the answer ended, or its client went away)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _done(self) -> None:
        self.unwatch()

    def _check_idle(self) -> None:
        self._timer = None
        writer, loop, idle = self.writer, self._loop, self.idle_timeout
        if self.failed or writer.finished or writer.closed or loop is None or idle is None:
            return
        due = self._last + idle
        if loop.time() < due:
            self._timer = loop.call_at(due, self._check_idle)
            return
        self.failed = True
        self.inv.detach()  # the function runs on; what it still sends is dropped
        self.printer.warning(
            f"{self.inv.request_id} REST API: no byte from the function for {idle:g} s:"
            " API Gateway ends an idle stream (--idle-timeout); the function runs on"
        )
        if writer.started:
            error = FunctionError.make(
                "Gateway.IdleTimeout", f"no byte from the function for {idle:g} s"
            )
            writer.end(error_trailers(error))
        else:
            gateway_error(writer, 504, None, "Endpoint request timed out", self.ids)

    # Sink
    def on_start(self, inv: Invocation) -> None:
        self._touch()
        if inv.streaming:
            # Whatever the content type: a REST stream always opens with its metadata.
            self.decoder = PreludeDecoder(parse_rest_prelude, MAX_REST_PRELUDE)

    # what the relay asks of a REST API
    def _prelude_headers(self, prelude: Prelude) -> list[tuple[str, str]]:
        return rest_response_headers(prelude)

    def _map_buffered(self, payload: bytes) -> HttpResponse:
        return map_rest_buffered(payload)

    def _headers(self, inv: Invocation, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [*headers, *self.ids, ("X-Amzn-Trace-Id", inv.trace_header)]

    def _prelude_problem(self, inv: Invocation, why: str) -> str:
        content_type = (inv.content_type or "").split(";")[0].strip()
        hint = ""
        if content_type != HTTP_INTEGRATION_CONTENT_TYPE:
            hint = (
                f" (the stream is {content_type or 'untyped'}, not {HTTP_INTEGRATION_CONTENT_TYPE}:"
                " a REST API stream must open with the statusCode/headers JSON and 8 NUL bytes)"
            )
        return f"invalid streaming response metadata: {why}{hint}"

    def _internal_error(self) -> None:
        self.failed = True
        gateway_error(self.writer, 502, "InternalServerErrorException", _INTERNAL_ERROR, self.ids)
