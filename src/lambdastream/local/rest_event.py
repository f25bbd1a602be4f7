"""HTTP request -> API Gateway REST API proxy event, payload format 1.0 (pure).

What ``lambdastream dev --entry rest`` gives the function for a request to
``http://127.0.0.1:PORT/<stage>/...``, as API Gateway does for its
``execute-api`` URL in front of an API whose ``ANY /`` and ``ANY /{proxy+}``
methods are Lambda proxy integrations (``AWS_PROXY``; the streaming ones
have ``responseTransferMode: STREAM``, and their event is the same).

Where this follows AWS, and from what:

- The stage is the first path segment (case-sensitive) and is stripped from
  ``path``; ``requestContext.path`` keeps it: ``/Prod/hello`` gives ``path``
  ``/hello`` and ``requestContext.path`` ``/Prod/hello`` (the developer
  guide's sample, ``set-up-lambda-proxy-integrations``). A request outside
  the stage reaches no API: :func:`route` returns None (API Gateway answers
  403 ``{"message":"Forbidden"}``).
- ``path``, ``requestContext.path`` and ``pathParameters.proxy`` keep the
  percent-encoding the client sent; query parameters are decoded (``+`` is
  a space), ``queryStringParameters`` holds the last value of a repeated
  one and ``multiValueQueryStringParameters`` all of them; ``headers`` holds
  the last value of a repeated header and ``multiValueHeaders`` all of them,
  names as the client spelled them. A live capture of a REST API event
  (hotsock/voker, ``vokerhttp/testdata/apigwv1-request.json``) shows each.
- ``Content-Length`` and the hop-by-hop headers end at API Gateway (neither
  that capture nor the guide's POST sample carries them); it sets
  ``X-Forwarded-For`` (the caller appended), ``-Port``, ``-Proto`` and
  ``X-Amzn-Trace-Id`` itself. The ``Cookie`` header stays a header (payload
  1.0 has no ``cookies`` array).
- A body of a text type is passed as text, any other as base64 with
  ``isBase64Encoded`` true (as an API whose binary media types cover the
  non-text ones); no body is ``null``. Absent maps are ``null`` too.

As the Function URL event does (``url_event.py``), ``Host`` and
``requestContext.domainName`` stay the address the client used, so an app
that builds absolute URLs sends its browser back to the dev server; a client
that uses an ``execute-api`` name (``curl --connect-to``) gets that name's
API id in ``apiId`` and ``domainPrefix``.

Example::

    >>> r = HttpRequest("GET", "/Prod/hello?x=1&x=2", [("Host", "127.0.0.1:9000")])
    >>> e = build_rest_event(r, route("/Prod/hello?x=1&x=2", "Prod"), stage="Prod",
    ...                      request_id="r1", source_ip="127.0.0.1", now=0.0)
    >>> e["path"], e["requestContext"]["path"], e["pathParameters"]
    ('/hello', '/Prod/hello', {'proxy': 'hello'})
    >>> e["queryStringParameters"], e["multiValueQueryStringParameters"]
    ({'x': '2'}, {'x': ['1', '2']})
"""

from __future__ import annotations

import base64
import os
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from lambdastream.local.iam import ACCOUNT_ID
from lambdastream.local.url_event import event_body, hop_by_hop
from lambdastream.wire.request import HttpRequest

__all__ = [
    "API_ID",
    "DEFAULT_STAGE",
    "PROXY_RESOURCE",
    "ROOT_RESOURCE",
    "STAGE_NAME",
    "Route",
    "build_rest_event",
    "extended_request_id",
    "remove_dot_segments",
    "route",
]

