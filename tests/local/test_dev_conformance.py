"""Conformance: what a client receives through ``lambdastream dev`` from the
official Node.js runtime client must equal what it receives from our Python
runtime for the same behaviour (status, headers, cookies, body bytes,
mid-stream errors), over the Function URL and the Invoke API."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from h11client import request
from support import lambda_client, missing, write_handler

NODE = Path(__file__).resolve().parent.parent / "peers" / "node"
pytestmark = pytest.mark.node


@pytest.fixture(autouse=True)
def node_client() -> None:
    if not (NODE / "node_modules" / "aws-lambda-ric").is_dir():
        missing("the Node.js client aws-lambda-ric", "make node-ric installs it")


# The Python twins of tests/peers/node/handlers/*.mjs.
PYTHON = {
    "buffered.py": """
        def handler(event, context):
            return {"statusCode": 201, "headers": {"x-custom": "probe"},
                    "cookies": ["a=1; Path=/"], "body": "hello"}
    """,
    "streaming.py": """
        import time
        from lambdastream import StreamingResponse
        def handler(event, context):
            def body():
                for i in range(1, 4):
                    if i > 1:
                        time.sleep(0.05)
                    yield f"chunk-{i}\\n"
            return StreamingResponse(body(), status_code=201,
                headers={"content-type": "text/plain; charset=utf-8", "x-custom": "probe"},
                cookies=["a=1; Path=/", "b=2; Path=/; HttpOnly"])
    """,
    "midstream_error.py": """
        import time
        from lambdastream import StreamingResponse
        class MyCustomError(Exception):
            pass
        def handler(event, context):
            def body():
                for i in range(1, 3):
                    yield f"partial-{i}\\n"
                    time.sleep(0.01)
                raise MyCustomError("failed after 2 chunks")
            return StreamingResponse(body(), status_code=201, headers={"X-Custom": "probe"})
    """,
    "raw_stream.py": """
        import time
        def handler(event, context):
            yield b"raw-1\\n"
            time.sleep(0.02)
            yield bytes([0, 1, 0xfe, 0xff])
            time.sleep(0.02)
            yield b"raw-3\\n"
    """,
    "throw_early.py": """
        class MyCustomError(Exception):
            pass
        def handler(event, context):
            raise MyCustomError("failed before any write")
            yield b"never"
        def buffered(event, context):
            raise MyCustomError("failed before any write")
    """,
}
CASES = ["buffered.handler", "streaming.handler", "midstream_error.handler",
         "raw_stream.handler", "throw_early.handler", "throw_early.buffered"]  # fmt: skip
COMPARED_HEADERS = ("content-type", "x-custom", "x-amzn-remapped-content-length")


def seen_by_url_client(url: str) -> dict[str, object]:
    reply = request(url + "/")
    trailers = dict(reply.trailers)
    error = None
    if "lambda-runtime-function-error-body" in trailers:
        error = json.loads(base64.b64decode(trailers["lambda-runtime-function-error-body"]))
    return {
        "status": reply.status,
        "headers": {name: reply.header(name) for name in COMPARED_HEADERS},
        "cookies": reply.all("set-cookie"),
        "body": reply.body,
        "error_type": trailers.get("lambda-runtime-function-error-type"),
        "error_message": error and error.get("errorMessage"),
    }


def seen_by_boto3(api_url: str, name: str) -> dict[str, object]:
    lam = lambda_client(api_url)
    events = list(lam.invoke_with_response_stream(FunctionName=name)["EventStream"])
    body = b"".join(e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e)
    complete = next(e["InvokeComplete"] for e in events if "InvokeComplete" in e)
    details = json.loads(complete["ErrorDetails"]) if "ErrorDetails" in complete else None
    prelude, sep, rest = body.partition(b"\0" * 8)
    # JSON (a prelude, a buffered result) is compared parsed: runtimes space it differently.
    if sep:
        # Header names are case-insensitive; runtimes differ in the case they send.
        head = json.loads(prelude)
        head["headers"] = {k.lower(): v for k, v in head.get("headers", {}).items()}
        payload: object = (head, rest)
    else:
        try:
            payload = json.loads(body)
        except ValueError:
            payload = body
    return {
        "payload": payload,
        "error_code": complete.get("ErrorCode"),
        "error_message": details and details.get("errorMessage"),
    }


@pytest.mark.timeout(60)
@pytest.mark.parametrize("handler", CASES)
def test_node_client_and_python_runtime_look_the_same(dev_server, tmp_path, handler):
    module = handler.split(".")[0]
    root = write_handler(tmp_path, PYTHON[f"{module}.py"], name=f"{module}.py")
    python = dev_server(handler, root, "--name", module)
    node = dev_server(
        handler, NODE / "handlers", "--name", module, "--bootstrap", str(NODE / "bootstrap")
    )
    from_node = seen_by_url_client(node.url)
    from_python = seen_by_url_client(python.url)
    assert from_python == from_node
    assert seen_by_boto3(python.api_url, module) == seen_by_boto3(node.api_url, module)
