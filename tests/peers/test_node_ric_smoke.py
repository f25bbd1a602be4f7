"""The official Node.js runtime client against a loopback Runtime API.

These tests are our evidence of how aws-lambda-ric frames what it sends: a
tiny Runtime API in the test serves one event on ``/next``, keeps the raw
bytes of every request, and the Node client runs the handlers of
``tests/peers/node/handlers`` through ``tests/peers/node/bootstrap``.
Their observable behaviour is written down in ``tests/peers/node/README.md``.

Install the client first: ``tools/install-node-ric.sh`` (``make test`` and CI
run it).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support import missing

pytestmark = pytest.mark.node

PEER = Path(__file__).resolve().parent / "node"
BOOTSTRAP = PEER / "bootstrap"
RIC = PEER / "node_modules" / "aws-lambda-ric"
RID = "rid"
RESPONSE_PATH = f"/2018-06-01/runtime/invocation/{RID}/response"
ERROR_PATH = f"/2018-06-01/runtime/invocation/{RID}/error"


@dataclass
class Request:
    """One request as the runtime sent it, byte for byte."""

    conn: int  # index of the connection it came on, in accept order
    raw: bytes  # request line, headers and body as received
    first_recv: bytes  # what the first recv() of this request returned
    method: str = ""
    path: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""  # the body as sent: still chunk-framed if chunked


def split_field(line: str) -> tuple[str, str]:
    """``Name: value`` -> (name, value), as in a header or trailer line."""
    name, _, value = line.partition(":")
    return name.strip(), value.strip()


class _Reader:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.recvs: list[bytes] = []

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.recvs.append(data)
        self.buf += data

    def until(self, delim: bytes) -> bytes:
        while (i := self.buf.find(delim)) < 0:
            self._fill()
        out = bytes(self.buf[: i + len(delim)])
        del self.buf[: i + len(delim)]
        return out

    def exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out


class FakeRuntimeAPI:
    """Serves ``event`` once on ``/next`` (later polls wait), answers 202 to
    ``/response`` and ``/error`` and keeps every request in ``requests``."""

    def __init__(self, event: object) -> None:
        self.event = json.dumps(event).encode()
        self.requests: list[Request] = []
        self.answered = threading.Event()  # set once /response or /error is in
        self._served = False
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closing.set()
        self._listener.close()
        with self._lock:
            for conn in self._conns:
                conn.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                index = len(self._conns)
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn, index), daemon=True).start()

    def _serve(self, conn: socket.socket, index: int) -> None:
        reader = _Reader(conn)
        try:
            while True:
                request = self._read_request(reader, index)
                with self._lock:
                    self.requests.append(request)
                conn.sendall(self._answer(request))
                if request.path in (RESPONSE_PATH, ERROR_PATH):
                    self.answered.set()
        except (EOFError, OSError):
            return

    def _read_request(self, reader: _Reader, index: int) -> Request:
        start = len(reader.recvs)
        head = reader.until(b"\r\n\r\n")
        first_recv = reader.recvs[start] if len(reader.recvs) > start else head
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = [split_field(ln) for ln in lines[1:] if ln]
        names = {k.lower(): v for k, v in headers}
        if names.get("transfer-encoding", "").lower() == "chunked":
            body = self._read_chunked(reader)
        else:
            body = reader.exact(int(names.get("content-length", "0")))
        return Request(index, head + body, first_recv, method, path, headers, body)

    @staticmethod
    def _read_chunked(reader: _Reader) -> bytes:
        raw = b""
        while True:
            size_line = reader.until(b"\r\n")
            raw += size_line
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                while (line := reader.until(b"\r\n")) != b"\r\n":  # trailers
                    raw += line
                return raw + line
            raw += reader.exact(size + 2)

    def _answer(self, request: Request) -> bytes:
        if request.path.endswith("/invocation/next"):
            with self._lock:
                first, self._served = not self._served, True
            if not first:  # one invocation per test: hold the long poll
                self._closing.wait(30)
                raise EOFError
            deadline = int(time.time() * 1000) + 30_000
            head = (
                "HTTP/1.1 200 OK\r\n"
                "Content-Type: application/json\r\n"
                f"Lambda-Runtime-Aws-Request-Id: {RID}\r\n"
                f"Lambda-Runtime-Deadline-Ms: {deadline}\r\n"
                "Lambda-Runtime-Invoked-Function-Arn: "
                "arn:aws:lambda:us-east-1:123456789012:function:peer\r\n"
                f"Content-Length: {len(self.event)}\r\n\r\n"
            )
            return head.encode() + self.event
        body = b'{"status":"OK"}'
        return b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n" + (
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )


@dataclass
class Capture:
    """What the runtime sent for one invocation, and what it printed."""

    requests: list[Request]
    output: str

    def only(self, path: str) -> Request:
        hits = [r for r in self.requests if r.path == path]
        assert len(hits) == 1, f"expected one request to {path}: {self.requests}\n{self.output}"
        return hits[0]


def run_peer(handler: str, event: object = None) -> Capture:
    """Runs ``handler`` (file.function in tests/peers/node/handlers) for one event."""
    if shutil.which("node") is None:
        missing("node", "the Node.js conformance peer cannot run; make node-ric installs it")
    if not (RIC / "dist" / "rapid-client.node").is_file():
        pytest.fail("aws-lambda-ric is not installed: run tools/install-node-ric.sh")
    api = FakeRuntimeAPI({} if event is None else event)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": str(PEER / "handlers"),
        "AWS_LAMBDA_FUNCTION_NAME": "peer",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": "us-east-1",
    }
    proc = subprocess.Popen(
        [str(BOOTSTRAP)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        answered = api.answered.wait(20)
        time.sleep(0.2)  # let a second request (if any) arrive before we look
    finally:
        proc.kill()
        output = proc.communicate(timeout=10)[0].decode(errors="replace")
        api.close()
    assert answered, f"the Node client sent no /response or /error:\n{output}"
    return Capture(list(api.requests), output)


def parse_chunked(body: bytes) -> tuple[list[bytes], list[bytes], list[tuple[str, str]]]:
    """Returns (size lines as sent, chunk payloads, trailers) of a chunked body."""
    sizes: list[bytes] = []
    chunks: list[bytes] = []
    pos = 0
    while True:
        end = body.index(b"\r\n", pos)
        sizes.append(body[pos:end])
        size = int(body[pos:end], 16)
        pos = end + 2
        if size == 0:
            break
        chunks.append(body[pos : pos + size])
        assert body[pos + size : pos + size + 2] == b"\r\n"
        pos += size + 2
    trailer_block = body[pos:]
    assert trailer_block.endswith(b"\r\n"), trailer_block
    trailers = [split_field(ln) for ln in trailer_block.decode("latin-1").split("\r\n") if ln]
    return sizes, chunks, trailers


def streaming_head(request: Request) -> list[tuple[str, str]]:
    """The request's headers without the transport ones Node adds."""
    return [(k, v) for k, v in request.headers if k.lower() not in ("host", "connection")]


