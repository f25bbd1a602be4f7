"""Chunk framing the runtime writes (pure)."""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from lambdastream.runtime.chunked import frame_chunk, last_chunk_with_error


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
