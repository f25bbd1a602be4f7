"""``lambdastream dev`` as a Function URL, end to end: real server process,
real runtime processes (ours and the official awslambdaric), real clients."""

from __future__ import annotations

import base64
import json
import shutil
import signal
import subprocess
import sys
import time

import pytest
from h11client import request
from support import missing, write_handler

AWSLAMBDARIC = f"{sys.executable} -m awslambdaric app.handler"

STREAMING = """
import time
from lambdastream import StreamingResponse

def handler(event, context):
    def body():
        for i in range(4):
            yield f"chunk {i} {time.time():.6f}\\n"
            time.sleep(0.4)
    return StreamingResponse(body(), status_code=201,
                             headers={"x-demo": "yes", "Content-Length": "999"},
                             cookies=["a=1; Path=/", "b=2"], media_type="text/plain")
"""

BUFFERED = """
import base64, json

def handler(event, context):
    path = event["rawPath"]
    if path == "/text":
        return "hello"
    if path == "/object":
        return {"answer": 42}
    if path == "/binary":
        return {"statusCode": 200, "headers": {"content-type": "image/png"},
                "body": base64.b64encode(b"\\x89PNG\\x00\\xff").decode(), "isBase64Encoded": True}
    if path == "/event":
        return {"statusCode": 200, "body": json.dumps(event)}
    if path == "/fail":
        raise ValueError("boom")
    return {"statusCode": 201, "headers": {"x-demo": "yes", "Content-Length": "2"},
            "cookies": ["a=1; Path=/", "b=2"], "body": "hi"}
"""

RUNTIMES = {
    "lambdastream": (),
    "awslambdaric": ("--bootstrap", AWSLAMBDARIC),
}


@pytest.mark.timeout(30)
def test_stream_arrives_chunk_by_chunk_with_status_headers_cookies(dev_server, tmp_path):
    server = dev_server("app.handler", write_handler(tmp_path, STREAMING))
    reply = request(server.url + "/")
    assert reply.status == 201
    assert reply.header("x-demo") == "yes"
    assert reply.header("content-type") == "text/plain"
    assert reply.all("set-cookie") == ["a=1; Path=/", "b=2"]
    # Function URLs rename Content-Length: the stream's own framing rules.
    assert reply.header("x-amzn-remapped-content-length") == "999"
    assert reply.header("content-length") is None
    assert reply.header("transfer-encoding") == "chunked"
    assert reply.complete and reply.trailers == []
    lines = reply.body.decode().splitlines()
    assert [line.split()[1] for line in lines] == ["0", "1", "2", "3"]
    # Each chunk reached the client while the handler was still sleeping
    # before the next yield: chunk i arrives >= i*0.3 s after chunk 0, and
    # well before the stream ended.
    arrivals = []
    for at, data in reply.chunks:
        arrivals.extend([at] * data.count(b"\n"))
    first = arrivals[0]
    for i, at in enumerate(arrivals):
        assert at - first >= i * 0.3, arrivals
    assert arrivals[1] - first < 1.0 and arrivals[-1] - arrivals[0] >= 1.0, arrivals


@pytest.mark.timeout(30)
def test_curl_n_shows_each_chunk_as_it_is_yielded(dev_server, tmp_path):
    if shutil.which("curl") is None:
        missing("curl", "make system-deps installs it")
    server = dev_server("app.handler", write_handler(tmp_path, STREAMING))
    start = time.monotonic()
    curl = subprocess.Popen(
        ["curl", "-sN", "-D", "-", server.url + "/"], stdout=subprocess.PIPE, text=True
    )
    assert curl.stdout is not None
    head, seen = [], []
    for line in curl.stdout:
        if line.startswith("chunk "):
            yielded_at = float(line.split()[2])
            seen.append((time.monotonic() - start, time.time() - yielded_at))
        else:
            head.append(line.strip())
    assert curl.wait() == 0
    assert head[0].startswith("HTTP/1.1 201")
    assert "x-demo: yes" in head
    assert len(seen) == 4
    for i, (at, lag) in enumerate(seen):
        assert lag < 0.3, seen  # printed by curl right after the handler yielded it
        assert at - seen[0][0] >= i * 0.3, seen


