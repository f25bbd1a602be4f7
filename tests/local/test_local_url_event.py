"""The Function URL event builder (payload format 2.0)."""

from __future__ import annotations

import base64
from urllib.parse import quote

from hypothesis import given
from hypothesis import strategies as st

from lambdastream.local.url_event import body_is_text, build_event
from lambdastream.wire.request import HttpRequest


def event(target="/", headers=(), body=b"", method="GET"):
    return build_event(
        HttpRequest(method, target, list(headers), body),
        request_id="rid",
        source_ip="10.0.0.1",
        now=1_700_000_000.5,
    )


def test_minimal_get():
    e = event()
    assert e["rawPath"] == "/" and e["rawQueryString"] == ""
    assert "queryStringParameters" not in e and "cookies" not in e and "body" not in e
    assert e["isBase64Encoded"] is False
    ctx = e["requestContext"]
    assert ctx["timeEpoch"] == 1_700_000_000_500
    assert ctx["time"] == "14/Nov/2023:22:13:20 +0000"
    assert ctx["http"] == {
        "method": "GET",
        "path": "/",
        "protocol": "HTTP/1.1",
        "sourceIp": "10.0.0.1",
        "userAgent": "",
    }


def test_headers_lowercased_and_repeats_joined():
    e = event(headers=[("X-A", "1"), ("x-a", "2"), ("User-Agent", "ua")])
    assert e["headers"] == {
        "x-a": "1,2",
        "user-agent": "ua",
        # What AWS's front end adds (tests/local/test_local_url_event_fidelity.py).
        "x-forwarded-for": "10.0.0.1",
        "x-forwarded-proto": "http",
        "x-forwarded-port": "80",
    }
    assert e["requestContext"]["http"]["userAgent"] == "ua"


def test_raw_path_kept_encoded_path_decoded():
    e = event("/a%20b/c?q=%2F")
    assert e["rawPath"] == "/a%20b/c" and e["requestContext"]["http"]["path"] == "/a b/c"
    assert e["queryStringParameters"] == {"q": "/"}


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=5))
def test_query_parameters_decode(params):
    raw = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params.items())
    e = event("/?" + raw)
    assert e["rawQueryString"] == raw
    assert e.get("queryStringParameters", {}) == params


@given(
    st.binary(max_size=100),
    st.sampled_from(
        ["application/octet-stream", "image/png", None, "text/plain", "application/json"]
    ),
)
def test_body_round_trips(body, content_type):
    headers = [("Content-Type", content_type)] if content_type else []
    e = event(headers=headers, body=body, method="POST")
    if not body:
        assert "body" not in e
        return
    raw = base64.b64decode(e["body"]) if e["isBase64Encoded"] else e["body"].encode()
    assert raw == body
    if not body_is_text(content_type):
        assert e["isBase64Encoded"] is True
