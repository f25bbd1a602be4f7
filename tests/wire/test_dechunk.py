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


# -- as strict as Go's net/http (Lambda's Runtime API) ----------------------------
# Go: src/net/http/internal/chunked.go (readChunkLine, beginChunk, parseHexUint,
# chunkedReader.Read), net/http/transfer.go (readTrailer, seeUpcomingDoubleCRLF)
# and net/textproto (readMIMEHeader). What Go refuses, a runtime must not send:
# refusing it here makes a framing bug fail under ``lambdastream dev``.


@pytest.mark.parametrize(
    ("wire", "says"),
    [
        # A chunk line ends in CRLF, no other CR (CVE-2025-22871; RFC 9112 errata 7633).
        (b"5\nhello\r\n0\r\n\r\n", "bare LF"),
        (b"5\r\nhello\r\n0\n\r\n", "bare LF"),
        (b"5\r\r\nhello\r\n0\r\n\r\n", "CR inside"),
        (b"5;a\rb\r\nhello\r\n0\r\n\r\n", "CR inside"),
        # The two bytes after chunk data are exactly CRLF ("malformed chunked encoding").
        (b"5\r\nhello\n0\r\n\r\n", "bare LF after chunk data"),
        (b"5\r\nhello\r0\r\n\r\n", "CR without LF after chunk data"),
        (b"5\r\nhel\r\n0\r\n\r\n", "does not end at its declared size"),
        (b"5\r\nhelloX\r\n", "does not end at its declared size"),
        # The size: bare hex digits, at most 16 of them, leading zeros counted.
        (b"5 ;ext\r\nhello\r\n0\r\n\r\n", "not hex"),
        (b" 5\r\nhello\r\n0\r\n\r\n", "not hex"),
        (b"0x5\r\nhello\r\n0\r\n\r\n", "not hex"),
        (b"00000000000000005\r\nhello\r\n0\r\n\r\n", "over 16 hex digits"),
        (b";ext\r\nhello\r\n0\r\n\r\n", "no chunk size"),
        (b" \r\n", "no chunk size"),
        # Trailer lines end in CRLF too (Go since 1.28; golang/go#81143).
        (b"0\r\nX: a\n\r\n", "bare LF"),
        (b"0\r\nX: a\r\n\n", "bare LF"),
        (b"0\r\n\n", "bare LF"),
        (b"0\r\nX: a\rb\r\n\r\n", "CR inside"),
        # Field names are tokens (Go: validHeaderFieldByte); a value holds no CTL.
        (b"0\r\nX(: a\r\n\r\n", "trailer name"),
        (b"0\r\nX\xe9: a\r\n\r\n", "trailer name"),
        (b"0\r\n:a\r\n\r\n", "trailer name"),
        (b"0\r\nX: a\x7fb\r\n\r\n", "control character"),
        (b"0\r\nno colon\r\n\r\n", "no colon"),
        (b"0\r\n X: a\r\n\r\n", "starts with a folded line"),
        # Stricter than Go, which keeps such a name uncanonicalized (go.dev/issue/34540):
        # RFC 9112 5.1 says a server MUST refuse it, and so do h11 and llhttp.
        (b"0\r\nX : a\r\n\r\n", "trailer name"),
    ],
)
def test_what_go_refuses_is_refused_however_it_is_split(wire, says):
    with pytest.raises(ChunkedError, match=says) as whole:
        ChunkedDecoder().feed(wire)
    decoder = ChunkedDecoder()
    with pytest.raises(ChunkedError) as split:
        for i in range(len(wire)):
            decoder.feed(wire[i : i + 1])
    assert str(split.value) == str(whole.value)


@pytest.mark.parametrize(
    ("wire", "trailers"),
    [
        (b"5 \t\r\nhello\r\n0\r\n\r\n", []),  # trailing SP/HTAB: Go trims it
        (b"5;a b\r\nhello\r\n0;\r\n\r\n", []),  # extensions are cut off, never parsed
        (b'5;q="a;b" \r\nhello\r\n0\r\n\r\n', []),
        (b"0000000000000005\r\nhello\r\n0\r\n\r\n", []),  # 16 digits, zeros included
        (b"5\r\nhello\r\n0\r\nX: a\r\n  b \r\n\r\n", [("x", "a b")]),  # obs-fold, joined
        (b"5\r\nhello\r\n0\r\nX-A.b_c!#$%&'*+^`|~: \t\r\n\r\n", [("x-a.b_c!#$%&'*+^`|~", "")]),
    ],
)
def test_what_go_accepts_is_accepted(wire, trailers):
    decoder = ChunkedDecoder()
    assert b"".join(decoder.feed(wire)) == b"hello"
    assert decoder.done
    assert decoder.trailers == trailers


def test_a_framing_line_fits_go_s_4_kib_buffer_with_its_crlf():
    line = b"5;" + b"e" * (MAX_LINE - 4) + b"\r\n"
    assert len(line) == MAX_LINE
    decoder = ChunkedDecoder()
    decoder.feed(line + b"hello\r\n0\r\n\r\n")
    assert decoder.done
    with pytest.raises(ChunkedError, match="line too long"):
        ChunkedDecoder().feed(b"5;e" + line[2:] + b"hello\r\n")


def test_extensions_may_not_outweigh_the_data():
    # Go's CVE-2023-39326 bound: 16 bytes of overhead per chunk plus twice its
    # data are free; past 16 KiB of excess the body is refused.
    chunk = b"1;" + b"e" * 1000 + b"\r\nx\r\n"  # 1004 framing bytes for 1 byte: 986 excess
    decoder = ChunkedDecoder()
    assert len(decoder.feed(chunk * 16 + b"0\r\n\r\n")) == 16
    with pytest.raises(ChunkedError, match="chunk extensions") as refused:
        ChunkedDecoder().feed(chunk * 17 + b"0\r\n\r\n")
    assert len(refused.value.pieces) == 16  # sent before the fault


def test_data_pays_for_the_extensions_before_it():
    chunk = b"1;" + b"e" * 1000 + b"\r\nx\r\n"
    paying = b"2000\r\n" + b"d" * 0x2000 + b"\r\n"  # 16 KiB of allowance: excess back to 0
    decoder = ChunkedDecoder()
    decoder.feed((chunk * 16 + paying) * 4 + b"0\r\n\r\n")
    assert decoder.done


def test_trailer_fields_are_counted():
    # Go 1.27 counts trailer fields against Server.MaxHeaderValueCount (500).
    fields = b"".join(b"X-%d: v\r\n" % i for i in range(500))
    decoder = ChunkedDecoder()
    decoder.feed(b"0\r\n" + fields + b"\r\n")
    assert len(decoder.trailers) == 500
    with pytest.raises(ChunkedError, match="too many trailers"):
        ChunkedDecoder().feed(b"0\r\n" + fields + b"Y: v\r\n\r\n")


def test_the_payload_before_a_fault_is_handed_over():
    with pytest.raises(ChunkedError) as refused:
        ChunkedDecoder().feed(b"3\r\nabc\r\n2\r\nde\n")
    assert [bytes(p) for p in refused.value.pieces] == [b"abc", b"de"]
