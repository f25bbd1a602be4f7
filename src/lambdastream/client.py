"""Read a streaming function's answer as it arrives: the client side.

Two ways in, one shape out. :func:`stream_url` speaks HTTP/1.1 to a Function
URL (or ``lambdastream dev``) over a socket; :func:`stream_function` calls
the Invoke API's ``InvokeWithResponseStream`` through boto3. Both yield the
same small events, so a caller (the ``lambdastream invoke`` command, a test)
handles them in one loop::

    for event in stream_url("http://127.0.0.1:9000/", body=b'{"prompt": "hi"}'):
        if isinstance(event, Head):
            print(event.status)
        elif isinstance(event, Data):
            print(event.data.decode(), end="", flush=True)
        elif isinstance(event, FunctionError):
            print("failed mid-stream:", event.error_type)

Why not ``http.client`` or urllib: both drop the chunked body's trailers, and
a Lambda function that fails after its first write reports the failure only
there (``Lambda-Runtime-Function-Error-Type`` / ``-Body``). httptools (a
dependency already) parses the response and hands trailers over as headers
that arrive after the body.

The pure pieces (:class:`PreludeSplitter`, :class:`SseErrorWatcher`,
:func:`parse_function_error`, :func:`region_from_url`) do no I/O and are
tested on bytes alone.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import socket
import ssl
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CredentialsError",
    "Data",
    "End",
    "FunctionError",
    "Head",
    "PreludeSplitter",
    "SseErrorWatcher",
    "StreamError",
    "parse_function_error",
    "region_from_url",
    "sigv4_headers",
    "stream_function",
    "stream_url",
]

# The separator Lambda puts between an HTTP integration prelude and the body.
PRELUDE_DELIMITER = b"\0" * 8
# API Gateway wants the prelude and its delimiter within the first 16 KiB;
# past that, a payload that began with "{" is a body, not a prelude.
PRELUDE_LIMIT = 16 * 1024
ERROR_TYPE_TRAILER = "lambda-runtime-function-error-type"
ERROR_BODY_TRAILER = "lambda-runtime-function-error-body"
USER_AGENT = "lambdastream-invoke/0.1"


# --------------------------------------------------------------------- events
@dataclass(frozen=True)
class Head:
    """Status and headers; always the first event. Header names lower-cased."""

    status: int
    reason: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Data:
    """Body bytes, exactly as they came off the wire (one HTTP chunk or payload chunk)."""

    data: bytes


@dataclass(frozen=True)
class FunctionError:
    """The function failed after its answer began (trailers or ``InvokeComplete``).

    ``error_type`` is Lambda's ``Category.Reason`` or the exception's name;
    ``message`` the ``errorMessage`` when the error body carried one.
    """

    error_type: str
    message: str = ""


@dataclass(frozen=True)
class End:
    """The answer is complete (after a :class:`FunctionError`, if any)."""


Event = Head | Data | FunctionError | End


class StreamError(Exception):
    """The answer could not be read: connection refused, reset, timed out, cut short.

    >>> str(StreamError("connection refused"))
    'connection refused'
    """


class CredentialsError(StreamError):
    """No AWS credentials could be found to sign the request with."""


class ApiError(StreamError):
    """The Invoke API refused the call (no such function, denied, throttled).

    ``status`` is its HTTP status, ``code`` the AWS error code.
    """

    def __init__(self, message: str, *, status: int, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


# --------------------------------------------------------------- pure pieces
def parse_function_error(error_type: str, body: str | bytes | None) -> FunctionError:
    """Build a :class:`FunctionError` from the two trailers Lambda sends.

    The body trailer is base64 of the error JSON (CR/LF would break the
    trailer); a body that is not base64 JSON still yields the type.

    >>> body = base64.b64encode(b'{"errorType": "Boom", "errorMessage": "no"}')
    >>> parse_function_error("Function.Boom", body)
    FunctionError(error_type='Function.Boom', message='no')
    >>> parse_function_error("", "not base64!")
    FunctionError(error_type='Function.Error', message='')
    """
    message = ""
    decoded: Any = None
    if body:
        try:
            decoded = json.loads(base64.b64decode(body, validate=True))
        except (binascii.Error, ValueError):
            decoded = None
    if isinstance(decoded, dict):
        message = str(decoded.get("errorMessage") or decoded.get("message") or "")
        error_type = error_type or str(decoded.get("errorType") or "")
    return FunctionError(error_type=error_type or "Function.Error", message=message)


_LAMBDA_URL_HOST = re.compile(r"\.lambda-url\.([a-z0-9-]+)\.on\.aws$")


def region_from_url(url: str) -> str | None:
    """The AWS region a Function URL lives in, from its host name.

    >>> region_from_url("https://abc123.lambda-url.eu-west-1.on.aws/")
    'eu-west-1'
    >>> region_from_url("http://127.0.0.1:9000/") is None
    True
    """
    host = urllib.parse.urlsplit(url).hostname or ""
    match = _LAMBDA_URL_HOST.search(host)
    return match.group(1) if match else None


class PreludeSplitter:
    """Split an ``InvokeWithResponseStream`` payload into prelude and body.

    A streamed HTTP answer's payload starts with the JSON prelude
    (``{"statusCode": ...}``) and 8 NUL bytes, which Lambda does not strip
    for SDK callers. Feed payload chunks in order; :meth:`feed` returns body
    bytes that are safe to show. Bytes are held back only while the payload
    could still be a prelude (it starts with ``{``, no delimiter yet, under
    16 KiB), so a plain answer passes through with no delay.

    >>> s = PreludeSplitter()
    >>> s.feed(b'{"statusCode": 404, "headers": {}}')
    b''
    >>> s.feed(b"\\0" * 8 + b"not found")
    b'not found'
    >>> s.prelude
    {'statusCode': 404, 'headers': {}}
    >>> PreludeSplitter().feed(b"plain text")
    b'plain text'
    """

    def __init__(self) -> None:
        self.prelude: dict[str, Any] | None = None
        self._held = bytearray()
        self._decided = False

    @property
    def decided(self) -> bool:
        """True once the payload is known to have (or not have) a prelude."""
        return self._decided

    def feed(self, chunk: bytes) -> bytes:
        """Take the next payload chunk; return the body bytes it releases."""
        if self._decided:
            return chunk
        self._held += chunk
        if not self._held:
            return b""
        if self._held[:1] != b"{":
            return self._release(0)
        at = self._held.find(PRELUDE_DELIMITER)
        if at >= 0:
            prelude = _json_object(bytes(self._held[:at]))
            if prelude is not None:
                self.prelude = prelude
                return self._release(at + len(PRELUDE_DELIMITER))
            return self._release(0)
        if len(self._held) > PRELUDE_LIMIT:
            return self._release(0)
        return b""

    def finish(self) -> bytes:
        """The payload ended: release whatever is still held."""
        return b"" if self._decided else self._release(0)

    def _release(self, start: int) -> bytes:
        self._decided = True
        rest = bytes(self._held[start:])
        self._held.clear()
        return rest


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class SseErrorWatcher:
    """Spot an in-band ``event: error`` in a Server-Sent Events stream.

    A Function URL caller never sees Lambda's error trailers in production,
    so SSE apps (the chat example) announce a failure as an ``error`` event
    before ending. Feed body bytes in order; :attr:`error` is the first
    error event's data once one has been seen.

    >>> w = SseErrorWatcher()
    >>> w.feed(b"data: hi\\n\\nevent: err")
    >>> w.error is None
    True
    >>> w.feed(b'or\\ndata: {"message": "throttled"}\\n\\n')
    >>> w.error
    '{"message": "throttled"}'
    """

    def __init__(self) -> None:
        self.error: str | None = None
        self._buffer = bytearray()
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> None:
        """Take the next body bytes."""
        self._buffer += chunk
        while True:
            # The SSE spec allows CRLF, LF or CR line endings.
            match = re.search(rb"\r\n|\n|\r(?!$)", self._buffer)
            if match is None:
                return
            line = bytes(self._buffer[: match.start()]).decode("utf-8", "replace")
            del self._buffer[: match.end()]
            self._line(line)

    def _line(self, line: str) -> None:
        if not line:
            if self._event == "error" and self.error is None:
                self.error = "\n".join(self._data)
            self._event, self._data = "", []
            return
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)


# ----------------------------------------------------------------- signing
def sigv4_headers(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    region: str,
    service: str = "lambda",
) -> dict[str, str]:
    """Headers that sign a request with the caller's AWS credentials (SigV4).

    Uses botocore's credential chain (env, profile, SSO, instance role) and
    its signer; returns ``headers`` plus ``Authorization``, ``X-Amz-Date``
    and, for temporary credentials, ``X-Amz-Security-Token``.

    Raises :class:`CredentialsError` when no credentials can be found.

    Example (needs credentials in the environment)::

        signed = sigv4_headers("POST", url, {"content-type": "application/json"},
                               b"{}", region="us-east-1")
    """
    import botocore.session
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    credentials = botocore.session.get_session().get_credentials()
    if credentials is None:
        raise CredentialsError(
            "--sigv4: no AWS credentials found (set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)"
        )
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    SigV4Auth(credentials.get_frozen_credentials(), service, region).add_auth(request)
    return dict(request.headers.items())


# ------------------------------------------------------------ Function URL
class _Collector:
    """httptools callbacks, turned into :data:`Event` values."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.headers: dict[str, str] = {}
        self.trailers: dict[str, str] = {}
        self.reason = bytearray()
        self.headers_done = False
        self.complete = False

    def on_status(self, status: bytes) -> None:
        self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        # httptools reports trailers as headers that come after the body.
        target = self.trailers if self.headers_done else self.headers
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        target[key] = f"{target[key]}, {text}" if key in target else text

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.events.append(Data(bytes(body)))

    def on_message_complete(self) -> None:
        self.complete = True


def stream_url(
    url: str,
    *,
    method: str = "POST",
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    sign: Callable[[str, str, Mapping[str, str], bytes], Mapping[str, str]] | None = None,
    timeout: float = 960.0,
) -> Iterator[Event]:
    """Send one HTTP/1.1 request and yield the answer's events as bytes arrive.

    ``sign(method, url, headers, body)`` returns the headers to send (see
    :func:`sigv4_headers`). ``timeout`` bounds connecting and each wait for
    more bytes (Lambda's own limit is 900 s). Each :class:`Data` is what one
    read returned after de-chunking: with ``lambdastream dev`` one HTTP chunk
    per handler write.

    Raises :class:`StreamError` on connection failure, timeout, or a response
    cut short.

    >>> events = stream_url("http://127.0.0.1:9000/", method="GET")  # doctest: +SKIP
    """
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:  # an unclosed "[" or a port out of range
        raise StreamError(f"not a valid URL: {url!r} ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise StreamError(f"not an http(s) URL: {url!r}")
    target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    host_header = parts.netloc.rsplit("@", 1)[-1]

    send: dict[str, str] = {"host": host_header}
    for key, value in (headers or {}).items():
        send[key.lower()] = value
    if sign is not None:
        send = {k.lower(): v for k, v in sign(method, url, send, body).items()}
    # Added after signing: hop-by-hop details a signature need not cover.
    send.setdefault("user-agent", USER_AGENT)
    if body or method not in ("GET", "HEAD"):
        send["content-length"] = str(len(body))
    send["connection"] = "close"

    request = f"{method} {target} HTTP/1.1\r\n".encode("latin-1")
    request += b"".join(f"{k}: {v}\r\n".encode("latin-1") for k, v in send.items())
    request += b"\r\n" + body
    # Signing (botocore, credentials) is done by now: a caller's clock started
    # after this call times the exchange alone.
    return _exchange(parts.scheme, parts.hostname, port, request, method, timeout)


def _exchange(
    scheme: str, host: str, port: int, request: bytes, method: str, timeout: float
) -> Iterator[Event]:
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise StreamError(f"cannot connect to {host}:{port}: {_reason(exc)}") from exc
    try:
        if scheme == "https":
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        # Streamed chunks are small; don't let Nagle hold our request back.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(request)
        yield from _read_response(sock, method)
    except TimeoutError as exc:
        raise StreamError(f"no data for {timeout:g} s (timed out)") from exc
    except OSError as exc:
        raise StreamError(f"connection failed: {_reason(exc)}") from exc
    finally:
        sock.close()


def _read_response(sock: socket.socket, method: str) -> Iterator[Event]:
    import httptools

    collector = _Collector()
    parser = httptools.HttpResponseParser(collector)
    head_sent = False
    while not collector.complete:
        chunk = sock.recv(65536)
        if not chunk:
            if collector.headers_done and _close_delimited(collector.headers, method):
                break
            raise StreamError("the connection closed before the answer was complete")
        try:
            parser.feed_data(chunk)
        except httptools.HttpParserError as exc:
            raise StreamError(f"malformed HTTP response: {exc}") from exc
        if collector.headers_done and not head_sent:
            head_sent = True
            yield Head(
                status=parser.get_status_code(),
                reason=collector.reason.decode("latin-1"),
                headers=dict(collector.headers),
            )
        if collector.events:
            yield from collector.events
            collector.events.clear()
    if ERROR_TYPE_TRAILER in collector.trailers or ERROR_BODY_TRAILER in collector.trailers:
        yield parse_function_error(
            collector.trailers.get(ERROR_TYPE_TRAILER, ""),
            collector.trailers.get(ERROR_BODY_TRAILER),
        )
    yield End()


def _close_delimited(headers: Mapping[str, str], method: str) -> bool:
    # A body with neither length nor chunking ends when the server closes.
    return method == "HEAD" or (
        "content-length" not in headers and "chunked" not in headers.get("transfer-encoding", "")
    )


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


# ------------------------------------------------------------- Invoke API
def stream_function(
    function_name: str,
    payload: bytes,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    timeout: float = 960.0,
) -> Iterator[Event]:
    """Call ``InvokeWithResponseStream`` and yield the answer's events.

    An HTTP-shaped answer (a handler returning ``StreamingResponse``) starts
    with its prelude: that becomes the :class:`Head`. A buffered HTTP answer
    (``{"statusCode": ..., "body": ...}``) is unwrapped the same way, so a
    Function URL handler reads alike through either door. Anything else is
    passed through under status 200. An ``InvokeComplete`` error becomes a
    :class:`FunctionError`.

    With a loopback ``endpoint_url`` and no credentials configured, fixed
    dummy credentials are used: the local Lambda needs a signature, not an
    account.

    Example (against ``lambdastream dev --api-port 9001``)::

        for event in stream_function("chat", b'{"prompt": "hi"}',
                                     endpoint_url="http://127.0.0.1:9001"):
            ...
    """
    import boto3
    import botocore.exceptions
    from botocore.config import Config

    session = boto3.session.Session()
    extra: dict[str, Any] = {}
    if session.get_credentials() is None:
        if endpoint_url and _is_loopback(endpoint_url):
            extra = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
        else:
            raise CredentialsError(
                "no AWS credentials found for the Invoke API (set AWS_ACCESS_KEY_ID "
                "and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)"
            )
    region = region or session.region_name or "us-east-1"
    config = Config(
        connect_timeout=min(timeout, 60.0),
        read_timeout=timeout,
        # A streamed invocation may have run (and been billed) already: retry by hand.
        retries={"max_attempts": 0, "mode": "standard"},
    )
    try:
        client = session.client(
            "lambda", region_name=region, endpoint_url=endpoint_url, config=config, **extra
        )
    except botocore.exceptions.BotoCoreError as exc:
        raise StreamError(f"Invoke API: {exc}") from exc
    # The client is made before the first event is asked for, so a caller's
    # clock started there times the call, not boto3's import.
    return _invoke(client, function_name, payload)


def _invoke(client: Any, function_name: str, payload: bytes) -> Iterator[Event]:
    import botocore.exceptions

    try:
        response = client.invoke_with_response_stream(FunctionName=function_name, Payload=payload)
        yield from _invoke_events(response)
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        code = str(error.get("Code", "Error"))
        raise ApiError(
            f"Invoke API: HTTP {status}: {code}: {error.get('Message', '')}",
            status=int(status or 0),
            code=code,
        ) from exc
    except botocore.exceptions.EndpointConnectionError as exc:
        raise StreamError(f"cannot connect to the Invoke API: {exc}") from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise StreamError(f"Invoke API: {exc}") from exc


def _invoke_events(response: Mapping[str, Any]) -> Iterator[Event]:
    splitter = PreludeSplitter()
    # None until the payload's shape is known: streamed with a prelude, plain,
    # or (held to the end) perhaps a buffered {"statusCode", "body"} answer.
    mode: str | None = None
    held = bytearray()
    error: FunctionError | None = None
    for event in response["EventStream"]:
        if "InvokeComplete" in event:
            complete = event["InvokeComplete"]
            if complete.get("ErrorCode"):
                error = _invoke_complete_error(complete)
            continue
        body = splitter.feed(event.get("PayloadChunk", {}).get("Payload", b""))
        if mode is None and splitter.decided:
            if splitter.prelude is not None:
                mode = "stream"
                yield _head_from_prelude(splitter.prelude)
            elif body.startswith(b"{") and b'"statusCode"' in body[:PRELUDE_LIMIT]:
                mode = "hold"
            else:
                mode = "stream"
                yield Head(status=int(response.get("StatusCode", 200)))
        if mode == "hold":
            held += body
        elif mode == "stream" and body:
            yield Data(body)
    held += splitter.finish()
    if mode != "stream":
        answer = _json_object(bytes(held))
        if answer is not None and isinstance(answer.get("statusCode"), int):
            yield _head_from_prelude(answer)
            held[:] = _buffered_body(answer)
        else:
            yield Head(status=int(response.get("StatusCode", 200)))
        if held:
            yield Data(bytes(held))
    if error is not None:
        yield error
    yield End()


def _head_from_prelude(prelude: Mapping[str, Any]) -> Head:
    raw_headers = prelude.get("headers") or {}
    headers = {str(k).lower(): str(v) for k, v in raw_headers.items()}
    return Head(status=int(prelude.get("statusCode", 200)), headers=headers)


def _buffered_body(answer: Mapping[str, Any]) -> bytes:
    body = answer.get("body") or ""
    if answer.get("isBase64Encoded"):
        try:
            return base64.b64decode(body)
        except (binascii.Error, ValueError):
            return str(body).encode()
    return body.encode() if isinstance(body, str) else json.dumps(body).encode()


def _invoke_complete_error(complete: Mapping[str, Any]) -> FunctionError:
    details = complete.get("ErrorDetails") or ""
    message = details
    parsed = _json_object(details.encode()) if details.startswith("{") else None
    if parsed is not None:
        message = str(parsed.get("errorMessage") or parsed.get("message") or details)
    return FunctionError(error_type=str(complete["ErrorCode"]), message=message)


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")
