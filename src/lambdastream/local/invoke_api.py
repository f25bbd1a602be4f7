"""The Lambda Invoke API frontend, for boto3 with ``endpoint_url``.

- ``POST /2015-03-31/functions/{name}/invocations`` (``lambda.invoke``):
  RequestResponse (the whole result, ``X-Amz-Function-Error: Unhandled`` and
  the error JSON on failure, ``X-Amz-Log-Result`` with ``LogType=Tail``),
  Event (202, runs in the background) and DryRun (204).
- ``POST /2021-11-15/functions/{name}/response-streaming-invocations``
  (``lambda.invoke_with_response_stream``): an event stream of
  ``PayloadChunk`` events as the function writes, then ``InvokeComplete``
  with ``ErrorCode``/``ErrorDetails`` (the error type and the error JSON)
  and ``LogResult``. As in Lambda, a prelude is not stripped.

Errors of the API itself are JSON ``{"Type": "User", "message": ...}`` with
the ``x-amzn-ErrorType`` header botocore reads.

Example::

    lam = boto3.client("lambda", endpoint_url="http://127.0.0.1:9001", region_name="us-east-1")
    for event in lam.invoke_with_response_stream(FunctionName="app")["EventStream"]:
        print(event)
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import traceback
import uuid
from urllib.parse import parse_qs, unquote

from lambdastream.eventstream import EventStreamError, encode_event
from lambdastream.local.environments import FunctionConfig, Pool, TooManyRequests
from lambdastream.local.http_server import ResponseWriter
from lambdastream.local.invocation import FunctionError, Invocation
from lambdastream.local.logs import LogPrinter
from lambdastream.local.runtime_api import MAX_BUFFERED_RESPONSE
from lambdastream.local.url_event import HttpRequest

__all__ = ["MAX_PAYLOAD", "InvokeApi"]

MAX_PAYLOAD = 6 * 1024 * 1024
# Asynchronous invocations: 1 MB since October 2025 (256 KB before).
MAX_EVENT_PAYLOAD = 1024 * 1024
_INVOKE = "/2015-03-31/functions/"
_STREAM = "/2021-11-15/functions/"


class InvokeApi:
    """The Invoke API app for ``http_server.serve``."""

    def __init__(self, pool: Pool, config: FunctionConfig) -> None:
        self.pool = pool
        self.config = config
        self._background: set[asyncio.Future[None]] = set()

    def __call__(self, request: HttpRequest, writer: ResponseWriter) -> None:
        path, _, query = request.target.partition("?")
        if request.method != "POST":
            return _api_error(writer, 404, "UnknownOperationException", "Unknown operation")
        if path.startswith(_INVOKE) and path.endswith("/invocations"):
            name = unquote(path[len(_INVOKE) : -len("/invocations")])
            streaming = False
        elif path.startswith(_STREAM) and path.endswith("/response-streaming-invocations"):
            name = unquote(path[len(_STREAM) : -len("/response-streaming-invocations")])
            streaming = True
        else:
            return _api_error(writer, 404, "UnknownOperationException", "Unknown operation")
        headers = {k.lower(): v for k, v in request.headers}
        qualifier = parse_qs(query).get("Qualifier", [None])[0]
        if not self._is_ours(name, qualifier):
            arn = self.config.arn.rsplit(":", 1)[0] + ":" + name.split(":")[-1]
            return _api_error(
                writer, 404, "ResourceNotFoundException", f"Function not found: {arn}"
            )
        invocation_type = headers.get("x-amz-invocation-type", "RequestResponse")
        allowed = (
            ("RequestResponse", "DryRun") if streaming else ("RequestResponse", "Event", "DryRun")
        )
        if invocation_type not in allowed:
            return _api_error(
                writer,
                400,
                "InvalidParameterValueException",
                f"Unsupported InvocationType: {invocation_type}",
            )
        log_type = headers.get("x-amz-log-type", "None")
        if log_type not in ("None", "Tail"):
            return _api_error(
                writer, 400, "InvalidParameterValueException", f"Unsupported LogType: {log_type}"
            )
        payload = request.body or b"{}"
        try:
            json.loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            return _api_error(
                writer,
                400,
                "InvalidRequestContentException",
                f"Could not parse request body into json: {exc}",
            )
        client_context = None
        if "x-amz-client-context" in headers:
            try:
                client_context = base64.b64decode(
                    headers["x-amz-client-context"], validate=True
                ).decode()
                json.loads(client_context)
            except (binascii.Error, ValueError, UnicodeDecodeError):
                return _api_error(
                    writer,
                    400,
                    "InvalidRequestContentException",
                    "Client context must be a valid Base64-encoded JSON object.",
                )
        if invocation_type == "DryRun":
            return writer.send(204, [("x-amzn-RequestId", str(uuid.uuid4()))], b"")
        inv = Invocation(payload, client_context=client_context)
        if invocation_type == "Event":
            if len(payload) > MAX_EVENT_PAYLOAD:
                return _api_error(
                    writer,
                    413,
                    "RequestTooLargeException",
                    f"Request must be smaller than {MAX_EVENT_PAYLOAD} bytes"
                    " for the InvokeAsync operation",
                )
            task = asyncio.ensure_future(self.pool.invoke_queued(inv))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            return writer.send(202, [("x-amzn-RequestId", inv.request_id)], b"")
        tail = log_type == "Tail"
        sink: _StreamSink | _BufferedSink = (
            _StreamSink(writer, tail, self.pool.printer)
            if streaming
            else _BufferedSink(writer, tail)
        )
        inv.attach_client(sink, writer)
        try:
            self.pool.invoke(inv)
        except TooManyRequests:
            inv.detach()
            return _api_error(
                writer,
                429,
                "TooManyRequestsException",
                "Rate Exceeded.",
                reason="ReservedFunctionConcurrentInvocationLimitExceeded",
            )
        if isinstance(sink, _StreamSink):
            sink.begin(inv)
        return None

    def too_large(self, request: HttpRequest, writer: ResponseWriter) -> None:
        """Answer a request whose payload is over the limit."""
        _api_error(
            writer,
            413,
            "RequestTooLargeException",
            f"Request must be smaller than {MAX_PAYLOAD} bytes for the InvokeFunction operation",
        )

    def _is_ours(self, name: str, qualifier: str | None) -> bool:
        # Accepted: name, name:qualifier, ACCOUNT:function:name[:q], a full ARN[:q].
        parts = name.split(":")
        if len(parts) >= 7 and parts[:3] == ["arn", "aws", "lambda"] and parts[5] == "function":
            fn, rest = parts[6], parts[7:]
            if parts[3] != self.config.region or parts[4] != "123456789012":
                return False
        elif len(parts) >= 3 and parts[1] == "function":
            fn, rest = parts[2], parts[3:]
        else:
            fn, rest = parts[0], parts[1:]
        if len(rest) > 1:
            return False
        qualifiers = {q for q in (qualifier, *rest) if q}
        return fn == self.config.name and qualifiers <= {"$LATEST"}


def _api_error(
    writer: ResponseWriter, status: int, error_type: str, message: str, reason: str | None = None
) -> None:
    body: dict[str, str] = {"Type": "User", "message": message}
    if reason:
        body["Reason"] = reason
    headers = [
        ("content-type", "application/json"),
        ("x-amzn-ErrorType", error_type),
        ("x-amzn-RequestId", str(uuid.uuid4())),
    ]
    writer.send(status, headers, json.dumps(body).encode())


def _common_headers(inv: Invocation, tail: bool) -> list[tuple[str, str]]:
    headers = [("x-amzn-RequestId", inv.request_id), ("X-Amz-Executed-Version", "$LATEST")]
    if tail:
        headers.append(("X-Amz-Log-Result", base64.b64encode(inv.log_tail).decode()))
    return headers


class _BufferedSink:
    """``invoke`` RequestResponse: the whole result, bounded like Lambda's."""

    def __init__(self, writer: ResponseWriter, tail: bool) -> None:
        self.writer = writer
        self.tail = tail
        self.parts: list[bytes] = []
        self.size = 0
        self.too_large = False

    def on_start(self, inv: Invocation) -> None:
        pass

    def on_body(self, inv: Invocation, pieces: list[memoryview] | list[bytes]) -> None:
        if self.too_large:
            return
        for piece in pieces:
            self.size += len(piece)
            self.parts.append(bytes(piece))
        if self.size > MAX_BUFFERED_RESPONSE:
            self.too_large = True
            self.parts = []

    def on_end(self, inv: Invocation, error: FunctionError | None) -> None:
        if error is None and self.too_large:
            error = FunctionError.make(
                "Function.ResponseSizeTooLarge",
                "Response payload size exceeded maximum allowed payload size"
                f" ({MAX_BUFFERED_RESPONSE} bytes).",
            )
        headers = [("content-type", "application/json"), *_common_headers(inv, self.tail)]
        if error is not None:
            headers.append(("X-Amz-Function-Error", "Unhandled"))
            self.writer.send(200, headers, error.body)
        else:
            self.writer.send(200, headers, b"".join(self.parts))

    def on_failure(self, inv: Invocation, exc: Exception) -> None:
        _abort(self.writer, exc)


