"""Decoder for the HTTP-integration prelude of a streamed response (sans-I/O).

With ``Content-Type: application/vnd.awslambda.http-integration-response``
a streamed body starts with a JSON object (status, headers, cookies), then 8
NUL bytes, then the real body. Runtimes split or merge these pieces freely,
so the decoder searches the delimiter across whatever pieces arrive.

Example::

    >>> d = PreludeDecoder()
    >>> d.feed(b'{"statusCode": 201}\\0\\0\\0')
    []
    >>> [bytes(b) for b in d.feed(b"\\0\\0\\0\\0\\0hello")]
    [b'hello']
    >>> d.prelude.status, d.prelude.headers
    (201, [])
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lambdastream.wire.integration import (
    HTTP_INTEGRATION_CONTENT_TYPE,
    PRELUDE_DELIMITER,
    REST_PRELUDE_LIMIT,
)

__all__ = [
    "DELIMITER",
    "HTTP_INTEGRATION_CONTENT_TYPE",
    "MAX_PRELUDE",
    "Prelude",
    "PreludeDecoder",
    "PreludeError",
    "PreludeSplitter",
    "cookie_list",
    "header_value",
    "json_object",
    "parse_prelude",
    "read_prelude",
    "sendable",
    "status_code",
]

# Defined once, by the runtime that sends them.
DELIMITER = PRELUDE_DELIMITER
# API Gateway wants the prelude within 16 KiB; we allow more, but not unbounded.
MAX_PRELUDE = 1024 * 1024


class PreludeError(ValueError):
    """The prelude is missing its delimiter, too large or not a valid object."""


@dataclass
class Prelude:
    """Status, headers (name, value) in order, and cookies of a response."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    cookies: list[str] = field(default_factory=list)


def parse_prelude(raw: bytes) -> Prelude:
    """Validate the prelude JSON.

    >>> parse_prelude(b'{"statusCode": 404, "headers": {"a": "1"}, "cookies": ["c=1"]}')
    Prelude(status=404, headers=[('a', '1')], cookies=['c=1'])
    """
    return read_prelude(raw, lambda obj: _headers(obj.get("headers")))


def read_prelude(
    raw: bytes,
    headers: Callable[[dict[str, Any]], list[tuple[str, str]]],
    error: type[PreludeError] = PreludeError,
) -> Prelude:
    """A prelude's JSON object: ``statusCode`` (200 when absent), the headers
    ``headers`` reads from the object, ``cookies``. Raises ``error`` for a
    prelude that is not a JSON object (the Function URL's and the REST
    API's differ only in their headers and their error).
    """
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise error(f"prelude is not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise error("prelude is not a JSON object")
    return Prelude(
        status=status_code(obj.get("statusCode", 200)),
        headers=headers(obj),
        cookies=cookie_list(obj.get("cookies")),
    )


def status_code(value: object) -> int:
    """A response's ``statusCode``: an integer from 100 to 599, else ``PreludeError``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        raise PreludeError(f"statusCode must be an integer from 100 to 599, not {value!r}")
    return value


def _headers(value: object) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, dict):
        raise PreludeError("headers must be an object")
    out: list[tuple[str, str]] = []
    for name, v in value.items():
        if isinstance(v, list):  # multiValueHeaders style, tolerated
            out.extend((name, header_value(name, item)) for item in v)
        else:
            out.append((name, header_value(name, v)))
    return out


def header_value(name: str, value: object) -> str:
    """One header as it goes on the wire; ``PreludeError`` if it cannot.

    Numbers and booleans become text (as JSON writes them); the name must
    be an HTTP token and the value :func:`sendable`.
    """
    if isinstance(value, bool):
        value = "true" if value else "false"
    if not isinstance(value, (str, int, float)):
        raise PreludeError(f"header {name!r} must be a string")
    text = str(value)
    if _TOKEN.fullmatch(name) is None:
        # Same handling as a bad value: a name that is not an RFC 7230 token
        # ("bad name", "a:b", "") would corrupt the head or be dropped by
        # clients; the response is refused rather than sent half right.
        raise PreludeError(f"header name {name!r} is not an HTTP token")
    if not sendable(text):
        raise PreludeError(f"header {name!r} has a value that cannot be sent: {text!r}")
    return text


def sendable(value: str) -> bool:
    """True if ``value`` can be a header value on the wire as it is.

    Header values go out as Latin-1, RFC 7230's field-value (visible ASCII,
    space, tab, and obs-text 0x80-0xFF, as Node's http module, Starlette
    and h11 do): ``café`` is sent as the bytes ``caf\\xe9``, and an
    HTTP client reading Latin-1 gets ``café`` back. A value with a control
    character (CR/LF/NUL would split or end the head) or a character beyond
    Latin-1 (``日本``) cannot be sent as it is. We refuse the whole response
    rather than mangle the header (re-encode, drop or escape it): the
    function's answer is invalid, the caller gets a 502, and the log says
    ``Runtime.InvalidResponse``, so the problem shows up on the first local
    run rather than as a different header in production (where what Lambda
    does with such a value is not documented). Percent-encode such values
    (RFC 8187) or put them in the body.

    >>> sendable("café"), sendable("日本"), sendable("a\\r\\nb: c"), sendable("a\\tb")
    (True, False, False, True)
    """
    return _FIELD_VALUE.fullmatch(value) is not None


# RFC 7230 token (a header name): tchar+.
_TOKEN = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
# RFC 7230 field-value: HTAB, SP, VCHAR (0x21-0x7E), obs-text (0x80-0xFF).
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


def cookie_list(value: object) -> list[str]:
    """A response's ``cookies``: a list of sendable strings, else ``PreludeError``."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise PreludeError("cookies must be a list of strings")
    for cookie in value:
        if not sendable(cookie):
            raise PreludeError(f"a cookie cannot be sent as a header: {cookie!r}")
    return value


