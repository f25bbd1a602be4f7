"""Incremental decoder for HTTP/1.1 chunked bodies, with trailers (sans-I/O).

The runtime streams its answer as a chunked request body whose final chunk may
carry error trailers. The decoder walks each fed buffer by offset and hands
back zero-copy ``memoryview`` slices of the payload as soon as they arrive,
even when a chunk is split across reads: the relay forwards bytes the moment
it has them and never holds a whole chunk. Only framing lines (chunk sizes,
trailers) are buffered, and those are bounded.

Whole, plainly framed chunks (``<hex size>\r\n<data>\r\n``, no extension)
take a fast path: one regex match per chunk. The run of them in a batch is
also handed out as the raw bytes that encode it (``Pieces.frames``), so a
chunked relay forwards a batch as received, without re-framing each chunk.

Lambda's Runtime API is Go's net/http, so the decoder refuses what Go
refuses, and a runtime's framing bug fails here rather than on AWS: every
chunk line and trailer line ends in CRLF with no other CR (Go since
CVE-2025-22871; trailers since Go 1.28), chunk data is followed by exactly
CRLF, a size is 1 to 16 hex digits (SP/HTAB may follow it, not precede a
``;``), extensions are cut off unparsed but may not outweigh the data
(CVE-2023-39326), a line fits Go's 4 KiB buffer, and a trailer is a token
name, a colon and a value without control characters (obs-fold is joined,
as Go does). One thing Go takes is refused: a space before a trailer's
colon (RFC 9112 5.1 says a server MUST refuse it).

Example::

    >>> d = ChunkedDecoder()
    >>> [bytes(p) for p in d.feed(b"5\\r\\nhel")]
    [b'hel']
    >>> [bytes(p) for p in d.feed(b"lo\\r\\n0\\r\\nX-Err: boom\\r\\n\\r\\nGET")]
    [b'lo']
    >>> d.done, d.trailers, d.tail
    (True, [('x-err', 'boom')], b'GET')
    >>> ChunkedDecoder().feed(b"5\\r\\nhello\\n0\\r\\n\\r\\n")
    Traceback (most recent call last):
    ...
    lambdastream.wire.dechunk.ChunkedError: bare LF after chunk data
"""

from __future__ import annotations

import re

__all__ = ["MAX_LINE", "MAX_TRAILERS", "ChunkedDecoder", "ChunkedError", "Pieces"]

# Go's server reads a chunk line into its 4 KiB buffer: a longer line, CRLF
# included, is refused ("header line too long").
MAX_LINE = 4096
# Go wants the whole trailer section in that 4 KiB buffer too; but trailers
# carry the base64 error JSON (a stack trace), so they get more room here,
# still bounded.
MAX_TRAILERS = 256 * 1024
# Go 1.27 counts trailer fields against Server.MaxHeaderValueCount.
_MAX_TRAILER_FIELDS = 500
# Go's bound on framing overhead (CVE-2023-39326): each chunk may spend 16
# bytes plus twice its data on framing for free; once the excess is over
# 16 KiB, the sender is padding a trickle of data with extensions.
_FREE_FRAMING = 16
_MAX_EXCESS = 16 * 1024

_SIZE, _DATA, _DATA_CR, _DATA_LF, _TRAILER, _DONE = range(6)
# A chunk-size line the fast path takes; anything else (extensions, spaces,
# a bare LF, over 16 digits) goes through the general state machine. A plain
# line never adds to Go's framing excess: its digits and CRLFs (at most 20
# bytes) are paid for by 16 + 2 * size, size >= 1.
_PLAIN_SIZE = re.compile(rb"([0-9a-fA-F]{1,16})\r\n")
_HEX = re.compile(rb"[0-9a-fA-F]+")
# A field name is a token (RFC 9110 5.6.2; Go's validHeaderFieldByte).
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Control characters a field value may not hold (a tab is allowed).
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


class ChunkedError(ValueError):
    """The bytes are not a valid chunked body (or exceed a bound).

    ``pieces`` holds the payload the failing ``feed`` decoded before the
    fault: it was sent, and a receiver may still pass it on.
    """

    pieces: list[memoryview] = []  # replaced per instance, never mutated


