"""The runtime end to end: ``python -m lambdastream.runtime`` under the real
``lambdastream dev``, read by real clients (a raw HTTP/1.1 client that keeps
trailers, and boto3 against the Invoke API)."""

from __future__ import annotations

import base64
import json

import pytest
from h11client import request
from support import lambda_client, write_handler

HANDLERS = """
import asyncio, logging, os, time
from decimal import Decimal
from lambdastream import StreamingResponse, sse

log = logging.getLogger("app")
log.setLevel(logging.INFO)

def plain(event, context):
    return {"price": Decimal("1.10"), "event": event}

def raw(event, context):
    return b"\\x00\\xffraw"

async def coroutine(event, context):
    await asyncio.sleep(0.01)
    return {"async": True}

async def agen(event, context):
    for word in ["as", "ync", " gen"]:
        await asyncio.sleep(0.01)
        yield word

def async_body(event, context):
    async def body():
        yield "one "
        await asyncio.sleep(0.01)
        yield b"two"
    return StreamingResponse(body(), status_code=202, media_type="text/plain")

def events(event, context):
    return StreamingResponse(sse([{"event": "token", "data": "a\\nb"}, {"data": {"n": 1}}]))

def async_events(event, context):
    async def tokens():
        for word in ["Hel", "lo"]:
            await asyncio.sleep(0.01)
            yield {"event": "token", "data": word}
    return StreamingResponse(sse(tokens()))

def empty(event, context):
    return StreamingResponse((), status_code=204, headers={"x-empty": "yes"})

def bad_yield(event, context):
    yield "fine"
    yield {"not": "bytes"}

def fails_first(event, context):
    raise LookupError("before any byte")
    yield "never"

def context_info(event, context):
    return {
        "request_id": context.aws_request_id,
        "name": context.function_name,
        "version": context.function_version,
        "memory": context.memory_limit_in_mb,
        "arn": context.invoked_function_arn,
        "log_group": context.log_group_name,
        "left_ms": context.get_remaining_time_in_millis(),
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "custom": context.client_context.custom if context.client_context else None,
        "pid": os.getpid(),
    }

def logs(event, context):
    print("printed line")
    log.info("info from %s", "handler")
    return "logged"

async def async_raises(event, context):
    await asyncio.sleep(0)
    raise KeyError("async failure")

async def agen_raises(event, context):
    raise KeyError("async gen failure")
    yield b""

def exits(event, context):
    import sys
    if event.get("exit"):
        sys.exit(3)
    return {"pid": os.getpid()}

def multiline(event, context):
    raise ValueError("first line\\nsecond line")

def flaky(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"pid": os.getpid()}
"""


@pytest.fixture
def start(dev_server, tmp_path):
    root = write_handler(tmp_path, HANDLERS)

    def run(handler: str, *args: str):
        server = dev_server(f"app.{handler}", root, "--name", "app", *args)
        return server, lambda_client(server.api_url)

    return run


def invoke(lam, payload=None, **kw):
    reply = lam.invoke(FunctionName="app", Payload=json.dumps(payload or {}).encode(), **kw)
    return reply, reply["Payload"].read()


@pytest.mark.timeout(30)
def test_buffered_result_is_encoded_like_the_managed_runtime(start):
    _, lam = start("plain")
    reply, body = invoke(lam, {"q": 1})
    assert "FunctionError" not in reply
    assert body == b'{"price": 1.10, "event": {"q": 1}}'


@pytest.mark.timeout(30)
def test_bytes_result_is_returned_raw(start):
    _, lam = start("raw")
    assert invoke(lam)[1] == b"\x00\xffraw"


@pytest.mark.timeout(30)
def test_async_def_handler_is_awaited(start):
    _, lam = start("coroutine")
    assert json.loads(invoke(lam)[1]) == {"async": True}


@pytest.mark.timeout(30)
def test_async_generator_streams_each_yield(start):
    server, lam = start("agen")
    reply = request(server.url + "/")
    assert reply.status == 200
    assert reply.header("content-type") == "application/octet-stream"
    assert reply.body == b"async gen"
    assert len(reply.chunks) == 3  # one chunk per yield, none coalesced
    streamed = lam.invoke_with_response_stream(FunctionName="app", Payload=b"{}")
    pieces = [e["PayloadChunk"]["Payload"] for e in streamed["EventStream"] if "PayloadChunk" in e]
    assert pieces == [b"as", b"ync", b" gen"]


@pytest.mark.timeout(30)
def test_streaming_response_with_async_body(start):
    server, _ = start("async_body")
    reply = request(server.url + "/")
    assert (reply.status, reply.header("content-type")) == (202, "text/plain")
    assert reply.body == b"one two"


@pytest.mark.timeout(30)
def test_server_sent_events_are_framed(start):
    server, _ = start("events")
    reply = request(server.url + "/")
    assert reply.header("content-type") == "text/event-stream"
    assert reply.body == b'event: token\ndata: a\ndata: b\n\ndata: {"n":1}\n\n'


@pytest.mark.timeout(30)
def test_server_sent_events_from_an_async_generator(start):
    server, _ = start("async_events")
    reply = request(server.url + "/")
    assert reply.header("content-type") == "text/event-stream"
    assert reply.body == b"event: token\ndata: Hel\n\nevent: token\ndata: lo\n\n"


@pytest.mark.timeout(30)
def test_empty_streaming_response_still_sends_status_and_headers(start):
    server, _ = start("empty")
    reply = request(server.url + "/")
    assert reply.status == 204
    assert reply.header("x-empty") == "yes"
    assert reply.body == b""


