"""Function result -> HTTP response, as Function URLs map it (pure).

A buffered result that is a JSON object with ``statusCode`` is read in the
Function URL response format (``statusCode``, ``headers``, ``cookies``,
``body``, ``isBase64Encoded``); anything else is sent as a 200
``application/json`` body, as Lambda does. Headers a function may not set on
the wire are renamed or dropped the way Function URLs do
(``Content-Length`` becomes ``x-amzn-remapped-content-length``).

Example::

    >>> r = map_buffered(b'{"statusCode": 201, "body": "hi", "cookies": ["a=1"]}')
    >>> r.status, r.headers, r.body
    (201, [('content-type', 'application/json'), ('set-cookie', 'a=1')], b'hi')
    >>> map_buffered(b'"hello"').body
    b'"hello"'
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lambdastream.wire.prelude import Prelude, PreludeError, parse_prelude

__all__ = [
    "HttpResponse",
    "body_bytes",
    "map_buffered",
    "response_headers",
    "response_object",
    "wire_headers",
]

# Connection-level headers belong to our hop, not the function's.
_DROPPED = frozenset({"transfer-encoding", "connection", "keep-alive", "upgrade", "trailer"})
# Headers a Function URL sets itself: the function's goes as x-amzn-remapped-<name>.
_REMAPPED = frozenset({"content-length"})


@dataclass
class HttpResponse:
    """Status, headers in order, and the whole body of a buffered response."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def response_headers(prelude: Prelude, default_type: str) -> list[tuple[str, str]]:
    """Headers to send for ``prelude``: remapped, cookies last, a content type.

    >>> response_headers(Prelude(200, [("Content-Length", "3")], ["c=1"]), "text/plain")
    [('x-amzn-remapped-content-length', '3'), ('content-type', 'text/plain'), ('set-cookie', 'c=1')]
    """
    return wire_headers(
        prelude,
        default_type,
        dropped=_DROPPED,
        remapped=_REMAPPED,
        rename=lambda name: f"x-amzn-remapped-{name.lower()}",
        set_cookie="set-cookie",
    )


def wire_headers(
    prelude: Prelude,
    default_type: str,
    *,
    dropped: frozenset[str],
    remapped: frozenset[str],
    rename: Callable[[str], str],
    set_cookie: str,
) -> list[tuple[str, str]]:
    """``prelude``'s headers as a frontend sends them (the REST API's too).

    In order, but for those whose lowercase name is in ``dropped`` (left
    out) or ``remapped`` (sent as ``rename(name)``); a ``content-type`` of
    ``default_type`` when there is none; then each cookie as a
    ``set_cookie`` line.
    """
    out: list[tuple[str, str]] = []
    has_type = False
    for name, value in prelude.headers:
        key = name.lower()
        if key in dropped:
            continue
        if key in remapped:
            out.append((rename(name), value))
            continue
        if key == "content-type":
            has_type = True
        out.append((name, value))
    if not has_type:
        out.append(("content-type", default_type))
    out.extend((set_cookie, cookie) for cookie in prelude.cookies)
    return out


def response_object(payload: bytes) -> dict[str, Any] | None:
    """A buffered result in the response format: its JSON object with a
    ``statusCode``; None for any other result."""
    try:
        obj = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        obj = None
    if not isinstance(obj, dict) or "statusCode" not in obj:
        return None
    return obj


def body_bytes(body: str, base64_encoded: bool, error: type[PreludeError] = PreludeError) -> bytes:
    """A response's string ``body``: UTF-8, or base64 when ``isBase64Encoded``.

    Raises ``error`` for a body said to be base64 that is not.
    """
    if not base64_encoded:
        return body.encode("utf-8")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise error("isBase64Encoded is true but body is not base64") from None


def map_buffered(payload: bytes) -> HttpResponse:
    """Map a buffered function result to the response a Function URL sends.

    Raises ``PreludeError`` for a result in the response format that Lambda
    would refuse (a bad status, headers that are not strings, bad base64).
    """
    obj = response_object(payload)
    if obj is None:
        return HttpResponse(200, [("content-type", "application/json")], payload)
    prelude = parse_prelude(
        json.dumps(
            {k: obj[k] for k in ("statusCode", "headers", "cookies") if obj.get(k) is not None}
        ).encode()
    )
    body = obj.get("body")
    if body is None:
        data = b""
    elif not isinstance(body, str):
        # Lambda serializes a non-string body rather than refusing it.
        data = json.dumps(body).encode()
    else:
        data = body_bytes(body, obj.get("isBase64Encoded") is True)
    return HttpResponse(prelude.status, response_headers(prelude, "application/json"), data)
