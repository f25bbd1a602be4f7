"""The HTTP-integration prelude decoder and the Function URL mapping."""

from __future__ import annotations

import base64
import itertools
import json

import h11
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambdastream.local.url_response import map_buffered, response_headers
from lambdastream.wire.prelude import (
    MAX_PRELUDE,
    Prelude,
    PreludeDecoder,
    PreludeError,
    parse_prelude,
)

header_names = st.from_regex(r"x-[a-z0-9-]{1,12}", fullmatch=True)
preludes = st.fixed_dictionaries(
    {
        "statusCode": st.integers(100, 599),
        "headers": st.dictionaries(header_names, st.from_regex(r"[ -~]{0,20}", fullmatch=True)),
        "cookies": st.lists(st.from_regex(r"[a-z]=[a-z0-9]{0,5}", fullmatch=True), max_size=3),
    }
)


@given(preludes, st.binary(max_size=200), st.lists(st.integers(min_value=0), max_size=20))
def test_prelude_split_anywhere(prelude, body, cuts):
    wire = json.dumps(prelude).encode() + b"\0" * 8 + body
    points = sorted({c % (len(wire) + 1) for c in cuts} | {0, len(wire)})
    decoder = PreludeDecoder()
    out = b"".join(
        bytes(piece) for a, b in itertools.pairwise(points) for piece in decoder.feed(wire[a:b])
    )
    got = decoder.finish()
    assert out == body
    assert got.status == prelude["statusCode"]
    assert got.headers == list(prelude["headers"].items())
    assert got.cookies == prelude["cookies"]


def test_empty_stream_means_default_prelude():
    assert PreludeDecoder().finish() == Prelude(200, [], [])


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[1]",
        b'{"statusCode": "200"}',
        b'{"statusCode": 99}',
        b'{"headers": []}',
        b'{"headers": {"a": {"b": 1}}}',
        b'{"cookies": "a=1"}',
        b'{"headers": {"a": "x\\r\\ny: 1"}}',
    ],
)
def test_bad_preludes_are_refused(raw):
    decoder = PreludeDecoder()
    with pytest.raises(PreludeError):
        decoder.feed(raw + b"\0" * 8)


def test_stream_ending_inside_prelude_is_an_error():
    decoder = PreludeDecoder()
    decoder.feed(b'{"statusCode": 200}\0\0')
    with pytest.raises(PreludeError):
        decoder.finish()


def test_prelude_size_is_bounded():
    decoder = PreludeDecoder()
    with pytest.raises(PreludeError):
        for _ in range(MAX_PRELUDE // 65536 + 2):
            decoder.feed(b" " * 65536)


def test_response_headers_remap_and_drop_hop_by_hop():
    headers = response_headers(
        Prelude(
            200,
            [
                ("Content-Length", "5"),
                ("Transfer-Encoding", "chunked"),
                ("Connection", "close"),
                ("X-A", "1"),
            ],
            ["c=1"],
        ),
        "text/plain",
    )
    assert headers == [
        ("x-amzn-remapped-content-length", "5"),
        ("X-A", "1"),
        ("content-type", "text/plain"),
        ("set-cookie", "c=1"),
    ]


@given(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.text(),
        st.lists(st.integers()),
        st.dictionaries(st.text(max_size=5).filter(lambda k: k != "statusCode"), st.integers()),
    )
)
def test_results_not_in_response_format_are_200_json(value):
    payload = json.dumps(value).encode()
    response = map_buffered(payload)
    assert (response.status, response.headers, response.body) == (
        200,
        [("content-type", "application/json")],
        payload,
    )


def test_non_json_result_is_passed_as_is():
    assert map_buffered(b"\xff raw").body == b"\xff raw"


@given(st.integers(100, 599), st.binary(max_size=100))
def test_base64_body_round_trips(status, body):
    payload = json.dumps(
        {"statusCode": status, "isBase64Encoded": True, "body": base64.b64encode(body).decode()}
    ).encode()
    response = map_buffered(payload)
    assert response.status == status and response.body == body


def test_bad_response_format_is_refused():
    with pytest.raises(PreludeError):
        map_buffered(b'{"statusCode": 200, "isBase64Encoded": true, "body": "%%%"}')
    with pytest.raises(PreludeError):
        map_buffered(b'{"statusCode": 1000}')


def _h11_round_trip(name: str, value: str) -> str:
    """Send a header with h11 (an independent HTTP/1.1 implementation) as a server
    would, parse it back as a client: what a client reads."""
    server = h11.Connection(h11.SERVER)
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    server.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    server.next_event()
    server.next_event()
    wire = server.send(h11.Response(status_code=200, headers=[(name, value.encode("latin-1"))]))
    client.receive_data(wire)
    response = client.next_event()
    return dict(response.headers)[name.lower().encode()].decode("latin-1")


@given(st.text(max_size=30))
def test_header_values_are_sent_as_latin1_or_refused(value):
    raw = json.dumps({"headers": {"x-h": value}}).encode()
    try:
        prelude = parse_prelude(raw)
    except PreludeError:
        # Refused: a control character (CR/LF/NUL split the head) or a
        # character Latin-1 cannot carry.
        assert any((c < " " and c != "\t") or c == "\x7f" or ord(c) > 0xFF for c in value)
        return
    assert prelude.headers == [("x-h", value)]
    # What we accept, an independent HTTP implementation carries to the client intact.
    assert _h11_round_trip("x-h", value.strip(" \t")) == value.strip(" \t")


@pytest.mark.parametrize(
    "headers",
    [{"x-h": "日本"}, {"x-h": "a\x00b"}, {"x-h": "a\nb"}, {"x-h": "\x7f"}, {"x-h": "\ud800"}],
)
def test_unsendable_header_values_are_refused_streamed_and_buffered(headers):
    with pytest.raises(PreludeError, match="cannot be sent"):
        PreludeDecoder().feed(json.dumps({"headers": headers}).encode() + b"\0" * 8)
    with pytest.raises(PreludeError, match="cannot be sent"):
        map_buffered(json.dumps({"statusCode": 200, "headers": headers}).encode())


def test_latin1_header_values_and_cookies_pass():
    prelude = parse_prelude('{"headers": {"x-h": "café"}, "cookies": ["n=café"]}'.encode())
    assert prelude.headers == [("x-h", "café")] and prelude.cookies == ["n=café"]
    with pytest.raises(PreludeError):
        parse_prelude('{"cookies": ["n=日本"]}'.encode())


@given(st.text(max_size=12))
def test_header_names_must_be_http_tokens_as_h11_requires(name):
    raw = json.dumps({"headers": {name: "v"}}).encode()
    try:
        h11_accepts = bool(name) and _h11_round_trip(name, "v") == "v"
    except (h11.LocalProtocolError, UnicodeEncodeError):
        h11_accepts = False
    try:
        prelude = parse_prelude(raw)
    except PreludeError:
        assert not h11_accepts
        return
    assert h11_accepts and prelude.headers == [(name, "v")]


@pytest.mark.parametrize("name", ["bad name", "a:b", "", "x-日本", "a\tb", "(x)"])
def test_bad_header_names_are_refused(name):
    with pytest.raises(PreludeError, match="not an HTTP token"):
        parse_prelude(json.dumps({"headers": {name: "v"}}).encode())
