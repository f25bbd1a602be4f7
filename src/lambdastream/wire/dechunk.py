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

Example::

    >>> d = ChunkedDecoder()
    >>> [bytes(p) for p in d.feed(b"5\\r\\nhel")]
    [b'hel']
    >>> [bytes(p) for p in d.feed(b"lo\\r\\n0\\r\\nX-Err: boom\\r\\n\\r\\nGET")]
    [b'lo']
    >>> d.done, d.trailers, d.tail
    (True, [('x-err', 'boom')], b'GET')
"""

from __future__ import annotations

import re

__all__ = ["MAX_LINE", "MAX_TRAILERS", "ChunkedDecoder", "ChunkedError", "Pieces"]

# A size line is a few hex digits plus rare extensions; trailers carry the
# base64 error JSON (a stack trace), so they get more room, but still a bound.
MAX_LINE = 4096
MAX_TRAILERS = 256 * 1024

_SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)
# A chunk-size line the fast path takes; anything else (extensions, spaces,
# a bare LF, over 16 digits) goes through the general state machine.
_PLAIN_SIZE = re.compile(rb"([0-9a-fA-F]{1,16})\r\n")
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
        self._trailer_bytes = 0
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
                if state == _SIZE and not self._line:
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
                    if pos >= end:
                        break
                if state == _DATA:
                    take = min(self._remaining, end - pos)
                    out.append(view[pos : pos + take])
                    pos += take
                    self._remaining -= take
                    if self._remaining == 0:
                        self._state = _DATA_END
                elif state == _SIZE:
                    nl = data.find(b"\n", pos, end)
                    if nl < 0:
                        self._append_line(data, pos, end)
                        break
                    line = self._take_line(data, pos, nl)
                    pos = nl + 1
                    size = _parse_size(line)
                    if size:
                        self._remaining = size
                        self._state = _DATA
                    else:
                        self._state = _TRAILER
                elif state == _DATA_END:
                    # The CRLF after a chunk's data may itself be split across reads.
                    nl = data.find(b"\n", pos, end)
                    if nl < 0:
                        self._append_line(data, pos, end)
                        break
                    line = self._take_line(data, pos, nl)
                    pos = nl + 1
                    if line not in (b"\r", b""):
                        raise ChunkedError("chunk data longer than its declared size")
                    self._state = _SIZE
                else:  # _TRAILER
                    nl = data.find(b"\n", pos, end)
                    if nl < 0:
                        self._append_line(data, pos, end, self.max_trailers)
                        break
                    line = self._take_line(data, pos, nl, self.max_trailers)
                    pos = nl + 1
                    if line in (b"\r", b""):
                        self._state = _DONE
                        self.done = True
                        self.tail = bytes(view[pos:end])
                        break
                    self._add_trailer(line)
        except ChunkedError as exc:
            exc.pieces = out
            raise
        return out

    def _append_line(
        self, data: bytes | bytearray, start: int, end: int, limit: int = MAX_LINE
    ) -> None:
        if len(self._line) + end - start > limit:
            raise ChunkedError(_too_long(limit))
        self._line += data[start:end]

    def _take_line(
        self, data: bytes | bytearray, start: int, nl: int, limit: int = MAX_LINE
    ) -> bytes:
        if self._line:
            self._append_line(data, start, nl, limit)
            line = bytes(self._line)
            self._line.clear()
        else:
            if nl - start > limit:
                raise ChunkedError(_too_long(limit))
            line = bytes(data[start:nl])
        return line

    def _add_trailer(self, line: bytes) -> None:
        self._trailer_bytes += len(line)
        if self._trailer_bytes > self.max_trailers:
            raise ChunkedError("trailers too large")
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip():
            raise ChunkedError("malformed trailer line")
        value = value.strip(b" \t\r")
        if _CONTROL.search(value):
            # No CR, LF or NUL in a field value (RFC 9110 5.5): a bare CR would
            # split the trailer, or the log line printing it, in two.
            raise ChunkedError("trailer value holds a control character")
        try:
            self.trailers.append((name.decode("ascii").lower(), value.decode("latin-1")))
        except UnicodeDecodeError:
            raise ChunkedError("trailer name is not ASCII") from None


def _too_long(limit: int) -> str:
    if limit == MAX_LINE:
        return "chunk framing line too long"
    return f"trailers too large (over {limit} bytes)"


def _parse_size(line: bytes) -> int:
    digits = line.split(b";", 1)[0].strip()
    # int() would accept "0x10", "+5", "1_0" and spaces: chunk sizes are bare hex.
    if not digits or len(digits) > 16 or digits.strip(b"0123456789abcdefABCDEF"):
        raise ChunkedError(f"invalid chunk size line {line[:40]!r}")
    return int(digits, 16)
