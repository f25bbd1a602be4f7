"""HTTP/1.1 chunked framing for streamed responses (pure, no I/O).

CPython's ``http.client`` always ends a chunked body with ``0\\r\\n\\r\\n`` and
cannot send trailers, and Lambda reports a mid-stream error only as trailers
on the final chunk; so the runtime frames chunks itself.
"""

ERROR_TYPE_TRAILER = "Lambda-Runtime-Function-Error-Type"
ERROR_BODY_TRAILER = "Lambda-Runtime-Function-Error-Body"

LAST_CHUNK = b"0\r\n\r\n"


def frame_chunk(data: bytes) -> bytes:
    """Return ``data`` as one chunk: size line, data and CRLF together.

    >>> frame_chunk(b"hello")
    b'5\\r\\nhello\\r\\n'
    """
    return b"%x\r\n%b\r\n" % (len(data), data)


def chunk_header(size: int) -> bytes:
    """Return the size line of a chunk of ``size`` bytes (for scatter writes)."""
    return b"%x\r\n" % size


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
