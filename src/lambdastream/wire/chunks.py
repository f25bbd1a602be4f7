"""HTTP/1.1 chunked framing, and Lambda's error trailers (pure, no I/O).

The one place chunks are framed: the runtime's streamed response, the dev
server's answers and the Invoke API's event stream all frame with these.
CPython's ``http.client`` always ends a chunked body with ``0\\r\\n\\r\\n`` and
cannot send trailers, and Lambda reports a mid-stream error only as
trailers on the final chunk; so the runtime frames chunks itself. An empty
chunk would end the body: it is never framed. This module imports nothing
(it is on every function's cold start).

Example::

    >>> frame_chunks([b"ab", b"", b"c"], tail=last_chunk([("X-A", "1")]))
    [b'2\\r\\nab\\r\\n1\\r\\nc\\r\\n0\\r\\nX-A: 1\\r\\n\\r\\n']
"""

ERROR_TYPE_TRAILER = "Lambda-Runtime-Function-Error-Type"
ERROR_BODY_TRAILER = "Lambda-Runtime-Function-Error-Body"

LAST_CHUNK = b"0\r\n\r\n"
# Lambda's Runtime API is Go's net/http, which takes a chunked body's trailer
# section (its lines and the final CRLF) only within its 4 KiB read buffer
# (transfer.go, seeUpcomingDoubleCRLF): longer, and the body fails.
TRAILERS_LIMIT = 4096

# A chunk at least this big is handed to the kernel as its own buffer (no
# copy); smaller ones are copied together with their framing. Copying a few
# KiB costs less than the kernel's bookkeeping for one more buffer, and it
# bounds the buffers per write: at most two per big chunk, plus one.
SCATTER_MIN = 16 * 1024

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterable, Sequence

    Buffer = bytes | memoryview


def size_line(size: int) -> bytes:
    """The line that starts a chunk of ``size`` bytes.

    >>> size_line(26)
    b'1a\\r\\n'
    """
    return b"%x\r\n" % size


def frame_chunk(data: bytes) -> bytes:
    """Return ``data`` (non-empty) as one chunk: size line, data and CRLF together.

    >>> frame_chunk(b"hello")
    b'5\\r\\nhello\\r\\n'
    """
    return b"%x\r\n%b\r\n" % (len(data), data)


def frame_chunks(
    pieces: "Sequence[Buffer]", head: bytes = b"", tail: bytes = b""
) -> "list[Buffer]":
    """Return ``head``, each non-empty piece as one chunk, then ``tail``, as few buffers.

    The buffers, joined, are exactly ``head``, ``frame_chunk(p)`` for each
    non-empty piece, and ``tail``. Pieces under :data:`SCATTER_MIN` are
    copied into the buffers around them; bigger ones are returned as they
    are, so there are at most two buffers per big piece, plus one, however
    many pieces there are.

    >>> frame_chunks([b"ab", b"c"], head=b"H", tail=LAST_CHUNK)
    [b'H2\\r\\nab\\r\\n1\\r\\nc\\r\\n0\\r\\n\\r\\n']
    >>> big = b"x" * SCATTER_MIN
    >>> [len(b) for b in frame_chunks([b"a", big, b"b"])]
    [12, 16384, 8]
    """
    buffers: list[Buffer] = []
    copied: list[Buffer] = [head] if head else []
    for piece in pieces:
        size = len(piece)
        if not size:
            continue
        if size < SCATTER_MIN:
            copied += (b"%x\r\n" % size, piece, b"\r\n")
        else:
            copied.append(b"%x\r\n" % size)
            buffers += (b"".join(copied), piece)
            copied = [b"\r\n"]
    if tail:
        copied.append(tail)
    if copied:
        buffers.append(b"".join(copied))
    return buffers


def last_chunk(trailers: "Iterable[tuple[str, str]]" = ()) -> bytes:
    """The chunk that ends a body, with ``trailers`` (already safe header values).

    >>> last_chunk()
    b'0\\r\\n\\r\\n'
    """
    lines = "".join(f"{name}: {value}\r\n" for name, value in trailers)
    return b"0\r\n" + lines.encode("latin-1") + b"\r\n"


def error_body_room(error_type: str) -> int:
    """How many bytes of base64 the error body trailer may hold next to ``error_type``.

    >>> error_body_room("ValueError")
    4008
    """
    frame = len(last_chunk_with_error(error_type, "")) - len(b"0\r\n")
    return TRAILERS_LIMIT - frame


def last_chunk_with_error(error_type: str, error_body_b64: str) -> bytes:
    """Return the terminating chunk carrying Lambda's two error trailers.

    The body must already be base64: a CR or LF inside a trailer value would
    end the trailer early and Lambda would report a truncated response. It
    must fit :func:`error_body_room`, or Lambda refuses the trailers.
    """
    return last_chunk(
        ((ERROR_TYPE_TRAILER, _header_safe(error_type)), (ERROR_BODY_TRAILER, error_body_b64))
    )


def _header_safe(value: str) -> str:
    # An exception class name is user-controlled; keep it one header line.
    return "".join(c if " " <= c <= "~" else "?" for c in value) or "Unhandled"
