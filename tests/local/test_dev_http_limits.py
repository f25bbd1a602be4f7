"""The dev HTTP server's request limits and half-closing clients, over raw
sockets against the real ``lambdastream dev``."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest
from h11client import request
from support import write_handler

HANDLER = """
def handler(event, context):
    if event["rawPath"] == "/stream":
        def body():
            yield "streamed "
            yield "answer"
        return body()
    # The headers the client sent: AWS adds x-forwarded-* and x-amzn-trace-id.
    sent = [k for k in event["headers"] if not k.startswith(("x-forwarded-", "x-amzn-"))]
    return {"statusCode": 200, "body": "headers %d" % len(sent)}
"""


def _exchange(url: str, raw: bytes, *, half_close: bool = False) -> bytes:
    """Send ``raw`` on a fresh connection; return everything read until the server closes."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=15) as sock:
        sock.sendall(raw)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while data := sock.recv(65536):
            received += data
    return received


def _get(headers: list[tuple[str, str]], path: str = "/") -> bytes:
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers)
    return f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{lines}\r\n".encode()


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "headers",
    [
        [("x-big", "a" * 200_000)],  # one huge header
        [(f"x-h{i}", "v") for i in range(5000)],  # many small ones, ~50 KB in all
        [(f"x-h{i}", "v" * 1000) for i in range(70)],  # 70 KB over 70 headers
    ],
    ids=["200KB-header", "5000-headers", "70KB-head"],
)
def test_request_head_over_the_limit_is_431(dev_server, tmp_path, headers):
    server = dev_server("app.handler", write_handler(tmp_path, HANDLER))
    answer = _exchange(server.url, _get(headers))
    assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    # The server carries on; the function never ran for the refused request.
    reply = request(server.url + "/")
    assert reply.status == 200 and reply.body.startswith(b"headers ")
    server.wait_for_log(r"END RequestId")  # the log is read in the background
    assert server.logs().count("START RequestId") == 1


@pytest.mark.timeout(30)
def test_head_that_never_ends_is_431(dev_server, tmp_path):
    server = dev_server("app.handler", write_handler(tmp_path, HANDLER))
    parts = urlsplit(server.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=15) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nx-endless: ")
        received = b""
        try:
            for _ in range(100):  # 100 KB of one header value, never terminated
                sock.sendall(b"a" * 1024)
        except OSError:
            pass  # the server may stop reading once it has answered
        while data := sock.recv(65536):
            received += data
    assert received.startswith(b"HTTP/1.1 431 ")


@pytest.mark.timeout(30)
def test_head_under_the_limit_passes(dev_server, tmp_path):
    server = dev_server("app.handler", write_handler(tmp_path, HANDLER))
    headers = [(f"x-h{i}", "v" * 1000) for i in range(50)]  # 50 KB, 50 headers
    reply = request(server.url + "/", headers=headers)
    assert reply.status == 200 and reply.body == b"headers 51"  # with Host


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("path", "body"),
    [("/", b"headers 1"), ("/stream", b"streamed answer")],
)
def test_half_closed_client_still_gets_its_answer(dev_server, tmp_path, path, body):
    server = dev_server("app.handler", write_handler(tmp_path, HANDLER))
    raw = f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()  # keep-alive, then SHUT_WR
    answer = _exchange(server.url, raw, half_close=True)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    received = answer.partition(b"\r\n\r\n")[2]
    if b"Transfer-Encoding: chunked" in answer:
        assert received.endswith(b"0\r\n\r\n")  # the whole body, then the server closed
        received = b"".join(received.split(b"\r\n")[1::2])
    assert received == body
