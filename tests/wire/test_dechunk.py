"""The Runtime API's chunked-body decoder, fed bytes split anywhere."""

from __future__ import annotations

import itertools

import h11
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambdastream.wire.chunks import frame_chunk as encode_chunk
from lambdastream.wire.dechunk import MAX_LINE, ChunkedDecoder, ChunkedError

chunks = st.lists(st.binary(min_size=1, max_size=300), max_size=20)
trailer_lists = st.lists(
    st.tuples(
        st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}", fullmatch=True),
        st.from_regex(r"[ -~]{0,60}", fullmatch=True).map(str.strip),
    ),
    max_size=4,
)


def encode(parts: list[bytes], trailers: list[tuple[str, str]]) -> bytes:
    tail = "".join(f"{k}: {v}\r\n" for k, v in trailers).encode()
    return b"".join(encode_chunk(p) for p in parts) + b"0\r\n" + tail + b"\r\n"


def feed_split(data: bytes, cuts: list[int]) -> tuple[bytes, ChunkedDecoder]:
    decoder = ChunkedDecoder()
    out = bytearray()
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    for a, b in itertools.pairwise(points):
        if decoder.done:
            break
        for piece in decoder.feed(data[a:b]):
            out += piece
    return bytes(out), decoder


@given(
    chunks, trailer_lists, st.lists(st.integers(min_value=0), max_size=30), st.binary(max_size=20)
)
def test_any_split_gives_same_payload_trailers_and_tail(parts, trailers, cuts, after):
    wire = encode(parts, trailers)
    body, decoder = feed_split(wire + after, cuts)
    assert decoder.done
    assert body == b"".join(parts)
    assert decoder.trailers == [(k.lower(), v) for k, v in trailers]


@given(chunks, trailer_lists, st.binary(max_size=20))
def test_agrees_with_h11(parts, trailers, after):
    """h11 (an independent HTTP implementation) reads the same body and trailers."""
    wire = encode(parts, trailers)
    server = h11.Connection(h11.SERVER)
    server.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + wire)
    h11_body, h11_trailers = b"", []
    while True:
        event = server.next_event()
        if isinstance(event, h11.Data):
            h11_body += event.data
        elif isinstance(event, h11.EndOfMessage):
            h11_trailers = [(k.decode(), v.decode()) for k, v in event.headers]
            break
    decoder = ChunkedDecoder()
    body = b"".join(bytes(p) for p in decoder.feed(wire + after))
    assert body == h11_body
    assert decoder.trailers == h11_trailers
    assert decoder.tail == after


def test_payload_is_forwarded_before_its_chunk_completes():
    decoder = ChunkedDecoder()
    assert [bytes(p) for p in decoder.feed(b"a\r\n01234")] == [b"01234"]
    assert [bytes(p) for p in decoder.feed(b"56789\r\n")] == [b"56789"]
    assert not decoder.done


def test_error_trailers_of_the_node_client_capture():
    wire = (
        b"31\r\n" + b'{"statusCode":201,"headers":{"X-Custom":"probe"}}' + b"\r\n"
        b"8\r\n" + b"\0" * 8 + b"\r\n"
        b"a\r\npartial-1\n\r\n"
        b"0\r\nLambda-Runtime-Function-Error-Type: MyCustomError\r\n"
        b"Lambda-Runtime-Function-Error-Body: eyJlcnJvclR5cGUiOiJ4In0=\r\n\r\n"
    )
    decoder = ChunkedDecoder()
    body = b"".join(bytes(p) for p in decoder.feed(wire))
    assert body.endswith(b"\0" * 8 + b"partial-1\n")
    assert dict(decoder.trailers) == {
        "lambda-runtime-function-error-type": "MyCustomError",
        "lambda-runtime-function-error-body": "eyJlcnJvclR5cGUiOiJ4In0=",
    }


@pytest.mark.parametrize(
    "wire",
    [
        b"zz\r\n",  # not hex
        b"0x5\r\nhello\r\n",  # int() would take it; HTTP does not
        b"+5\r\nhello\r\n",
        b"\r\n",  # empty size line
        b"5\r\nhelloX\r\n",  # data longer than declared
        b"0\r\nno colon here\r\n\r\n",
        b"1" * (MAX_LINE + 1),  # unbounded size line
        # A field value holds no CR, LF or NUL (RFC 9110 5.5): a bare CR would
        # split the trailer, or the log line it is printed in, in two.
        b"0\r\nLambda-Runtime-Function-Error-Type: A\rX-Injected: yes\r\n\r\n",
        b"0\r\nX-Err: a\x00b\r\n\r\n",
        b"0\r\nX-Err: a\x1bb\r\n\r\n",
    ],
)
def test_malformed_bodies_are_refused(wire):
    with pytest.raises(ChunkedError):
        ChunkedDecoder().feed(wire)


def test_a_trailer_value_may_hold_tabs_and_latin_1():
    decoder = ChunkedDecoder()
    decoder.feed(b"0\r\nX-Err: a\tb \xe9\r\n\r\n")
    assert decoder.trailers == [("x-err", "a\tb \u00e9")]


def test_feeding_after_the_end_is_an_error():
    decoder = ChunkedDecoder()
    decoder.feed(b"0\r\n\r\n")
    with pytest.raises(ChunkedError):
        decoder.feed(b"more")


def test_many_small_chunks_in_one_buffer_are_not_quadratic():
    wire = b"".join(encode_chunk(b"x" * 16) for _ in range(50_000)) + b"0\r\n\r\n"
    decoder = ChunkedDecoder()
    pieces = decoder.feed(wire)
    assert len(pieces) == 50_000 and decoder.done


@given(chunks, st.lists(st.integers(min_value=0), max_size=30))
def test_raw_frames_encode_exactly_the_pieces_they_cover(parts, cuts):
    # A relay forwards ``frames`` as received instead of re-framing those
    # pieces: that is only right if they are the pieces' chunked encoding.
    wire = encode(parts, [])
    decoder = ChunkedDecoder()
    relayed = bytearray()
    points = sorted({c % (len(wire) + 1) for c in cuts} | {0, len(wire)})
    for a, b in itertools.pairwise(points):
        pieces = decoder.feed(wire[a:b])
        if pieces.frames is not None:
            first, stop, raw = pieces.frames
            assert bytes(raw) == b"".join(encode_chunk(bytes(p)) for p in pieces[first:stop])
            assert stop > first
            assert wire[a:b].find(bytes(raw)) >= 0
        relayed += b"".join(encode_chunk(bytes(p)) for p in pieces if len(p))
    assert decoder.done
    assert b"".join(parts) == feed_split(bytes(relayed) + b"0\r\n\r\n", [])[0]


def test_a_batch_of_whole_chunks_is_one_raw_run():
    wire = b"".join(encode_chunk(b"x" * 16) for _ in range(1000)) + b"5\r\nab"
    pieces = ChunkedDecoder().feed(wire)
    assert len(pieces) == 1001
    assert pieces.frames is not None
    first, stop, raw = pieces.frames
    assert (first, stop) == (0, 1000)
    assert bytes(raw) == wire[: -len(b"5\r\nab")]
