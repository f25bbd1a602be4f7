"""HTTP/1.1 chunked framing for streamed responses (pure, no I/O).

CPython's ``http.client`` always ends a chunked body with ``0\\r\\n\\r\\n`` and
cannot send trailers, and Lambda reports a mid-stream error only as trailers
on the final chunk; so the runtime frames chunks itself.
"""

ERROR_TYPE_TRAILER = "Lambda-Runtime-Function-Error-Type"
ERROR_BODY_TRAILER = "Lambda-Runtime-Function-Error-Body"

LAST_CHUNK = b"0\r\n\r\n"

# A chunk at least this big is handed to the kernel as its own buffer (no
# copy); smaller ones are copied together with their framing. Copying a few
# KiB costs less than the kernel's bookkeeping for one more buffer, and it
# bounds the buffers per write: at most two per big chunk, plus one.
SCATTER_MIN = 16 * 1024


def frame_chunk(data: bytes) -> bytes:
    """Return ``data`` as one chunk: size line, data and CRLF together.

    >>> frame_chunk(b"hello")
    b'5\\r\\nhello\\r\\n'
    """
    return b"%x\r\n%b\r\n" % (len(data), data)


def frame_chunks(pieces: "list[bytes]", head: bytes = b"", tail: bytes = b"") -> "list[bytes]":
    """Return ``head``, each piece framed as one chunk, then ``tail``, as few buffers.

    The buffers, joined, are exactly ``head``, ``frame_chunk(p)`` for each
    piece, and ``tail``. Pieces under :data:`SCATTER_MIN` are copied into
    the buffers around them; bigger ones are returned as they are, so there
    are at most two buffers per big piece, plus one, however many pieces
    there are.

    >>> frame_chunks([b"ab", b"c"], head=b"H", tail=b"0\\r\\n\\r\\n")
    [b'H2\\r\\nab\\r\\n1\\r\\nc\\r\\n0\\r\\n\\r\\n']
    >>> big = b"x" * SCATTER_MIN
    >>> [len(b) for b in frame_chunks([b"a", big, b"b"])]
    [12, 16384, 8]
    """
    buffers: list[bytes] = []
    copied = [head] if head else []
    for piece in pieces:
        size = len(piece)
        if size < SCATTER_MIN:
            copied.append(b"%x\r\n%b\r\n" % (size, piece))
        else:
            copied.append(b"%x\r\n" % size)
            buffers += (b"".join(copied), piece)
            copied = [b"\r\n"]
    if tail:
        copied.append(tail)
    if copied:
        buffers.append(b"".join(copied))
    return buffers


def last_chunk_with_error(error_type: str, error_body_b64: str) -> bytes:
    """Return the terminating chunk carrying Lambda's two error trailers.

    The body must already be base64: a CR or LF inside a trailer value would
    end the trailer early and Lambda would report a truncated response.
    """
    return (
        f"0\r\n{ERROR_TYPE_TRAILER}: {_header_safe(error_type)}\r\n"
        f"{ERROR_BODY_TRAILER}: {error_body_b64}\r\n\r\n"
    ).encode("latin-1")


def _header_safe(value: str) -> str:
    # An exception class name is user-controlled; keep it one header line.
    return "".join(c if " " <= c <= "~" else "?" for c in value) or "Unhandled"
