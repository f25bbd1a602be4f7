"""HTTP events in, HTTP answers out: ``lambdastream.runtime.web_event`` on real events.

The events are real samples (``fixtures/web_events``), each cited where it is
loaded: AWS documentation samples, events captured from AWS by the AWS SDK
teams (aws-lambda-go ``lambdaurl/testdata``), LocalStack's snapshots recorded
against AWS, and the fixtures of the Go and Rust runtimes and of Powertools.
Where a test changes a sample, the change is named next to it.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambdastream.runtime.web_event import (
    ALB,
    FUNCTION_URL,
    HTTP_API,
    RESPONSE_MODE_ENV,
    REST_API,
    InvalidEvent,
    WebRequest,
    buffered_answer,
    parse_event,
    stream_prelude,
)

FIXTURES = Path(__file__).parent / "fixtures" / "web_events"

# file -> the entry point it comes through. Where each file comes from:
SAMPLES = {
    # AWS Lambda Developer Guide, "Request payload format",
    # https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads
    # (awsdocs/aws-lambda-developer-guide doc_source/urls-invocation.md)
    "url_aws_doc.json": FUNCTION_URL,
    # Captured from a real Function URL with awscurl: aws/aws-lambda-go
    # lambdaurl/testdata/function-url-request-with-headers-and-cookies-and-text-body.json
    # (made by lambdaurl/testdata/gen-events.sh; account ids redacted there)
    "url_captured_cookies.json": FUNCTION_URL,
    # Same capture script: aws/aws-lambda-go
    # lambdaurl/testdata/function-url-domain-only-get-request.json
    "url_captured_get.json": FUNCTION_URL,
    # The REST proxy sample of the API Gateway Developer Guide (set-up-lambda-proxy-integrations,
    # "Input format"), as awslabs/aws-lambda-rust-runtime keeps it with requestContext.path:
    # lambda-events/src/fixtures/example-apigw-request.json
    "rest_aws_doc.json": REST_API,
    # `sam local generate-event apigateway aws-proxy` with its defaults (stage prod, path
    # path/to/resource): aws/aws-sam-cli samcli/lib/generated_sample_events/events/apigateway/
    # AwsProxy.json rendered with event-mapping.json's defaults,
    # queryStringParameters {"foo": "bar"}
    "rest_sam_aws_proxy.json": REST_API,
    # LocalStack's snapshot recorded against AWS on 2024-08-02: localstack/localstack
    # tests/aws/services/apigateway/test_apigateway_lambda.snapshot.json,
    # test_lambda_aws_proxy_integration, "invocation-payload-with-path-encoded-email"
    # (LocalStack's placeholders such as <host:1> kept as recorded)
    "rest_recorded_path_encoded.json": REST_API,
    # Same snapshot, "invocation-payload-with-params-encoding"
    "rest_recorded_query_encoded.json": REST_API,
    # Same snapshot, "invocation-payload-with-params-encoding-multi"; the snapshot stores the
    # JSON body parsed, so `body` is put back as the string the test sent (json.dumps)
    "rest_recorded_multi_query.json": REST_API,
    # API Gateway Developer Guide, HTTP API payload 2.0 sample,
    # https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
    # (awsdocs/amazon-api-gateway-developer-guide
    # doc_source/http-api-develop-integrations-lambda.md)
    "http_v2_aws_doc.json": HTTP_API,
    # aws/aws-lambda-go events/testdata/apigw-v2-request-no-authorizer.json
    "http_v2_no_authorizer.json": HTTP_API,
    # awslabs/aws-lambda-rust-runtime
    # lambda-http/tests/data/apigw_v2_proxy_request_with_stage_in_path.json
    "http_v2_stage_in_path.json": HTTP_API,
    # The payload 1.0 sample of the same HTTP API page as http_v2_aws_doc.json
    "http_v1_aws_doc.json": HTTP_API,
    # awslabs/aws-lambda-rust-runtime
    # lambda-events/src/fixtures/example-alb-lambda-target-request-headers-only.json
    "alb_headers_only.json": ALB,
    # awslabs/aws-lambda-rust-runtime
    # lambda-events/src/fixtures/example-alb-lambda-target-request-multivalue-headers.json
    "alb_multivalue.json": ALB,
    # awslabs/aws-lambda-rust-runtime
    # lambda-http/tests/data/alb_multi_value_request_encoded_query_parameters.json
    "alb_encoded_query.json": ALB,
    # awslabs/aws-lambda-rust-runtime lambda-http/tests/data/alb_health_check.json (the ELB user
    # guide's health-check event: https://docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html)
    "alb_health_check.json": ALB,
}
NOT_HTTP_SAMPLES = [
    # aws/aws-lambda-go events/testdata/sqs-event.json
    "not_http_sqs.json",
    # aws-powertools/powertools-lambda-python tests/events/eventBridgeEvent.json
    "not_http_eventbridge.json",
    # aws-powertools/powertools-lambda-python tests/events/apiGatewayWebSocketApiConnect.json
    "not_http_websocket_connect.json",
    # aws/aws-lambda-go events/testdata/cloudfront-request.json
    # (Lambda@Edge; its `origin` block dropped)
    "not_http_cloudfront_edge.json",
]


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


_CACHE = {name: load(name) for name in [*SAMPLES, *NOT_HTTP_SAMPLES]}


def sample(name: str) -> Any:
    """A fresh copy of a sample, free to change."""
    return copy.deepcopy(_CACHE[name])


def parse(event: Any, mode: str | None = "stream") -> WebRequest:
    return parse_event(event, mode)


def values(request: WebRequest, name: bytes) -> list[bytes]:
    return [value for key, value in request.headers if key == name]


STREAMING = (FUNCTION_URL, REST_API)


def _parses_or_refuses(event: Any) -> None:
    """parse_event returns a sound WebRequest or raises InvalidEvent: nothing else."""
    try:
        request = parse_event(event, "stream")
    except InvalidEvent:
        return
    assert isinstance(request, WebRequest)
    assert request.entry in (FUNCTION_URL, REST_API, HTTP_API, ALB)
    assert isinstance(request.body, bytes) and isinstance(request.query_string, bytes)
    assert all(isinstance(k, bytes) and isinstance(v, bytes) for k, v in request.headers)


# -- detection ------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "entry"), SAMPLES.items())
def test_each_sample_maps_to_its_entry_point(name, entry, monkeypatch):
    monkeypatch.delenv(RESPONSE_MODE_ENV, raising=False)
    request = parse_event(sample(name))
    assert request.entry == entry
    # Function URLs and REST APIs stream by default; HTTP APIs and load balancers never do.
    assert request.streams is (entry in STREAMING)


@pytest.mark.parametrize(("name", "entry"), SAMPLES.items())
def test_buffered_mode_turns_streaming_off(name, entry, monkeypatch):
    monkeypatch.delenv(RESPONSE_MODE_ENV, raising=False)
    assert parse_event(sample(name), "buffered").streams is False
    assert parse_event(sample(name), "stream").streams is (entry in STREAMING)
    monkeypatch.setenv(RESPONSE_MODE_ENV, "buffered")
    assert parse_event(sample(name)).streams is False
    # The argument wins over the environment.
    assert parse_event(sample(name), "stream").streams is (entry in STREAMING)
    monkeypatch.setenv(RESPONSE_MODE_ENV, "stream")
    assert parse_event(sample(name)).streams is (entry in STREAMING)


def test_an_unknown_response_mode_is_refused(monkeypatch):
    with pytest.raises(InvalidEvent, match="buffered"):
        parse_event(sample("url_aws_doc.json"), "chunked")
    monkeypatch.setenv(RESPONSE_MODE_ENV, "everything")
    with pytest.raises(InvalidEvent, match="everything"):
        parse_event(sample("url_aws_doc.json"))


@pytest.mark.parametrize(
    "event",
    [
        *(pytest.param(load(name), id=name) for name in NOT_HTTP_SAMPLES),
        pytest.param({}, id="empty-object"),
        pytest.param([load("url_aws_doc.json")], id="list"),
        pytest.param("GET / HTTP/1.1", id="string"),
        pytest.param(None, id="null"),
        pytest.param(42, id="number"),
        pytest.param({"requestContext": {}}, id="empty-requestContext"),
        pytest.param({"version": "2.0", "requestContext": {"http": {}}}, id="v2-without-method"),
        pytest.param({"httpMethod": "GET", "requestContext": "x"}, id="requestContext-string"),
    ],
)
def test_anything_else_is_an_invalid_event(event):
    with pytest.raises(InvalidEvent) as caught:
        parse_event(event, "stream")
    assert type(caught.value) is InvalidEvent
    message = str(caught.value)
    assert "HTTP" in message or "http" in message
    assert len(message) < 400


def test_the_invalid_event_message_names_the_keys_it_got():
    with pytest.raises(InvalidEvent, match=r"Records"):
        parse_event(load("not_http_sqs.json"))
    with pytest.raises(InvalidEvent, match=r"got list"):
        parse_event([])


# -- Function URL -----------------------------------------------------------------------


def test_function_url_aws_doc_sample():
    request = parse(sample("url_aws_doc.json"))
    assert (request.entry, request.version, request.method) == (FUNCTION_URL, "2.0", "POST")
    assert request.path == "/my/path"
    assert request.raw_path == b"/my/path"
    assert request.root_path == ""  # stage "$default" is a placeholder
    assert request.query_string == b"parameter1=value1&parameter1=value2&parameter2=value"
    assert request.headers == [
        (b"header1", b"value1"),
        (b"header2", b"value1,value2"),  # a comma-joined repeat stays one header
        (b"cookie", b"cookie1; cookie2"),
    ]
    assert request.client == ("123.123.123.123", 0)
    assert request.server is None  # this sample has no host header
    assert request.scheme == "https"
    assert request.body == b"Hello from client!"


def test_function_url_captured_get():
    request = parse(sample("url_captured_get.json"))
    assert (request.method, request.path, request.raw_path) == ("GET", "/", b"/")
    assert request.query_string == b""
    assert request.body == b""
    assert request.server == ("lambda-url-id.lambda-url.us-west-2.on.aws", 443)
    assert request.scheme == "https"
    assert request.client == ("205.251.233.183", 0)
    assert all(name == name.lower() and isinstance(name, bytes) for name, _ in request.headers)
    assert values(request, b"cookie") == []


def test_function_url_captured_post_with_cookies():
    request = parse(sample("url_captured_cookies.json"))
    assert (request.method, request.path) == ("POST", "/hello")
    assert request.query_string == b"hello=world&foo=bar"
    assert request.body == b'{"hello": "world"}'
    assert values(request, b"header2") == [b"h1,h2"]
    assert request.header(b"content-type") == b"application/json"


def test_function_url_cookies_become_one_cookie_header():
    """A real Function URL event carries the cookies twice, in ``cookies`` and in ``headers``.

    Captured with awscurl by aws-lambda-go (lambdaurl/testdata/gen-events.sh sends
    ``Cookie: foo=bar; hello=hello``): the event has ``"cookie": "foo=bar; hello=hello"``
    in ``headers`` *and* ``"cookies": ["foo=bar", "hello=hello"]``. Same report in
    aws/aws-lambda-web-adapter#121, fixed in awslabs/aws-lambda-rust-runtime#586.
    The app must see the cookies once.
    """
    request = parse(sample("url_captured_cookies.json"))
    assert values(request, b"cookie") == [b"foo=bar; hello=hello"]


def test_function_url_path_is_decoded_and_raw_path_kept():
    # url_captured_get.json with rawPath changed: Function URLs keep the path encoded
    # as the client sent it (aws-lambda-go lambdaurl decodes it with url.Parse).
    event = sample("url_captured_get.json")
    event["rawPath"] = "/caf%C3%A9/a%20b/x%2Fy"
    event["requestContext"]["http"]["path"] = "/caf%C3%A9/a%20b/x%2Fy"
    request = parse(event)
    assert request.path == "/café/a b/x/y"
    assert request.raw_path == b"/caf%C3%A9/a%20b/x%2Fy"


# -- REST API ---------------------------------------------------------------------------


def test_rest_aws_doc_sample():
    request = parse(sample("rest_aws_doc.json"))
    assert (request.entry, request.version, request.method) == (REST_API, "1.0", "POST")
    # requestContext.path equals path here: no stage prefix to find.
    assert (request.path, request.root_path) == ("/hello/world", "")
    assert request.raw_path == b"/hello/world"
    assert request.query_string == b"name=me"
    # multiValueHeaders, one pair per value, names lower-cased.
    assert len(request.headers) == len(sample("rest_aws_doc.json")["multiValueHeaders"])
    assert all(name == name.lower() for name, _ in request.headers)
    assert values(request, b"x-forwarded-for") == [b"54.240.196.186, 54.182.214.83"]
    assert request.client == ("192.168.196.186", 0)  # requestContext.identity.sourceIp
    assert request.server == ("gy415nuibc.execute-api.us-east-1.amazonaws.com", 443)
    assert request.scheme == "https"
    assert request.body == b'{\r\n\t"a": 1\r\n}'


def test_rest_execute_api_url_puts_the_stage_in_root_path():
    # Through the execute-api URL, `path` lacks the stage and requestContext.path has it.
    request = parse(sample("rest_sam_aws_proxy.json"))
    assert request.root_path == "/prod"
    assert request.path == "/prod/path/to/resource"
    assert request.raw_path == b"/prod/path/to/resource"
    assert request.query_string == b"foo=bar"
    assert request.body == b'{"test":"body"}'  # isBase64Encoded: true
    assert request.client == ("127.0.0.1", 0)


# Captures from a real REST API, trimmed by their author, in
# aws-powertools/powertools-lambda-python#579 (comment of 2021-08-18).
POWERTOOLS_579_DIRECT = {
    "resource": "/payment",
    "path": "/payment/",
    "httpMethod": "GET",
    "requestContext": {
        "resourcePath": "/payment",
        "path": "/default/payment/",
        "stage": "default",
        "domainPrefix": "qeo6tqt75i",
        "domainName": "qeo6tqt75i.execute-api.eu-west-1.amazonaws.com",
    },
}
POWERTOOLS_579_CUSTOM_DOMAIN = {
    "path": "/v1/payment",
    "resource": "/payment",
    "httpMethod": "GET",
    "requestContext": {
        "resourcePath": "/payment",
        "path": "/v1/payment",
        "stage": "default",
        "domainPrefix": "api",
        "domainName": "api.serverlessa.dev",
    },
}


def test_rest_stage_from_a_real_capture():
    request = parse(copy.deepcopy(POWERTOOLS_579_DIRECT))
    assert (request.root_path, request.path) == ("/default", "/default/payment/")


def test_rest_custom_domain_keeps_the_base_path_in_path():
    # Through a custom domain both paths carry the base path: nothing to strip.
    request = parse(copy.deepcopy(POWERTOOLS_579_CUSTOM_DOMAIN))
    assert (request.root_path, request.path) == ("", "/v1/payment")


def test_rest_recorded_stage():
    request = parse(sample("rest_recorded_multi_query.json"))
    assert request.root_path == "/stage"
    assert request.path == "/stage/proxy-value"


def test_rest_path_is_percent_decoded():
    """REST API ``path`` arrives percent-encoded, as the client sent it.

    Recorded against AWS (LocalStack snapshot, "invocation-payload-with-path-encoded-email"):
    a GET of ``/stage/proxy-value/api/user/test%2Balias@gmail.com/plus/test+alias@gmail.com``
    gives ``"path": "/proxy-value/api/user/test%2Balias@gmail.com/..."`` and
    ``requestContext.path`` ``"/stage/proxy-value/api/user/test%2Balias@gmail.com/..."``.
    ASGI wants ``path`` decoded and ``raw_path`` as sent.
    """
    request = parse(sample("rest_recorded_path_encoded.json"))
    assert request.root_path == "/stage"
    assert request.path == (
        "/stage/proxy-value/api/user/test+alias@gmail.com/plus/test+alias@gmail.com"
    )
    assert request.raw_path == (
        b"/stage/proxy-value/api/user/test%2Balias@gmail.com/plus/test+alias@gmail.com"
    )


def test_rest_query_string_is_rebuilt_from_the_decoded_parameters():
    request = parse(sample("rest_recorded_query_encoded.json"))
    assert parse_qsl(request.query_string.decode("ascii"), keep_blank_values=True) == [
        ("dateTimeOffset", "2023-06-12T18:05:10.123456 00:00"),
        ("email", "test+alias@gmail.com"),
        ("plus", "test alias@gmail.com"),
        ("url", "https://www.google.com/"),
        ("whitespace", "foo bar"),
        ("zhash", "abort/"),
    ]


def test_rest_query_string_keeps_every_value():
    request = parse(sample("rest_recorded_multi_query.json"))
    assert parse_qsl(request.query_string.decode("ascii")) == [
        ("category", "electronics"),
        ("category", "books"),
        ("price", "10"),
        ("price", "20"),
        ("price", "30"),
    ]
    assert request.method == "POST"
    assert request.body == b'{"message": "hello world"}'
    assert request.header(b"content-type") == b"application/json;charset=utf-8"
    # LocalStack's placeholder "<X-Forwarded-Port>" is no port: the default one stays.
    assert request.server is not None and request.server[1] == 443


def test_rest_without_multi_value_fields_reads_the_single_ones():
    event = sample("rest_aws_doc.json")
    del event["multiValueHeaders"], event["multiValueQueryStringParameters"]
    request = parse(event)
    assert request.header(b"host") == b"gy415nuibc.execute-api.us-east-1.amazonaws.com"
    assert request.query_string == b"name=me"


# -- HTTP API ---------------------------------------------------------------------------


def test_http_api_v2_aws_doc_sample():
    request = parse(sample("http_v2_aws_doc.json"))
    assert (request.entry, request.version, request.method) == (HTTP_API, "2.0", "POST")
    assert (request.path, request.raw_path, request.root_path) == ("/my/path", b"/my/path", "")
    assert request.query_string == b"parameter1=value1&parameter1=value2&parameter2=value"
    assert request.headers == [
        (b"header1", b"value1"),
        (b"header2", b"value1,value2"),
        (b"cookie", b"cookie1; cookie2"),
    ]
    assert request.client == ("IP", 0)
    assert request.body == b"Hello from Lambda"


def test_http_api_v2_without_authorizer():
    request = parse(sample("http_v2_no_authorizer.json"))
    assert request.server == ("aaaaaaaaaa.execute-api.us-west-2.amazonaws.com", 443)
    assert request.client == ("1.2.3.4", 0)
    assert (request.path, request.root_path, request.body) == ("/", "", b"")


def test_http_api_named_stage_is_the_root_path():
    request = parse(sample("http_v2_stage_in_path.json"))
    assert request.root_path == "/Prod"
    assert request.path == "/Prod/my/path"
    assert request.raw_path == b"/Prod/my/path"


# A real HTTP API 2.0 event on stage "dev", trimmed: logandk/serverless-wsgi#191.
SERVERLESS_WSGI_191 = {
    "version": "2.0",
    "routeKey": "ANY /agents/{proxy+}",
    "rawPath": "/dev/agents/1234",
    "rawQueryString": "",
    "headers": {
        "content-length": "0",
        "host": "xxxxxxxx.execute-api.us-east-1.amazonaws.com",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    },
    "requestContext": {
        "domainName": "xxxxxxxx.execute-api.us-east-1.amazonaws.com",
        "http": {"method": "GET", "path": "/dev/agents/1234", "sourceIp": "1.2.3.4"},
        "stage": "dev",
    },
}


def test_http_api_named_stage_from_a_real_capture():
    request = parse(copy.deepcopy(SERVERLESS_WSGI_191))
    assert request.entry == HTTP_API
    assert (request.root_path, request.path) == ("/dev", "/dev/agents/1234")


def test_http_api_stage_must_be_a_whole_segment():
    event = sample("http_v2_stage_in_path.json")
    event["rawPath"] = "/Production/x"  # starts with "/Prod" but is not under it
    assert parse(event).root_path == ""


def test_http_api_v1_aws_doc_sample():
    request = parse(sample("http_v1_aws_doc.json"))
    assert (request.entry, request.version, request.method) == (HTTP_API, "1.0", "GET")
    assert (request.path, request.root_path) == ("/my/path", "")
    assert values(request, b"header2") == [b"value1", b"value2"]  # one pair per value
    assert parse_qsl(request.query_string.decode("ascii")) == [
        ("parameter1", "value1"),
        ("parameter1", "value2"),
        ("parameter2", "value"),
    ]
    assert request.client == ("IP", 0)
    assert request.body == b"Hello from Lambda!"


def test_http_api_v1_named_stage_is_the_root_path_too():
    """HTTP API payload 1.0 on a named stage keeps the stage in ``path``, as 2.0 does in rawPath.

    Captures: dougmoscrop/serverless-http#143 (``path: '/dev/test'``,
    ``requestContext: {resourcePath: '/test', stage: 'dev'}``), and jeremydaly/lambda-api#136
    ("the path includes the stage"). The 2.0 event of the same API gets ``root_path`` "/dev"
    (test above); the 1.0 event should too.
    """
    event = sample("http_v1_aws_doc.json")  # the AWS sample, moved to stage "dev"
    event["path"] = "/dev/my/path"
    event["requestContext"]["path"] = "/dev/my/path"
    event["requestContext"]["stage"] = "dev"
    request = parse(event)
    assert (request.root_path, request.path) == ("/dev", "/dev/my/path")


@pytest.mark.parametrize("version", ["2.0", "1.0"])
def test_an_http_apis_path_arrives_decoded_and_is_not_decoded_again(version):
    """HTTP APIs hand over the path already percent-decoded (``rawPath`` in 2.0,
    ``path`` in 1.0); REST APIs, Function URLs and load balancers keep the
    encoding. Live captures: hotsock/voker#8, summarised in
    middleapi/standard-server#93. A client's ``/files/100%2525`` arrives as
    ``/files/100%25``: decoding it again would make it ``/files/100%``.
    """
    if version == "2.0":
        event = sample("http_v2_aws_doc.json")
        event["rawPath"] = event["requestContext"]["http"]["path"] = "/files/100%25 done"
    else:
        event = sample("http_v1_aws_doc.json")
        event["path"] = event["requestContext"]["path"] = "/files/100%25 done"
    request = parse(event)
    assert request.entry == HTTP_API
    assert request.path == "/files/100%25 done"
    assert request.raw_path == b"/files/100%2525%20done"


# -- Application Load Balancer ----------------------------------------------------------


def test_alb_single_value_sample():
    request = parse(sample("alb_headers_only.json"))
    assert (request.entry, request.version, request.multi_value) == (ALB, "1.0", False)
    assert (request.method, request.path, request.root_path) == ("GET", "/", "")
    assert request.query_string == b"key=hello"
    assert request.scheme == "http"
    assert request.server == ("lambda-test-alb-1334523864.us-east-1.elb.amazonaws.com", 80)
    assert request.client == ("25.12.198.67", 0)  # x-forwarded-for
    assert request.body == b""


def test_alb_multi_value_sample():
    request = parse(sample("alb_multivalue.json"))
    assert request.multi_value is True
    assert request.query_string == b"key=hello"
    assert request.header(b"x-myheader") == b"123"
    assert request.server == ("lambda-test-alb-1234567.us-east-1.elb.amazonaws.com", 80)
    assert request.client == ("72.21.198.67", 0)
    assert request.body == b"Some text"


def test_alb_query_is_kept_as_sent():
    # "If the query parameters are URL-encoded, the load balancer does not decode them."
    request = parse(sample("alb_encoded_query.json"))
    assert request.query_string == b"myKey=%3FshowAll%3Dtrue&myKey=%3FshowAll%3Dfalse"
    assert parse_qsl(request.query_string.decode("ascii")) == [
        ("myKey", "?showAll=true"),
        ("myKey", "?showAll=false"),
    ]
    assert values(request, b"cookie") == [b"name1=value1", b"name2=value2"]
    assert request.scheme == "https"
    assert request.body == b"request_body"


def test_alb_health_check_has_no_host():
    request = parse(sample("alb_health_check.json"))
    assert request.server is None
    assert request.client is None
    assert (request.query_string, request.body) == (b"", b"")
    assert request.scheme == "https"
    assert request.header(b"user-agent") == b"ELB-HealthChecker/2.0"


def test_alb_path_is_decoded():
    event = sample("alb_health_check.json")
    event["path"] = "/%7Euser/a%20b"  # the ALB passes the path as sent
    request = parse(event)
    assert request.path == "/~user/a b"
    assert request.raw_path is not None and unquote(request.raw_path.decode()) == "/~user/a b"


# -- headers, scheme, server ------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLES)
def test_headers_are_lower_case_byte_pairs(name):
    for key, value in parse(sample(name)).headers:
        assert isinstance(key, bytes) and isinstance(value, bytes)
        assert key == key.lower()


def test_scheme_and_port_come_from_the_forwarded_headers():
    event = sample("url_captured_get.json")
    event["headers"]["x-forwarded-proto"] = "http"
    event["headers"]["x-forwarded-port"] = "8080"
    request = parse(event)
    assert request.scheme == "http"
    assert request.server == ("lambda-url-id.lambda-url.us-west-2.on.aws", 8080)
    del event["headers"]["x-forwarded-proto"], event["headers"]["x-forwarded-port"]
    request = parse(event)
    assert request.scheme == "https"
    assert request.server == ("lambda-url-id.lambda-url.us-west-2.on.aws", 443)


def test_host_with_a_port():
    event = sample("url_captured_get.json")
    event["headers"]["host"] = "127.0.0.1:9000"
    assert parse(event).server == ("127.0.0.1", 443)
    event["headers"]["host"] = "[::1]:9000"
    assert parse(event).server == ("::1", 443)


# -- bodies -----------------------------------------------------------------------------


def test_a_text_body_is_utf8():
    event = sample("url_aws_doc.json")
    event["body"] = "héllo ✓ \r\n"
    assert parse(event).body == "héllo ✓ \r\n".encode()


def test_a_base64_body_is_decoded():
    data = bytes(range(256))
    event = sample("url_aws_doc.json")
    event["body"], event["isBase64Encoded"] = base64.b64encode(data).decode(), True
    assert parse(event).body == data


@pytest.mark.parametrize("body", [None, ""])
def test_no_body_is_empty(body):
    event = sample("alb_multivalue.json")
    event["body"] = body
    assert parse(event).body == b""


@pytest.mark.parametrize("body", ["not base64!", "abc", "é==", "YQ==\nYQ=="])
def test_invalid_base64_is_an_invalid_event(body):
    event = sample("rest_sam_aws_proxy.json")
    event["body"] = body
    with pytest.raises(InvalidEvent, match="base64"):
        parse(event)


@pytest.mark.parametrize("body", [5, 1.5, True, ["x"], {"a": 1}])
def test_a_body_that_is_not_a_string_is_an_invalid_event(body):
    event = sample("url_aws_doc.json")
    event["body"] = body
    with pytest.raises(InvalidEvent, match="body"):
        parse(event)


# -- wrong types in otherwise real events -----------------------------------------------


@pytest.mark.parametrize(
    ("name", "key", "value"),
    [
        ("url_aws_doc.json", "rawPath", 5),
        ("url_aws_doc.json", "rawQueryString", ["a"]),
        ("url_aws_doc.json", "headers", ["a", "b"]),
        ("url_aws_doc.json", "cookies", "a=1"),
        ("rest_aws_doc.json", "path", {"a": 1}),
        ("rest_aws_doc.json", "httpMethod", 5),
        ("rest_aws_doc.json", "httpMethod", ""),
        ("alb_headers_only.json", "headers", "x"),
    ],
)
def test_wrong_types_are_invalid_events(name, key, value):
    event = sample(name)
    event[key] = value
    with pytest.raises(InvalidEvent):
        parse(event)


@pytest.mark.parametrize(
    "where",
    ["rawPath", "body", "header", "rawQueryString", "rest-query", "alb-query", "cookies"],
)
def test_a_lone_surrogate_is_never_a_crash(where):
    """JSON may escape a lone surrogate (``"\\ud800"``); json.loads gives it back as is.

    parse_event may refuse such an event (InvalidEvent) or take it, but must not let a
    UnicodeEncodeError out.
    """
    bad = "\ud800"
    if where == "rest-query":
        event = sample("rest_aws_doc.json")
        event["multiValueQueryStringParameters"] = {"a": [bad]}
    elif where == "alb-query":
        event = sample("alb_headers_only.json")
        event["queryStringParameters"] = {"a": bad}
    else:
        event = sample("url_aws_doc.json")
        if where == "header":
            event["headers"]["x-a"] = bad
        elif where == "cookies":
            event["cookies"] = [bad]
        else:
            event[where] = "/" + bad
    _parses_or_refuses(event)


def test_an_absurd_port_header_is_not_a_crash():
    # int() refuses more than 4300 digits (sys.get_int_max_str_digits): a ValueError.
    event = sample("url_captured_get.json")
    event["headers"]["x-forwarded-port"] = "1" * 5000
    _parses_or_refuses(event)


# -- answers: streaming prelude ---------------------------------------------------------

APP_HEADERS = [
    (b"Content-Type", b"text/html; charset=utf-8"),
    (b"X-A", b"1"),
    (b"x-a", b"2"),
    (b"Set-Cookie", b"a=1; Path=/"),
    (b"set-cookie", b"b=2; HttpOnly"),
]


def test_function_url_prelude():
    request = parse(sample("url_captured_get.json"))
    prelude = stream_prelude(request, 201, APP_HEADERS)
    assert b"\x00" not in prelude
    assert json.loads(prelude) == {
        "statusCode": 201,
        "headers": {"content-type": "text/html; charset=utf-8", "x-a": "1, 2"},
        "cookies": ["a=1; Path=/", "b=2; HttpOnly"],
    }
    assert json.loads(stream_prelude(request, 204, [(b"x-b", b"3")])) == {
        "statusCode": 204,
        "headers": {"x-b": "3"},
    }


def test_rest_prelude():
    request = parse(sample("rest_sam_aws_proxy.json"))
    prelude = stream_prelude(request, 200, APP_HEADERS)
    assert b"\x00" not in prelude
    assert json.loads(prelude) == {
        "statusCode": 200,
        "headers": {"content-type": "text/html; charset=utf-8"},
        "multiValueHeaders": {"x-a": ["1", "2"], "set-cookie": ["a=1; Path=/", "b=2; HttpOnly"]},
    }
    one_cookie = stream_prelude(request, 200, [(b"set-cookie", b"c=3")])
    assert json.loads(one_cookie)["multiValueHeaders"] == {"set-cookie": ["c=3"]}


def test_prelude_escapes_what_json_must():
    request = parse(sample("url_captured_get.json"))
    prelude = stream_prelude(request, 200, [(b"x-bin", b'\x00\x01\xff"\\')])
    assert b"\x00" not in prelude
    assert json.loads(prelude)["headers"] == {"x-bin": '\x00\x01\xff"\\'}


# -- answers: buffered ------------------------------------------------------------------

TEXT_HTML = [(b"content-type", b"text/html")]


def test_http_api_v2_buffered_answer():
    request = parse(sample("http_v2_aws_doc.json"))
    assert buffered_answer(request, 200, [*TEXT_HTML, *APP_HEADERS[1:]], b"<p>hi</p>") == {
        "statusCode": 200,
        "headers": {"content-type": "text/html", "x-a": "1, 2"},
        "cookies": ["a=1; Path=/", "b=2; HttpOnly"],
        "body": "<p>hi</p>",
        "isBase64Encoded": False,
    }


def test_function_url_buffered_answer_is_payload_2():
    request = parse(sample("url_captured_get.json"), "buffered")
    answer = buffered_answer(request, 200, [(b"set-cookie", b"s=1")], b"ok")
    assert set(answer) == {"statusCode", "headers", "cookies", "body", "isBase64Encoded"}
    assert answer["cookies"] == ["s=1"]


@pytest.mark.parametrize("name", ["http_v1_aws_doc.json", "rest_aws_doc.json"])
def test_payload_1_buffered_answer(name):
    request = parse(sample(name), "buffered")
    assert buffered_answer(request, 404, [*TEXT_HTML, *APP_HEADERS[1:]], b"no") == {
        "statusCode": 404,
        "headers": {"content-type": "text/html"},
        "multiValueHeaders": {"x-a": ["1", "2"], "set-cookie": ["a=1; Path=/", "b=2; HttpOnly"]},
        "body": "no",
        "isBase64Encoded": False,
    }


def test_alb_multi_value_answer():
    request = parse(sample("alb_multivalue.json"))
    assert buffered_answer(request, 200, [*TEXT_HTML, *APP_HEADERS[1:]], b"ok") == {
        "statusCode": 200,
        "statusDescription": "200 OK",
        "multiValueHeaders": {
            "content-type": ["text/html"],
            "x-a": ["1", "2"],
            "set-cookie": ["a=1; Path=/", "b=2; HttpOnly"],
        },
        "body": "ok",
        "isBase64Encoded": False,
    }


def test_alb_single_value_answer():
    # "You must use multiValueHeaders if you have enabled multi-value headers and headers
    # otherwise": with `headers`, only one Set-Cookie can go through.
    request = parse(sample("alb_headers_only.json"))
    answer = buffered_answer(request, 404, [*TEXT_HTML, *APP_HEADERS[1:]], b"no")
    assert answer == {
        "statusCode": 404,
        "statusDescription": "404 Not Found",
        "headers": {"content-type": "text/html", "x-a": "1, 2", "set-cookie": "b=2; HttpOnly"},
        "body": "no",
        "isBase64Encoded": False,
    }


@pytest.mark.parametrize(("status", "description"), [(201, "201 Created"), (302, "302 Found")])
def test_alb_status_description(status, description):
    request = parse(sample("alb_headers_only.json"))
    assert buffered_answer(request, status, [], b"")["statusDescription"] == description


@pytest.mark.parametrize(
    "content_type",
    [
        b"text/plain; charset=utf-8",
        b"TEXT/HTML",
        b"application/json",
        b"application/xml",
        b"application/javascript",
        b"application/vnd.api+json",
        b"image/svg+xml",
        b"text/event-stream",
    ],
)
def test_text_bodies_go_as_text(content_type):
    body = "héllo ✓".encode()
    for name in ("http_v2_aws_doc.json", "rest_aws_doc.json", "alb_multivalue.json"):
        answer = buffered_answer(parse(sample(name)), 200, [(b"content-type", content_type)], body)
        assert (answer["body"], answer["isBase64Encoded"]) == ("héllo ✓", False)


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ([(b"content-type", b"image/png")], b"\x89PNG\r\n\x1a\n\x00\x00"),
        ([(b"content-type", b"image/png")], b"plain ascii"),
        ([], b"\xff\xfe\x00bad utf-8"),
        ([(b"content-type", b"text/plain")], b"\xff\xfe latin-1 \xe9"),
        ([(b"content-type", b"text/plain"), (b"content-encoding", b"gzip")], b"\x1f\x8b\x08"),
        ([(b"content-type", b"application/json"), (b"Content-Encoding", b"br")], b"{}"),
    ],
)
def test_binary_bodies_go_as_base64(headers, body):
    for name in ("http_v2_aws_doc.json", "rest_aws_doc.json", "alb_headers_only.json"):
        answer = buffered_answer(parse(sample(name)), 200, headers, body)
        assert answer["isBase64Encoded"] is True
        assert base64.b64decode(answer["body"], validate=True) == body


def test_no_content_type_and_utf8_goes_as_text():
    answer = buffered_answer(parse(sample("http_v2_aws_doc.json")), 200, [], b"plain")
    assert (answer["body"], answer["isBase64Encoded"]) == ("plain", False)


# -- properties -------------------------------------------------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["", "/", "2.0", "1.0", "GET", "$default", "prod", "443", "http"])
)
json_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
_maybe = json_values | st.text(max_size=20)
_headers = st.dictionaries(
    st.sampled_from(["host", "x-forwarded-port", "x-forwarded-proto", "cookie", "content-type"])
    | st.text(max_size=8),
    _maybe,
    max_size=4,
)
shaped_events = st.fixed_dictionaries(
    {},
    optional={
        "version": st.sampled_from(["2.0", "1.0"]) | json_values,
        "httpMethod": st.sampled_from(["GET", "post"]) | json_values,
        "rawPath": st.text(max_size=20) | json_values,
        "path": st.text(max_size=20) | json_values,
        "rawQueryString": st.text(max_size=20) | json_values,
        "headers": _headers | json_values,
        "multiValueHeaders": st.dictionaries(st.text(max_size=8), st.lists(_maybe, max_size=2))
        | json_values,
        "queryStringParameters": st.dictionaries(st.text(max_size=8), _maybe) | json_values,
        "multiValueQueryStringParameters": st.dictionaries(
            st.text(max_size=8), st.lists(_maybe, max_size=2)
        )
        | json_values,
        "cookies": st.lists(_maybe, max_size=3) | json_values,
        "body": st.text(max_size=20) | json_values,
        "isBase64Encoded": st.booleans() | json_values,
        "requestContext": st.fixed_dictionaries(
            {},
            optional={
                "elb": json_values,
                "http": st.fixed_dictionaries(
                    {},
                    optional={
                        "method": st.sampled_from(["GET", "PUT"]) | json_values,
                        "path": _maybe,
                        "sourceIp": _maybe,
                    },
                )
                | json_values,
                "path": _maybe,
                "stage": _maybe,
                "identity": st.fixed_dictionaries({}, optional={"sourceIp": _maybe}) | json_values,
                "domainName": _maybe,
                "apiId": _maybe,
            },
        )
        | json_values,
    },
)


def _key_paths(obj: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    if isinstance(obj, dict) and len(prefix) < 3:
        for key, value in obj.items():
            paths.append((*prefix, key))
            paths.extend(_key_paths(value, (*prefix, key)))
    return paths


@st.composite
def mutated_samples(draw: st.DrawFn) -> Any:
    """A real sample with some keys dropped or given a value of another type."""
    event = sample(draw(st.sampled_from(sorted(SAMPLES))))
    paths = _key_paths(event)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(paths))
        parent = event
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(parent, dict) or path[-1] not in parent:
            continue
        if draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values)
    return event


PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(st.dictionaries(st.text(max_size=12), json_values, max_size=6) | json_values)
def test_property_any_json_parses_or_is_refused(event):
    _parses_or_refuses(event)


@PROPERTY
@given(shaped_events)
def test_property_event_shaped_json_parses_or_is_refused(event):
    _parses_or_refuses(event)


@PROPERTY
@given(mutated_samples())
def test_property_mutated_samples_parse_or_are_refused(event):
    _parses_or_refuses(event)


_ANSWER_REQUESTS = {
    "url": parse(sample("url_captured_get.json"), "buffered"),
    "rest": parse(sample("rest_aws_doc.json"), "buffered"),
    "http-api-2.0": parse(sample("http_v2_aws_doc.json")),
    "http-api-1.0": parse(sample("http_v1_aws_doc.json")),
    "alb-multi": parse(sample("alb_multivalue.json")),
    "alb-single": parse(sample("alb_headers_only.json")),
}
_latin1_bytes = st.text(st.characters(max_codepoint=255), max_size=12).map(
    lambda text: text.encode("latin-1")
)
app_headers = st.lists(
    st.tuples(
        st.sampled_from([b"content-type", b"Content-Encoding", b"set-cookie", b"x-a"])
        | _latin1_bytes,
        st.sampled_from([b"text/plain", b"image/png", b"application/json", b"gzip"])
        | _latin1_bytes,
    ),
    max_size=6,
)
bodies = st.binary(max_size=64) | st.text(max_size=32).map(str.encode)


@PROPERTY
@given(st.sampled_from(sorted(_ANSWER_REQUESTS)), st.integers(100, 599), app_headers, bodies)
def test_property_buffered_body_round_trips(kind, status, headers, body):
    answer = buffered_answer(_ANSWER_REQUESTS[kind], status, headers, body)
    json.dumps(answer)  # what the runtime sends must be JSON
    if answer["isBase64Encoded"]:
        assert base64.b64decode(answer["body"], validate=True) == body
    else:
        assert answer["body"].encode("utf-8") == body
    if any(name.lower() == b"content-encoding" for name, _ in headers):
        assert answer["isBase64Encoded"] is True


@PROPERTY
@given(st.sampled_from(["url", "rest"]), st.integers(100, 599), app_headers)
def test_property_prelude_is_json_without_nul(kind, status, headers):
    request = _ANSWER_REQUESTS[kind]
    prelude = stream_prelude(request, status, headers)
    assert b"\x00" not in prelude
    meta = json.loads(prelude)
    assert meta["statusCode"] == status
    cookies = [v.decode("latin-1") for k, v in headers if k.lower() == b"set-cookie"]
    if kind == "url":
        assert set(meta) <= {"statusCode", "headers", "cookies"}
        assert meta.get("cookies", []) == cookies
    else:
        assert set(meta) <= {"statusCode", "headers", "multiValueHeaders"}
        assert meta.get("multiValueHeaders", {}).get("set-cookie", []) == cookies


_path_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=16)
raw_paths = st.lists(_path_text, max_size=4).map(
    lambda segments: "/" + "/".join(quote(segment, safe="") for segment in segments)
) | st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=24).map(
    lambda text: "/" + text
)
raw_queries = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=24)


@PROPERTY
@given(raw_paths, raw_queries)
def test_property_function_url_path_is_unquoted_raw_path(raw_path, raw_query):
    event = sample("url_captured_get.json")
    event["rawPath"] = raw_path
    event["requestContext"]["http"]["path"] = raw_path
    event["rawQueryString"] = raw_query
    request = parse_event(event, "stream")
    assert request.path == unquote(raw_path)
    assert request.raw_path == raw_path.encode()
    assert request.query_string == raw_query.encode()
    assert request.root_path == ""
    assert request.streams is True