class _StreamSink:
    """``invoke_with_response_stream``: PayloadChunk events, then InvokeComplete."""

    def __init__(self, writer: ResponseWriter, tail: bool, printer: LogPrinter) -> None:
        self.writer = writer
        self.tail = tail
        self.printer = printer

    def begin(self, inv: Invocation) -> None:
        self.writer.start(
            200,
            [
                ("content-type", "application/vnd.amazon.eventstream"),
                ("x-amzn-RequestId", inv.request_id),
                ("X-Amz-Executed-Version", "$LATEST"),
            ],
        )

    def on_start(self, inv: Invocation) -> None:
        pass

    def on_body(self, inv: Invocation, pieces: list[memoryview] | list[bytes]) -> None:
        frames = [
            encode_event("PayloadChunk", bytes(p), "application/octet-stream")
            for p in pieces
            if len(p)
        ]
        if frames:
            self.writer.write(frames)

    def on_end(self, inv: Invocation, error: FunctionError | None) -> None:
        self.writer.write([_invoke_complete(error, inv.log_tail if self.tail else None)])
        self.writer.end()

    def on_failure(self, inv: Invocation, exc: Exception) -> None:
        # A bug of ours or a response we could not encode: the caller still
        # gets its InvokeComplete, with the error, while the stream is open.
        traceback.print_exception(exc)
        writer = self.writer
        error_type = (
            "Runtime.InvalidResponse" if isinstance(exc, EventStreamError) else "ServiceException"
        )
        error = FunctionError.make(error_type, f"could not send the response: {exc!r}")
        self.printer.error(f"{inv.request_id} {error.error_type}: {error.message}")
        if writer.started and not writer.finished and not writer.closed:
            try:
                writer.write([_invoke_complete(error, inv.log_tail if self.tail else None)])
            except Exception as again:  # nothing more can be said: just end the stream
                traceback.print_exception(again)
        writer.abort()


def _invoke_complete(error: FunctionError | None, log_tail: bytes | None) -> bytes:
    """The final ``InvokeComplete`` event: the error, if any, and the log tail if asked."""
    complete: dict[str, str] = {}
    if error is not None:
        complete["ErrorCode"] = error.error_type
        complete["ErrorDetails"] = error.body.decode("utf-8", "replace")
    if log_tail is not None:
        complete["LogResult"] = base64.b64encode(log_tail).decode()
    return encode_event("InvokeComplete", json.dumps(complete).encode())


def _abort(writer: ResponseWriter, exc: Exception) -> None:
    """A bug of ours: this caller alone gets a 502 or the end of its stream."""
    traceback.print_exception(exc)
    writer.abort()
