"""The Function URL event as AWS builds it: forwarded headers, hop-by-hop
headers, the url-id, path decoding and the trace header (pure, no sockets).

Where AWS's behaviour is known from a live capture rather than a document,
the capture is named next to the test.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambdastream.local.invocation import Invocation, parse_trace_header
from lambdastream.local.url_event import URL_ID, build_event
from lambdastream.wire.request import HttpRequest


def event(target="/", headers=(), body=b"", method="GET", **kw):
    kw.setdefault("request_id", "rid")
    kw.setdefault("source_ip", "10.0.0.1")
    kw.setdefault("now", 1_700_000_000.5)
    return build_event(HttpRequest(method, target, list(headers), body), **kw)


def test_aws_adds_the_forwarded_headers():
    e = event(headers=[("Host", "127.0.0.1:9000")])
    assert e["headers"]["x-forwarded-for"] == "10.0.0.1"
    # The dev server speaks plain HTTP: Mangum builds https:// URLs unless told.
    assert e["headers"]["x-forwarded-proto"] == "http"
    assert e["headers"]["x-forwarded-port"] == "9000"


def test_forwarded_port_is_the_schemes_default_when_the_host_has_none():
    assert event(headers=[("Host", "localhost")])["headers"]["x-forwarded-port"] == "80"
    on_aws = event(headers=[("Host", "abc.lambda-url.us-east-1.on.aws")], scheme="https")
    assert on_aws["headers"]["x-forwarded-proto"] == "https"
    assert on_aws["headers"]["x-forwarded-port"] == "443"
    v6 = event(headers=[("Host", "[::1]:9000")], source_ip="::1")
    assert v6["headers"]["x-forwarded-port"] == "9000"
    assert v6["headers"]["x-forwarded-for"] == "::1"


def test_a_callers_forwarded_headers_do_not_override_the_connection():
    # AWS's front doors append the caller to X-Forwarded-For and set proto
    # and port themselves: a client cannot claim https or another port.
    e = event(
        headers=[
            ("Host", "127.0.0.1:9000"),
            ("X-Forwarded-For", "203.0.113.7"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Port", "443"),
        ]
    )
    assert e["headers"]["x-forwarded-for"] == "203.0.113.7, 10.0.0.1"
    assert e["headers"]["x-forwarded-proto"] == "http"
    assert e["headers"]["x-forwarded-port"] == "9000"


def test_hop_by_hop_headers_are_dropped():
    e = event(
        headers=[
            ("Host", "127.0.0.1:9000"),
            ("Connection", "keep-alive, X-Hop, Upgrade"),
            ("Keep-Alive", "timeout=5"),
            ("TE", "trailers"),
            ("Upgrade", "websocket"),
            ("Transfer-Encoding", "chunked"),
            ("Proxy-Connection", "keep-alive"),
            ("X-Hop", "only for the next hop"),
            ("X-End", "end to end"),
        ]
    )
    headers = e["headers"]
    for name in ("connection", "keep-alive", "te", "upgrade", "transfer-encoding", "x-hop"):
        assert name not in headers
    assert "proxy-connection" not in headers
    assert headers["x-end"] == "end to end"


def test_loopback_host_keeps_the_address_and_the_ids_name_one_url():
    e = event(headers=[("Host", "127.0.0.1:9000")])
    ctx = e["requestContext"]
    # An app building absolute URLs from the host reaches the dev server...
    assert e["headers"]["host"] == ctx["domainName"] == "127.0.0.1:9000"
    # ...and the one url-id names the URL, 32 lowercase alphanumerics as on AWS.
    assert ctx["apiId"] == ctx["domainPrefix"] == URL_ID
    assert len(URL_ID) == 32 and URL_ID.isalnum() and not any(c.isupper() for c in URL_ID)


def test_a_function_url_host_gives_its_url_id_everywhere():
    host = "2cxn22odiwguak4feg4jtt7cwm0ziblr.lambda-url.us-west-2.on.aws"
    e = event(headers=[("Host", host)])
    ctx = e["requestContext"]
    assert e["headers"]["host"] == ctx["domainName"] == host
    assert ctx["apiId"] == ctx["domainPrefix"] == "2cxn22odiwguak4feg4jtt7cwm0ziblr"


def test_no_host_is_the_aws_shaped_name_of_the_local_url():
    ctx = event(region="eu-west-1")["requestContext"]
    assert ctx["domainName"] == f"{URL_ID}.lambda-url.eu-west-1.on.aws"
    assert ctx["apiId"] == ctx["domainPrefix"] == URL_ID


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("/capture/space%20value", "/capture/space value"),  # AWS capture, below
        ("/a+b", "/a+b"),  # + is a plain character in a path (RFC 3986), not a space
        ("/a%2Bb", "/a+b"),
        ("/a%2Fb", "/a/b"),  # http.path is the whole path decoded
        ("/%E2%82%AC", "/€"),
        ("/%25", "/%"),
    ],
)
def test_path_is_raw_path_percent_decoded(raw, decoded):
    e = event(raw)
    assert e["rawPath"] == raw
    assert e["requestContext"]["http"]["path"] == decoded


@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=20))
def test_path_round_trips_any_text(text):
    from urllib.parse import quote

    raw = "/" + quote(text, safe="/")
    assert event(raw)["requestContext"]["http"]["path"] == "/" + text


def test_event_matches_a_live_aws_capture():
    # The request and event of a live Function URL capture (us-west-2, July
    # 2026): hotsock/voker, vokerhttp/testdata/functionurl-request.json, made
    # with examples/aws-ingress-probe. TLS headers are AWS's TLS front end's
    # (the dev server has none); AWS also left `cookie` in headers there,
    # which this builder (and tests/local/test_dev_function_url.py) does not.
    host = "2cxn22odiwguak4feg4jtt7cwm0ziblr.lambda-url.us-west-2.on.aws"
    query = (
        "repeat=one&repeat=two&redirect=https%3A%2F%2Fexample.com%2Fa%2Fb"
        "&literalPlus=a+b&encodedPlus=a%2Bb&empty="
    )
    body = '{"message":"hello from the public internet","unicode":"lambda-λ"}'.encode()
    caller_trace = "Root=1-6a5145aa-290a323a5de9a2e0636377d4"
    e = event(
        "/capture/space%20value?" + query,
        method="POST",
        headers=[
            ("Host", host),
            ("User-Agent", "curl/8.7.1"),
            ("Accept", "*/*"),
            ("Cookie", "session=abc123; theme=dark"),
            ("X-Voker-Probe", "first"),
            ("X-Voker-Probe", "second"),
            ("Content-Type", "application/json"),
            ("Content-Length", "66"),
        ],
        body=body,
        source_ip="68.8.83.18",
        region="us-west-2",
        scheme="https",
        trace_header=caller_trace,
        request_id="d16a6b55-dea9-4b23-8499-eb85c3d2d904",
        now=1783711146.671,
    )
    assert e["rawPath"] == "/capture/space%20value"
    assert e["rawQueryString"] == query
    assert e["cookies"] == ["session=abc123", "theme=dark"]
    assert e["queryStringParameters"] == {
        "empty": "",
        "encodedPlus": "a+b",
        "literalPlus": "a b",
        "redirect": "https://example.com/a/b",
        "repeat": "one,two",
    }
    assert e["headers"] == {
        "accept": "*/*",
        "content-length": "66",
        "content-type": "application/json",
        "host": host,
        "user-agent": "curl/8.7.1",
        "x-amzn-trace-id": caller_trace,
        "x-forwarded-for": "68.8.83.18",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
        "x-voker-probe": "first,second",
    }
    ctx = e["requestContext"]
    assert ctx["apiId"] == ctx["domainPrefix"] == "2cxn22odiwguak4feg4jtt7cwm0ziblr"
    assert ctx["domainName"] == host
    assert ctx["http"] == {
        "method": "POST",
        "path": "/capture/space value",
        "protocol": "HTTP/1.1",
        "sourceIp": "68.8.83.18",
        "userAgent": "curl/8.7.1",
    }
    assert (ctx["time"], ctx["timeEpoch"]) == ("10/Jul/2026:19:19:06 +0000", 1783711146671)
    assert json.loads(e["body"]) == json.loads(body) and e["isBase64Encoded"] is False


# -- the trace header -------------------------------------------------------

CALLER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def fields(trace_id: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in trace_id.split(";"))


def test_the_callers_trace_continues_in_lambdas_own_segment():
    inv = Invocation(b"{}", trace_header=CALLER)
    got = fields(inv.trace_id)
    assert got["Root"] == "1-5759e988-bd862e3fe1be46a994272793"
    assert got["Sampled"] == "1"
    # Parent is the id of Lambda's function segment, not the caller's.
    assert len(got["Parent"]) == 16 and got["Parent"] != "53995c3f42cd8ad8"
    int(got["Parent"], 16)
    # The event carries the caller's header as sent.
    assert inv.trace_header == CALLER


def test_no_trace_header_starts_a_trace():
    inv = Invocation(b"{}")
    got = fields(inv.trace_id)
    assert parse_trace_header(inv.trace_header) is not None
    assert inv.trace_header == f"Root={got['Root']}"
    assert got["Sampled"] == "0"
    other = fields(Invocation(b"{}").trace_id)
    assert other["Root"] != got["Root"] and other["Parent"] != got["Parent"]


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        "Root=1-5759e988-bd862e3fe1be46a99427279",  # 23 hex digits
        "Root=2-5759e988-bd862e3fe1be46a994272793",  # version 2
        "Root=1-5759e98g-bd862e3fe1be46a994272793",
        "Parent=53995c3f42cd8ad8;Sampled=1",  # no Root
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=yes",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent",
        f"{CALLER},{CALLER}",  # sent twice, joined
        "",
    ],
)
def test_a_malformed_trace_header_is_treated_as_absent(header):
    assert parse_trace_header(header) is None
    inv = Invocation(b"{}", trace_header=header)
    assert "5759e988" not in inv.trace_id
    assert inv.trace_header == "Root=" + fields(inv.trace_id)["Root"]


def test_other_trace_fields_are_allowed_and_sampled_unknown_is_not_sampled():
    header = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?;Self=1-abc;Lineage=1:ab:0"
    parsed = parse_trace_header(header)
    assert parsed is not None and parsed.root == "1-5759e988-bd862e3fe1be46a994272793"
    assert fields(Invocation(b"{}", trace_header=header).trace_id)["Sampled"] == "0"


def test_the_event_carries_the_trace_header_it_is_given():
    e = event(headers=[("X-Amzn-Trace-Id", "spoofed")], trace_header=CALLER)
    assert e["headers"]["x-amzn-trace-id"] == CALLER
