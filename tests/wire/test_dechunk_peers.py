"""The chunked decoder against two peer parsers, h11 and httptools (llhttp).

As h11 is tested against the standard library: the same request (a chunked
POST) goes to our decoder, to ``h11.Connection(h11.SERVER)`` and to
``httptools.HttpRequestParser``. Valid bodies (any chunk sizes, extensions,
trailers) must be read alike by all three. Mutated bodies (one fault each)
may be judged differently only where the difference is written down below:
our decoder follows Go's net/http, Lambda's Runtime API, which is stricter
than the peers in some places and more lenient than llhttp in others.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass

import h11
import httptools
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambdastream.wire.dechunk import MAX_LINE, MAX_TRAILERS, ChunkedDecoder, ChunkedError

HEAD = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"

# Where a peer takes what Go (and so our decoder) refuses, and why Go refuses it.
GO_STRICTER: dict[str, dict[str, str]] = {
    "17 to 20 hex digits": {
        "h11": "Go reads at most 16 hex digits, leading zeros counted; h11 reads 20",
        "httptools": "llhttp counts significant digits only (overflow), Go counts zeros",
    },
    "size over 64 bits": {"h11": "Go reads at most 16 hex digits; h11 reads 20"},
    "bare LF ending a trailer line": {
        "h11": "Go since 1.28 wants CRLF on trailer lines (golang/go#81143); h11 takes LF",
    },
    "bare LF ending the trailers": {
        "h11": "Go since 1.28 wants CRLF on trailer lines (golang/go#81143); h11 takes LF",
    },
    "LF in a trailer value": {
        "h11": "Go since 1.28 wants CRLF on trailer lines (golang/go#81143); h11 takes a "
        "bare LF as a line end (and what follows as a field, or a folded line)",
    },
    "control character in a trailer value": {
        "h11": "Go's validHeaderValueByte refuses CTLs and DEL; h11's value pattern takes them",
    },
    "CR inside an extension": {
        "h11": "Go refuses any CR before a chunk line's CRLF (CVE-2025-22871); h11's "
        "extension pattern is ';.*', which takes a CR",
    },
    "size line over 4 KiB": {
        "h11": "Go reads a chunk line into its 4 KiB buffer; h11 has no per-line bound "
        "once the line has arrived",
        "httptools": "Go reads a chunk line into its 4 KiB buffer; llhttp has no line bound",
    },
    "extensions outweigh the data": {
        "h11": "Go bounds framing overhead (CVE-2023-39326); h11 does not",
        "httptools": "Go bounds framing overhead (CVE-2023-39326); llhttp does not",
    },
    "over 500 trailers": {
        "h11": "Go 1.27 counts trailers against MaxHeaderValueCount (500); h11 has no count",
        "httptools": "Go 1.27 counts trailers against MaxHeaderValueCount (500); llhttp "
        "has no count",
    },
    "trailers over their bound": {
        "h11": "Go wants all trailers in its 4 KiB buffer (we allow MAX_TRAILERS); h11 "
        "has no bound once they have arrived",
        "httptools": "Go wants all trailers in its 4 KiB buffer (we allow MAX_TRAILERS); "
        "llhttp has no bound",
    },
}

# Where a peer refuses what Go (and so our decoder) takes, and why Go takes it.
PEER_STRICTER: dict[str, dict[str, str]] = {
    "whitespace ending a size line": {
        "httptools": "Go trims SP/HTAB off a size line (trimTrailingWhitespace); llhttp "
        "refuses any byte after the size but ';' and CR",
    },
    "extension llhttp would not parse": {
        "httptools": "Go cuts extensions off at ';' unparsed; llhttp checks their syntax",
    },
    "obs-fold in a trailer": {
        "httptools": "Go's textproto (and h11) join a folded line with one space; llhttp "
        "refuses obs-fold",
    },
    "whitespace starting a trailer line": {
        "httptools": "past the first trailer that is obs-fold, which Go's textproto (and "
        "h11) join to the field above; llhttp refuses obs-fold",
    },
}

# Go takes these and our decoder does not; no peer takes them either, so the
# differential cannot show it: a space before a trailer's colon, or inside its
# name (Go keeps such a name uncanonicalized, go.dev/issue/34540; RFC 9112 5.1
# says a server MUST refuse it).

TOKEN = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
tokens = st.text(TOKEN, min_size=1, max_size=12).map(str.encode)


# -- three parsers, one verdict each: ("ok", payload, trailers), ("more", payload), ("refused",)


Verdict = tuple[object, ...]


def ours(body: bytes, cuts: list[int] | None = None) -> Verdict:
    decoder = ChunkedDecoder()
    payload = bytearray()
    points = sorted({0, len(body), *(c % (len(body) + 1) for c in cuts or [])})
    try:
        for a, b in itertools.pairwise(points):
            for piece in decoder.feed(body[a:b]):
                payload += piece
            if decoder.done:
                return ("ok", bytes(payload), decoder.trailers)
    except ChunkedError as exc:
        return ("refused", str(exc))
    return ("more", bytes(payload))


def with_h11(body: bytes) -> Verdict:
    server = h11.Connection(h11.SERVER)
    server.receive_data(HEAD + body)
    payload = bytearray()
    try:
        while True:
            event = server.next_event()
            if isinstance(event, h11.Data):
                payload += event.data
            elif isinstance(event, h11.EndOfMessage):
                trailers = [(k.decode(), v.decode("latin-1")) for k, v in event.headers]
                return ("ok", bytes(payload), trailers)
            elif event is h11.NEED_DATA:
                return ("more", bytes(payload))
    except h11.RemoteProtocolError as exc:
        return ("refused", str(exc))


class _Collect:
    def __init__(self) -> None:
        self.payload = bytearray()
        self.trailers: list[tuple[str, str]] = []
        self.in_head = True
        self.complete = False

    def on_headers_complete(self) -> None:
        self.in_head = False

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.in_head:
            # llhttp leaves a value's trailing whitespace on; Go, h11 and we drop it.
            self.trailers.append((name.decode("latin-1").lower(), value.decode("latin-1")))

    def on_body(self, data: bytes) -> None:
        self.payload += data

    def on_message_complete(self) -> None:
        self.complete = True


def with_httptools(body: bytes) -> Verdict:
    sink = _Collect()
    try:
        httptools.HttpRequestParser(sink).feed_data(HEAD + body)
    except httptools.HttpParserError as exc:
        return ("refused", str(exc))
    if sink.complete:
        trailers = [(k, v.rstrip(" \t")) for k, v in sink.trailers]
        return ("ok", bytes(sink.payload), trailers)
    return ("more", bytes(sink.payload))


PEERS: dict[str, Callable[[bytes], Verdict]] = {"h11": with_h11, "httptools": with_httptools}


# -- valid bodies, as segments a mutation can change one of ---------------------------


Segments = list[tuple[str, bytes]]


@st.composite
def sizes(draw: st.DrawFn) -> int:
    return draw(
        st.one_of(
            st.integers(1, 40),
            st.integers(41, 5000),
            st.sampled_from([0x3FFF, 0x4000, 0x10000, 0x40001]),  # big, read in pieces
        )
    )


@st.composite
def hex_of(draw: st.DrawFn, n: int) -> bytes:
    digits = f"{n:x}"
    zeros = draw(st.integers(0, 16 - len(digits)))
    upper = draw(st.booleans())
    text = "0" * zeros + (digits.upper() if upper else digits)
    return text.encode()


extensions = st.one_of(
    st.just(b""),
    st.lists(
        st.tuples(
            tokens,
            st.one_of(
                st.none(),
                tokens,
                # a quoted string: its ';' does not start an extension (Go cuts there
                # anyway: what follows the first ';' is never read)
                st.lists(st.sampled_from([b"a", b" ", b";", b"=", b"\t", b'\\"', b"\\\\"]))
                .map(b"".join)
                .map(lambda s: b'"%b"' % s),
            ),
        ),
        min_size=1,
        max_size=3,
    ).map(lambda pairs: b"".join(b";" + k + (b"" if v is None else b"=" + v) for k, v in pairs)),
)

trailer_names = tokens.filter(
    # fields h11 or llhttp interpret even as trailers
    lambda n: (
        n.lower()
        not in (b"content-length", b"transfer-encoding", b"trailer", b"connection", b"upgrade")
    )
)
# VCHAR and obs-text with SP/HTAB inside, never at either end (where all strip it).
trailer_values = st.one_of(
    st.just(b""),
    st.tuples(
        st.binary(min_size=1, max_size=1).filter(lambda b: b[0] > 0x20 and b[0] != 0x7F),
        st.text(
            st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
            max_size=30,
        ).map(lambda s: s.encode("latin-1")),
        st.binary(min_size=1, max_size=1).filter(lambda b: b[0] > 0x20 and b[0] != 0x7F),
    ).map(b"".join),
)


@st.composite
def bodies(draw: st.DrawFn) -> Segments:
    rng = random.Random(draw(st.integers(0, 2**32)))
    segments: Segments = []
    for size in draw(st.lists(sizes(), max_size=6)):
        segments += [
            ("size", draw(hex_of(size))),
            ("ext", draw(extensions)),
            ("size_eol", b"\r\n"),
            ("data", rng.randbytes(size)),
            ("data_eol", b"\r\n"),
        ]
    segments += [("last_size", b"0" * draw(st.integers(1, 16)))]
    segments += [("ext", draw(extensions)), ("size_eol", b"\r\n")]
    for name, value in draw(st.lists(st.tuples(trailer_names, trailer_values), max_size=4)):
        segments += [("name", name), ("colon", b":" + draw(st.sampled_from([b"", b" ", b"\t"])))]
        segments += [("value", value), ("trailer_eol", b"\r\n")]
    return [*segments, ("end_eol", b"\r\n")]


def joined(segments: Segments) -> bytes:
    return b"".join(part for _, part in segments)


def expected(segments: Segments) -> tuple[bytes, list[tuple[str, str]]]:
    payload = b"".join(part for kind, part in segments if kind == "data")
    names = [part.decode().lower() for kind, part in segments if kind == "name"]
    values = [part.decode("latin-1") for kind, part in segments if kind == "value"]
    return payload, list(zip(names, values, strict=True))


# -- mutations: one fault each, with what Go (and so our decoder) makes of it ---------


@dataclass(frozen=True)
class Mutation:
    name: str
    kinds: tuple[str, ...]  # the segments it may change
    change: Callable[[bytes, random.Random], bytes]
    go: str | None  # "ok", "refused", or None where either may be right


def _insert(part: bytes, rng: random.Random, what: bytes) -> bytes:
    at = rng.randrange(len(part) + 1)
    return part[:at] + what + part[at:]


def _bad_digit(part: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(part))
    return part[:at] + rng.choice([b"g", b"Z", b"-", b"+", b"_", b".", b"\x00"]) + part[at + 1 :]


def _fold(value: bytes, rng: random.Random) -> bytes:
    return value + b"\r\n" + rng.choice([b" ", b"\t", b" \t "]) + rng.choice([b"b", b"x y"])


MUTATIONS = [
    Mutation("bare LF ending a size line", ("size_eol",), lambda p, r: b"\n", "refused"),
    Mutation("bare LF after chunk data", ("data_eol",), lambda p, r: b"\n", "refused"),
    Mutation("bare LF ending a trailer line", ("trailer_eol",), lambda p, r: b"\n", "refused"),
    Mutation("bare LF ending the trailers", ("end_eol",), lambda p, r: b"\n", "refused"),
    Mutation("CR without LF after data", ("data_eol",), lambda p, r: b"\r", "refused"),
    Mutation("no CRLF after chunk data", ("data_eol",), lambda p, r: b"", "refused"),
    Mutation("bad hex digit", ("size", "last_size"), _bad_digit, "refused"),
    Mutation("0x prefix", ("size", "last_size"), lambda p, r: b"0x" + p, "refused"),
    Mutation(
        "whitespace before the size",
        ("size", "last_size"),
        lambda p, r: r.choice([b" ", b"\t"]) + p,
        "refused",
    ),
    Mutation(
        "whitespace before ';'",
        ("ext",),
        lambda p, r: r.choice([b" ", b"\t"]) + (p or b";e"),
        "refused",
    ),
    Mutation(
        "whitespace ending a size line",
        ("size_eol",),
        lambda p, r: r.choice([b" ", b"\t", b" \t "]) + p,
        "ok",
    ),
    Mutation(
        "17 to 20 hex digits",
        ("size", "last_size"),
        lambda p, r: b"0" * (r.randint(17, 20) - len(p)) + p,
        "refused",
    ),
    Mutation("size over 64 bits", ("size",), lambda p, r: b"1" + b"0" * 16, "refused"),
    Mutation("no size", ("size", "last_size"), lambda p, r: b"", "refused"),
    Mutation(
        "size longer than the data",
        ("size",),
        lambda p, r: b"%x" % (int(p, 16) + r.randint(1, 20)),
        None,  # refused, or waiting for data that never comes
    ),
    Mutation(
        "size shorter than the data",
        ("size",),
        lambda p, r: b"%x" % r.randrange(1, int(p, 16)) if int(p, 16) > 1 else b"0x",
        None,  # refused, unless the data happens to hold a valid chunk
    ),
    Mutation("CR inside an extension", ("ext",), lambda p, r: (p or b";e") + b"\rx", "refused"),
    Mutation(
        "extension llhttp would not parse",
        ("ext",),
        lambda p, r: r.choice([b";", b"; e", b";a b", b";a=b ", b";a=b\t", b";;"]),
        "ok",
    ),
    Mutation(
        "size line over 4 KiB",
        ("ext",),
        lambda p, r: b";e=" + b"x" * r.randint(MAX_LINE, MAX_LINE + 20),
        "refused",
    ),
    Mutation("NUL in a trailer value", ("value",), lambda p, r: _insert(p, r, b"\0"), "refused"),
    Mutation("CR in a trailer value", ("value",), lambda p, r: _insert(p, r, b"\r"), "refused"),
    Mutation("LF in a trailer value", ("value",), lambda p, r: _insert(p, r, b"\n"), "refused"),
    Mutation(
        "control character in a trailer value",
        ("value",),
        lambda p, r: _insert(p, r, r.choice([b"\x01", b"\x08", b"\x0b", b"\x1b", b"\x7f"])),
        "refused",
    ),
    Mutation(
        "non-token byte in a trailer name",
        ("name",),
        # a space inside the name (Go takes it: see above), never before it (obs-fold)
        lambda p, r: p[:1] + _insert(p[1:], r, r.choice([b"(", b"@", b"/", b" ", b"\xe9"])),
        "refused",
    ),
    Mutation("space before a trailer's colon", ("colon",), lambda p, r: b" " + p, "refused"),
    Mutation("trailer without colon", ("colon",), lambda p, r: b" ", None),
    Mutation("obs-fold in a trailer", ("value",), _fold, "ok"),
    Mutation(
        "whitespace starting a trailer line",
        ("name",),
        lambda p, r: r.choice([b" ", b"\t"]) + p,
        None,  # refused on the first trailer line, joined to the field above on others
    ),
    Mutation(
        "trailers over their bound",
        ("value",),
        lambda p, r: b"v" * MAX_TRAILERS,
        "refused",
    ),
]

# Mutations that add to the body rather than change one segment.
EXCESS = b"1;" + b"e" * 1000 + b"\r\nx\r\n"  # 986 bytes of Go's excess each
BIG_ADDITIONS = {
    "extensions outweigh the data": ("last_size", EXCESS * 17, "refused"),
    "over 500 trailers": ("end_eol", b"".join(b"X-%d: v\r\n" % i for i in range(501)), "refused"),
}


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str | None, bytes]:
    segments = draw(bodies())
    rng = random.Random(draw(st.integers(0, 2**32)))
    usable = [m.name for m in MUTATIONS if any(kind in m.kinds for kind, _ in segments)]
    name = draw(st.sampled_from(sorted([*usable, *BIG_ADDITIONS])))
    if name in BIG_ADDITIONS:
        before, extra, go = BIG_ADDITIONS[name]
        at = next(i for i, (kind, _) in enumerate(segments) if kind == before)
        segments.insert(at, ("added", extra))
        return name, go, joined(segments)
    mutation = next(m for m in MUTATIONS if m.name == name)
    places = [i for i, (kind, _) in enumerate(segments) if kind in mutation.kinds]
    at = draw(st.sampled_from(places))
    kind, part = segments[at]
    segments[at] = (kind, mutation.change(part, rng))
    return mutation.name, mutation.go, joined(segments)


def accepts(verdict: Verdict) -> bool:
    return verdict[0] != "refused"


# -- the properties -------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies(), st.lists(st.integers(min_value=0), max_size=20))
def test_valid_bodies_read_alike_by_all_three(segments, cuts):
    body = joined(segments)
    payload, trailers = expected(segments)
    assert ours(body) == ("ok", payload, trailers)
    assert ours(body, cuts) == ("ok", payload, trailers)
    for name, peer in PEERS.items():
        assert peer(body) == ("ok", payload, trailers), name


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(), st.lists(st.integers(min_value=0), max_size=20))
def test_mutated_bodies_differ_only_where_documented(case, cuts):
    name, go, body = case
    verdict = ours(body)
    # The verdict does not depend on how the bytes were split into reads.
    assert ours(body, cuts) == verdict
    if go is not None:
        assert (verdict[0] == "refused") == (go == "refused"), (name, verdict)
    for peer_name, peer in PEERS.items():
        theirs = peer(body)
        if accepts(verdict) != accepts(theirs):
            table = PEER_STRICTER if accepts(verdict) else GO_STRICTER
            reason = table.get(name, {}).get(peer_name)
            assert reason, f"undocumented: on {name!r} we say {verdict}, {peer_name} {theirs}"
        elif verdict[0] == "ok" or theirs[0] == "ok":
            # Both take it: the same payload and trailers, and both see the end.
            assert theirs == verdict, (name, peer_name)
