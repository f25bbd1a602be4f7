"""What a Function URL client receives when a response's headers cannot be
sent as they are, and when sending a response fails on our side: the real
``lambdastream dev``, real runtimes, a raw HTTP/1.1 client."""

from __future__ import annotations

import sys

import pytest
from dev_in_process import serve_in_process
from h11client import request
from support import write_handler

HEADERS = """
from lambdastream import StreamingResponse

def handler(event, context):
    query = event["queryStringParameters"]
    headers = {query.get("n", "x-h"): query["v"]}
    if event["rawPath"] == "/buffered":
        return {"statusCode": 200, "headers": headers, "body": "buffered"}
    return StreamingResponse(iter(["streamed"]), headers=headers)
"""


@pytest.mark.timeout(30)
@pytest.mark.parametrize("path", ["/streamed", "/buffered"])
def test_header_value_beyond_latin1_is_502_and_the_server_carries_on(dev_server, tmp_path, path):
    server = dev_server("app.handler", write_handler(tmp_path, HEADERS), "--timeout", "10")
    reply = request(f"{server.url}{path}?v=%E6%97%A5%E6%9C%AC", timeout=15)  # 日本
    assert reply.status == 502 and reply.complete
    assert reply.body == b"Internal Server Error"
    server.wait_for_log(r"Runtime\.InvalidResponse: .*header 'x-h'.*'日本'")
    # The server carries on, and the refused invocation ends normally: its
    # runtime was answered, nothing was cut.
    again = request(f"{server.url}{path}?v=ok", timeout=15)
    assert again.status == 200 and again.header("x-h") == "ok"
    server.wait_for_log(r"(?s)END RequestId.*END RequestId")
    assert "Fatal error" not in server.logs()
    assert "TruncatedResponse" not in server.logs()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("path", ["/streamed", "/buffered"])
def test_latin1_header_value_goes_out_as_latin1(dev_server, tmp_path, path):
    server = dev_server("app.handler", write_handler(tmp_path, HEADERS))
    reply = request(f"{server.url}{path}?v=caf%C3%A9")  # café
    assert reply.status == 200
    assert reply.header("x-h") == "café"  # the client decodes Latin-1: the byte was 0xE9
    assert reply.body == path[1:].encode()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("path", ["/streamed", "/buffered"])
def test_header_name_that_is_not_a_token_is_502(dev_server, tmp_path, path):
    server = dev_server("app.handler", write_handler(tmp_path, HEADERS), "--timeout", "10")
    reply = request(f"{server.url}{path}?n=bad%20name&v=1", timeout=15)
    assert reply.status == 502 and reply.complete
    assert all(name != "bad name" for name, _ in reply.headers)
    server.wait_for_log(r"Runtime\.InvalidResponse: .*header name 'bad name' is not an HTTP token")


@pytest.mark.timeout(30)
def test_a_header_we_cannot_send_fails_that_response_only(tmp_path):
    # A CORS header that HTTP cannot carry (the command line refuses such a
    # value; a CORS callable can still produce one): sending the head raises
    # inside the frontend, in the middle of the runtime's stream.
    def cors(req):
        origin = any(k.lower() == "origin" for k, _ in req.headers)
        return None, ([("Access-Control-Expose-Headers", "日本")] if origin else [])

    with serve_in_process(write_handler(tmp_path, HEADERS), cors=cors) as dev:
        reply = request(
            f"{dev.url}/streamed?v=1", headers=[("Origin", "http://app.example")], timeout=15
        )
        assert reply.status == 502 and reply.complete
        assert "could not send the response: UnicodeEncodeError" in dev.log.getvalue()
        plain = request(f"{dev.url}/streamed?v=1", timeout=15)  # no Origin: no CORS header
        assert plain.status == 200 and plain.body == b"streamed"
        assert "Fatal error" not in dev.log.getvalue()


# A runtime (stdlib only) that streams a few bytes, then reports an error
# whose type is in the error body only: the type is not Latin-1, so it
# cannot become the Error-Type trailer for the client.
RAW_RUNTIME = r"""
import base64, json, os, socket

host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
sock = socket.create_connection((host, int(port)))

def answer():
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    headers = dict(line.lower().split(": ", 1) for line in head.decode().split("\r\n")[1:])
    while len(body) < int(headers["content-length"]):
        body += sock.recv(65536)
    return head.decode().split(" ")[1], headers

while True:
    sock.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
    _, headers = answer()
    rid = headers["lambda-runtime-aws-request-id"]
    error = json.dumps({"errorType": "日本", "errorMessage": "late"}).encode()
    sock.sendall(
        f"POST /2018-06-01/runtime/invocation/{rid}/response HTTP/1.1\r\nHost: x\r\n"
        "Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n"
        "Content-Type: text/plain\r\n\r\n7\r\npartial\r\n"
        f"0\r\nLambda-Runtime-Function-Error-Body: {base64.b64encode(error).decode()}\r\n\r\n"
        .encode()
    )
    status, _ = answer()
    print("runtime got", status, flush=True)
"""


@pytest.mark.timeout(30)
def test_a_trailer_we_cannot_send_still_ends_the_body_and_answers_the_runtime(dev_server, tmp_path):
    root = write_handler(tmp_path, RAW_RUNTIME, name="runtime.py")
    server = dev_server(
        "app.handler", root, "--bootstrap", f"{sys.executable} runtime.py", "--timeout", "10"
    )
    for _ in range(2):
        reply = request(server.url + "/", timeout=15)
        assert reply.status == 200 and reply.body == b"partial"
        assert reply.complete and reply.trailers == []  # the chunked body ended properly
    # Each time the runtime got its 202: nothing was left unanswered.
    server.wait_for_log(r"(?s)runtime got 202.*runtime got 202")
    assert "Fatal error" not in server.logs()