class PreludeDecoder:
    """Collect the prelude from streamed pieces; pass the body through.

    ``feed`` returns body pieces (empty until the delimiter has been seen);
    ``prelude`` is set once it is complete. ``finish`` is called at the end
    of the stream: a stream that ended with no byte at all gets the default
    prelude, as Node's client sends nothing when the handler never writes.

    ``parse`` reads the prelude's JSON (a Function URL's by default; the
    REST API's takes ``multiValueHeaders`` too); ``limit`` bounds prelude
    plus delimiter (API Gateway wants them within the first 16 KiB).
    """

    __slots__ = ("_buf", "limit", "parse", "prelude", "received")

    def __init__(
        self, parse: Callable[[bytes], Prelude] = parse_prelude, limit: int = MAX_PRELUDE
    ) -> None:
        self._buf = bytearray()
        self.parse = parse
        self.limit = limit
        self.prelude: Prelude | None = None
        self.received = 0  # bytes fed before the prelude was complete

    def feed(self, piece: bytes | memoryview) -> list[bytes | memoryview]:
        """Consume one piece of the streamed body; return the body bytes in it."""
        if self.prelude is not None:
            return [piece] if len(piece) else []
        self.received += len(piece)
        start = max(0, len(self._buf) - len(DELIMITER) + 1)
        self._buf += piece
        idx = self._buf.find(DELIMITER, start)
        if idx < 0 or idx + len(DELIMITER) > self.limit:
            if len(self._buf) >= self.limit:
                raise PreludeError(f"no prelude delimiter within {self.limit} bytes")
            return []
        self.prelude = self.parse(bytes(self._buf[:idx]))
        rest = bytes(self._buf[idx + len(DELIMITER) :])
        self._buf = bytearray()
        return [rest] if rest else []

    def finish(self) -> Prelude:
        """End of stream: return the prelude, or raise if it never completed."""
        if self.prelude is None:
            if self._buf:
                raise PreludeError("stream ended before the prelude delimiter")
            self.prelude = Prelude()
        return self.prelude


class PreludeSplitter:
    """Split an ``InvokeWithResponseStream`` payload into prelude and body (a caller's side).

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
        at = self._held.find(DELIMITER)
        if at >= 0:
            prelude = json_object(bytes(self._held[:at]))
            if prelude is not None:
                self.prelude = prelude
                return self._release(at + len(DELIMITER))
            return self._release(0)
        if len(self._held) > REST_PRELUDE_LIMIT:
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


def json_object(raw: bytes) -> dict[str, Any] | None:
    """``raw`` as a JSON object, or None when it is not one."""
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