# SAM's implicit API (the one `Events: Type: Api` creates) deploys to the
# stage "Prod": https://<id>.execute-api.<region>.amazonaws.com/Prod/hello/.
DEFAULT_STAGE = "Prod"
# "Stage names can only contain alphanumeric characters, hyphens, and
# underscores. Maximum length is 128 characters." (API Gateway, important notes)
STAGE_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")
# REST API ids are 10 lowercase alphanumerics ("gy415nuibc"); a fixed one
# names the local API.
API_ID = "lsdevlocal"
PROXY_RESOURCE = "/{proxy+}"
ROOT_RESOURCE = "/"
# Resource ids: 10 characters for an API's root resource, 6 for the others
# (the guide's CLI walk-through: root "krznpq9xpg", {proxy+} "2jf6xt").
_RESOURCE_IDS = {ROOT_RESOURCE: "lsroot0000", PROXY_RESOURCE: "lsprxy"}
_EXECUTE_API_HOST = re.compile(r"([a-z0-9]{10})\.execute-api\.[a-z0-9-]+\.amazonaws\.com\.?", re.I)
# Headers API Gateway sets itself (a caller's copy is dropped) or does not pass on.
_SET_BY_GATEWAY = frozenset(
    {"x-forwarded-proto", "x-forwarded-port", "x-amzn-trace-id", "content-length"}
)
_DEFAULT_PORTS = {"http": "80", "https": "443"}
# requestContext.identity without an authorizer: every key, null but these two.
_IDENTITY_KEYS = (
    "accessKey",
    "accountId",
    "apiKey",
    "apiKeyId",
    "caller",
    "cognitoAuthenticationProvider",
    "cognitoAuthenticationType",
    "cognitoIdentityId",
    "cognitoIdentityPoolId",
    "principalOrgId",
    "sourceIp",
    "user",
    "userAgent",
    "userArn",
)


@dataclass(frozen=True)
class Route:
    """Where a request lands on the local API."""

    resource: str  # "/{proxy+}", or "/" for the stage's root
    path: str  # the event's path: without the stage, percent-encoded as sent
    stage_path: str  # requestContext.path: with the stage
    proxy: str | None  # pathParameters.proxy (None at the root)
    raw_query: str  # the query string as sent, without "?"


def route(target: str, stage: str) -> Route | None:
    """Route a request target on an API deployed to ``stage``; None outside it.

    >>> route("/Prod", "Prod").resource, route("/Prod/a/b?q", "Prod").proxy
    ('/', 'a/b')
    >>> route("/prod/a", "Prod") is None, route("/", "Prod") is None
    (True, True)
    >>> route("/Prod/a/../b", "Prod").path, route("/Prod/../x", "Prod") is None
    ('/b', True)
    """
    raw_path, _, raw_query = target.partition("?")
    if not raw_path.startswith("/"):
        # An absolute-form target ("http://host/path") is legal HTTP/1.1.
        raw_path = "/" + raw_path.split("://", 1)[-1].partition("/")[2]
    # Dot segments are resolved before anything else: API Gateway's
    # documentation says nothing of them (no source, issue or LocalStack
    # capture does), and a function must never see "..": a file server
    # joining pathParameters.proxy to a directory would escape it. Resolved
    # as RFC 3986 resolves them (5.2.4, a percent-encoded dot being a dot by
    # 6.2.2.2), as browsers and curl do before sending; what leaves the stage
    # is outside it (API Gateway's 403). docs/reliability.md records this.
    raw_path = remove_dot_segments(raw_path)
    prefix = "/" + stage
    if raw_path == prefix or raw_path == prefix + "/":
        return Route(ROOT_RESOURCE, "/", raw_path, None, raw_query)
    if not raw_path.startswith(prefix + "/"):
        return None
    path = raw_path[len(prefix) :]
    return Route(PROXY_RESOURCE, path, raw_path, path[1:], raw_query)


def remove_dot_segments(path: str) -> str:
    """``path`` with its ``.`` and ``..`` segments resolved (RFC 3986 5.2.4).

    A segment is a dot segment when it is ``.`` or ``..`` once a
    percent-encoded dot is read as a dot; every other segment is kept as
    sent, encoding and all.

    >>> remove_dot_segments("/a/b/../%2E/c/%2e%2E/d/.")
    '/a/d/'
    >>> remove_dot_segments("/../..%2F/x")
    '/..%2F/x'
    """
    if "." not in path and "%2e" not in path.lower():
        return path
    out: list[str] = []
    segments = path.split("/")[1:]
    for i, segment in enumerate(segments):
        dots = segment.replace("%2e", ".").replace("%2E", ".")
        last = i == len(segments) - 1
        if dots == "..":
            if out:
                out.pop()
            if last:
                out.append("")  # "/a/b/.." is the directory "/a/"
        elif dots == ".":
            if last:
                out.append("")
        else:
            out.append(segment)
    return "/" + "/".join(out)


def extended_request_id() -> str:
    """An id like API Gateway's ``extendedRequestId`` and ``x-amz-apigw-id`` (``ATfSdF7nPHcErRA=``).

    >>> len(extended_request_id()), extended_request_id().endswith("=")
    (16, True)
    """
    return base64.b64encode(os.urandom(11)).decode("ascii")


