"""HTTP request -> Function URL event, payload format 2.0 (pure).

Header names are lowercased and repeated headers joined with commas; the
``cookie`` header moves to the ``cookies`` array; query parameters are
decoded and repeated ones joined with commas; ``rawPath`` and
``rawQueryString`` keep the bytes as sent, ``requestContext.http.path`` is
the path percent-decoded. Keys Lambda omits when empty (``cookies``,
``queryStringParameters``, ``body``) are omitted here too.

As AWS's front end does, hop-by-hop headers end at it and it adds its own:
``x-forwarded-for`` (the caller's address appended), ``x-forwarded-proto``
and ``x-forwarded-port`` (the connection's), ``x-amzn-trace-id`` (the
caller's trace, or the one Lambda starts).

The host and the url-id: on AWS a client reaches ``<url-id>.lambda-url.
<region>.on.aws``, so ``headers.host`` and ``requestContext.domainName`` are
that name and ``domainPrefix`` and ``apiId`` its url-id. Locally the client
reaches ``127.0.0.1:PORT``: ``host`` and ``domainName`` stay the address it
used, so an app that builds absolute URLs from them (Mangum's ASGI scope
takes its server from ``host`` and ``x-forwarded-port`` and its scheme from
``x-forwarded-proto``, https when absent) sends its browser back to the dev
server; ``domainPrefix`` and ``apiId`` are the one local url-id. A client
that uses a Function URL's name (a hosts entry, ``curl --connect-to``) gets
that name's url-id in all four, as on AWS.

Example::

    >>> e = build_event(HttpRequest("GET", "/a?x=1&x=2", [("Cookie", "s=1; t=2")], b""),
    ...                 request_id="r1", source_ip="127.0.0.1", now=0.0)
    >>> e["rawPath"], e["rawQueryString"], e["queryStringParameters"], e["cookies"]
    ('/a', 'x=1&x=2', {'x': '1,2'}, ['s=1', 't=2'])
"""

from __future__ import annotations

import base64
import re
import time
from typing import Any
from urllib.parse import unquote, unquote_plus

from lambdastream.local.iam import ACCOUNT_ID
from lambdastream.local.invocation import TRACE_HEADER
from lambdastream.wire.request import HttpRequest

__all__ = [
    "URL_ID",
    "HttpRequest",
    "body_is_text",
    "build_event",
    "event_body",
    "hop_by_hop",
]

# Function URL ids are 32 lowercase alphanumerics (the live capture below has
# "2cxn22odiwguak4feg4jtt7cwm0ziblr"); a fixed one names the local URL.
URL_ID = "lambdastreamlocal000000000000000"
# A Function URL's host: https://<url-id>.lambda-url.<region>.on.aws
# (docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html).
_FUNCTION_URL_HOST = re.compile(r"([a-z0-9]+)\.lambda-url\.[a-z0-9-]+\.on\.aws\.?", re.I)
_DEFAULT_PORTS = {"http": "80", "https": "443"}
# Hop-by-hop fields end at the first hop: Connection, the fields it names,
# and Proxy-Connection, Keep-Alive, TE, Transfer-Encoding and Upgrade
# (RFC 9110, section 7.6.1). AWS's front end is that hop.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "transfer-encoding", "upgrade"}
)
# Fields AWS's front end sets itself, whatever the caller sent (a client
# cannot claim https, another port or a trace Lambda did not accept).
_FORWARDED_FOR = "x-forwarded-for"
_FORWARDED_PROTO = "x-forwarded-proto"
_FORWARDED_PORT = "x-forwarded-port"
_SET_BY_AWS = frozenset({_FORWARDED_PROTO, _FORWARDED_PORT, TRACE_HEADER})

_TEXT_TYPES = (
    "application/json",
    "application/javascript",
    "application/xml",
    "application/x-www-form-urlencoded",
    "application/graphql",
    "application/x-ndjson",
)


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


