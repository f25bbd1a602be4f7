"""``lambdastream dev --entry rest``, end to end: the real dev server as an API
Gateway REST API's execute-api URL (``/<stage>/...``), real runtimes (ours,
a raw-socket one that writes the streaming metadata by hand, and the
official Node.js client running AWS's own REST streaming example), real
clients (h11, botocore's signer)."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from h11client import Reply, request
from rest_support import start_rest
from support import DevServer, missing, write_handler

RAW_RUNTIME = Path(__file__).resolve().parents[1] / "raw_runtime.py"
NODE = Path(__file__).resolve().parents[1] / "peers" / "node"

APP = """
import base64, json, time
from lambdastream import StreamingResponse

def echo(event, context):
    print("INVOKED")
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps(event)}

def stream(event, context):
    def body():
        for i in range(3):
            yield f"chunk {i} {time.time():.6f}\\n"
            time.sleep(0.4)
    return StreamingResponse(body(), status_code=201, media_type="text/plain",
                             headers={"x-demo": "yes", "Content-Length": "999"},
                             cookies=["a=1; Path=/", "b=2"])

def buffered(event, context):
    path = event["path"]
    if path == "/proxy":
        return {"statusCode": 202, "headers": {"x-one": "1"},
                "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"], "x-two": ["2", "3"]},
                "body": base64.b64encode(b"\\x89PNG\\x00\\xff").decode(), "isBase64Encoded": True}
    if path == "/plain":
        return "hello"  # a Function URL sends this as a body; a REST API cannot
    if path == "/object-body":
        return {"statusCode": 200, "body": {"a": 1}}
    if path == "/fail":
        raise ValueError("boom")
    if path == "/slow":
        time.sleep(5)
    return {"statusCode": 200, "body": "ok"}

def generator(event, context):
    yield "no metadata first"

def midstream(event, context):
    def body():
        yield "part 1\\n"
        time.sleep(0.1)
        raise RuntimeError("failed after one chunk")
    return StreamingResponse(body(), media_type="text/plain")

def idle(event, context):
    def body():
        yield "first\\n"
        time.sleep(3)
        yield "too late\\n"
    if event["path"] == "/late":
        time.sleep(3)
    return StreamingResponse(body(), media_type="text/plain")
"""

# The metadata written by hand, as Node's HttpResponseStream.from does: its
# own chunk, the 8 NUL bytes in another, then the body.
MULTI_VALUE_RUNTIME = """
import json, time
from raw_runtime import PREFIX, Connection

META = {"statusCode": 207, "headers": {"x-a": "single", "x-b": "kept"},
        "multiValueHeaders": {"X-A": ["m1", "m2"], "Set-Cookie": ["c1=blue", "c2=red"]},
        "cookies": ["c3=green"]}
api = Connection()
while True:
    rid, _ = api.next_invocation()
    api.send(
        f"POST {PREFIX}/invocation/{rid}/response HTTP/1.1\\r\\nHost: x\\r\\n"
        "Lambda-Runtime-Function-Response-Mode: streaming\\r\\n"
        "Content-Type: application/vnd.awslambda.http-integration-response\\r\\n"
        "Transfer-Encoding: chunked\\r\\n\\r\\n".encode()
    )
    meta = json.dumps(META).encode()
    api.send(b"%x\\r\\n%s\\r\\n" % (len(meta), meta))
    api.send(b"8\\r\\n" + b"\\0" * 8 + b"\\r\\n")
    api.send(b"6\\r\\nfirst\\n\\r\\n")
    time.sleep(0.5)
    api.send(b"7\\r\\nsecond\\n\\r\\n0\\r\\n\\r\\n")
    api.answer()
"""

# AWS's example function for REST API response streaming
# (apigateway/latest/developerguide/response-streaming-lambda-configure.html).
AWS_EXAMPLE = """
export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  const httpResponseMetadata = {
    statusCode: 200,
    headers: { "x-foo": "bar" },
    multiValueHeaders: { "x-mv1": ["hello", "world"], "Set-Cookie": ["c1=blue", "c2=red"] },
  };
  responseStream = awslambda.HttpResponseStream.from(responseStream, httpResponseMetadata);
  responseStream.write("First payload ");
  await new Promise((r) => setTimeout(r, 500));
  responseStream.write("Final payload");
  responseStream.end();
});
"""


@pytest.fixture
def rest() -> Iterator[Callable[..., DevServer]]:
    started: list[DevServer] = []

    def start(handler: str, root: Path, *extra: str, env: dict[str, str] | None = None):
        server = start_rest(handler, root, *extra, env=env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def base(server: DevServer) -> str:
    """``http://host:port`` without the stage."""
    return server.url.rsplit("/", 1)[0]