@pytest.mark.timeout(30)
def test_unsupported_yield_type_ends_the_stream_with_a_typed_error(start):
    server, lam = start("bad_yield")
    reply = request(server.url + "/")
    assert reply.body == b"fine"
    trailers = dict(reply.trailers)
    assert trailers["lambda-runtime-function-error-type"] == "TypeError"
    error = json.loads(base64.b64decode(trailers["lambda-runtime-function-error-body"]))
    assert error["errorMessage"] == "a streaming handler must yield bytes or str, not dict"
    streamed = lam.invoke_with_response_stream(FunctionName="app", Payload=b"{}")
    complete = [e["InvokeComplete"] for e in streamed["EventStream"] if "InvokeComplete" in e]
    assert complete[0]["ErrorCode"] == "TypeError"


@pytest.mark.timeout(30)
def test_error_before_the_first_byte_is_an_invocation_error(start):
    server, lam = start("fails_first")
    assert request(server.url + "/").status == 502
    reply, body = invoke(lam)
    assert reply["FunctionError"] == "Unhandled"
    error = json.loads(body)
    assert (error["errorType"], error["errorMessage"]) == ("LookupError", "before any byte")
    assert any("fails_first" in frame for frame in error["stackTrace"])
    assert not any("lambdastream/runtime" in frame for frame in error["stackTrace"])
    server.wait_for_log(r"\[ERROR\] LookupError: before any byte")  # read in the background


@pytest.mark.timeout(30)
def test_context_and_trace_id(start):
    _, lam = start("context_info", "--memory", "256")
    client_context = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    reply, body = invoke(lam, ClientContext=client_context)
    info = json.loads(body)
    assert info["request_id"] == reply["ResponseMetadata"]["RequestId"]
    assert (info["name"], info["version"], info["memory"]) == ("app", "$LATEST", "256")
    assert info["arn"].startswith("arn:aws:lambda:") and info["arn"].endswith(":function:app")
    assert info["log_group"] == "/aws/lambda/app"
    assert 0 < info["left_ms"] <= 120_000  # dev's default timeout
    assert info["trace"].startswith("Root=1-")
    assert info["custom"] == {"k": "v"}


@pytest.mark.timeout(30)
def test_logs_carry_the_request_id(start):
    server, lam = start("logs")
    reply, _ = invoke(lam)
    request_id = reply["ResponseMetadata"]["RequestId"]
    server.wait_for_log(rf"\[INFO\]\t\S+Z\t{request_id}\tinfo from handler")
    assert "printed line" in server.logs()


@pytest.mark.timeout(30)
def test_json_log_format(start):
    server, lam = start("logs", "--log-format", "JSON")
    reply, _ = invoke(lam)
    request_id = reply["ResponseMetadata"]["RequestId"]
    line = server.wait_for_log(r'^.*"message": "info from handler".*$').group(0)
    record = json.loads(line[line.index("{") :])
    assert (record["level"], record["logger"], record["requestId"]) == ("INFO", "app", request_id)


@pytest.mark.timeout(30)
def test_the_runtime_survives_handler_errors(start):
    _, lam = start("flaky", "--concurrency", "1")
    first = json.loads(invoke(lam)[1])["pid"]
    reply, _ = invoke(lam, {"fail": True})
    assert reply["FunctionError"] == "Unhandled"
    assert json.loads(invoke(lam)[1])["pid"] == first  # same environment, still serving


INIT_FAILURES = {
    "syntax": ("app.handler", "def handler(:\n", "Runtime.UserCodeSyntaxError"),
    "import": ("app.handler", "import not_a_module\n", "Runtime.ImportModuleError"),
    "missing": ("app.nothing", "def handler(e, c):\n    return 1\n", "Runtime.HandlerNotFound"),
    "malformed": ("app", "def handler(e, c):\n    return 1\n", "Runtime.MalformedHandlerName"),
    "raises": ("app.handler", "raise RuntimeError('init boom')\n", "RuntimeError"),
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("case", INIT_FAILURES)
def test_init_failures_are_reported_with_their_type(dev_server, tmp_path, case):
    handler, source, error_type = INIT_FAILURES[case]
    server = dev_server(handler, write_handler(tmp_path, source), "--name", "app")
    reply, body = invoke(lambda_client(server.api_url))
    assert reply["FunctionError"] == "Unhandled"
    assert json.loads(body)["errorType"] == error_type
    assert request(server.url + "/").status == 502


@pytest.mark.timeout(30)
@pytest.mark.parametrize("handler", ["async_raises", "agen_raises"])
def test_async_errors_show_only_the_users_frames(start, handler):
    _, lam = start(handler)
    reply, body = invoke(lam)
    error = json.loads(body)
    assert reply["FunctionError"] == "Unhandled"
    assert error["errorType"] == "KeyError"
    assert error["stackTrace"], error
    assert all("/app.py" in frame for frame in error["stackTrace"]), error["stackTrace"]


@pytest.mark.timeout(30)
def test_sys_exit_ends_the_environment_as_on_the_managed_runtime(start):
    _, lam = start("exits", "--concurrency", "1")
    first = json.loads(invoke(lam)[1])["pid"]
    reply, body = invoke(lam, {"exit": True})
    assert reply["FunctionError"] == "Unhandled"
    assert json.loads(body)["errorType"] == "Runtime.ExitError"
    assert json.loads(invoke(lam)[1])["pid"] != first  # a fresh environment


@pytest.mark.timeout(30)
def test_an_error_record_is_one_log_line(start):
    _, lam = start("multiline")
    reply = lam.invoke(FunctionName="app", Payload=b"{}", LogType="Tail")
    tail = base64.b64decode(reply["LogResult"]).decode()
    records = [line for line in tail.split("\n") if line.startswith("[ERROR] ValueError")]
    assert len(records) == 1
    assert "first line\rsecond line\rTraceback (most recent call last):" in records[0]