class Pieces(list):  # type: ignore[type-arg]
    """Payload slices of one fed batch, in order (a ``list`` of ``memoryview``).

    ``frames`` is ``None`` or ``(first, stop, raw)``: ``raw`` is the exact
    chunked encoding of ``self[first:stop]``, one chunk per piece, as the
    sender framed them; like the slices, it points into the fed data.
    """

    __slots__ = ("frames",)

    def __init__(self) -> None:
        super().__init__()
        self.frames: tuple[int, int, memoryview] | None = None


class ChunkedDecoder:
    """Decode one chunked body from bytes fed in pieces of any size.

    ``feed`` returns the payload found in that piece; after the terminating
    chunk ``done`` is true, ``trailers`` holds ``(lowercase name, value)``
    pairs and ``tail`` the bytes that followed the body (the next request on
    a keep-alive connection).
    """

    __slots__ = (
        "_excess",
        "_field",
        "_line",
        "_remaining",
        "_state",
        "_trailer_bytes",
        "done",
        "max_trailers",
        "tail",
        "trailers",
    )

    def __init__(self, max_trailers: int = MAX_TRAILERS) -> None:
        self.max_trailers = max_trailers
        self._state = _SIZE
        self._line = bytearray()
        self._remaining = 0
        self._excess = 0
        self._trailer_bytes = 0
        self._field: bytes | None = None
        self.done = False
        self.trailers: list[tuple[str, str]] = []
        self.tail = b""

    def feed(self, data: bytes | bytearray, end: int | None = None) -> Pieces:
        """Consume ``data[:end]``; return the payload slices it completed or continued.

        The slices point into ``data``: a caller that reuses its buffer must
        be done with them before the next read.
        """
        if self._state == _DONE:
            raise ChunkedError("data after the end of the chunked body")
        out = Pieces()
        view = memoryview(data)
        pos = 0
        if end is None:
            end = len(data)
        try:
            while pos < end:
                state = self._state
                if state == _SIZE and not self._line and not self._excess:
                    # Fast path: whole chunks in this batch, no per-chunk state.
                    run = pos
                    first = len(out)
                    match = _PLAIN_SIZE.match
                    append = out.append
                    startswith = data.startswith
                    while (m := match(data, pos, end)) is not None:
                        size = int(m.group(1), 16)
                        start = m.end()
                        stop = start + size
                        # The last chunk, a partial one or a bad ending: general path.
                        if not size or stop + 2 > end or not startswith(b"\r\n", stop):
                            break
                        append(view[start:stop])
                        pos = stop + 2
                    if pos > run and out.frames is None:
                        out.frames = (first, len(out), view[run:pos])
                    if m is not None and size and stop + 2 > end:
                        # A plain chunk running past this batch (a big one, read in
                        # pieces): its size line is already read, its data streams.
                        pos = start
                        self._remaining = size
                        state = self._state = _DATA
                    if pos >= end:
                        break
                if state == _DATA:
                    take = min(self._remaining, end - pos)
                    out.append(view[pos : pos + take])
                    pos += take
                    self._remaining -= take
                    if self._remaining == 0:
                        self._state = _DATA_CR
                elif state == _SIZE:
                    nl = data.find(b"\n", pos, end)
                    if nl < 0:
                        self._append_line(data, pos, end, MAX_LINE - 1)
                        break
                    line = self._take_line(data, pos, nl, MAX_LINE - 1)
                    pos = nl + 1
                    self._begin_chunk(line)
                elif state == _DATA_CR:
                    # Exactly CRLF after the data, each byte maybe in its own read.
                    if data.startswith(b"\r\n", pos, end):
                        pos += 2
                        self._state = _SIZE
                        continue
                    if data[pos] != 0x0D:
                        raise ChunkedError(
                            "bare LF after chunk data"
                            if data[pos] == 0x0A
                            else "chunk data does not end at its declared size"
                        )
                    pos += 1
                    self._state = _DATA_LF
                elif state == _DATA_LF:
                    if data[pos] != 0x0A:
                        raise ChunkedError("CR without LF after chunk data")
                    pos += 1
                    self._state = _SIZE
                else:  # _TRAILER
                    nl = data.find(b"\n", pos, end)
                    room = self.max_trailers - self._trailer_bytes - 1  # the LF
                    if nl < 0:
                        self._append_line(data, pos, end, room)
                        break
                    line = self._take_line(data, pos, nl, room)
                    pos = nl + 1
                    self._trailer_bytes += len(line) + 1
                    if self._trailer_line(line):
                        self._state = _DONE
                        self.done = True
                        self.tail = bytes(view[pos:end])
                        break
        except ChunkedError as exc:
            exc.pieces = out
            raise
        return out

    def _append_line(self, data: bytes | bytearray, start: int, end: int, limit: int) -> None:
        if len(self._line) + end - start > limit:
            raise ChunkedError(self._too_long())
        self._line += data[start:end]

    def _take_line(self, data: bytes | bytearray, start: int, nl: int, limit: int) -> bytes:
        """The line from ``start`` to the LF at ``nl`` (excluded), with what was buffered."""
        if self._line:
            self._append_line(data, start, nl, limit)
            line = bytes(self._line)
            self._line.clear()
        else:
            if nl - start > limit:
                raise ChunkedError(self._too_long())
            line = bytes(data[start:nl])
        return line

    def _too_long(self) -> str:
        if self._state == _TRAILER:
            return f"trailers too large (over {self.max_trailers} bytes)"
        return f"chunk line too long (over {MAX_LINE} bytes)"

    def _begin_chunk(self, line: bytes) -> None:
        """Read a chunk-size line (its LF taken off) as Go's ``beginChunk`` does."""
        line = _without_crlf(line, "chunk size line")
        # Go trims trailing SP/HTAB, then cuts the extension off at ";" without
        # parsing it: so "5 ;ext" keeps its space and is refused.
        digits = line.rstrip(b" \t").partition(b";")[0]
        if not digits:
            raise ChunkedError("no chunk size")
        if _HEX.fullmatch(digits) is None:
            raise ChunkedError(f"chunk size is not hex: {digits[:20]!r}")
        if len(digits) > 16:
            raise ChunkedError("chunk size over 16 hex digits")
        size = int(digits, 16)
        excess = self._excess + len(line) + 2 - _FREE_FRAMING - 2 * size
        self._excess = max(_go_int64(excess), 0)
        if self._excess > _MAX_EXCESS:
            raise ChunkedError("chunk extensions outweigh the data (over 16 KiB)")
        if size:
            self._remaining = size
            self._state = _DATA
        else:
            self._state = _TRAILER

    def _trailer_line(self, line: bytes) -> bool:
        """Take one trailer line (its LF taken off); return whether it ended the section."""
        line = _without_crlf(line, "trailer line")
        if line[:1] in (b" ", b"\t"):
            # obs-fold: Go (and h11) join it to the field above with one space.
            if self._field is None:
                raise ChunkedError("trailer section starts with a folded line")
            self._field += b" " + line.strip(b" \t")
            return False
        if self._field is not None:
            self._add_trailer(self._field)
            self._field = None
        if not line:
            return True
        if b":" not in line:
            raise ChunkedError("trailer line has no colon")
        # A field waits for its continuation lines before it is checked.
        self._field = line.strip(b" \t")
        return False

    def _add_trailer(self, field: bytes) -> None:
        name, _, value = field.partition(b":")
        if _TOKEN.fullmatch(name) is None:
            raise ChunkedError(f"invalid trailer name {name[:40]!r}")
        if _CONTROL.search(value):
            # No NUL or other control in a field value (RFC 9110 5.5): a value
            # is printed in the log, and forwarded as a header.
            raise ChunkedError("trailer value holds a control character")
        if len(self.trailers) >= _MAX_TRAILER_FIELDS:
            raise ChunkedError(f"too many trailers (over {_MAX_TRAILER_FIELDS})")
        self.trailers.append((name.decode("ascii").lower(), value.lstrip(b" \t").decode("latin-1")))


def _without_crlf(line: bytes, what: str) -> bytes:
    # RFC 9112 lets header lines end in a bare LF but not chunked framing
    # (errata 7633), and Go refuses it: a parser that takes it and one that
    # does not read two different bodies out of the same bytes (CVE-2025-22871).
    if not line.endswith(b"\r"):
        raise ChunkedError(f"{what} ends in a bare LF")
    line = line[:-1]
    if b"\r" in line:
        raise ChunkedError(f"CR inside a {what}")
    return line


def _go_int64(n: int) -> int:
    """``n`` wrapped as Go's int64 wraps it.

    Go keeps the framing excess in an int64, which sizes from 2**62 up
    overflow; wrapping as Go does refuses the same absurd sizes it refuses.

    >>> _go_int64(2**63), _go_int64(-5)
    (-9223372036854775808, -5)
    """
    n &= (1 << 64) - 1
    return n - (1 << 64) if n >> 63 else n