def is_gateway_error(reply: Reply, status: int, message: str, error_type: str | None) -> bool:
    return (
        reply.status == status
        and json.loads(reply.body) == {"message": message}
        and reply.header("content-type") == "application/json"
        and reply.header("x-amzn-errortype") == error_type
        and reply.header("x-amzn-requestid") is not None
        and reply.header("x-amz-apigw-id") is not None
    )


@pytest.mark.timeout(30)
def test_the_function_gets_the_rest_event_with_the_stage_in_requestcontext(rest, tmp_path):
    server = rest("app.echo", write_handler(tmp_path, APP))
    assert server.url.endswith("/Prod")  # the printed URL names the stage
    reply = request(
        server.url + "/hello%20there?x=1&x=2&y=a+b",
        headers=[("X-Dup", "1"), ("X-Dup", "2"), ("Cookie", "s=1; t=2")],
    )
    assert reply.status == 200
    event = json.loads(reply.body)
    assert event["resource"] == "/{proxy+}" and event["httpMethod"] == "GET"
    assert event["path"] == "/hello%20there"
    assert event["pathParameters"] == {"proxy": "hello%20there"}
    ctx = event["requestContext"]
    assert ctx["path"] == "/Prod/hello%20there" and ctx["stage"] == "Prod"
    assert ctx["resourcePath"] == "/{proxy+}"
    # API Gateway's request id is its own, and it is the one it answers with.
    assert ctx["requestId"] == reply.header("x-amzn-requestid")
    assert ctx["extendedRequestId"] == reply.header("x-amz-apigw-id")
    assert event["queryStringParameters"] == {"x": "2", "y": "a b"}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": ["a b"]}
    assert event["headers"]["X-Dup"] == "2" and event["multiValueHeaders"]["X-Dup"] == ["1", "2"]
    assert event["headers"]["Cookie"] == "s=1; t=2"
    assert event["headers"]["X-Amzn-Trace-Id"] == reply.header("x-amzn-trace-id")
    assert event["body"] is None and event["isBase64Encoded"] is False
    assert "version" not in event and "rawPath" not in event  # not a Function URL event

    binary = bytes(range(256))
    reply = request(
        server.url + "/up", "POST", [("Content-Type", "application/octet-stream")], binary
    )
    event = json.loads(reply.body)
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == binary

    root = json.loads(request(server.url).body)
    assert root["resource"] == "/" and root["path"] == "/" and root["pathParameters"] is None


@pytest.mark.timeout(30)
def test_outside_the_stage_api_gateway_says_forbidden(rest, tmp_path):
    server = rest("app.echo", write_handler(tmp_path, APP), "--stage", "v1")
    assert server.url.endswith("/v1")
    for path in ("/", "/Prod/hello", "/V1/hello", "/v1x", "/favicon.ico"):
        reply = request(base(server) + path)
        assert is_gateway_error(reply, 403, "Forbidden", "ForbiddenException"), (path, reply)
    assert "INVOKED" not in server.logs()  # the function never ran
    assert json.loads(request(server.url + "/hello").body)["path"] == "/hello"


@pytest.mark.timeout(30)
def test_no_dot_segment_reaches_the_function(rest, tmp_path):
    # Sent as is (h11 sends the target it is given; curl would need
    # --path-as-is): dot segments are resolved, and what leaves the stage
    # is outside it.
    server = rest("app.echo", write_handler(tmp_path, APP))
    for target, path in (("/Prod/a/../b", "/b"), ("/Prod/a/%2E%2e/b/./c", "/b/c")):
        event = json.loads(request(base(server) + target).body)
        assert (event["path"], event["pathParameters"]["proxy"]) == (path, path[1:]), target
        assert event["requestContext"]["path"] == "/Prod" + path
    for target in ("/Prod/../x", "/Prod/%2e%2e/x", "/Prod/a/../../x"):
        reply = request(base(server) + target)
        assert is_gateway_error(reply, 403, "Forbidden", "ForbiddenException"), (target, reply)