@pytest.mark.timeout(30)
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_buffered_response_format(dev_server, tmp_path, runtime):
    server = dev_server("app.handler", write_handler(tmp_path, BUFFERED), *RUNTIMES[runtime])
    reply = request(server.url + "/")
    assert reply.status == 201
    assert reply.header("x-demo") == "yes"
    assert reply.header("x-amzn-remapped-content-length") == "2"
    assert reply.header("content-length") == "2"  # ours, for the body actually sent
    assert reply.header("content-type") == "application/json"
    assert reply.all("set-cookie") == ["a=1; Path=/", "b=2"]
    assert reply.body == b"hi"

    binary = request(server.url + "/binary")
    assert binary.status == 200 and binary.header("content-type") == "image/png"
    assert binary.body == b"\x89PNG\x00\xff"

    # Not in the response format: a 200 application/json body, as Lambda does.
    text = request(server.url + "/text")
    assert (text.status, text.header("content-type"), text.body) == (
        200,
        "application/json",
        b'"hello"',
    )
    obj = request(server.url + "/object")
    assert obj.status == 200 and json.loads(obj.body) == {"answer": 42}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_event_is_payload_format_2(dev_server, tmp_path, runtime):
    server = dev_server("app.handler", write_handler(tmp_path, BUFFERED), *RUNTIMES[runtime])
    reply = request(
        server.url + "/event?x=1&x=2&name=a%20b",
        method="POST",
        headers=[
            ("Cookie", "s=1; t=2"),
            ("X-Multi", "a"),
            ("X-Multi", "b"),
            ("Content-Type", "application/json"),
        ],
        body=b'{"k": "v"}',
    )
    event = json.loads(reply.body)
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/event"
    assert event["rawQueryString"] == "x=1&x=2&name=a%20b"
    assert event["queryStringParameters"] == {"x": "1,2", "name": "a b"}
    assert event["cookies"] == ["s=1", "t=2"]
    assert event["headers"]["x-multi"] == "a,b" and "cookie" not in event["headers"]
    assert event["body"] == '{"k": "v"}' and event["isBase64Encoded"] is False
    http = event["requestContext"]["http"]
    assert http["method"] == "POST" and http["path"] == "/event" and http["sourceIp"] == "127.0.0.1"
    assert event["requestContext"]["requestId"] == reply.header("x-amzn-requestid")

    binary = request(
        server.url + "/event",
        method="PUT",
        headers=[("Content-Type", "application/octet-stream")],
        body=b"\x00\x01\xff",
    )
    event = json.loads(binary.body)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x00\x01\xff"
    assert "queryStringParameters" not in event and "cookies" not in event


@pytest.mark.timeout(30)
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_handler_error_is_502(dev_server, tmp_path, runtime):
    server = dev_server("app.handler", write_handler(tmp_path, BUFFERED), *RUNTIMES[runtime])
    reply = request(server.url + "/fail")
    assert reply.status == 502
    assert reply.body == b"Internal Server Error"
    server.wait_for_log(r"ValueError.*boom")
    # The environment survives a handled error.
    assert request(server.url + "/").status == 201


MID_STREAM_ERROR = """
from lambdastream import StreamingResponse

def handler(event, context):
    def body():
        yield "partial-1\\n"
        raise RuntimeError("cut here")
    if event["rawPath"] == "/early":
        raise KeyError("before any byte")
    return StreamingResponse(body(), status_code=200, media_type="text/plain")
"""


