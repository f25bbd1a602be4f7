"""HTTP events in, HTTP answers out: the entry points of a web app on Lambda (pure).

Four front ends call a function with an HTTP request, each in its own event
shape, and each wants its answer in its own shape:

========================  ==========================  =========================
entry point               event                       answer
========================  ==========================  =========================
Function URL              payload 2.0                 streamed (or buffered)
API Gateway REST API      payload 1.0, no version     streamed (or buffered)
API Gateway HTTP API      payload 2.0 (or 1.0)        buffered only
Application Load Balancer ``requestContext.elb``      buffered only
========================  ==========================  =========================

:func:`parse_event` turns any of them into one :class:`WebRequest`;
:func:`stream_prelude` and :func:`buffered_answer` turn a status, headers and
body back into what that entry point wants. No sockets, no framework: the
ASGI and WSGI adapters sit on top, and tests and fuzzers call these directly.

Whether a Function URL or a REST API streams cannot be told from its event
(a ``BUFFERED`` and a ``RESPONSE_STREAM`` Function URL send the same one):
they stream unless told otherwise, through ``response_mode="buffered"`` or
``LAMBDASTREAM_RESPONSE_MODE=buffered``. HTTP APIs and load balancers call
``Invoke`` and always get a buffered answer.

Example::

    >>> event = {"version": "2.0", "rawPath": "/a%20b", "rawQueryString": "x=1",
    ...          "headers": {"host": "abc.lambda-url.us-east-1.on.aws"},
    ...          "cookies": ["s=1"],
    ...          "requestContext": {"http": {"method": "GET", "sourceIp": "1.2.3.4"},
    ...                             "domainName": "abc.lambda-url.us-east-1.on.aws"}}
    >>> request = parse_event(event)
    >>> request.entry, request.method, request.path, request.raw_path, request.streams
    ('url', 'GET', '/a b', b'/a%20b', True)
    >>> request.headers
    [(b'host', b'abc.lambda-url.us-east-1.on.aws'), (b'cookie', b's=1')]
    >>> stream_prelude(request, 200, [(b"set-cookie", b"t=2"), (b"content-type", b"text/plain")])
    b'{"statusCode":200,"headers":{"content-type":"text/plain"},"cookies":["t=2"]}'
"""

import os

from lambdastream.runtime.marshal import compact_json

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterable
    from typing import Any

    Headers = list[tuple[bytes, bytes]]

# The entry points, as WebRequest.entry names them.
FUNCTION_URL = "url"
REST_API = "rest"
HTTP_API = "http-api"
ALB = "alb"
_STREAMING_ENTRIES = (FUNCTION_URL, REST_API)
RESPONSE_MODE_ENV = "LAMBDASTREAM_RESPONSE_MODE"
RESPONSE_MODES = ("stream", "buffered")
# Function URL ids are 32 lowercase alphanumerics; HTTP API ids are 10.
_FUNCTION_URL_ID_LENGTH = 32
_DEFAULT_PORTS = {"https": 443, "http": 80}
# Bodies of these types are sent as text in a buffered answer; anything
# else (and anything content-encoded) as base64, so that no byte is lost.
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")
_TEXT_SUFFIXES = ("+json", "+xml")


class InvalidEvent(ValueError):
    """The event is not an HTTP request from an entry point this adapter knows.

    Raised before the app sees anything: the invocation fails with this
    error type, and the next one starts clean.
    """