@pytest.mark.timeout(30)
def test_a_stream_arrives_chunk_by_chunk_with_status_headers_and_cookies(rest, tmp_path):
    server = rest("app.stream", write_handler(tmp_path, APP))
    reply = request(server.url + "/")
    assert reply.status == 201
    assert reply.header("x-demo") == "yes"
    assert reply.header("content-type") == "text/plain"
    assert reply.all("set-cookie") == ["a=1; Path=/", "b=2"]
    assert reply.header("x-amzn-remapped-content-length") == "999"
    assert reply.header("content-length") is None
    assert reply.header("transfer-encoding") == "chunked"
    assert reply.complete and reply.trailers == []
    arrivals = [at for at, data in reply.chunks for _ in range(data.count(b"\n"))]
    assert len(arrivals) == 3
    for i, at in enumerate(arrivals):
        assert at - arrivals[0] >= i * 0.3, arrivals  # each one as it was yielded


@pytest.mark.timeout(30)
def test_multi_value_headers_in_the_metadata_are_merged_as_api_gateway_does(rest, tmp_path):
    shutil.copy(RAW_RUNTIME, tmp_path / "raw_runtime.py")
    root = write_handler(tmp_path, MULTI_VALUE_RUNTIME, name="runtime.py")
    server = rest("app.handler", root, "--bootstrap", f"{sys.executable} runtime.py")
    reply = request(server.url + "/anything")
    assert reply.status == 207
    # A name in both takes only its multiValueHeaders values (in any case).
    assert reply.all("x-a") == ["m1", "m2"]
    assert reply.header("x-b") == "kept"
    # Every Set-Cookie value and every cookie: a line of its own.
    assert reply.all("set-cookie") == ["c1=blue", "c2=red", "c3=green"]
    assert reply.header("content-type") == "application/json"  # none was set
    assert reply.body == b"first\nsecond\n"
    first, second = (at for at, data in reply.chunks if data)
    assert second - first >= 0.4  # the first chunk did not wait for the second


@pytest.mark.node
@pytest.mark.timeout(60)
def test_aws_example_streams_through_the_official_node_client(rest, tmp_path):
    if not (NODE / "node_modules" / "aws-lambda-ric").is_dir() or not shutil.which("node"):
        missing("the Node.js client aws-lambda-ric", "make node-ric installs it")
    (tmp_path / "example.mjs").write_text(AWS_EXAMPLE)
    server = rest("example.handler", tmp_path, "--bootstrap", str(NODE / "bootstrap"))
    reply = request(server.url + "/stream", timeout=30)
    assert reply.status == 200
    assert reply.header("x-foo") == "bar"
    assert reply.all("x-mv1") == ["hello", "world"]
    assert reply.all("set-cookie") == ["c1=blue", "c2=red"]
    assert reply.body == b"First payload Final payload"
    first, last = reply.chunks[0][0], reply.chunks[-1][0]
    assert last - first >= 0.3


@pytest.mark.timeout(30)
def test_buffered_answers_follow_the_proxy_output_format(rest, tmp_path):
    server = rest("app.buffered", write_handler(tmp_path, APP))
    reply = request(server.url + "/proxy")
    assert reply.status == 202
    assert reply.body == b"\x89PNG\x00\xff"
    assert reply.header("x-one") == "1" and reply.all("x-two") == ["2", "3"]
    assert reply.all("set-cookie") == ["a=1", "b=2"]
    assert request(server.url + "/").body == b"ok"
    for path in ("/plain", "/object-body", "/fail"):
        reply = request(server.url + path)
        assert is_gateway_error(
            reply, 502, "Internal server error", "InternalServerErrorException"
        ), (path, reply)
    server.wait_for_log(r"REST API: 502, malformed Lambda proxy response: not the proxy output")
    server.wait_for_log(r"REST API: 502, malformed Lambda proxy response: body must be a string")
    # The server and the function carry on.
    assert request(server.url + "/").body == b"ok"


@pytest.mark.timeout(30)
def test_a_throttled_invocation_is_api_gateways_500(rest, tmp_path):
    server = rest(
        "app.buffered", write_handler(tmp_path, APP), "--concurrency", "1", "--timeout", "10"
    )
    slow = threading.Thread(target=request, args=(server.url + "/slow",), kwargs={"timeout": 20})
    slow.start()
    server.wait_for_log(r"START RequestId")
    reply = request(server.url + "/")
    slow.join()
    assert is_gateway_error(reply, 500, "Internal server error", "InternalServerErrorException")
    server.wait_for_log(r"REST API: 500 GET /Prod/: the function is at its concurrency \(1\)")


@pytest.mark.timeout(30)
def test_a_stream_without_its_metadata_is_a_502_that_says_why(rest, tmp_path):
    server = rest("app.generator", write_handler(tmp_path, APP))
    reply = request(server.url + "/")
    assert is_gateway_error(reply, 502, "Internal server error", "InternalServerErrorException")
    server.wait_for_log(r"invalid streaming response metadata: .*must open with the statusCode")


