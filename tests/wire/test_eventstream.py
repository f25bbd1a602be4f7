"""The event stream codec, checked against botocore's decoder (the peer every boto3 user runs)."""

from __future__ import annotations

import contextlib
import json
import struct
import uuid
from zlib import crc32

import pytest
from botocore.eventstream import EventStreamBuffer
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdastream.wire.eventstream import (
    MAX_HEADERS_LENGTH,
    EventStreamDecoder,
    EventStreamError,
    Int8,
    Int16,
    Int32,
    Int64,
    Message,
    Timestamp,
    Uuid,
    encode_event,
    encode_exception,
    encode_message,
)


def botocore_decode(data: bytes) -> list[tuple[dict, bytes]]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return [(m.headers, m.payload) for m in buffer]


header_names = st.text(min_size=1, max_size=20).filter(lambda s: len(s.encode()) <= 255)
header_values = st.one_of(
    st.booleans(),
    st.text(max_size=40),
    st.binary(max_size=40),
    st.integers(-(2**7), 2**7 - 1).map(Int8),
    st.integers(-(2**15), 2**15 - 1).map(Int16),
    st.integers(-(2**31), 2**31 - 1).map(Int32),
    st.integers(-(2**63), 2**63 - 1).map(Int64),
    st.integers(0, 2**62).map(Timestamp),
    st.binary(min_size=16, max_size=16).map(Uuid),
)
header_dicts = st.dictionaries(header_names, header_values, max_size=6)


@settings(max_examples=200)
@given(headers=header_dicts, payload=st.binary(max_size=300))
def test_botocore_decodes_what_we_encode(headers, payload):
    [(decoded_headers, decoded_payload)] = botocore_decode(encode_message(headers, payload))
    assert decoded_payload == payload
    # botocore returns plain ints and bytes: the values must match ours exactly.
    assert decoded_headers == {
        k: (bytes(v) if isinstance(v, Uuid) else v) for k, v in headers.items()
    }


@settings(max_examples=200)
@given(
    messages=st.lists(st.tuples(header_dicts, st.binary(max_size=200)), max_size=5),
    cuts=st.lists(st.integers(0, 2000), max_size=8),
)
def test_decoder_round_trips_frames_split_anywhere(messages, cuts):
    stream = b"".join(encode_message(h, p) for h, p in messages)
    decoder = EventStreamDecoder()
    got: list[Message] = []
    previous = 0
    for cut in [*sorted({c for c in cuts if c < len(stream)}), len(stream)]:
        got += decoder.feed(stream[previous:cut])
        previous = cut
    assert got == [Message(dict(h), p) for h, p in messages]
    assert decoder.pending == 0
    # Wire types survive the trip: re-encoding gives the same bytes.
    assert b"".join(encode_message(m.headers, m.payload) for m in got) == stream


def test_decoded_header_types_are_the_typed_wrappers():
    value = uuid.uuid4().bytes
    frame = encode_message(
        [
            ("a", Int8(1)),
            ("b", Int16(2)),
            ("c", Int32(3)),
            ("d", Int64(4)),
            ("e", Timestamp(5)),
            ("f", Uuid(value)),
            ("g", b"x"),
            ("h", "y"),
            ("i", True),
        ],
        b"",
    )
    [message] = EventStreamDecoder().feed(frame)
    kinds = {name: type(v) for name, v in message.headers.items()}
    assert kinds == {
        "a": Int8,
        "b": Int16,
        "c": Int32,
        "d": Int64,
        "e": Timestamp,
        "f": Uuid,
        "g": bytes,
        "h": str,
        "i": bool,
    }


def test_event_and_exception_as_botocore_sees_them():
    [(headers, payload)] = botocore_decode(encode_event("chunk", b'{"bytes":"aGk="}'))
    assert headers == {
        ":event-type": "chunk",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert payload == b'{"bytes":"aGk="}'
    [(headers, payload)] = botocore_decode(encode_exception("throttlingException", "slow down"))
    assert headers == {
        ":exception-type": "throttlingException",
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    assert json.loads(payload) == {"message": "slow down"}


def test_event_content_type_is_honoured():
    [message] = EventStreamDecoder().feed(
        encode_event("PayloadChunk", b"\x00raw", "application/octet-stream")
    )
    assert message.headers[":content-type"] == "application/octet-stream"
    assert message.payload == b"\x00raw"


@pytest.mark.parametrize(
    ("headers", "match"),
    [
        ({"n": 5}, "wrap numbers"),
        ({"n": 1.5}, "cannot encode float"),
        ({"n": Int8(300)}, "does not fit in Int8"),
        ({"": "x"}, "header name"),
        ({"n": "x" * 70000}, "at most 65535"),
    ],
)
def test_unencodable_headers_are_refused_clearly(headers, match):
    with pytest.raises(EventStreamError, match=match):
        encode_message(headers, b"")


def test_uuid_must_be_16_bytes():
    with pytest.raises(EventStreamError, match="16 bytes"):
        Uuid(b"short")


def _flip(frame: bytes, index: int) -> bytes:
    return frame[:index] + bytes([frame[index] ^ 0x01]) + frame[index + 1 :]


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda f: _flip(f, 9), "prelude CRC"),
        (lambda f: _flip(f, 20), "message CRC"),
        (lambda f: _flip(f, len(f) - 1), "message CRC"),
    ],
)
def test_corruption_is_detected(mutate, match):
    decoder = EventStreamDecoder()
    with pytest.raises(EventStreamError, match=match):
        decoder.feed(mutate(encode_event("chunk", b"payload")))
    with pytest.raises(EventStreamError, match="already failed"):
        decoder.feed(b"")


def _prelude(total: int, headers_length: int) -> bytes:
    head = struct.pack(">II", total, headers_length)
    return head + struct.pack(">I", crc32(head))


def _with_crc(body: bytes) -> bytes:
    return body + struct.pack(">I", crc32(body))


def test_limits_are_checked_from_the_prelude_alone():
    with pytest.raises(EventStreamError, match="headers length"):
        EventStreamDecoder().feed(_prelude(MAX_HEADERS_LENGTH + 100, MAX_HEADERS_LENGTH + 1))
    with pytest.raises(EventStreamError, match="payload length"):
        EventStreamDecoder().feed(_prelude(30 * 1024 * 1024, 0))
    with pytest.raises(EventStreamError, match="too small"):
        EventStreamDecoder().feed(_prelude(20, 10))


@pytest.mark.parametrize(
    ("block", "match"),
    [
        (b"\x01a\x0c", "unknown value type 12"),
        (b"\x01a\x07\x00\x09ab", "runs past"),
        (b"\x01a\x00\x01a\x01", "duplicate header"),
        (b"\x05ab", "truncated"),
        (b"\x01a\x07\x00\x01\xff", "not UTF-8"),
        (b"\x01a\x05\x00", "truncated value"),
    ],
)
def test_malformed_header_blocks(block, match):
    frame = _with_crc(_prelude(16 + len(block), len(block)) + block)
    with pytest.raises(EventStreamError, match=match):
        EventStreamDecoder().feed(frame)


@settings(max_examples=200)
@given(st.binary(max_size=200))
def test_garbage_never_escapes_as_anything_but_eventstream_error(data):
    with contextlib.suppress(EventStreamError):
        EventStreamDecoder().feed(data)


def test_empty_and_partial_input_yields_nothing():
    decoder = EventStreamDecoder()
    frame = encode_event("chunk", b"x")
    assert decoder.feed(b"") == []
    assert decoder.feed(frame[:11]) == []
    assert decoder.pending == 11
    assert len(decoder.feed(frame[11:] + frame)) == 2
