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
the ``x-amzn-ErrorType`` header botocore reads. With an ``authorize`` check
(always beyond loopback, and with ``--auth AWS_IAM``), an unsigned or badly
signed call gets AWS's 403 first (``MissingAuthenticationTokenException``,
``InvalidSignatureException``, ``IncompleteSignatureException``,
``UnrecognizedClientException``, JSON ``{"message": ...}``) and nothing runs.
Payloads must be JSON as Lambda reads it (no ``NaN``, no nesting deeper than
the parser goes); another account's function is ``AccessDeniedException``.

Example::

    lam = boto3.client("lambda", endpoint_url="http://127.0.0.1:9001", region_name="us-east-1")
    for event in lam.invoke_with_response_stream(FunctionName="app")["EventStream"]:
        print(event)
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import traceback
import uuid
from urllib.parse import parse_qs, unquote

from lambdastream.httpserver import ResponseWriter
from lambdastream.local.function import FunctionConfig
from lambdastream.local.iam import ACCOUNT_ID, LOCAL_USER_ARN, IamAuthorizer
from lambdastream.local.invocation import TRACE_HEADER, FunctionError, Invocation
from lambdastream.local.logs import LogPrinter
from lambdastream.local.pool import Pool, TooManyRequests
from lambdastream.local.runtime_api import MAX_BUFFERED_RESPONSE
from lambdastream.wire.eventstream import CONTENT_TYPE as EVENT_STREAM
from lambdastream.wire.eventstream import EventStreamError, encode_event, frame_payload_chunks
from lambdastream.wire.request import HttpRequest
from lambdastream.wire.sigv4 import AuthError

__all__ = ["MAX_PAYLOAD", "InvokeApi"]

MAX_PAYLOAD = 6 * 1024 * 1024
# Asynchronous invocations: 1 MB since October 2025 (256 KB before).
MAX_EVENT_PAYLOAD = 1024 * 1024
_INVOKE = "/2015-03-31/functions/"
_STREAM = "/2021-11-15/functions/"
# FunctionName's forms, after the pattern in botocore's lambda model
# (Invoke's input shape): [arn:PARTITION:lambda:][REGION:][ACCOUNT:][function:]NAME[:QUALIFIER].
_FUNCTION_NAME = re.compile(
    r"(?:arn:(?P<partition>aws[a-zA-Z-]*)?:lambda:)?"
    r"(?:(?P<region>(?:eusc-)?[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d):)?"
    r"(?:(?P<account>\d{12}):)?"
    r"(?:function:)?"
    r"(?P<name>[a-zA-Z0-9_.-]+)"
    r"(?::(?P<qualifier>\$LATEST(?:\.PUBLISHED)?|[a-zA-Z0-9_-]+))?"
)


