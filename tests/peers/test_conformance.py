"""Conformance: what a client receives through ``lambdastream dev`` is the
same whether the function runs on the official Node.js runtime client
(``aws-lambda-ric``) or on our Python runtime, for the same behaviour.

Each case pairs a Node handler from ``tests/peers/node/handlers`` with the
Python handler below that does the same thing; both are read over a real
Function URL (status, headers, cookies, body, error trailers) and through
boto3's ``invoke_with_response_stream`` (payload bytes, ``InvokeComplete``).

Where the two differ by design, a test says so (see the end of the file).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from conftest import lambda_client, write_handler
from local.h11client import request

PEER = Path(__file__).resolve().parent / "node"
NODE_BOOTSTRAP = str(PEER / "bootstrap")
NODE_HANDLERS = PEER / "handlers"

PYTHON_HANDLERS = """
import time
from lambdastream import StreamingResponse

class MyCustomError(Exception):
    pass

def buffered(event, context):
    return {"statusCode": 201, "headers": {"x-custom": "probe"},
            "cookies": ["a=1; Path=/"], "body": "hello"}

def streaming(event, context):
    def body():
        for i in range(1, 4):
            if i > 1:
                time.sleep(0.05)
            yield f"chunk-{i}\\n"
    return StreamingResponse(body(), status_code=201,
                             headers={"content-type": "text/plain; charset=utf-8",
                                      "x-custom": "probe"},
                             cookies=["a=1; Path=/", "b=2; Path=/; HttpOnly"])

def midstream_error(event, context):
    def body():
        for i in range(1, 3):
            yield f"partial-{i}\\n"
            time.sleep(0.01)
        raise MyCustomError("failed after 2 chunks")
    return StreamingResponse(body(), status_code=201, headers={"X-Custom": "probe"})

def raw_stream(event, context):
    for piece in (b"raw-1\\n", b"\\x00\\x01\\xfe\\xff", b"raw-3\\n"):
        yield piece
        time.sleep(0.02)
"""

CASES = {
    "buffered": "buffered.handler",
    "streaming": "streaming.handler",
    "midstream_error": "midstream_error.handler",
    "raw_stream": "raw_stream.handler",
}

# Headers that say something about the response, as opposed to this one
# exchange (dates, request ids).
COMPARED_HEADERS = ("content-type", "x-custom", "set-cookie", "transfer-encoding")


def _require_node_peer() -> None:
    if not (PEER / "node_modules" / "aws-lambda-ric").is_dir():
        pytest.fail("the Node.js runtime client is not installed: run tools/install-node-ric.sh")


def url_view(reply) -> dict:
    error = None
    trailers = dict(reply.trailers)
    if "lambda-runtime-function-error-body" in trailers:
        doc = json.loads(base64.b64decode(trailers["lambda-runtime-function-error-body"]))
        error = (
            trailers["lambda-runtime-function-error-type"],
            doc["errorType"],
            doc["errorMessage"],
        )
    return {
        "status": reply.status,
        "headers": {name: reply.all(name) for name in COMPARED_HEADERS},
        "body": reply.body,
        "complete": reply.complete,
        "error": error,
    }


def invoke_view(lam) -> dict:
    answer = lam.invoke_with_response_stream(FunctionName="fn", Payload=b"{}")
    payload, complete = b"", None
    for event in answer["EventStream"]:
        if "PayloadChunk" in event:
            payload += event["PayloadChunk"]["Payload"]
        elif "InvokeComplete" in event:
            complete = event["InvokeComplete"]
    prelude = None
    if b"\0" * 8 in payload and payload.startswith(b"{"):
        head, _, payload = payload.partition(b"\0" * 8)
        meta = json.loads(head)
        # Header names are case-insensitive; Node keeps the handler's case.
        meta["headers"] = {k.lower(): v for k, v in meta.get("headers", {}).items()}
        prelude = meta
    error = None
    if complete.get("ErrorCode"):
        details = json.loads(complete["ErrorDetails"])
        error = (complete["ErrorCode"], details["errorType"], details["errorMessage"])
    return {"status": answer["StatusCode"], "prelude": prelude, "payload": payload, "error": error}


@pytest.fixture
def both(dev_server, tmp_path):
    _require_node_peer()
    python_root = write_handler(tmp_path, PYTHON_HANDLERS, name="peer.py")

    def start(case: str):
        node = dev_server(CASES[case], NODE_HANDLERS, "--name", "fn", "--bootstrap", NODE_BOOTSTRAP)
        ours = dev_server(f"peer.{case}", python_root, "--name", "fn")
        return node, ours

    return start


@pytest.mark.node
@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", CASES)
def test_function_url_sees_the_same_response(both, case):
    node, ours = both(case)
    node_view = url_view(request(node.url + "/"))
    our_view = url_view(request(ours.url + "/"))
    assert our_view == node_view
    assert node_view["status"] in (200, 201)
    assert node_view["body"]  # every case here writes a body


@pytest.mark.node
@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", [c for c in CASES if c != "buffered"])
def test_invoke_with_response_stream_sees_the_same_stream(both, case):
    node, ours = both(case)
    node_view = invoke_view(lambda_client(node.api_url))
    our_view = invoke_view(lambda_client(ours.api_url))
    assert our_view == node_view


@pytest.mark.node
@pytest.mark.timeout(60)
def test_mid_stream_error_reaches_both_kinds_of_caller(both):
    node, ours = both("midstream_error")
    for server in (node, ours):
        view = url_view(request(server.url + "/"))
        assert view["body"] == b"partial-1\npartial-2\n"
        assert view["error"] == ("MyCustomError", "MyCustomError", "failed after 2 chunks")
        streamed = invoke_view(lambda_client(server.api_url))
        assert streamed["error"] == view["error"]


# Differences by design. Node sends an empty stream's prelude only with a
# first write, so a handler that sets a status and writes nothing answers a
# bare 200 (aws-lambda-nodejs-runtime-interface-client#95, #97); ours sends
# the status and headers anyway. Node reports a streaming handler's
# exception before any write as trailers on an empty 200; ours posts it to
# /invocation/{id}/error, so the caller sees a function error (502).
EMPTY_AND_EARLY = """
from lambdastream import StreamingResponse

def empty_stream(event, context):
    return StreamingResponse((), status_code=202, headers={"x-custom": "probe"},
                             cookies=["a=1; Path=/"])

def throw_early(event, context):
    raise RuntimeError("failed before any write")
    yield b""
"""


@pytest.mark.node
@pytest.mark.timeout(60)
def test_documented_differences_from_the_node_client(dev_server, tmp_path):
    _require_node_peer()
    root = write_handler(tmp_path, EMPTY_AND_EARLY, name="peer.py")
    node_empty = dev_server("empty_stream.handler", NODE_HANDLERS, "--bootstrap", NODE_BOOTSTRAP)
    ours_empty = dev_server("peer.empty_stream", root)
    assert request(node_empty.url + "/").status == 200
    ours = request(ours_empty.url + "/")
    assert (ours.status, ours.header("x-custom"), ours.all("set-cookie")) == (
        202,
        "probe",
        ["a=1; Path=/"],
    )
    node_early = dev_server("throw_early.handler", NODE_HANDLERS, "--bootstrap", NODE_BOOTSTRAP)
    ours_early = dev_server("peer.throw_early", root)
    node_reply = request(node_early.url + "/")
    assert node_reply.body == b""
    assert dict(node_reply.trailers)["lambda-runtime-function-error-type"] == "MyCustomError"
    assert request(ours_early.url + "/").status == 502