PRELUDE = b'{"statusCode":201,"headers":{"X-Custom":"probe"}}'


@pytest.mark.timeout(60)
def test_midstream_error_matches_the_byte_capture() -> None:
    cap = run_peer("midstream_error.handler")
    response = cap.only(RESPONSE_PATH)
    assert not [r for r in cap.requests if r.path == ERROR_PATH]

    assert response.raw.startswith(f"POST {RESPONSE_PATH} HTTP/1.1\r\n".encode())
    assert streaming_head(response) == [
        ("Lambda-Runtime-Function-Response-Mode", "streaming"),
        ("Trailer", "Lambda-Runtime-Function-Error-Type"),
        ("Trailer", "Lambda-Runtime-Function-Error-Body"),
        ("Content-Type", "application/vnd.awslambda.http-integration-response"),
        ("Transfer-Encoding", "chunked"),
    ]

    sizes, chunks, trailers = parse_chunked(response.body)
    # The prelude and the 8-NUL delimiter are chunks of their own, then one
    # chunk per write; sizes in lowercase hex, no chunk extensions.
    assert sizes == [b"31", b"8", b"a", b"a", b"0"]
    assert chunks == [PRELUDE, b"\0" * 8, b"partial-1\n", b"partial-2\n"]
    assert response.body.startswith(b"31\r\n" + PRELUDE + b"\r\n8\r\n" + b"\0" * 8 + b"\r\n")

    assert [name for name, _ in trailers] == [
        "Lambda-Runtime-Function-Error-Type",
        "Lambda-Runtime-Function-Error-Body",
    ]
    assert trailers[0][1] == "MyCustomError"
    error = json.loads(base64.b64decode(trailers[1][1], validate=True))
    assert error["errorType"] == "MyCustomError"
    assert error["errorMessage"] == "failed after 2 chunks"
    # Node's error JSON: errorType, errorMessage, trace (not stackTrace, no requestId).
    assert sorted(error) == ["errorMessage", "errorType", "trace"]
    assert error["trace"][0] == "MyCustomError: failed after 2 chunks"

    # The request headers go out with the first write: the first recv() of
    # the request holds the head, the prelude, the delimiter and partial-1.
    assert response.first_recv.endswith(b"a\r\npartial-1\n\r\n"), response.first_recv
    # /next goes through the native (curl) client; the stream is a second
    # connection opened by Node's http module.
    nexts = [r for r in cap.requests if r.path.endswith("/invocation/next")]
    assert nexts[0].conn != response.conn


