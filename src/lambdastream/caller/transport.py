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

The events and the pure pieces (:class:`PreludeSplitter`,
:class:`SseErrorWatcher`, :func:`parse_function_error`,
:func:`region_from_url`) live in :mod:`lambdastream.caller.decode`, with no
I/O; they are re-exported here.
"""

from __future__ import annotations

import base64
import binascii
import json
import socket
import ssl
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from lambdastream.caller.decode import (
    ERROR_BODY_HEADER,
    ERROR_TYPE_HEADER,
    ApiError,
    CredentialsError,
    Data,
    End,
    Event,
    FunctionError,
    Head,
    PreludeSplitter,
    SseErrorWatcher,
    StreamError,
    json_object,
    parse_function_error,
    region_from_url,
)
from lambdastream.wire.integration import REST_PRELUDE_LIMIT

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

USER_AGENT = "lambdastream-invoke/0.1"


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
    if ERROR_TYPE_HEADER in collector.trailers or ERROR_BODY_HEADER in collector.trailers:
        yield parse_function_error(
            collector.trailers.get(ERROR_TYPE_HEADER, ""),
            collector.trailers.get(ERROR_BODY_HEADER),
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
            elif body.startswith(b"{") and b'"statusCode"' in body[:REST_PRELUDE_LIMIT]:
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
        answer = json_object(bytes(held))
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
    parsed = json_object(details.encode()) if details.startswith("{") else None
    if parsed is not None:
        message = str(parsed.get("errorMessage") or parsed.get("message") or details)
    return FunctionError(error_type=str(complete["ErrorCode"]), message=message)


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")
