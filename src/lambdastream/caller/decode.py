"""The pure side of reading a streaming function's answer: events and codecs, no I/O.

:mod:`lambdastream.caller.transport` reads bytes off a socket or boto3's
event stream and turns them into these events; the codecs here split
Lambda's HTTP prelude from a payload, spot an in-band SSE error event, and
read Lambda's error trailers, all on bytes alone.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lambdastream.wire.chunks import ERROR_BODY_TRAILER, ERROR_TYPE_TRAILER
from lambdastream.wire.prelude import PreludeSplitter, json_object

__all__ = [
    "ApiError",
    "CredentialsError",
    "Data",
    "End",
    "FunctionError",
    "Head",
    "PreludeSplitter",
    "SseErrorWatcher",
    "StreamError",
    "json_object",
    "parse_function_error",
    "region_from_url",
]

# The trailers as a client sees them, header names lower-cased.
ERROR_TYPE_HEADER = ERROR_TYPE_TRAILER.lower()
ERROR_BODY_HEADER = ERROR_BODY_TRAILER.lower()


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

    @property
    def timed_out(self) -> bool:
        """Whether Lambda ended the invocation at its timeout (the stream was cut there).

        ``Sandbox.Timeout``; Lambda Managed Instances say ``Sandbox.Timedout``.

        >>> FunctionError("Sandbox.Timeout").timed_out, FunctionError("KeyError").timed_out
        (True, False)
        """
        return self.error_type in ("Sandbox.Timeout", "Sandbox.Timedout")


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
