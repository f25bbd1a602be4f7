"""The REST API event builder (payload format 1.0) and its stage routing, checked
against AWS's own samples: the developer guide's ``POST /testStage/hello/world``
and a live capture of a REST API event (hotsock/voker, July 2026)."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambdastream.local.rest_event import (
    API_ID,
    DEFAULT_STAGE,
    PROXY_RESOURCE,
    ROOT_RESOURCE,
    STAGE_NAME,
    build_rest_event,
    route,
)
from lambdastream.local.url_event import ACCOUNT_ID
from lambdastream.wire.request import HttpRequest

# Keys of the live capture (vokerhttp/testdata/apigwv1-request.json); its
# requestContext also has authorizer and operationName, written empty by the
# typed logger that captured it, and identity.clientCert (mutual TLS only).
CAPTURED_KEYS = {
    "resource", "path", "httpMethod", "headers", "multiValueHeaders", "queryStringParameters",
    "multiValueQueryStringParameters", "pathParameters", "stageVariables", "requestContext",
    "body", "isBase64Encoded",
}  # fmt: skip
CAPTURED_CONTEXT_KEYS = {
    "accountId", "apiId", "domainName", "domainPrefix", "extendedRequestId", "httpMethod",
    "identity", "path", "protocol", "requestId", "requestTime", "requestTimeEpoch",
    "resourceId", "resourcePath", "stage",
}  # fmt: skip
CAPTURED_IDENTITY_KEYS = {
    "accessKey", "accountId", "apiKey", "apiKeyId", "caller", "cognitoAuthenticationProvider",
    "cognitoAuthenticationType", "cognitoIdentityId", "cognitoIdentityPoolId", "principalOrgId",
    "sourceIp", "user", "userAgent", "userArn",
}  # fmt: skip


def event(target, headers=(), body=b"", method="GET", stage="Prod", **kw):
    where = route(target, stage)
    assert where is not None
    return build_rest_event(
        HttpRequest(method, target, list(headers), body),
        where,
        stage=stage,
        request_id="apigw-rid",
        source_ip="10.0.0.1",
        now=1_700_000_000.5,
        extended_id="ATfSdF7nPHcErRA=",
        **kw,
    )


def test_the_developer_guide_sample():
    # POST /testStage/hello/world?name=me, Content-Type: application/json,
    # headerName: headerValue, body {"a": 1}: the guide's input-format sample.
    e = event(
        "/testStage/hello/world?name=me",
        [("Host", "gy415nuibc.execute-api.us-east-1.amazonaws.com"),
         ("Content-Type", "application/json"), ("headerName", "headerValue"),
         ("Content-Length", "14")],
        body=b'{\r\n\t"a": 1\r\n}',
        method="POST",
        stage="testStage",
        scheme="https",
    )  # fmt: skip
    assert set(e) == CAPTURED_KEYS
    assert e["resource"] == "/{proxy+}" and e["path"] == "/hello/world"
    assert e["httpMethod"] == "POST"
    assert e["headers"]["Content-Type"] == "application/json"
    assert e["headers"]["headerName"] == "headerValue"
    assert e["multiValueHeaders"]["headerName"] == ["headerValue"]
    assert e["headers"]["X-Forwarded-Port"] == "443"
    assert e["headers"]["X-Forwarded-Proto"] == "https"
    assert "Content-Length" not in e["headers"]  # the guide's sample has none either
    assert e["queryStringParameters"] == {"name": "me"}
    assert e["multiValueQueryStringParameters"] == {"name": ["me"]}
    assert e["pathParameters"] == {"proxy": "hello/world"}
    assert e["stageVariables"] is None
    assert e["body"] == '{\r\n\t"a": 1\r\n}' and e["isBase64Encoded"] is False
    ctx = e["requestContext"]
    assert set(ctx) == CAPTURED_CONTEXT_KEYS
    assert ctx["stage"] == "testStage" and ctx["path"] == "/testStage/hello/world"
    assert ctx["resourcePath"] == "/{proxy+}" and ctx["httpMethod"] == "POST"
    assert ctx["apiId"] == "gy415nuibc" and ctx["domainPrefix"] == "gy415nuibc"
    assert ctx["domainName"] == "gy415nuibc.execute-api.us-east-1.amazonaws.com"
    assert ctx["accountId"] == ACCOUNT_ID and ctx["requestId"] == "apigw-rid"
    assert ctx["extendedRequestId"] == "ATfSdF7nPHcErRA="
    assert ctx["protocol"] == "HTTP/1.1"
    assert ctx["requestTime"] == "14/Nov/2023:22:13:20 +0000"
    assert ctx["requestTimeEpoch"] == 1_700_000_000_500
    assert set(ctx["identity"]) == CAPTURED_IDENTITY_KEYS
    assert ctx["identity"]["sourceIp"] == "10.0.0.1"
    assert {k for k, v in ctx["identity"].items() if v is not None} == {"sourceIp"}
    json.dumps(e)  # all of it JSON


def test_the_live_capture_request():
    # What the capture's client sent, over HTTP/1.1: an encoded path,
    # repeated and encoded query parameters, a repeated header, cookies.
    e = event(
        "/live/capture/space%20value?empty=&encodedPlus=a%2Bb&literalPlus=a+b"
        "&redirect=https%3A%2F%2Fexample.com%2Fa%2Fb&repeat=one&repeat=two",
        [("Host", "5h7pqvr9u4.execute-api.us-west-2.amazonaws.com"), ("User-Agent", "curl/8.7.1"),
         ("accept", "*/*"), ("content-type", "application/json"),
         ("cookie", "session=abc123; theme=dark"), ("x-voker-probe", "first"),
         ("x-voker-probe", "second")],
        body=b'{"message":"hello","unicode":"lambda-\xce\xbb"}',
        method="POST",
        stage="live",
    )  # fmt: skip
    assert e["path"] == "/capture/space%20value"
    assert e["pathParameters"] == {"proxy": "capture/space%20value"}
    assert e["requestContext"]["path"] == "/live/capture/space%20value"
    assert e["queryStringParameters"] == {
        "empty": "", "encodedPlus": "a+b", "literalPlus": "a b",
        "redirect": "https://example.com/a/b", "repeat": "two",
    }  # fmt: skip
    assert e["multiValueQueryStringParameters"]["repeat"] == ["one", "two"]
    assert e["headers"]["x-voker-probe"] == "second"
    assert e["multiValueHeaders"]["x-voker-probe"] == ["first", "second"]
    # Cookies stay a header in payload 1.0, names keep the client's case.
    assert e["headers"]["cookie"] == "session=abc123; theme=dark"
    assert "accept" in e["headers"] and "Accept" not in e["headers"]
    assert e["body"] == '{"message":"hello","unicode":"lambda-λ"}'
    assert e["requestContext"]["identity"]["userAgent"] == "curl/8.7.1"
    assert e["requestContext"]["apiId"] == "5h7pqvr9u4"


def test_the_stage_root_and_the_stage_prefix():
    for target, stage_path in (("/Prod", "/Prod"), ("/Prod/", "/Prod/"), ("/Prod/?a=1", "/Prod/")):
        e = event(target)
        assert e["resource"] == ROOT_RESOURCE and e["path"] == "/"
        assert e["pathParameters"] is None
        assert e["requestContext"]["resourcePath"] == "/"
        assert e["requestContext"]["path"] == stage_path
    # Outside the stage (another stage, its case changed, no stage, a longer name).
    for target in ("/", "/prod/hello", "/PROD", "/Production/x", "/Stage/x", "", "//Prod/x"):
        assert route(target, "Prod") is None, target
    # An absolute-form target routes on its path.
    assert route("http://127.0.0.1:9000/Prod/a?b=1", "Prod").proxy == "a"  # type: ignore[union-attr]
    assert DEFAULT_STAGE == "Prod" and STAGE_NAME.fullmatch(DEFAULT_STAGE)


def test_headers_the_gateway_sets_and_drops():
    e = event(
        "/Prod/x",
        [("Host", "127.0.0.1:9000"), ("Connection", "keep-alive, X-Hop"), ("X-Hop", "1"),
         ("Keep-Alive", "5"), ("TE", "trailers"), ("Transfer-Encoding", "chunked"),
         ("content-length", "0"), ("X-Forwarded-For", "1.2.3.4"), ("x-forwarded-proto", "https"),
         ("X-Forwarded-Port", "443"), ("X-Amzn-Trace-Id", "Root=forged"), ("X-Keep", "yes")],
        trace_header="Root=1-5759e988-bd862e3fe1be46a994272793",
    )  # fmt: skip
    names = set(e["headers"])
    assert names == {
        "Host", "X-Keep", "X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto",
        "X-Amzn-Trace-Id",
    }  # fmt: skip
    assert e["headers"]["X-Forwarded-For"] == "1.2.3.4, 10.0.0.1"
    assert e["headers"]["X-Forwarded-Proto"] == "http"
    assert e["headers"]["X-Forwarded-Port"] == "9000"
    assert e["headers"]["X-Amzn-Trace-Id"] == "Root=1-5759e988-bd862e3fe1be46a994272793"
    assert set(e["multiValueHeaders"]) == names
    assert e["requestContext"]["domainName"] == "127.0.0.1:9000"
    assert e["requestContext"]["apiId"] == API_ID == e["requestContext"]["domainPrefix"]


def test_bodies_text_binary_and_none():
    binary = bytes(range(256))
    e = event("/Prod/up", [("Content-Type", "application/octet-stream")], binary, "POST")
    assert e["isBase64Encoded"] is True and base64.b64decode(e["body"]) == binary
    e = event("/Prod/up", [("Content-Type", "text/plain")], b"\xff\xfe not utf-8", "POST")
    assert e["isBase64Encoded"] is True  # a text type that is not UTF-8 cannot be text
    e = event("/Prod/up", [], b"no type", "POST")
    assert e["isBase64Encoded"] is True
    e = event("/Prod/up", [("Content-Type", "application/json; charset=utf-8")], b"{}", "PUT")
    assert e["body"] == "{}" and e["isBase64Encoded"] is False
    e = event("/Prod/up")
    assert e["body"] is None and e["isBase64Encoded"] is False
    assert e["queryStringParameters"] is None
    assert e["multiValueQueryStringParameters"] is None


def test_an_iam_caller_fills_the_identity():
    e = event(
        "/Prod/x",
        identity={"accessKey": "AKID", "accountId": ACCOUNT_ID, "caller": "LOCAL",
                  "user": "LOCAL", "userArn": f"arn:aws:iam::{ACCOUNT_ID}:user/local"},
    )  # fmt: skip
    who = e["requestContext"]["identity"]
    assert who["accessKey"] == "AKID" and who["userArn"].endswith(":user/local")
    assert who["sourceIp"] == "10.0.0.1" and who["cognitoIdentityId"] is None


def test_http_1_0_without_host_names_the_local_api():
    where = route("/Prod/x", "Prod")
    assert where is not None
    e = build_rest_event(
        HttpRequest("GET", "/Prod/x", [], b"", "1.0"),
        where, stage="Prod", request_id="r", source_ip="127.0.0.1", region="eu-west-1",
    )  # fmt: skip
    assert e["requestContext"]["domainName"] == f"{API_ID}.execute-api.eu-west-1.amazonaws.com"
    assert e["requestContext"]["protocol"] == "HTTP/1.0"
    assert e["headers"]["X-Forwarded-Port"] == "80"


# Any segment but a dot segment ("." and ".." are resolved before routing:
# test_dot_segments_are_removed_before_routing); quote() leaves dots as they are.
segment = (
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8)
    .map(lambda s: quote(s, safe=""))
    .filter(lambda s: s not in (".", ".."))
)


@given(
    stage=st.from_regex(r"[A-Za-z0-9_-]{1,20}", fullmatch=True),
    segments=st.lists(segment, min_size=1, max_size=5),
    query=st.dictionaries(st.text(min_size=1, max_size=5), st.text(max_size=5), max_size=4),
)
def test_any_path_under_the_stage(stage, segments, query):
    path = "/" + "/".join(segments)
    raw_query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query.items())
    target = f"/{stage}{path}" + (f"?{raw_query}" if raw_query else "")
    e = event(target, stage=stage)
    assert e["resource"] == PROXY_RESOURCE
    assert e["path"] == path  # as sent: still percent-encoded
    assert e["requestContext"]["path"] == f"/{stage}{path}"
    assert e["pathParameters"] == {"proxy": path[1:]}
    assert (e["queryStringParameters"] or {}) == query
    assert route(target, stage + "x") is None


@pytest.mark.parametrize(
    ("target", "path", "proxy"),
    [
        ("/Prod/a/../b", "/b", "b"),
        ("/Prod/a/./b", "/a/b", "a/b"),
        ("/Prod/a/%2e%2E/b?x=1", "/b", "b"),
        ("/Prod/a/%2E/b/", "/a/b/", "a/b/"),
        ("/Prod/a/b/..", "/a/", "a/"),
        ("/Prod/..a/b", "/..a/b", "..a/b"),  # not a dot segment
    ],
)
def test_dot_segments_are_removed_before_routing(target, path, proxy):
    # No dot segment reaches the function: resolved as RFC 3986 5.2.4 says
    # (a percent-encoded dot is a dot, 6.2.2.2), as HTTP clients resolve them.
    where = route(target, "Prod")
    assert where is not None
    assert (where.path, where.proxy) == (path, proxy)
    assert ".." not in where.stage_path.replace("..a", "")


@pytest.mark.parametrize("target", ["/Prod/../x", "/Prod/%2e%2e/x", "/Prod/a/../../x", "/Prod/.."])
def test_dot_segments_that_leave_the_stage_are_outside_it(target):
    assert route(target, "Prod") is None