class WebRequest:
    """One HTTP request, whichever entry point it came through.

    ``path`` is percent-decoded, ``raw_path`` the bytes as sent (None when
    the entry point does not keep them); ``headers`` are lower-cased
    ``(name, value)`` byte pairs in ASGI's form, cookies included as one
    ``cookie`` header; ``root_path`` is the API stage or base path the
    front end put in front of the app's routes ("" for none).
    """

    __slots__ = (
        "body",
        "client",
        "entry",
        "headers",
        "method",
        "multi_value",
        "path",
        "query_string",
        "raw_path",
        "root_path",
        "scheme",
        "server",
        "streams",
        "version",
    )

    def __init__(self, entry: str) -> None:
        self.entry = entry
        self.method = "GET"
        self.path = "/"
        self.raw_path: bytes | None = None
        self.root_path = ""
        self.query_string = b""
        self.headers: Headers = []
        self.body = b""
        self.client: tuple[str, int] | None = None
        self.server: tuple[str, int] | None = None
        self.scheme = "https"
        self.streams = False
        # Whether the event used multi-value fields (ALB answers in kind).
        self.multi_value = False
        # The payload format version: "2.0", or "1.0" (REST, ALB, HTTP API 1.0).
        self.version = "1.0"

    def header(self, name: bytes) -> "bytes | None":
        """The first value of header ``name`` (lower-case), or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None


def parse_event(event: "Any", response_mode: "str | None" = None) -> WebRequest:
    """Return the :class:`WebRequest` in ``event``; raise :class:`InvalidEvent` if none.

    ``response_mode`` ("stream" or "buffered", default from
    ``$LAMBDASTREAM_RESPONSE_MODE``, else "stream") decides how a Function
    URL or REST API request is answered.
    """
    if not isinstance(event, dict):
        raise InvalidEvent(
            f"expected an HTTP event (a JSON object) from a Function URL, API Gateway or a load"
            f" balancer, got {type(event).__name__}"
        )
    context = event.get("requestContext")
    if not isinstance(context, dict):
        raise InvalidEvent(_not_http(event))
    try:
        if "elb" in context:
            request = _parse_v1(event, context, ALB)
        elif event.get("version") == "2.0":
            request = _parse_v2(event, context)
        elif "httpMethod" in event:
            entry = HTTP_API if event.get("version") == "1.0" else REST_API
            request = _parse_v1(event, context, entry)
        else:
            raise InvalidEvent(_not_http(event))
        request.body = _body(event)
    except UnicodeError as exc:  # a lone surrogate (JSON "\ud800") has no bytes
        raise InvalidEvent(f"the event holds text that is not valid Unicode: {exc}") from None
    mode = response_mode or os.environ.get(RESPONSE_MODE_ENV) or "stream"
    if mode not in RESPONSE_MODES:
        raise InvalidEvent(f"response mode must be 'stream' or 'buffered', not {mode!r}")
    request.streams = mode == "stream" and request.entry in _STREAMING_ENTRIES
    return request


def _not_http(event: "dict[str, Any]") -> str:
    keys = ", ".join(sorted(str(k) for k in event)[:8]) or "none"
    return (
        "the event is not an HTTP request from a Function URL, API Gateway or a load balancer"
        f" (its keys: {keys})"
    )


def _parse_v2(event: "dict[str, Any]", context: "dict[str, Any]") -> WebRequest:
    http = context.get("http")
    if not isinstance(http, dict) or not isinstance(http.get("method"), str):
        raise InvalidEvent("a payload 2.0 event without requestContext.http.method")
    domain = str(context.get("domainName") or "")
    api_id = str(context.get("apiId") or "")
    is_url = ".lambda-url." in domain or len(api_id) == _FUNCTION_URL_ID_LENGTH
    request = WebRequest(FUNCTION_URL if is_url else HTTP_API)
    request.version = "2.0"
    request.method = http["method"].upper()
    _set_path(request, _text(event.get("rawPath") or http.get("path") or "/", "rawPath"))
    _stage_in_path(request, context)
    request.query_string = _text(event.get("rawQueryString") or "", "rawQueryString").encode()
    headers = _header_pairs(event.get("headers"), "headers")
    cookies = event.get("cookies")
    if cookies:
        if not isinstance(cookies, list):
            raise InvalidEvent("cookies must be a list of strings")
        # Payload 2.0 moves the Cookie header into `cookies`; some events
        # carry both (aws-lambda-go#597), and the app must see it once.
        if not any(name == b"cookie" for name, _ in headers):
            headers.append((b"cookie", _latin1("; ".join(str(c) for c in cookies))))
    request.headers = headers
    source_ip = http.get("sourceIp")
    request.client = (str(source_ip), 0) if source_ip else None
    _set_server(request)
    return request


def _parse_v1(event: "dict[str, Any]", context: "dict[str, Any]", entry: str) -> WebRequest:
    request = WebRequest(entry)
    method = event.get("httpMethod")
    if not isinstance(method, str) or not method:
        raise InvalidEvent("an API Gateway or load balancer event without httpMethod")
    request.method = method.upper()
    # The path as the client sent it, percent-encoded (recorded on AWS:
    # `/user/test%2Balias@gmail.com`, localstack#7728).
    raw = _text(event.get("path") or "/", "path")
    if entry == REST_API:
        # Through the execute-api URL, `path` lacks the stage and
        # requestContext.path has it: the stage is the app's root path.
        full = context.get("path")
        if isinstance(full, str) and len(full) > len(raw) and full.endswith(raw):
            root = full[: len(full) - len(raw)]
            if root.startswith("/") and not root.endswith("/"):
                request.root_path = _unquote(root)
                raw = full
    _set_path(request, raw)
    if entry == HTTP_API:
        _stage_in_path(request, context)
    multi_headers = event.get("multiValueHeaders")
    if isinstance(multi_headers, dict):
        request.multi_value = True
        request.headers = _multi_header_pairs(multi_headers)
    else:
        request.headers = _header_pairs(event.get("headers"), "headers")
    request.query_string = _query_v1(event, encoded=entry == ALB)
    identity = context.get("identity")
    source_ip = identity.get("sourceIp") if isinstance(identity, dict) else None
    if source_ip is None:
        forwarded = request.header(b"x-forwarded-for")
        source_ip = forwarded.decode("latin-1").split(",")[0].strip() if forwarded else None
    request.client = (str(source_ip), 0) if source_ip else None
    _set_server(request)
    return request


def _set_path(request: WebRequest, path: str) -> None:
    """Set ``path`` (decoded) and ``raw_path`` (encoded) from the event's path.

    Function URLs, REST APIs and load balancers pass the path as the client
    sent it, percent-encoded; HTTP APIs pass it already decoded (live
    captures: hotsock/voker#8), so it is not decoded twice there.
    """
    if request.entry == HTTP_API:
        from urllib.parse import quote

        request.path = path
        request.raw_path = quote(path, safe="/:@!$&'()*+,;=-._~").encode("ascii")
    else:
        request.path = _unquote(path)
        request.raw_path = path.encode("utf-8")


def _stage_in_path(request: WebRequest, context: "dict[str, Any]") -> None:
    # An HTTP API's named stage is part of the path; the app's routes are not.
    stage = context.get("stage")
    if isinstance(stage, str) and stage and stage != "$default":
        prefix = "/" + stage
        if request.path == prefix or request.path.startswith(prefix + "/"):
            request.root_path = prefix


def _set_server(request: WebRequest) -> None:
    proto = request.header(b"x-forwarded-proto")
    request.scheme = proto.decode("latin-1").split(",")[0].strip().lower() if proto else "https"
    if request.scheme not in _DEFAULT_PORTS:
        request.scheme = "https"
    host = request.header(b"host")
    port_header = request.header(b"x-forwarded-port")
    port = _DEFAULT_PORTS[request.scheme]
    if port_header and port_header.strip().isdigit() and len(port_header.strip()) <= 5:
        port = int(port_header)
    if host:
        name = host.decode("latin-1")
        if name.startswith("["):  # [v6]:port
            name = name[1 : name.find("]")] if "]" in name else name
        else:
            name = name.rpartition(":")[0] if ":" in name else name
        request.server = (name, port)


def _body(event: "dict[str, Any]") -> bytes:
    body = event.get("body")
    if body is None or body == "":
        return b""
    if not isinstance(body, str):
        raise InvalidEvent(f"body must be a string, not {type(body).__name__}")
    if event.get("isBase64Encoded"):
        import base64

        try:
            return base64.b64decode(body, validate=True)
        except ValueError as exc:  # binascii.Error, or a character that is not ASCII
            raise InvalidEvent(
                f"isBase64Encoded is true but the body is not base64: {exc}"
            ) from None
    return body.encode("utf-8")


def _text(value: "Any", name: str) -> str:
    if not isinstance(value, str):
        raise InvalidEvent(f"{name} must be a string, not {type(value).__name__}")
    return value


def _latin1(text: str) -> bytes:
    # HTTP header values are Latin-1 on the wire; anything else AWS passed
    # on (UTF-8 in a JSON string) is kept as UTF-8, as uvicorn receives it.
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _header_pairs(headers: "Any", name: str) -> "Headers":
    if headers is None:
        return []
    if not isinstance(headers, dict):
        raise InvalidEvent(f"{name} must be an object, not {type(headers).__name__}")
    return [(_latin1(str(k).lower()), _latin1(str(v))) for k, v in headers.items() if v is not None]


def _multi_header_pairs(headers: "dict[str, Any]") -> "Headers":
    pairs: Headers = []
    for key, values in headers.items():
        name = _latin1(str(key).lower())
        for value in values if isinstance(values, list) else [values]:
            if value is not None:
                pairs.append((name, _latin1(str(value))))
    return pairs


def _query_v1(event: "dict[str, Any]", encoded: bool) -> bytes:
    """The query string of a payload 1.0 event.

    API Gateway gives the parameters decoded (their order lost), so they are
    encoded again; a load balancer gives them as the client sent them.
    """
    multi = event.get("multiValueQueryStringParameters")
    single = event.get("queryStringParameters")
    pairs: list[tuple[str, str]] = []
    if isinstance(multi, dict) and multi:
        for key, values in multi.items():
            for value in values if isinstance(values, list) else [values]:
                pairs.append((str(key), "" if value is None else str(value)))
    elif isinstance(single, dict) and single:
        pairs = [(str(k), "" if v is None else str(v)) for k, v in single.items()]
    if not pairs:
        return b""
    if encoded:
        return "&".join(f"{k}={v}" if v else k for k, v in pairs).encode("utf-8")
    from urllib.parse import urlencode

    return urlencode(pairs).encode("ascii")


def _unquote(path: str) -> str:
    if "%" not in path:
        return path
    from urllib.parse import unquote

    return unquote(path)


# -- answers ------------------------------------------------------------------------


def split_headers(
    headers: "Iterable[tuple[bytes, bytes]]",
) -> "tuple[dict[str, list[str]], list[str]]":
    """Group an app's response headers by lower-cased name; Set-Cookie apart.

    >>> split_headers([(b"X-A", b"1"), (b"x-a", b"2"), (b"Set-Cookie", b"s=1")])
    ({'x-a': ['1', '2']}, ['s=1'])
    """
    grouped: dict[str, list[str]] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = (name.decode("latin-1") if isinstance(name, bytes) else str(name)).lower()
        text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        if key == "set-cookie":
            cookies.append(text)
        else:
            grouped.setdefault(key, []).append(text)
    return grouped, cookies


def stream_prelude(
    request: WebRequest, status: int, headers: "Iterable[tuple[bytes, bytes]]"
) -> bytes:
    """The JSON of the HTTP integration prelude (without its delimiter).

    A Function URL takes ``statusCode``, ``headers`` (repeated ones joined
    with commas) and ``cookies``; a REST API also ``multiValueHeaders``,
    which carries repeated headers and every Set-Cookie, one value each.

    >>> rest = WebRequest(REST_API)
    >>> stream_prelude(rest, 200, [(b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")])
    b'{"statusCode":200,"headers":{},"multiValueHeaders":{"set-cookie":["a=1","b=2"]}}'
    """
    grouped, cookies = split_headers(headers)
    meta: dict[str, Any] = {"statusCode": status}
    if request.entry == REST_API:
        single = {k: v[0] for k, v in grouped.items() if len(v) == 1}
        multi = {k: v for k, v in grouped.items() if len(v) > 1}
        if cookies:
            multi["set-cookie"] = cookies
        meta["headers"] = single
        if multi:
            meta["multiValueHeaders"] = multi
    else:
        meta["headers"] = {k: ", ".join(v) for k, v in grouped.items()}
        if cookies:
            meta["cookies"] = cookies
    return compact_json(meta).encode()


def buffered_answer(
    request: WebRequest, status: int, headers: "Iterable[tuple[bytes, bytes]]", body: bytes
) -> "dict[str, Any]":
    """The JSON object a buffered entry point turns into the HTTP response.

    >>> alb = WebRequest(ALB)
    >>> buffered_answer(alb, 404, [(b"content-type", b"text/plain")], b"no")["statusDescription"]
    '404 Not Found'
    """
    grouped, cookies = split_headers(headers)
    text = _is_text(grouped)
    if text:
        try:
            payload, is_b64 = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text = False
    if not text:
        import binascii

        payload, is_b64 = binascii.b2a_base64(body, newline=False).decode("ascii"), True
    answer: dict[str, Any] = {"statusCode": status}
    if request.entry == ALB:
        answer["statusDescription"] = f"{status} {_reason(status)}".rstrip()
    if request.entry == ALB:
        if request.multi_value:
            answer["multiValueHeaders"] = {
                **grouped,
                **({"set-cookie": cookies} if cookies else {}),
            }
        else:
            # One value per name: only one Set-Cookie can be carried.
            answer["headers"] = {k: ", ".join(v) for k, v in grouped.items()}
            if cookies:
                answer["headers"]["set-cookie"] = cookies[-1]
    elif request.version == "2.0":
        answer["headers"] = {k: ", ".join(v) for k, v in grouped.items()}
        if cookies:
            answer["cookies"] = cookies
    else:
        multi = {**grouped, **_cookie_field(cookies)}
        answer["headers"] = {k: v[0] for k, v in multi.items() if len(v) == 1}
        answer["multiValueHeaders"] = {k: v for k, v in multi.items() if len(v) > 1}
    answer["body"] = payload
    answer["isBase64Encoded"] = is_b64
    return answer


def _cookie_field(cookies: "list[str]") -> "dict[str, list[str]]":
    return {"set-cookie": cookies} if cookies else {}


def _is_text(headers: "dict[str, list[str]]") -> bool:
    if headers.get("content-encoding"):
        return False
    content_type = (headers.get("content-type") or [""])[0].lower().split(";")[0].strip()
    if not content_type:
        return True
    return content_type.startswith(_TEXT_TYPES) or content_type.endswith(_TEXT_SUFFIXES)


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
