"""HTTP request -> Function URL event, payload format 2.0 (pure).

Header names are lowercased and repeated headers joined with commas; the
``cookie`` header moves to the ``cookies`` array; query parameters are
decoded and repeated ones joined with commas; ``rawPath`` and
``rawQueryString`` keep the bytes as sent. Keys Lambda omits when empty
(``cookies``, ``queryStringParameters``, ``body``) are omitted here too.

Example::

    >>> e = build_event(HttpRequest("GET", "/a?x=1&x=2", [("Cookie", "s=1; t=2")], b""),
    ...                 request_id="r1", source_ip="127.0.0.1", now=0.0)
    >>> e["rawPath"], e["rawQueryString"], e["queryStringParameters"], e["cookies"]
    ('/a', 'x=1&x=2', {'x': '1,2'}, ['s=1', 't=2'])
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, unquote_plus

__all__ = ["ACCOUNT_ID", "URL_ID", "HttpRequest", "body_is_text", "build_event"]

ACCOUNT_ID = "123456789012"
# Function URL ids are 32 lowercase alphanumerics; a fixed fake one locally.
URL_ID = "lambdastreamlocal0000000000000000"

_TEXT_TYPES = (
    "application/json",
    "application/javascript",
    "application/xml",
    "application/x-www-form-urlencoded",
    "application/graphql",
    "application/x-ndjson",
)


@dataclass
class HttpRequest:
    """One parsed HTTP request as the Function URL frontend received it."""

    method: str
    target: str  # the request target as sent: path plus optional ?query
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    http_version: str = "1.1"


def body_is_text(content_type: str | None) -> bool:
    """Whether Lambda passes a body of this type as text rather than base64.

    >>> body_is_text("text/plain; charset=utf-8"), body_is_text("image/png")
    (True, False)
    """
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return (
        media.startswith("text/")
        or media in _TEXT_TYPES
        or media.endswith("+json")
        or media.endswith("+xml")
    )


def build_event(
    request: HttpRequest,
    *,
    request_id: str,
    source_ip: str,
    now: float | None = None,
    region: str = "us-east-1",
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the payload-format-2.0 event Lambda gives a function for ``request``."""
    now = time.time() if now is None else now
    raw_path, _, raw_query = request.target.partition("?")
    if not raw_path.startswith("/"):
        # An absolute-form target ("http://host/path") is legal HTTP/1.1.
        after_scheme = raw_path.split("://", 1)[-1]
        raw_path = "/" + after_scheme.partition("/")[2]
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    user_agent = headers.get("user-agent", "")
    host = headers.get("host", f"{URL_ID}.lambda-url.{region}.on.aws")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    query = _query_parameters(raw_query)
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": "anonymous" if authorizer is None else ACCOUNT_ID,
        "apiId": URL_ID,
        **({"authorizer": authorizer} if authorizer is not None else {}),
        "domainName": host,
        "domainPrefix": host.split(".", 1)[0],
        "http": {
            "method": request.method,
            "path": unquote(raw_path),
            "protocol": f"HTTP/{request.http_version}",
            "sourceIp": source_ip,
            "userAgent": user_agent,
        },
        "requestId": request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }
    if request.body:
        if body_is_text(headers.get("content-type")):
            try:
                event["body"] = request.body.decode("utf-8")
                event["isBase64Encoded"] = False
            except UnicodeDecodeError:
                event["body"] = base64.b64encode(request.body).decode("ascii")
                event["isBase64Encoded"] = True
        else:
            event["body"] = base64.b64encode(request.body).decode("ascii")
            event["isBase64Encoded"] = True
    else:
        event["isBase64Encoded"] = False
    return event


def _query_parameters(raw_query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        key, val = unquote_plus(name), unquote_plus(value)
        params[key] = f"{params[key]},{val}" if key in params else val
    return params