@pytest.mark.timeout(30)
def test_a_failure_after_the_first_byte_ends_the_body_with_error_trailers(rest, tmp_path):
    server = rest("app.midstream", write_handler(tmp_path, APP))
    reply = request(server.url + "/")
    assert reply.status == 200 and reply.body == b"part 1\n" and reply.complete
    trailers = dict(reply.trailers)
    assert trailers["lambda-runtime-function-error-type"] == "RuntimeError"
    error = json.loads(base64.b64decode(trailers["lambda-runtime-function-error-body"]))
    assert error["errorMessage"] == "failed after one chunk"


@pytest.mark.timeout(30)
def test_a_client_that_goes_away_mid_stream_leaves_the_server_serving(rest, tmp_path):
    server = rest("app.stream", write_handler(tmp_path, APP), "--concurrency", "1")
    host, port = base(server).split("//")[1].split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(b"GET /Prod/ HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 201")
    server.wait_for_log(r"END RequestId")  # the function ran to its end, as on Lambda
    reply = request(server.url + "/")
    assert reply.status == 201 and reply.body.count(b"\n") == 3


@pytest.mark.timeout(40)
def test_an_idle_stream_is_cut_and_the_function_runs_on(rest, tmp_path):
    server = rest(
        "app.idle", write_handler(tmp_path, APP), "--idle-timeout", "1", "--timeout", "10"
    )
    start = time.monotonic()
    reply = request(server.url + "/early")
    assert reply.status == 200 and reply.body == b"first\n"  # "too late" never comes
    assert 0.9 < time.monotonic() - start < 2.8
    assert dict(reply.trailers)["lambda-runtime-function-error-type"] == "Gateway.IdleTimeout"
    server.wait_for_log(r"no byte from the function for 1 s")
    server.wait_for_log(r"END RequestId")  # the invocation ended on its own
    # Nothing at all for the idle time: API Gateway's timeout answer.
    reply = request(server.url + "/late")
    assert is_gateway_error(reply, 504, "Endpoint request timed out", None)


@pytest.mark.timeout(30)
def test_an_iam_method_takes_requests_signed_for_execute_api(rest, tmp_path):
    keys = {"AWS_ACCESS_KEY_ID": "AKIDLOCALTEST", "AWS_SECRET_ACCESS_KEY": "local-secret"}
    server = rest("app.echo", write_handler(tmp_path, APP), "--auth", "AWS_IAM", env=keys)
    url = server.url + "/signed?q=1"

    def signed(service: str) -> list[tuple[str, str]]:
        aws = AWSRequest(method="GET", url=url)
        SigV4Auth(Credentials(*keys.values()), service, "us-east-1").add_auth(aws)
        return [(k, v) for k, v in aws.headers.items()]

    reply = request(url, headers=signed("execute-api"))
    assert reply.status == 200, reply.body
    identity = json.loads(reply.body)["requestContext"]["identity"]
    assert identity["accessKey"] == "AKIDLOCALTEST"
    assert identity["userArn"] == "arn:aws:iam::123456789012:user/local"
    unsigned = request(url)
    assert is_gateway_error(
        unsigned, 403, "Missing Authentication Token", "MissingAuthenticationTokenException"
    )
    wrong_service = request(url, headers=signed("lambda"))
    assert wrong_service.status == 403
    assert wrong_service.header("x-amzn-errortype") == "InvalidSignatureException"
    assert server.logs().count("INVOKED") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stage", "v1"], "--stage apply to --entry rest"),
        (["--idle-timeout", "30"], "--idle-timeout apply to --entry rest"),
        (["--entry", "rest", "--cors-origin", "*"], "--cors-* configure a Function URL"),
    ],
)
def test_flags_that_would_do_nothing_are_refused(tmp_path, args, message):
    result = subprocess.run(
        [sys.executable, "-m", "lambdastream", "dev", "app.handler", "--root", str(tmp_path),
         "--port", "0", "--api-port", "0", *args],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("stage", ["my stage", "a/b", "x" * 129, ""])
def test_a_stage_name_api_gateway_refuses_is_refused(tmp_path, stage):
    result = subprocess.run(
        [sys.executable, "-m", "lambdastream", "dev", "app.handler", "--root", str(tmp_path),
         "--entry", "rest", "--stage", stage],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert "cannot name a stage" in result.stderr
