"""The Runtime API (2018-06-01) over one keep-alive connection.

Plain ``_socket`` rather than ``socket`` or ``http.client``: those cost
milliseconds of import on every cold start and several syscalls per request.
Each request goes out in one ``send``, and each response is usually read in
one ``recv``, so a buffered invocation costs four syscalls on the wire.
TCP_NODELAY, because a streamed chunk must leave the moment it is written.
"""

import _socket
import os

from lambdastream.wire.chunks import (
    ERROR_BODY_TRAILER,
    ERROR_TYPE_TRAILER,
    LAST_CHUNK,
    frame_chunk,
    frame_chunks,
    last_chunk_with_error,
    size_line,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable
    from typing import NoReturn

API_PREFIX = "/2018-06-01/runtime"
ERROR_CONTENT_TYPE = "application/vnd.aws.lambda.error+json"
USER_AGENT = "lambdastream/0.1"

# Below this size a chunk is copied into one buffer with its framing; above
# it, the framing and the data go out in one scatter write with no copy.
_COPY_LIMIT = 16 * 1024
# How many buffers one sendmsg may carry: more fail with EMSGSIZE. POSIX
# promises at least 16 (_XOPEN_IOV_MAX); Linux allows 1,024.
try:
    _IOV_MAX = os.sysconf("SC_IOV_MAX")
except (AttributeError, ValueError, OSError):  # pragma: no cover - not a POSIX system
    _IOV_MAX = -1
if _IOV_MAX < 16:  # pragma: no cover - indeterminate: the POSIX minimum is safe
    _IOV_MAX = 16
# Responses are read into one reused buffer: a fresh large buffer per recv
# would cost an mmap, mremap and munmap on every read.
_RECV_SIZE = 64 * 1024
# What a Runtime API answer may hold: a head (Lambda's headers are a few
# hundred bytes), an event (6 MB synchronous, 1 MB asynchronous) with room
# to spare, a chunk size line. A bad peer gets one line, not our memory.
_MAX_HEAD = 64 * 1024
_MAX_BODY = 32 * 1024 * 1024


class RuntimeAPIError(Exception):
    """The Runtime API could not be reached or answered unexpectedly."""


class Response:
    """A Runtime API answer: status, lower-cased headers, body."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


class RuntimeClient:
    """Talks to ``$AWS_LAMBDA_RUNTIME_API`` for one runtime process.

    Example::

        client = RuntimeClient("127.0.0.1:9001")
        answer = client.next_invocation()
        rid = answer.headers["lambda-runtime-aws-request-id"]
        client.post_response(rid, b'"ok"', "application/json")
    """

    def __init__(self, address: str) -> None:
        self.address = address
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise RuntimeAPIError(f"AWS_LAMBDA_RUNTIME_API must be host:port, got {address!r}")
        self._host = host.strip("[]")
        self._port = int(port)
        self._family = _socket.AF_INET6 if ":" in self._host else _socket.AF_INET
        self._sock: _socket.socket | None = None
        self._pending = b""
        self._recv_buffer = bytearray(_RECV_SIZE)
        self._recv_view = memoryview(self._recv_buffer)
        self._host_line = f"Host: {address}\r\nUser-Agent: {USER_AGENT}\r\n"

    # -- connection -----------------------------------------------------------------

    def _connection(self) -> _socket.socket:
        if self._sock is None:
            sock = _socket.socket(self._family, _socket.SOCK_STREAM)
            try:
                sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
                sock.connect((self._host, self._port))
            except OSError as exc:
                sock.close()
                raise RuntimeAPIError(
                    f"cannot reach the Runtime API at {self.address}: {exc}"
                ) from None
            self._sock = sock
            self._pending = b""
        return self._sock

    def reset(self) -> None:
        """Drop the connection; the next request opens a fresh one."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._pending = b""

    def _send(self, data: bytes) -> None:
        self._connection().sendall(data)

    # -- requests -------------------------------------------------------------------

    def next_invocation(self) -> Response:
        """Long-poll ``/invocation/next`` and return the event and its headers."""
        request = f"GET {API_PREFIX}/invocation/next HTTP/1.1\r\n{self._host_line}\r\n".encode()
        answer = self._request_with_retry(request)
        if answer.status != 200 or "lambda-runtime-aws-request-id" not in answer.headers:
            detail = answer.body[:300].decode("utf-8", "replace")
            raise RuntimeAPIError(f"no invocation from /next ({answer.status}): {detail}")
        return answer

    def restore_next(self) -> Response:
        """Wait for a SnapStart restore (``/restore/next``)."""
        request = f"GET {API_PREFIX}/restore/next HTTP/1.1\r\n{self._host_line}\r\n".encode()
        return self._request_with_retry(request)

    def post_response(
        self, request_id: str, body: bytes, content_type: str, invocation_id: str | None = None
    ) -> Response:
        """Send a buffered response in one write."""
        head = (
            f"POST {API_PREFIX}/invocation/{request_id}/response HTTP/1.1\r\n{self._host_line}"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            f"{_invocation_id_line(invocation_id)}\r\n"
        ).encode("latin-1")
        return self._request(head + body if len(body) <= _COPY_LIMIT else [head, body])

    def post_error(
        self,
        path: str,
        error_body: bytes,
        error_type: str,
        invocation_id: str | None = None,
    ) -> Response:
        """Send an error document to ``path`` (``invocation/{id}/error``, ``init/error``...)."""
        head = (
            f"POST {API_PREFIX}/{path} HTTP/1.1\r\n{self._host_line}"
            f"Content-Type: {ERROR_CONTENT_TYPE}\r\nContent-Length: {len(error_body)}\r\n"
            f"{ERROR_TYPE_TRAILER}: {_one_line(error_type)}\r\n"
            f"{_invocation_id_line(invocation_id)}\r\n"
        ).encode("latin-1")
        return self._request(head + error_body)

    def open_stream(
        self, request_id: str, content_type: str, invocation_id: str | None = None
    ) -> "ResponseStream":
        """Start a streamed response; nothing is sent until the first write."""
        head = (
            f"POST {API_PREFIX}/invocation/{request_id}/response HTTP/1.1\r\n{self._host_line}"
            "Lambda-Runtime-Function-Response-Mode: streaming\r\n"
            "Transfer-Encoding: chunked\r\n"
            f"Trailer: {ERROR_TYPE_TRAILER}\r\n"
            f"Trailer: {ERROR_BODY_TRAILER}\r\n"
            f"Content-Type: {_one_line(content_type)}\r\n"
            f"{_invocation_id_line(invocation_id)}\r\n"
        ).encode("latin-1")
        return ResponseStream(self, head)

    # -- exchange -------------------------------------------------------------------

    def _request_with_retry(self, request: bytes) -> Response:
        # A keep-alive connection may have been closed by the server while
        # idle; one fresh connection is worth trying before giving up.
        try:
            return self._request(request)
        except (OSError, RuntimeAPIError):
            self.reset()
            return self._request(request)

    def _request(self, request: "bytes | list[bytes | memoryview]") -> Response:
        sock = self._connection()
        try:
            if isinstance(request, list):
                send_buffers(sock, request)
            else:
                sock.sendall(request)
            return self.read_response()
        except OSError as exc:
            self.reset()
            raise RuntimeAPIError(f"Runtime API connection failed: {exc}") from None

    def read_response(self) -> Response:
        """Read one HTTP response from the connection."""
        sock = self._connection()
        data = self._pending
        while (end := data.find(b"\r\n\r\n")) == -1:
            if len(data) > _MAX_HEAD:
                self._malformed(f"a response head over {_MAX_HEAD} bytes")
            data += self._recv(sock)
        status, headers = _parse_head(data[:end])
        rest = data[end + 4 :]
        if "content-length" in headers:
            length = headers["content-length"]
            if not (length.isascii() and length.isdigit()) or int(length) > _MAX_BODY:
                self._malformed(f"Content-Length {length[:40]!r}")
            body, rest = self._read_exact(sock, rest, int(length))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body, rest = self._read_chunked(sock, rest)
        else:
            body = b""
        self._pending = rest
        if headers.get("connection", "").lower() == "close":
            self.reset()
        return Response(status, headers, body)

    def _read_exact(self, sock: _socket.socket, have: bytes, size: int) -> tuple[bytes, bytes]:
        if len(have) >= size:
            return have[:size], have[size:]
        body = bytearray(size)
        body[: len(have)] = have
        view = memoryview(body)
        got = len(have)
        while got < size:
            n = sock.recv_into(view[got:])
            if not n:
                self.reset()
                raise RuntimeAPIError("Runtime API closed the connection mid-body")
            got += n
        return bytes(body), b""

    def _read_chunked(self, sock: _socket.socket, data: bytes) -> tuple[bytes, bytes]:
        # Lambda answers with Content-Length; a chunked answer is rare enough
        # that its decoder loads only when one comes.
        from lambdastream.wire.dechunk import ChunkedDecoder, ChunkedError

        decoder = ChunkedDecoder(max_trailers=_MAX_HEAD)
        parts: list[bytes] = []
        total = 0
        try:
            while True:
                for piece in decoder.feed(data):
                    total += len(piece)
                    if total > _MAX_BODY:
                        self._malformed(f"a chunked body over {_MAX_BODY} bytes")
                    parts.append(bytes(piece))
                if decoder.done:
                    return b"".join(parts), decoder.tail
                data = self._recv(sock)
        except ChunkedError as exc:
            self._malformed(str(exc))

    def _malformed(self, what: str) -> "NoReturn":
        # The connection is in an unknown state: drop it.
        self.reset()
        raise RuntimeAPIError(f"malformed answer from the Runtime API: {what}")

    def _recv(self, sock: _socket.socket) -> bytes:
        n = sock.recv_into(self._recv_buffer)
        if not n:
            self.reset()
            raise RuntimeAPIError("Runtime API closed the connection")
        return self._recv_view[:n].tobytes()


class ResponseStream:
    """One streamed response: each chunk is one write, sent at once.

    The request line and headers go out with the first write, so a stream
    costs one syscall per chunk, the first included.
    """

    __slots__ = ("_client", "_head", "broken", "started")

    def __init__(self, client: RuntimeClient, head: bytes) -> None:
        self._client = client
        self._head = head
        self.started = False
        # Why the stream's connection failed: nothing more may be sent on
        # it, and never on a fresh one (its bytes would start no request).
        self.broken: RuntimeAPIError | None = None

    def write(self, data: bytes, *more: bytes) -> None:
        """Send ``data`` (and any ``more``) as chunks, in one write.

        Empty pieces are skipped: an empty chunk would end the body.
        """
        pieces = [p for p in (data, *more) if p]
        if pieces:
            self._send_chunks(pieces)

    def chunk_writer(self) -> "Callable[[bytes], None]":
        """Return ``write(data)`` for the chunks after the first, at the least cost.

        A handler's loop runs this once per yield: it is the per-chunk price
        of the whole runtime, so it does only the framing and the one send.
        ``data`` must be non-empty bytes, and the stream already started.
        """
        sock = self._client._connection()
        sendall = sock.sendall
        frame = frame_chunk

        def write(data: bytes) -> None:
            try:
                if len(data) <= _COPY_LIMIT:
                    sendall(frame(data))
                else:
                    send_buffers(sock, [size_line(len(data)), data, b"\r\n"])
            except OSError as exc:
                self._failed(exc)

        return write

    def finish(self, *chunks: bytes) -> Response:
        """End the stream successfully and read the Runtime API's answer.

        Any ``chunks`` (the last ones) leave in the same write as the end.
        """
        self._send_chunks([p for p in chunks if p], LAST_CHUNK)
        return self._client.read_response()

    def _send_chunks(self, pieces: "list[bytes]", tail: bytes = b"") -> None:
        """Send ``pieces`` (non-empty) as chunks, then ``tail``, in one write.

        The request head goes first if the stream has not started. Up to
        ``_COPY_LIMIT`` in all, the pieces are copied into one buffer with
        their framing; past it, big pieces go out uncopied in a scatter
        write (:func:`frame_chunks`), as few writes as the kernel allows.
        """
        head = b"" if self.started else self._head
        if sum(map(len, pieces)) <= _COPY_LIMIT:
            self._send(head + b"".join(map(frame_chunk, pieces)) + tail)
        else:
            self._send_parts(frame_chunks(pieces, head, tail))
        self.started = True

    def fail(self, error_type: str, error_body_b64: str) -> Response:
        """End the stream with Lambda's error trailers and read the answer."""
        tail = last_chunk_with_error(error_type, error_body_b64)
        self._send(tail if self.started else self._head + tail)
        self.started = True
        return self._client.read_response()

    def _send(self, data: bytes) -> None:
        if self.broken is not None:
            raise self.broken
        try:
            self._client._connection().sendall(data)
        except OSError as exc:
            self._failed(exc)

    def _send_parts(self, parts: "list[bytes | memoryview]") -> None:
        if self.broken is not None:
            raise self.broken
        try:
            send_buffers(self._client._connection(), parts)
        except OSError as exc:
            self._failed(exc)

    def _failed(self, exc: OSError) -> "NoReturn":
        self._client.reset()
        self.broken = RuntimeAPIError(f"Runtime API connection failed mid-stream: {exc}")
        raise self.broken from None


def send_buffers(sock: _socket.socket, buffers: "list[bytes | memoryview]") -> None:
    """Send ``buffers`` in order: one ``sendmsg`` for up to the kernel's limit of them.

    Past ``IOV_MAX`` buffers a single call fails (EMSGSIZE), so they go in
    groups; a call the kernel takes only part of is finished before the next.
    """
    start = 0
    while start < len(buffers):
        group = buffers[start : start + _IOV_MAX]
        sent = sock.sendmsg(group)
        for buffer in group:
            size = len(buffer)
            if sent < size:
                # Part of this buffer left: the rest of it goes first.
                buffers = [memoryview(buffer)[sent:], *buffers[start + 1 :]]
                start = 0
                break
            sent -= size
            start += 1


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split(" ", 2)[1])
    except (IndexError, ValueError):
        raise RuntimeAPIError(f"malformed status line from the Runtime API: {lines[0]!r}") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return status, headers


def _invocation_id_line(invocation_id: str | None) -> str:
    return f"Lambda-Runtime-Invocation-Id: {_one_line(invocation_id)}\r\n" if invocation_id else ""


def _one_line(value: str) -> str:
    return value.replace("\r", " ").replace("\n", " ")