class InvokeApi:
    """The Invoke API app for ``http_server.serve``.

    ``authorize``: the SigV4 check every request must pass first (AWS serves
    this API signed only); ``None`` on loopback with ``--auth NONE``, where
    boto3 may call it signed or not.
    """

    def __init__(
        self, pool: Pool, config: FunctionConfig, authorize: IamAuthorizer | None = None
    ) -> None:
        self.pool = pool
        self.config = config
        self.authorize = authorize

    def __call__(self, request: HttpRequest, writer: ResponseWriter) -> None:
        if self.authorize is not None:
            try:
                self.authorize.check(request)
            except AuthError as refused:
                return self._refuse(request, writer, refused)
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
        # Repeated headers joined with commas, as SigV4 signs them: the value
        # used is the value signed.
        headers: dict[str, str] = {}
        for key, value in request.headers:
            key = key.lower()
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        qualifiers = parse_qs(query).get("Qualifier", [])
        if len(qualifiers) > 1:
            # SigV4 sorts repeated query keys, so a reordering keeps the
            # signature: with one Qualifier taken, it could change what runs.
            return _api_error(
                writer, 400, "InvalidParameterValueException", "Qualifier must be given once."
            )
        unknown = self._unknown_function(name, qualifiers[0] if qualifiers else None)
        if unknown is not None:
            return _api_error(writer, *unknown)
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
        why = _not_json(payload)
        if why is not None:
            return _api_error(
                writer,
                400,
                "InvalidRequestContentException",
                f"Could not parse request body into json: Could not parse payload into json: {why}",
            )
        client_context = None
        if "x-amz-client-context" in headers:
            client_context = _client_context(headers["x-amz-client-context"])
            if client_context is None:
                # botocore's lambda model: InvalidRequestContentException is
                # "a request header is invalid" (400).
                return _api_error(
                    writer,
                    400,
                    "InvalidRequestContentException",
                    "Client context must be a valid Base64-encoded JSON object.",
                )
        if invocation_type == "DryRun":
            return writer.send(204, [("x-amzn-RequestId", str(uuid.uuid4()))], b"")
        # A caller's trace continues in the invocation (boto3 inside a function
        # sends its _X_AMZN_TRACE_ID); a malformed one is none.
        inv = Invocation(
            payload, client_context=client_context, trace_header=headers.get(TRACE_HEADER)
        )
        if invocation_type == "Event":
            if len(payload) > MAX_EVENT_PAYLOAD:
                return _api_error(
                    writer,
                    413,
                    "RequestTooLargeException",
                    f"Request must be smaller than {MAX_EVENT_PAYLOAD} bytes"
                    " for the InvokeAsync operation",
                )
            try:
                self.pool.enqueue(inv)
            except TooManyRequests:
                return _api_error(
                    writer,
                    429,
                    "TooManyRequestsException",
                    "Rate Exceeded.",
                    reason="EventQueueFull",
                )
            return writer.send(202, [("x-amzn-RequestId", inv.request_id)], b"")
        tail = log_type == "Tail"
        sink: _StreamSink | _BufferedSink = (
            _StreamSink(writer, tail, self.pool.printer)
            if streaming
            else _BufferedSink(writer, tail)
        )
        inv.attach_client(sink, writer)

        def throttled() -> None:
            inv.detach()
            _api_error(
                writer,
                429,
                "TooManyRequestsException",
                "Rate Exceeded.",
                reason="ReservedFunctionConcurrentInvocationLimitExceeded",
            )

        try:
            self.pool.invoke(inv, throttled)
        except TooManyRequests:
            throttled()
        return None

    def too_large(self, request: HttpRequest, writer: ResponseWriter) -> None:
        """Answer a request whose payload is over the limit."""
        if self.authorize is not None and not any(
            name.lower() == "authorization" for name, _ in request.headers
        ):
            # The body is gone, so no signature can be checked; an unsigned
            # caller learns that it must sign, not the size limit.
            return self._refuse(
                request,
                writer,
                AuthError("MissingAuthenticationTokenException", "Missing Authentication Token"),
            )
        return _api_error(
            writer,
            413,
            "RequestTooLargeException",
            f"Request must be smaller than {MAX_PAYLOAD} bytes for the InvokeFunction operation",
        )

    def throttled(self, request: HttpRequest, writer: ResponseWriter) -> None:
        """Answer a request the server's upload budget cannot hold, as Lambda throttles."""
        _api_error(
            writer,
            429,
            "TooManyRequestsException",
            "Rate Exceeded.",
            reason="ConcurrentInvocationLimitExceeded",
        )

    def _refuse(self, request: HttpRequest, writer: ResponseWriter, refused: AuthError) -> None:
        """403 as AWS's front door answers an unsigned or badly signed call."""
        self.pool.printer.warning(f"Invoke API: 403 {request.method} from {writer.peer}: {refused}")
        headers = [
            ("content-type", "application/json"),
            ("x-amzn-ErrorType", refused.error_type),
            ("x-amzn-RequestId", str(uuid.uuid4())),
        ]
        writer.send(403, headers, json.dumps({"message": refused.message}).encode())

    def _unknown_function(
        self, function_name: str, qualifier: str | None
    ) -> tuple[int, str, str] | None:
        """Why ``FunctionName`` (and ``Qualifier``) is not this function, or None.

        The forms are botocore's lambda model's (a name, a partial ARN
        ``ACCOUNT:function:NAME`` or a full ARN, each with an optional
        ``:QUALIFIER``); AWS's answers for another region and another account.
        """
        config = self.config
        parts = _FUNCTION_NAME.fullmatch(function_name)
        if parts is None:
            return 404, "ResourceNotFoundException", f"Function not found: {function_name}"
        region = parts["region"] or config.region
        account = parts["account"] or ACCOUNT_ID
        derived = parts["qualifier"]
        if derived and qualifier and derived != qualifier:
            return (
                400,
                "InvalidParameterValueException",
                "The derived qualifier from the function name does not match"
                " the specified qualifier.",
            )
        qualifier = derived or qualifier
        arn = f"arn:aws:lambda:{region}:{account}:function:{parts['name']}"
        if qualifier:
            arn += f":{qualifier}"
        if region != config.region:
            return (
                404,
                "ResourceNotFoundException",
                f"Functions from '{region}' are not reachable in this region ('{config.region}')",
            )
        if account != ACCOUNT_ID:
            # Another account's function: IAM refuses before anything else is
            # known, whatever exists there.
            return (
                403,
                "AccessDeniedException",
                f"User: {LOCAL_USER_ARN} is not authorized to perform: lambda:InvokeFunction"
                f" on resource: {arn} because no resource-based policy allows the"
                " lambda:InvokeFunction action",
            )
        if (
            parts["partition"] not in (None, "aws")
            or parts["name"] != config.name
            or qualifier not in (None, "$LATEST")
        ):
            return 404, "ResourceNotFoundException", f"Function not found: {arn}"
        return None