def event_body(body: bytes, content_type: str | None) -> tuple[str, bool]:
    """A request body as an event carries it: ``body`` and ``isBase64Encoded``.

    Text when its type is a text type (:func:`body_is_text`) and it is
    UTF-8; else base64.

    >>> event_body(b"hi", "text/plain"), event_body(b"\\xff", "text/plain")
    (('hi', False), ('/w==', True))
    """
    if body_is_text(content_type):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def hop_by_hop(request: HttpRequest) -> frozenset[str]:
    """The request's hop-by-hop fields, lowercase: those of RFC 9110 and
    those its ``Connection`` names; they end at AWS's front end."""
    connection = request.header("connection")
    if connection is None:
        return _HOP_BY_HOP
    return _HOP_BY_HOP | {named.strip().lower() for named in connection.split(",")}


def build_event(
    request: HttpRequest,
    *,
    request_id: str,
    source_ip: str,
    now: float | None = None,
    region: str = "us-east-1",
    authorizer: dict[str, Any] | None = None,
    scheme: str = "http",
    trace_header: str | None = None,
) -> dict[str, Any]:
    """Build the payload-format-2.0 event Lambda gives a function for ``request``.

    ``source_ip`` is the caller's address, ``scheme`` the connection's
    (``https`` on AWS, ``http`` for the dev server), ``trace_header`` the
    ``x-amzn-trace-id`` the event carries (the caller's, validated, or the
    one Lambda starts: ``Invocation.trace_header``).
    """
    now = time.time() if now is None else now
    raw_path, _, raw_query = request.target.partition("?")
    if not raw_path.startswith("/"):
        # An absolute-form target ("http://host/path") is legal HTTP/1.1.
        after_scheme = raw_path.split("://", 1)[-1]
        raw_path = "/" + after_scheme.partition("/")[2]
    dropped = hop_by_hop(request)
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        key = name.lower()
        if key in dropped or key in _SET_BY_AWS:
            continue
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    host = headers.get("host")
    port = _DEFAULT_PORTS.get(scheme, "80")  # a Host without a port means the default
    url_id = URL_ID
    if host is None:  # HTTP/1.0 may omit it: the local URL's name, as AWS would show it
        domain_name = f"{URL_ID}.lambda-url.{region}.on.aws"
    else:
        domain_name = host
        hostname, host_port = _split_host(host)
        port = host_port or port
        named = _FUNCTION_URL_HOST.fullmatch(hostname)
        if named:
            url_id = named.group(1)
    # As AWS's load balancers document for X-Forwarded-For (elasticloadbalancing
    # x-forwarded-headers.html): the caller's address appended to any sent.
    sent_for = headers.get(_FORWARDED_FOR)
    headers[_FORWARDED_FOR] = f"{sent_for}, {source_ip}" if sent_for else source_ip
    headers[_FORWARDED_PROTO] = scheme
    headers[_FORWARDED_PORT] = port
    if trace_header is not None:
        headers[TRACE_HEADER] = trace_header
    user_agent = headers.get("user-agent", "")
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
        "apiId": url_id,
        **({"authorizer": authorizer} if authorizer is not None else {}),
        "domainName": domain_name,
        "domainPrefix": url_id,
        "http": {
            "method": request.method,
            # rawPath percent-decoded, "+" kept (a plain character in a path):
            # "/capture/space%20value" is "/capture/space value" in a live
            # capture (hotsock/voker, vokerhttp/testdata/functionurl-request.json).
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
        event["body"], event["isBase64Encoded"] = event_body(
            request.body, headers.get("content-type")
        )
    else:
        event["isBase64Encoded"] = False
    return event


def _split_host(host: str) -> tuple[str, str | None]:
    """A Host header's name and port, if it has one.

    >>> _split_host("127.0.0.1:9000"), _split_host("[::1]:9000"), _split_host("localhost")
    (('127.0.0.1', '9000'), ('[::1]', '9000'), ('localhost', None))
    """
    if host.startswith("["):  # an IPv6 literal: [::1]:9000
        name, _, rest = host.partition("]")
        port = rest[1:] if rest.startswith(":") else None
        return name + "]", port or None
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit():
        return name, port
    return host, None


def _query_parameters(raw_query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        key, val = unquote_plus(name), unquote_plus(value)
        params[key] = f"{params[key]},{val}" if key in params else val
    return params