def build_rest_event(
    request: HttpRequest,
    where: Route,
    *,
    stage: str,
    request_id: str,
    source_ip: str,
    now: float | None = None,
    region: str = "us-east-1",
    extended_id: str = "",
    identity: dict[str, Any] | None = None,
    scheme: str = "http",
    trace_header: str | None = None,
) -> dict[str, Any]:
    """Build the REST API proxy event API Gateway gives a function for ``request``.

    ``where`` is the request's :func:`route`; ``request_id`` is API
    Gateway's own (``requestContext.requestId``, the ``x-amzn-RequestId`` it
    answers with), not the invocation's; ``identity`` adds the caller's
    fields to ``requestContext.identity`` (an ``AWS_IAM`` method's);
    ``scheme`` is the connection's (``https`` on AWS, ``http`` here);
    ``trace_header`` the ``X-Amzn-Trace-Id`` the event carries.
    """
    now = time.time() if now is None else now
    dropped = hop_by_hop(request)
    multi: dict[str, list[str]] = {}
    sent_for: list[str] = []
    for name, value in request.headers:
        key = name.lower()
        if key in dropped or key in _SET_BY_GATEWAY:
            continue
        if key == "x-forwarded-for":
            sent_for.append(value)
            continue
        multi.setdefault(name, []).append(value)
    host = request.header("host")
    port = _DEFAULT_PORTS.get(scheme, "80")
    api_id = API_ID
    if host is None:  # HTTP/1.0 may omit it: the local API's name, as AWS would show it
        domain_name = f"{API_ID}.execute-api.{region}.amazonaws.com"
    else:
        domain_name = host
        hostname, _, host_port = host.rpartition(":") if _has_port(host) else (host, "", "")
        port = host_port or port
        named = _EXECUTE_API_HOST.fullmatch(hostname)
        if named:
            api_id = named.group(1).lower()
    # As AWS's load balancers document for X-Forwarded-For: the caller's
    # address appended to any the caller sent.
    multi["X-Forwarded-For"] = [", ".join([*sent_for, source_ip])]
    multi["X-Forwarded-Port"] = [port]
    multi["X-Forwarded-Proto"] = [scheme]
    if trace_header is not None:
        multi["X-Amzn-Trace-Id"] = [trace_header]
    headers = {name: values[-1] for name, values in multi.items()}
    user_agent = next((v for k, v in headers.items() if k.lower() == "user-agent"), None)
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    who: dict[str, Any] = dict.fromkeys(_IDENTITY_KEYS)
    who.update(sourceIp=source_ip, userAgent=user_agent, **(identity or {}))
    query, query_multi = _query_parameters(where.raw_query)
    event: dict[str, Any] = {
        "resource": where.resource,
        "path": where.path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": query_multi or None,
        "pathParameters": None if where.proxy is None else {"proxy": where.proxy},
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": api_id,
            "domainName": domain_name,
            "domainPrefix": api_id,
            "extendedRequestId": extended_id or extended_request_id(),
            "httpMethod": request.method,
            "identity": who,
            "path": where.stage_path,
            "protocol": f"HTTP/{request.http_version}",
            "requestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "resourceId": _RESOURCE_IDS[where.resource],
            "resourcePath": where.resource,
            "stage": stage,
        },
        "body": None,
        "isBase64Encoded": False,
    }
    if request.body:
        event["body"], event["isBase64Encoded"] = event_body(request.body, content_type)
    return event


def _has_port(host: str) -> bool:
    """Whether a Host value ends in ``:digits`` (not the inside of an IPv6 literal)."""
    name, sep, port = host.rpartition(":")
    return bool(sep) and port.isdigit() and (not name.startswith("[") or name.endswith("]"))


def _query_parameters(raw_query: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The decoded query as API Gateway passes it: last value, and every value.

    >>> _query_parameters("a=1&b=x+y&a=%2B&flag")
    ({'a': '+', 'b': 'x y', 'flag': ''}, {'a': ['1', '+'], 'b': ['x y'], 'flag': ['']})
    """
    multi: dict[str, list[str]] = {}
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        multi.setdefault(unquote_plus(name), []).append(unquote_plus(value))
    return {name: values[-1] for name, values in multi.items()}, multi