def _not_json(payload: bytes) -> str | None:
    """Why ``payload`` is not JSON as Lambda reads it, or None if it is.

    Stricter than ``json.loads``: ``NaN`` and ``Infinity`` are not JSON (RFC
    8259), and nesting too deep for the parser is an invalid payload, not
    our crash.
    """
    try:
        json.loads(payload, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        return str(exc)
    except RecursionError:
        return "nesting too deep"
    return None


def _client_context(header: str) -> str | None:
    """The JSON of an ``X-Amz-Client-Context`` header, or None if Lambda refuses it.

    botocore's lambda model: "base64-encoded data about the invoking client
    to pass to the function in the context object". The runtimes read it as
    an object (awslambdaric's ``make_obj_from_dict`` calls ``.get`` on it;
    ``context.client_context.custom``), so base64 of another JSON value is as
    invalid as bad base64.

    >>> _client_context("eyJjdXN0b20iOiB7fX0="), _client_context("WzFd")  # {"custom": {}}, [1]
    ('{"custom": {}}', None)
    """
    try:
        text = base64.b64decode(header, validate=True).decode()
        value = json.loads(text, parse_constant=_no_constant)
    except (binascii.Error, ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    return text if isinstance(value, dict) else None


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON value")


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
        """The 200 and its headers: once the function's answer begins (or ends unbegun).

        Not at the call: an invocation may still be throttled until its
        runtime takes it (``Pool.invoke``'s handoff), and a 429 must be
        answerable until then.
        """
        if self.writer.started:
            return
        self.writer.start(
            200,
            [
                ("content-type", EVENT_STREAM),
                ("x-amzn-RequestId", inv.request_id),
                ("X-Amz-Executed-Version", "$LATEST"),
            ],
        )

    def on_start(self, inv: Invocation) -> None:
        self.begin(inv)

    def on_body(self, inv: Invocation, pieces: list[memoryview] | list[bytes]) -> None:
        out = frame_payload_chunks(pieces)
        if out is not None:
            self.writer.write(out)

    def on_end(self, inv: Invocation, error: FunctionError | None) -> None:
        self.begin(inv)
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
