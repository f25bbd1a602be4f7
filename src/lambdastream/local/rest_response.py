"""Function result -> HTTP response, as an API Gateway REST API maps it (pure).

Streamed (``responseTransferMode: STREAM``): the stream starts with the same
HTTP integration prelude as a Function URL's, JSON then 8 NUL bytes, whose
keys are ``statusCode``, ``headers``, ``multiValueHeaders`` and ``cookies``
(AWS's example function for REST streaming sets ``multiValueHeaders``
``{"Set-Cookie": ["c1=blue", "c2=red"]}``). A REST stream must start with
it, within the first 16 KiB: "API Gateway begins the payload stream after it
receives the valid metadata and delimiter".

Buffered (the classic proxy integration): ``{"statusCode", "headers",
"multiValueHeaders", "body", "isBase64Encoded"}``; "If the function output
is of a different format, API Gateway returns a 502 Bad Gateway"
(``set-up-lambda-proxy-integrations``, output format): :class:`RestResponseError`.

Both: ``headers`` and ``multiValueHeaders`` are merged, and for a name in
both "only the values from multiValueHeaders" appear; each cookie and each
``Set-Cookie`` value is a header line of its own. Headers API Gateway sets
itself on the way out are renamed ``x-amzn-Remapped-<name>`` (its known
issues list ``Connection``, ``Content-Length``, ``Date``, ``Server``,
``WWW-Authenticate`` among those it remaps); the connection's own framing
headers are dropped.

Example::

    >>> p = parse_rest_prelude(b'{"statusCode": 201, "headers": {"a": "1", "b": "2"},'
    ...                        b' "multiValueHeaders": {"b": ["3", "4"]}, "cookies": ["c=1"]}')
    >>> p.status, p.headers, p.cookies
    (201, [('a', '1'), ('b', '3'), ('b', '4')], ['c=1'])
    >>> r = map_rest_buffered(b'{"statusCode": 200, "body": "hi"}')
    >>> r.status, r.headers, r.body
    (200, [('content-type', 'application/json')], b'hi')
"""

from __future__ import annotations

from typing import Any

from lambdastream.local.url_response import HttpResponse, body_bytes, response_object, wire_headers
from lambdastream.wire.prelude import (
    Prelude,
    PreludeError,
    header_value,
    read_prelude,
    status_code,
)

__all__ = [
    "MAX_REST_PRELUDE",
    "RestResponseError",
    "map_rest_buffered",
    "parse_rest_prelude",
    "rest_response_headers",
]

# "API Gateway begins the payload stream after it receives the valid
# metadata and delimiter", which must come within the first 16 KB.
MAX_REST_PRELUDE = 16 * 1024
# A REST API's responses default to JSON (its method responses' default model).
DEFAULT_TYPE = "application/json"
_REMAPPED = frozenset({"connection", "content-length", "date", "server", "www-authenticate"})
_DROPPED = frozenset({"transfer-encoding", "keep-alive", "upgrade", "trailer"})


class RestResponseError(PreludeError):
    """A function's answer that API Gateway cannot turn into a response (a 502)."""


def parse_rest_prelude(raw: bytes) -> Prelude:
    """The streamed answer's metadata: status, merged headers, cookies.

    >>> parse_rest_prelude(b'{"multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]}}').headers
    [('Set-Cookie', 'a=1'), ('Set-Cookie', 'b=2')]
    """
    return read_prelude(raw, _object_headers, RestResponseError)


def _object_headers(obj: dict[str, Any]) -> list[tuple[str, str]]:
    return merged_headers(obj.get("headers"), obj.get("multiValueHeaders"))


def merged_headers(single: object, multi: object) -> list[tuple[str, str]]:
    """``headers`` and ``multiValueHeaders`` as API Gateway merges them.

    A name in both (in any case: HTTP names are case-insensitive) takes only
    its ``multiValueHeaders`` values.

    >>> merged_headers({"X-A": "1", "x-b": "2"}, {"x-a": ["3"], "x-c": []})
    [('x-b', '2'), ('x-a', '3')]
    """
    if single is not None and not isinstance(single, dict):
        raise RestResponseError("headers must be an object")
    if multi is not None and not isinstance(multi, dict):
        raise RestResponseError("multiValueHeaders must be an object")
    multi = multi or {}
    taken = {name.lower() for name in multi}
    out: list[tuple[str, str]] = []
    for name, value in (single or {}).items():
        if name.lower() in taken:
            continue
        if value is None:  # null is no value, as for an absent key
            continue
        if isinstance(value, list):
            raise RestResponseError(
                f"header {name!r} is a list: repeated values go in multiValueHeaders"
            )
        out.append((name, header_value(name, value)))
    for name, values in multi.items():
        if values is None:
            continue
        if not isinstance(values, list):
            raise RestResponseError(f"multiValueHeaders {name!r} must be a list")
        out.extend((name, header_value(name, value)) for value in values if value is not None)
    return out


def rest_response_headers(
    prelude: Prelude, default_type: str = DEFAULT_TYPE
) -> list[tuple[str, str]]:
    """Headers to send for ``prelude``: remapped, a content type, each cookie its own line.

    >>> rest_response_headers(Prelude(200, [("Content-Length", "3"), ("Date", "x")], ["c=1"]))
    ... # doctest: +NORMALIZE_WHITESPACE
    [('x-amzn-Remapped-Content-Length', '3'), ('x-amzn-Remapped-Date', 'x'),
     ('content-type', 'application/json'), ('Set-Cookie', 'c=1')]
    """
    return wire_headers(
        prelude,
        default_type,
        dropped=_DROPPED,
        remapped=_REMAPPED,
        rename=lambda name: f"x-amzn-Remapped-{name}",
        set_cookie="Set-Cookie",
    )


def map_rest_buffered(payload: bytes) -> HttpResponse:
    """Map a buffered function result as a REST API's Lambda proxy integration does.

    Raises :class:`RestResponseError` for anything but the proxy output
    format (API Gateway's 502): not a JSON object, no integer
    ``statusCode``, a ``body`` that is not a string, bad base64.

    >>> try:
    ...     map_rest_buffered(b'"hello"')
    ... except RestResponseError as refused:
    ...     print(refused)
    not the proxy output format: a JSON object with a statusCode
    """
    obj = response_object(payload)
    if obj is None:
        raise RestResponseError("not the proxy output format: a JSON object with a statusCode")
    status = obj["statusCode"]
    if isinstance(status, str) and status.isdigit():
        status = int(status)  # "200" is taken as 200
    prelude = Prelude(status=status_code(status), headers=_object_headers(obj))
    body = obj.get("body")
    encoded = obj.get("isBase64Encoded")
    if encoded is not None and not isinstance(encoded, bool):
        raise RestResponseError("isBase64Encoded must be true or false")
    if body is None:
        data = b""
    elif not isinstance(body, str):
        raise RestResponseError("body must be a string (JSON-encode an object first)")
    else:
        data = body_bytes(body, bool(encoded), RestResponseError)
    return HttpResponse(prelude.status, rest_response_headers(prelude), data)
