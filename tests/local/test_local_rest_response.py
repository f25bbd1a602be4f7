"""A REST API's answer: the streamed metadata prelude and the buffered proxy
output format, mapped to HTTP as API Gateway maps them (sans-I/O)."""

from __future__ import annotations

import base64
import json

import pytest

from lambdastream.local.rest_response import (
    MAX_REST_PRELUDE,
    map_rest_buffered,
    merged_headers,
    parse_rest_prelude,
    rest_response_headers,
)
from lambdastream.wire.prelude import PreludeDecoder, PreludeError


def test_aws_example_metadata():
    # AWS's example function for REST API response streaming
    # (response-streaming-lambda-configure.html).
    prelude = parse_rest_prelude(
        json.dumps(
            {
                "statusCode": 200,
                "headers": {"x-foo": "bar"},
                "multiValueHeaders": {
                    "x-mv1": ["hello", "world"],
                    "Set-Cookie": ["c1=blue", "c2=red"],
                },
            }
        ).encode()
    )
    assert prelude.status == 200
    assert rest_response_headers(prelude, "application/json") == [
        ("x-foo", "bar"),
        ("x-mv1", "hello"),
        ("x-mv1", "world"),
        ("Set-Cookie", "c1=blue"),
        ("Set-Cookie", "c2=red"),
        ("content-type", "application/json"),
    ]


def test_multi_value_headers_win_and_cookies_each_get_a_line():
    headers = merged_headers(
        {"X-A": "single", "X-B": "kept", "Content-Type": "text/plain", "x-null": None},
        {"x-a": ["m1", "m2"], "x-empty": []},
    )
    assert headers == [
        ("X-B", "kept"),
        ("Content-Type", "text/plain"),
        ("x-a", "m1"),
        ("x-a", "m2"),
    ]
    prelude = parse_rest_prelude(b'{"headers": {"a": 1, "b": true}, "cookies": ["s=1", "t=2"]}')
    assert prelude.status == 200
    assert rest_response_headers(prelude) == [
        ("a", "1"), ("b", "true"), ("content-type", "application/json"),
        ("Set-Cookie", "s=1"), ("Set-Cookie", "t=2"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[1]",
        b'{"statusCode": "200"}',  # a stream's statusCode is a number
        b'{"statusCode": 99}',
        b'{"headers": []}',
        b'{"headers": {"a": ["1", "2"]}}',  # repeated values belong in multiValueHeaders
        b'{"multiValueHeaders": {"a": "1"}}',
        b'{"multiValueHeaders": {"a": [{"x": 1}]}}',
        b'{"headers": {"bad name": "1"}}',
        b'{"headers": {"a": "line\\r\\nbreak"}}',
        b'{"cookies": "a=1"}',
    ],
)
def test_invalid_metadata_is_refused(raw):
    with pytest.raises(PreludeError):
        parse_rest_prelude(raw)


def test_remapped_and_dropped_response_headers():
    prelude = parse_rest_prelude(
        b'{"headers": {"Content-Length": "5", "Connection": "close", "Date": "x",'
        b' "Server": "mine", "WWW-Authenticate": "Basic", "Transfer-Encoding": "chunked",'
        b' "Content-Type": "text/plain"}}'
    )
    assert rest_response_headers(prelude) == [
        ("x-amzn-Remapped-Content-Length", "5"), ("x-amzn-Remapped-Connection", "close"),
        ("x-amzn-Remapped-Date", "x"), ("x-amzn-Remapped-Server", "mine"),
        ("x-amzn-Remapped-WWW-Authenticate", "Basic"), ("Content-Type", "text/plain"),
    ]  # fmt: skip


def test_the_metadata_must_come_within_16_kib():
    near = b'{"headers": {"x": "' + b"a" * (MAX_REST_PRELUDE - 40) + b'"}}'
    decoder = PreludeDecoder(parse_rest_prelude, MAX_REST_PRELUDE)
    assert decoder.feed(near + b"\0" * 8 + b"body") == [b"body"]
    over = b'{"headers": {"x": "' + b"a" * MAX_REST_PRELUDE + b'"}}'
    decoder = PreludeDecoder(parse_rest_prelude, MAX_REST_PRELUDE)
    with pytest.raises(PreludeError, match="16384"):
        for i in range(0, len(over), 1000):  # split anywhere: the limit still holds
            decoder.feed(over[i : i + 1000])
    decoder = PreludeDecoder(parse_rest_prelude, MAX_REST_PRELUDE)
    with pytest.raises(PreludeError):  # the delimiter is there, but past 16 KiB
        decoder.feed(over + b"\0" * 8)


def test_buffered_proxy_output():
    r = map_rest_buffered(
        json.dumps(
            {
                "statusCode": 201,
                "headers": {"x-one": "1", "Set-Cookie": "lost=1"},
                "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"], "x-two": ["2", "3"]},
                "body": "héllo",
                "isBase64Encoded": False,
            }
        ).encode()
    )
    assert r.status == 201 and r.body == "héllo".encode()
    assert r.headers == [
        ("x-one", "1"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"),
        ("x-two", "2"), ("x-two", "3"), ("content-type", "application/json"),
    ]  # fmt: skip
    binary = bytes(range(10))
    r = map_rest_buffered(
        json.dumps(
            {
                "statusCode": "200",
                "body": base64.b64encode(binary).decode(),
                "isBase64Encoded": True,
            }
        ).encode()
    )
    assert r.status == 200 and r.body == binary
    assert map_rest_buffered(b'{"statusCode": 204}').body == b""
    assert map_rest_buffered(b'{"statusCode": 200, "body": null, "extra": 1}').body == b""


@pytest.mark.parametrize(
    "payload",
    [
        b'"hello"',  # a Function URL would send this as a 200 body; a REST API cannot
        b'{"answer": 42}',
        b"[1, 2]",
        b"",
        b'{"statusCode": 700}',
        b'{"statusCode": true}',
        b'{"statusCode": "ok"}',
        b'{"statusCode": 200, "body": {"a": 1}}',  # a Function URL would JSON it
        b'{"statusCode": 200, "body": "x", "isBase64Encoded": true}',
        b'{"statusCode": 200, "body": "x", "isBase64Encoded": "yes"}',
        b'{"statusCode": 200, "headers": "a"}',
        b'{"statusCode": 200, "multiValueHeaders": {"a": "b"}}',
    ],
)
def test_any_other_shape_is_a_502(payload):
    with pytest.raises(PreludeError):
        map_rest_buffered(payload)
