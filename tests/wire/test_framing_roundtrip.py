"""What the runtime frames, the strict decoder (Go's rules) reads back whole.

The runtime writes its streamed answer with ``wire.chunks``; Lambda reads it
with Go's net/http, which the decoder follows. A framing slip that Go would
refuse (a bare LF after a chunk's data, say) fails here, not on AWS.
"""

from __future__ import annotations

import base64
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from lambdastream.wire.chunks import (
    ERROR_BODY_TRAILER,
    ERROR_TYPE_TRAILER,
    LAST_CHUNK,
    SCATTER_MIN,
    frame_chunk,
    frame_chunks,
    last_chunk,
    last_chunk_with_error,
)
from lambdastream.wire.dechunk import ChunkedDecoder

writes = st.lists(
    st.one_of(
        st.binary(max_size=64),
        # copied with their framing, or handed over as their own buffer
        st.integers(SCATTER_MIN - 2, SCATTER_MIN + 2).map(lambda n: b"\r\n\n" * (n // 3)),
    ),
    max_size=8,
)
trailers = st.lists(
    st.tuples(
        st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,30}", fullmatch=True),
        st.from_regex(r"[!-~]([ -~]{0,40}[!-~])?", fullmatch=True),
    ),
    max_size=3,
)


def decode(wire: bytes, cuts: list[int]) -> tuple[bytes, list[tuple[str, str]]]:
    """Feed ``wire`` split at ``cuts``: the payload and trailers, the end exactly at its end."""
    decoder = ChunkedDecoder()
    payload = bytearray()
    points = sorted({0, len(wire), *(c % (len(wire) + 1) for c in cuts)})
    for a, b in itertools.pairwise(points):
        for piece in decoder.feed(wire[a:b]):
            payload += piece
    assert decoder.done
    assert decoder.tail == b""
    return bytes(payload), decoder.trailers


@settings(max_examples=200, deadline=None)
@given(writes, trailers, st.lists(st.integers(min_value=0), max_size=10))
def test_chunks_written_one_by_one_read_back(pieces, fields, cuts):
    wire = b"".join(frame_chunk(p) for p in pieces if p) + last_chunk(fields)
    assert decode(wire, cuts) == (
        b"".join(pieces),
        [(name.lower(), value) for name, value in fields],
    )


@settings(max_examples=200, deadline=None)
@given(writes, st.lists(st.integers(min_value=0), max_size=10))
def test_chunks_written_in_one_scatter_write_read_back(pieces, cuts):
    wire = b"".join(frame_chunks(pieces, tail=LAST_CHUNK))
    assert decode(wire, cuts) == (b"".join(pieces), [])


@settings(max_examples=200, deadline=None)
@given(writes, st.text(), st.binary(max_size=3000), st.lists(st.integers(min_value=0)))
def test_a_mid_stream_error_reads_back_as_its_two_trailers(pieces, error_type, body, cuts):
    body_b64 = base64.b64encode(body).decode()
    wire = b"".join(frame_chunks(pieces, tail=last_chunk_with_error(error_type, body_b64)))
    # An exception's name becomes one printable header line; Go trims its ends.
    shown = "".join(c if " " <= c <= "~" else "?" for c in error_type) or "Unhandled"
    assert decode(wire, cuts) == (
        b"".join(pieces),
        [(ERROR_TYPE_TRAILER.lower(), shown.strip(" ")), (ERROR_BODY_TRAILER.lower(), body_b64)],
    )
