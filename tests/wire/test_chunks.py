"""Chunk framing (pure): what the runtime and the dev server write."""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from lambdastream.wire.chunks import (
    LAST_CHUNK,
    SCATTER_MIN,
    frame_chunk,
    frame_chunks,
    last_chunk_with_error,
)


@given(st.binary(min_size=1))
def test_a_chunk_is_size_line_data_and_crlf(data):
    framed = frame_chunk(data)
    size, _, rest = framed.partition(b"\r\n")
    assert int(size, 16) == len(data)
    assert rest == data + b"\r\n"


def test_error_trailers_end_the_body():
    body = base64.b64encode(b'{"errorType": "E"}').decode()
    tail = last_chunk_with_error("MyError", body)
    assert tail == (
        b"0\r\nLambda-Runtime-Function-Error-Type: MyError\r\n"
        b"Lambda-Runtime-Function-Error-Body: " + body.encode() + b"\r\n\r\n"
    )


@given(st.text())
def test_error_type_can_never_break_out_of_its_trailer(error_type):
    tail = last_chunk_with_error(error_type, "e30=")
    assert tail.count(b"\r\n") == 4
    assert tail.startswith(b"0\r\nLambda-Runtime-Function-Error-Type: ")


# -- many chunks in one write (frame_chunks) ---------------------------------------


@given(st.lists(st.binary(min_size=1, max_size=3 * SCATTER_MIN), max_size=40), st.binary())
def test_many_chunks_keep_each_its_own_framing_in_few_buffers(pieces, head):
    buffers = frame_chunks(pieces, head=head, tail=LAST_CHUNK)
    assert b"".join(buffers) == head + b"".join(map(frame_chunk, pieces)) + LAST_CHUNK
    big = [p for p in pieces if len(p) >= SCATTER_MIN]
    assert len(buffers) <= 2 * len(big) + 1
    # a big chunk is handed over as it is, never copied
    assert all(any(b is p for b in buffers) for p in big)


def test_a_hundred_thousand_small_chunks_are_one_buffer():
    pieces = [b"0123456789abcdef"] * 100_000
    (buffer,) = frame_chunks(pieces)
    assert buffer == b"10\r\n0123456789abcdef\r\n" * 100_000
