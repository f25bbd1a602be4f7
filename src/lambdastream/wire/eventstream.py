"""AWS event stream framing (``application/vnd.amazon.eventstream``), sans I/O.

Pure functions that turn headers and a payload into one framed message, and an
incremental decoder that turns bytes (split anywhere) back into messages. Both
bedrock-runtime's streaming answers and Lambda's InvokeWithResponseStream use
this framing; botocore's ``EventStreamBuffer`` is the peer every boto3 user
runs, and the tests check this module against it.

Wire format of one message::

    prelude:  uint32 total length | uint32 headers length | uint32 CRC32(prelude)
    headers:  (uint8 name length, name, uint8 type, value)*
    payload:  bytes
    trailer:  uint32 CRC32 of everything before it

Header value types: 0 true, 1 false, 2 int8, 3 int16, 4 int32, 5 int64,
6 bytes, 7 string, 8 timestamp (int64 ms), 9 uuid (16 bytes). Strings and
bytes map to ``str`` and ``bytes``; the integer, timestamp and uuid types use
the small wrappers below so a header's wire type is never guessed.

Example::

    >>> from lambdastream.wire.eventstream import EventStreamDecoder, encode_event
    >>> frame = encode_event("chunk", b'{"bytes": "aGk="}')
    >>> [m.headers[":event-type"] for m in EventStreamDecoder().feed(frame)]
    ['chunk']
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from zlib import crc32

from lambdastream.wire.chunks import size_line
from lambdastream.wire.dechunk import Pieces

__all__ = [
    "CONTENT_TYPE",
    "MAX_HEADERS_LENGTH",
    "MAX_PAYLOAD_LENGTH",
    "EventStreamDecoder",
    "EventStreamError",
    "HeaderValue",
    "Int8",
    "Int16",
    "Int32",
    "Int64",
    "Message",
    "Timestamp",
    "Uuid",
    "encode_event",
    "encode_exception",
    "encode_message",
    "frame_payload_chunks",
]

CONTENT_TYPE = "application/vnd.amazon.eventstream"
# The same limits botocore enforces when it decodes.
MAX_HEADERS_LENGTH = 128 * 1024
MAX_PAYLOAD_LENGTH = 24 * 1024 * 1024

_PRELUDE = struct.Struct(">II")
_UINT32 = struct.Struct(">I")
_PRELUDE_LENGTH = 12
_OVERHEAD = 16  # prelude (12) + message CRC (4)


class EventStreamError(ValueError):
    """Bytes that are not a valid event stream, or a header that cannot be encoded."""


class Int8(int):
    """A header value sent as type 2 (signed 8-bit). ``Int8(5)``"""

    __slots__ = ()


class Int16(int):
    """A header value sent as type 3 (signed 16-bit). ``Int16(500)``"""

    __slots__ = ()


class Int32(int):
    """A header value sent as type 4 (signed 32-bit). ``Int32(70000)``"""

    __slots__ = ()


class Int64(int):
    """A header value sent as type 5 (signed 64-bit). ``Int64(2**40)``"""

    __slots__ = ()


class Timestamp(int):
    """A header value sent as type 8: milliseconds since the Unix epoch.

    ``Timestamp(1700000000000)``
    """

    __slots__ = ()


class Uuid(bytes):
    """A header value sent as type 9: exactly 16 raw bytes.

    ``Uuid(uuid.uuid4().bytes)``
    """

    __slots__ = ()

    def __new__(cls, value: bytes) -> Uuid:
        if len(value) != 16:
            raise EventStreamError(f"a uuid header value is 16 bytes, got {len(value)}")
        return super().__new__(cls, value)


HeaderValue = bool | str | bytes | Int8 | Int16 | Int32 | Int64 | Timestamp | Uuid
Headers = Mapping[str, HeaderValue] | Iterable[tuple[str, HeaderValue]]

_INT_TYPES: tuple[tuple[type[int], int, struct.Struct], ...] = (
    (Int8, 2, struct.Struct(">b")),
    (Int16, 3, struct.Struct(">h")),
    (Int32, 4, struct.Struct(">i")),
    (Int64, 5, struct.Struct(">q")),
    (Timestamp, 8, struct.Struct(">q")),
)
_INT_BY_CODE = {code: (kind, packer) for kind, code, packer in _INT_TYPES}
_U8 = struct.Struct(">B")
_U16 = struct.Struct(">H")


class Message:
    """One decoded event stream message: ``headers`` and raw ``payload``."""

    __slots__ = ("headers", "payload")

    def __init__(self, headers: dict[str, object], payload: bytes) -> None:
        self.headers = headers
        self.payload = payload

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return self.headers == other.headers and self.payload == other.payload

    def __repr__(self) -> str:
        return f"Message(headers={self.headers!r}, payload={self.payload!r})"


# --------------------------------------------------------------------- encode


def _encode_header(name: str, value: object) -> bytes:
    raw_name = name.encode("utf-8")
    if not 0 < len(raw_name) <= 255:
        raise EventStreamError(f"header name must be 1-255 bytes of UTF-8, got {name!r}")
    head = _U8.pack(len(raw_name)) + raw_name
    # bool before int: bool is an int subclass.
    if value is True:
        return head + b"\x00"
    if value is False:
        return head + b"\x01"
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return head + b"\x07" + _string_value(name, raw)
    if isinstance(value, Uuid):
        return head + b"\x09" + value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return head + b"\x06" + _string_value(name, bytes(value))
    for kind, code, packer in _INT_TYPES:
        if type(value) is kind:
            try:
                return head + _U8.pack(code) + packer.pack(value)
            except struct.error:
                raise EventStreamError(
                    f"header {name!r}: {int(value)} does not fit in {kind.__name__}"
                ) from None
    raise EventStreamError(
        f"header {name!r}: cannot encode {type(value).__name__}; use str, bytes, bool, "
        "or wrap numbers in Int8/Int16/Int32/Int64/Timestamp and uuids in Uuid"
    )


def _string_value(name: str, raw: bytes) -> bytes:
    if len(raw) > 0xFFFF:
        raise EventStreamError(f"header {name!r}: value is {len(raw)} bytes, at most 65535")
    return _U16.pack(len(raw)) + raw


def encode_headers(headers: Headers) -> bytes:
    """The wire form of a header block (useful to cache a block sent many times).

    >>> encode_headers({":message-type": "event"})[:14]
    b'\\r:message-type'
    """
    items = headers.items() if isinstance(headers, Mapping) else headers
    return b"".join(_encode_header(name, value) for name, value in items)


def _frame(header_block: bytes, payload: bytes) -> bytes:
    if len(header_block) > MAX_HEADERS_LENGTH:
        raise EventStreamError(
            f"headers are {len(header_block)} bytes, at most {MAX_HEADERS_LENGTH}"
        )
    if len(payload) > MAX_PAYLOAD_LENGTH:
        raise EventStreamError(f"payload is {len(payload)} bytes, at most {MAX_PAYLOAD_LENGTH}")
    prelude = _PRELUDE.pack(_OVERHEAD + len(header_block) + len(payload), len(header_block))
    prelude += _UINT32.pack(crc32(prelude))
    # The running CRC avoids building the message twice just to checksum it.
    crc = crc32(payload, crc32(header_block, crc32(prelude)))
    return b"".join((prelude, header_block, payload, _UINT32.pack(crc)))


def encode_message(headers: Headers, payload: bytes) -> bytes:
    """Frame ``payload`` with ``headers`` (a dict or a list of pairs) as one message.

    >>> len(encode_message({":message-type": "event"}, b"{}"))
    40
    """
    return _frame(encode_headers(headers), payload)


_EVENT_HEADERS: dict[tuple[str, str], bytes] = {}


def encode_event(event_type: str, payload: bytes, content_type: str = "application/json") -> bytes:
    """Frame an ``event`` message: ``:event-type``, ``:content-type``, ``:message-type``.

    Header blocks are cached per (event type, content type): a streamed answer
    sends thousands of events of the same few types.

    >>> encode_event("PayloadChunk", b"hello", "application/octet-stream")[-9:-4]
    b'hello'
    """
    key = (event_type, content_type)
    block = _EVENT_HEADERS.get(key)
    if block is None:
        block = encode_headers(
            (
                (":event-type", event_type),
                (":content-type", content_type),
                (":message-type", "event"),
            )
        )
        if len(_EVENT_HEADERS) < 256:
            _EVENT_HEADERS[key] = block
    return _frame(block, payload)


def encode_exception(exception_type: str, message: str) -> bytes:
    """Frame an ``exception`` message with payload ``{"message": ...}``.

    ``exception_type`` is the member name as the service model spells it
    (``throttlingException``, ``modelStreamErrorException``): botocore only
    recognises that spelling.

    >>> b"modelStreamErrorException" in encode_exception("modelStreamErrorException", "x")
    True
    """
    import json

    block = encode_headers(
        (
            (":exception-type", exception_type),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        )
    )
    return _frame(block, json.dumps({"message": message}).encode("utf-8"))


# --------------------------------------------------------------------- decode


def decode_headers(block: bytes | memoryview) -> dict[str, object]:
    """Parse a header block; raises :class:`EventStreamError` on malformed input."""
    view = memoryview(block)
    headers: dict[str, object] = {}
    pos = 0
    end = len(view)
    while pos < end:
        name_len = view[pos]
        pos += 1
        if name_len == 0 or pos + name_len + 1 > end:
            raise EventStreamError("header block truncated or has an empty header name")
        try:
            name = str(view[pos : pos + name_len], "utf-8")
        except UnicodeDecodeError:
            raise EventStreamError("header name is not valid UTF-8") from None
        pos += name_len
        kind = view[pos]
        pos += 1
        value: object
        if kind == 0:
            value = True
        elif kind == 1:
            value = False
        elif kind in (6, 7):
            if pos + 2 > end:
                raise EventStreamError(f"header {name!r}: truncated length")
            (length,) = _U16.unpack_from(view, pos)
            pos += 2
            if pos + length > end:
                raise EventStreamError(f"header {name!r}: value runs past the header block")
            raw = bytes(view[pos : pos + length])
            pos += length
            if kind == 6:
                value = raw
            else:
                try:
                    value = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise EventStreamError(f"header {name!r}: string is not UTF-8") from None
        elif kind == 9:
            if pos + 16 > end:
                raise EventStreamError(f"header {name!r}: truncated uuid")
            value = Uuid(bytes(view[pos : pos + 16]))
            pos += 16
        else:
            fixed = _INT_BY_CODE.get(kind)
            if fixed is None:
                raise EventStreamError(f"header {name!r}: unknown value type {kind}")
            wrapper, packer = fixed
            if pos + packer.size > end:
                raise EventStreamError(f"header {name!r}: truncated value")
            value = wrapper(packer.unpack_from(view, pos)[0])
            pos += packer.size
        if name in headers:
            raise EventStreamError(f"duplicate header {name!r}")
        headers[name] = value
    return headers


class EventStreamDecoder:
    """Incremental decoder: feed bytes as they arrive, get whole messages back.

    Frames may be split anywhere across calls. Every prelude CRC, message
    CRC, length and limit is checked; the first violation raises
    :class:`EventStreamError` and the decoder refuses further input (the
    stream can no longer be trusted to be in sync).

    >>> decoder = EventStreamDecoder()
    >>> frame = encode_event("chunk", b"{}")
    >>> decoder.feed(frame[:5]), len(decoder.feed(frame[5:]))
    ([], 1)
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._failed: EventStreamError | None = None

    @property
    def pending(self) -> int:
        """Bytes received that do not yet form a whole message."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Message]:
        """Add ``data``; return the messages it completed, in order."""
        if self._failed is not None:
            raise EventStreamError(f"decoder already failed: {self._failed}")
        buffer = self._buffer
        buffer += data
        messages: list[Message] = []
        pos = 0
        try:
            while len(buffer) - pos >= _PRELUDE_LENGTH:
                total, headers_length = _PRELUDE.unpack_from(buffer, pos)
                (prelude_crc,) = _UINT32.unpack_from(buffer, pos + 8)
                actual = crc32(memoryview(buffer)[pos : pos + 8])
                if actual != prelude_crc:
                    raise EventStreamError(
                        f"prelude CRC mismatch: expected {prelude_crc:#010x}, got {actual:#010x}"
                    )
                if headers_length > MAX_HEADERS_LENGTH:
                    raise EventStreamError(
                        f"headers length {headers_length} exceeds {MAX_HEADERS_LENGTH}"
                    )
                payload_length = total - headers_length - _OVERHEAD
                if payload_length < 0:
                    raise EventStreamError(
                        f"total length {total} too small for {headers_length} bytes of headers"
                    )
                if payload_length > MAX_PAYLOAD_LENGTH:
                    raise EventStreamError(
                        f"payload length {payload_length} exceeds {MAX_PAYLOAD_LENGTH}"
                    )
                if len(buffer) - pos < total:
                    break
                view = memoryview(buffer)
                try:
                    body_end = pos + total - 4
                    (message_crc,) = _UINT32.unpack_from(buffer, body_end)
                    actual = crc32(view[pos:body_end])
                    if actual != message_crc:
                        raise EventStreamError(
                            f"message CRC mismatch: expected {message_crc:#010x}, "
                            f"got {actual:#010x}"
                        )
                    headers_end = pos + _PRELUDE_LENGTH + headers_length
                    headers = decode_headers(view[pos + _PRELUDE_LENGTH : headers_end])
                    payload = bytes(view[headers_end:body_end])
                finally:
                    # A live memoryview would forbid resizing the bytearray below.
                    view.release()
                messages.append(Message(headers, payload))
                pos += total
        except EventStreamError as exc:
            self._failed = exc
            raise
        # One compaction per feed keeps decoding linear in the bytes received.
        del buffer[:pos]
        return messages


# -- Lambda's InvokeWithResponseStream, as a relay sends it ------------------------

# PayloadChunk's header block is the same for every chunk: encoded once.
_CHUNK_HEADERS = encode_headers(
    (
        (":event-type", "PayloadChunk"),
        (":content-type", "application/octet-stream"),
        (":message-type", "event"),
    )
)


def frame_payload_chunks(pieces: list[memoryview] | list[bytes]) -> Pieces | None:
    """One read's chunks as ``PayloadChunk`` events in one buffer, or None if all are empty.

    Each non-empty piece stays one event (a caller sees each write of the
    function, as from Lambda). All the events of one read go out as one HTTP
    chunk in one buffer, built in a single pass: each payload is copied once
    (``encode_event`` per piece, then joining its results, copies twice) and
    the connection sends the read with one write. A chunk never waits for a
    later read. The result is ``Pieces`` whose ``frames`` hold that chunk's
    framing, so ``ResponseWriter.write`` sends it as built; its one piece is
    the events alone, for a client the answer reaches unchunked (HTTP/1.0).

    >>> out = frame_payload_chunks([b"hi", b"", b"there"])
    >>> raw = bytes(out.frames[2])  # one HTTP chunk: size line, both events, CRLF
    >>> raw.startswith(b"%x\\r\\n" % len(out[0])) and raw.endswith(b"\\r\\n")
    True
    >>> [m.payload for m in EventStreamDecoder().feed(bytes(out[0]))]
    [b'hi', b'there']
    """
    block = _CHUNK_HEADERS
    block_size = len(block)
    pack_prelude, pack_crc = _PRELUDE.pack, _UINT32.pack
    parts: list[bytes | memoryview] = [b""]  # the chunk-size line, once the size is known
    size = 0
    for piece in pieces:
        length = len(piece)
        if not length:
            continue
        total = _OVERHEAD + block_size + length
        prelude = pack_prelude(total, block_size)
        prelude += pack_crc(crc32(prelude))
        # The running CRC (as eventstream._frame does): the message is never built twice.
        parts += (prelude, block, piece, pack_crc(crc32(piece, crc32(block, crc32(prelude)))))
        size += total
    if not size:
        return None
    head = size_line(size)
    parts[0] = head
    parts.append(b"\r\n")
    raw = memoryview(b"".join(parts))
    out = Pieces()
    out.append(raw[len(head) : -2])
    out.frames = (0, 1, raw)
    return out