@pytest.mark.timeout(30)
def test_mid_stream_error_ends_body_with_error_trailers(dev_server, tmp_path):
    server = dev_server("app.handler", write_handler(tmp_path, MID_STREAM_ERROR))
    reply = request(server.url + "/")
    assert reply.status == 200
    assert reply.body == b"partial-1\n"
    assert reply.complete  # the chunked body was terminated properly...
    trailers = dict(reply.trailers)  # ...and says why it ended
    assert trailers["lambda-runtime-function-error-type"] == "RuntimeError"
    error = json.loads(base64.b64decode(trailers["lambda-runtime-function-error-body"]))
    assert error["errorMessage"] == "cut here"
    server.wait_for_log(r"RuntimeError: cut here")

    early = request(server.url + "/early")
    assert early.status == 502 and early.body == b"Internal Server Error"


@pytest.mark.timeout(30)
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_import_error_is_502_and_logged(dev_server, tmp_path, runtime):
    root = write_handler(tmp_path, "import no_such_module_here\n")
    server = dev_server("app.handler", root, *RUNTIMES[runtime])
    reply = request(server.url + "/")
    assert reply.status == 502
    server.wait_for_log(r"Runtime\.ImportModuleError")


@pytest.mark.timeout(30)
def test_timeout_kills_environment_and_next_request_is_cold(dev_server, tmp_path):
    root = write_handler(
        tmp_path,
        """
        import time
        def handler(event, context):
            if event["rawPath"] == "/slow":
                time.sleep(30)
            return {"statusCode": 200, "body": "fast"}
        """,
    )
    server = dev_server("app.handler", root, "--timeout", "1")
    started = time.monotonic()
    reply = request(server.url + "/slow")
    assert reply.status == 502
    assert 0.9 < time.monotonic() - started < 5
    server.wait_for_log(r"Task timed out after 1\.00 seconds")
    assert request(server.url + "/").body == b"fast"
    assert len(server.wait_for_log(r"(?s)(INIT_START.*){2}").group(0)) > 0


@pytest.mark.timeout(30)
def test_streaming_timeout_cuts_stream_with_sandbox_timeout_trailer(dev_server, tmp_path):
    root = write_handler(
        tmp_path,
        """
        import time
        def handler(event, context):
            yield "started\\n"
            time.sleep(30)
            yield "never"
        """,
    )
    server = dev_server("app.handler", root, "--timeout", "1")
    reply = request(server.url + "/")
    assert reply.status == 200 and reply.body == b"started\n"
    assert dict(reply.trailers)["lambda-runtime-function-error-type"] == "Sandbox.Timeout"


@pytest.mark.timeout(30)
def test_crashed_runtime_gives_502_then_fresh_environment(dev_server, tmp_path):
    root = write_handler(
        tmp_path,
        """
        import os
        def handler(event, context):
            if event["rawPath"] == "/crash":
                os._exit(3)
            return {"statusCode": 200, "body": "alive"}
        """,
    )
    server = dev_server("app.handler", root)
    reply = request(server.url + "/crash")
    assert reply.status == 502
    server.wait_for_log(r"Runtime\.ExitError.*exit status 3")
    assert request(server.url + "/").body == b"alive"


@pytest.mark.timeout(30)
def test_request_over_6_mib_is_413_and_never_reaches_function(dev_server, tmp_path):
    root = write_handler(
        tmp_path, "def handler(event, context):\n    print('INVOKED')\n    return 'x'\n"
    )
    server = dev_server("app.handler", root)
    reply = request(server.url + "/", method="POST", body=b"x" * (6 * 1024 * 1024 + 1))
    assert reply.status == 413
    assert "Request must be smaller" in json.loads(reply.body)["Message"]
    assert "INVOKED" not in server.logs()


@pytest.mark.timeout(30)
def test_ctrl_c_stops_server_and_runtimes(dev_server, tmp_path):
    root = write_handler(
        tmp_path, "import os\ndef handler(event, context):\n    return os.getpid()\n"
    )
    server = dev_server("app.handler", root)
    pid = int(request(server.url + "/").body)
    server.proc.send_signal(signal.SIGINT)
    assert server.proc.wait(10) == 0
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        import os

        os.kill(pid, 0)
    assert "Traceback" not in server.logs()