@pytest.mark.timeout(60)
def test_buffered_result_object_is_posted_as_json() -> None:
    cap = run_peer("buffered.handler")
    response = cap.only(RESPONSE_PATH)
    names = {k.lower(): v for k, v in response.headers}
    # Buffered results go through the native client, on the /next socket.
    assert "lambda-runtime-function-response-mode" not in names
    assert "transfer-encoding" not in names
    assert names["content-type"] == "application/json"
    assert response.conn == cap.requests[0].conn
    assert json.loads(response.body) == {
        "statusCode": 201,
        "headers": {"x-custom": "probe"},
        "cookies": ["a=1; Path=/"],
        "body": "hello",
    }


@pytest.mark.timeout(60)
def test_streaming_with_prelude_one_chunk_per_write() -> None:
    cap = run_peer("streaming.handler", {"count": 3, "delay_ms": 20})
    response = cap.only(RESPONSE_PATH)
    sizes, chunks, trailers = parse_chunked(response.body)
    prelude = json.loads(chunks[0])
    assert prelude == {
        "statusCode": 201,
        "headers": {"content-type": "text/plain; charset=utf-8", "x-custom": "probe"},
        "cookies": ["a=1; Path=/", "b=2; Path=/; HttpOnly"],
    }
    assert chunks[1:] == [b"\0" * 8, b"chunk-1\n", b"chunk-2\n", b"chunk-3\n"]
    assert sizes[-1] == b"0"
    assert trailers == []
    assert response.body.endswith(b"0\r\n\r\n")


@pytest.mark.timeout(60)
def test_raw_stream_has_no_prelude_and_octet_stream_type() -> None:
    cap = run_peer("raw_stream.handler")
    response = cap.only(RESPONSE_PATH)
    assert ("Content-Type", "application/octet-stream") in response.headers
    _, chunks, trailers = parse_chunked(response.body)
    assert chunks == [b"raw-1\n", b"\x00\x01\xfe\xff", b"raw-3\n"]
    assert trailers == []


@pytest.mark.timeout(60)
def test_one_mebibyte_write_is_one_chunk() -> None:
    cap = run_peer("raw_stream.handler", {"size": 1 << 20})
    sizes, chunks, _ = parse_chunked(cap.only(RESPONSE_PATH).body)
    assert sizes == [b"100000", b"0"]
    assert chunks[0] == bytes(i & 0xFF for i in range(1 << 20))


@pytest.mark.timeout(60)
def test_streaming_throw_before_write_is_trailers_on_an_empty_body() -> None:
    cap = run_peer("throw_early.handler")
    response = cap.only(RESPONSE_PATH)
    assert not [r for r in cap.requests if r.path == ERROR_PATH]
    assert ("Content-Type", "application/octet-stream") in response.headers
    sizes, chunks, trailers = parse_chunked(response.body)
    assert (sizes, chunks) == ([b"0"], [])
    assert trailers[0] == ("Lambda-Runtime-Function-Error-Type", "MyCustomError")
    error = json.loads(base64.b64decode(trailers[1][1]))
    assert error["errorMessage"] == "failed before any write"


@pytest.mark.timeout(60)
def test_buffered_throw_goes_to_the_error_endpoint() -> None:
    cap = run_peer("throw_early.buffered")
    error_request = cap.only(ERROR_PATH)
    assert not [r for r in cap.requests if r.path == RESPONSE_PATH]
    names = {k.lower(): v for k, v in error_request.headers}
    # The native client sends no Lambda-Runtime-Function-Error-Type header
    # (the type is only in the body) but an X-Ray cause; on the /next socket.
    assert "lambda-runtime-function-error-type" not in names
    assert names["content-type"] == "application/json"
    assert (
        json.loads(names["lambda-runtime-function-xray-error-cause"])["exceptions"][0]["type"]
        == "MyCustomError"
    )
    assert error_request.conn == cap.requests[0].conn
    error = json.loads(error_request.body)
    assert error["errorType"] == "MyCustomError"
    assert error["errorMessage"] == "failed before any write"


@pytest.mark.timeout(60)
def test_stream_ended_without_a_write_sends_no_prelude() -> None:
    cap = run_peer("empty_stream.handler")
    response = cap.only(RESPONSE_PATH)
    assert (
        "Content-Type",
        "application/vnd.awslambda.http-integration-response",
    ) in response.headers
    # Chunked with no chunk at all: neither prelude nor delimiter is sent.
    assert ("Transfer-Encoding", "chunked") in response.headers
    assert response.body == b"0\r\n\r\n"
