"""``lambdastream dev``'s Invoke API, driven by real boto3 with ``endpoint_url``."""

from __future__ import annotations

import base64
import json
import threading
import time

import pytest
from dev_in_process import serve_in_process
from support import lambda_client, write_handler

HANDLER = """
import json, os, sys, time

def handler(event, context):
    kind = event.get("kind")
    print("handling", kind)
    if kind == "fail":
        raise ValueError("bad input")
    if kind == "slow":
        time.sleep(30)
    if kind == "crash":
        os._exit(7)
    if kind == "big":
        return "x" * (7 * 1024 * 1024)
    if kind == "sleep":
        time.sleep(event["seconds"])
    if kind == "stream":
        return stream(event)
    if kind == "context":
        return {"memory": context.memory_limit_in_mb, "arn": context.invoked_function_arn,
                "name": context.function_name, "left": context.get_remaining_time_in_millis(),
                "client": getattr(context.client_context, "custom", None)}
    return {"echo": event}

def stream(event):
    for i in range(3):
        yield f"part {i}\\n"
        time.sleep(0.3)
    if event.get("then") == "fail":
        raise RuntimeError("mid-stream")
    if event.get("then") == "crash":
        os._exit(9)
    if event.get("then") == "hang":
        time.sleep(30)
"""


@pytest.fixture
def fn(dev_server, tmp_path):
    server = dev_server("app.handler", write_handler(tmp_path, HANDLER), "--timeout", "2")
    return server, lambda_client(server.api_url)


def invoke(lam, payload, **kw):
    reply = lam.invoke(FunctionName="app", Payload=json.dumps(payload).encode(), **kw)
    return reply, reply["Payload"].read()


def stream(lam, payload, **kw):
    reply = lam.invoke_with_response_stream(
        FunctionName="app", Payload=json.dumps(payload).encode(), **kw
    )
    chunks, complete = [], None
    start = time.monotonic()
    for event in reply["EventStream"]:
        if "PayloadChunk" in event:
            chunks.append((time.monotonic() - start, event["PayloadChunk"]["Payload"]))
        elif "InvokeComplete" in event:
            complete = event["InvokeComplete"]
    return reply, chunks, complete


@pytest.mark.timeout(30)
def test_invoke_success_and_log_tail(fn):
    server, lam = fn
    reply, body = invoke(lam, {"hello": 1}, LogType="Tail")
    assert reply["StatusCode"] == 200
    assert "FunctionError" not in reply
    assert reply["ExecutedVersion"] == "$LATEST"
    assert json.loads(body) == {"echo": {"hello": 1}}
    log = base64.b64decode(reply["LogResult"]).decode()
    request_id = reply["ResponseMetadata"]["RequestId"]
    assert f"START RequestId: {request_id}" in log
    assert "handling None" in log
    assert f"REPORT RequestId: {request_id}" in log and "Init Duration" in log
    # As on Lambda, the environment takes new work only once its runtime asks
    # for it (/next), a moment after the answer: a call before that would
    # rightly start a second environment.
    time.sleep(0.5)
    # Warm now: no Init Duration, and the same process.
    reply, _ = invoke(lam, {}, LogType="Tail")
    assert "Init Duration" not in base64.b64decode(reply["LogResult"]).decode()
    assert server.logs().count("INIT_START") == 1


@pytest.mark.timeout(30)
def test_context_carries_memory_arn_and_client_context(dev_server, tmp_path):
    server = dev_server(
        "app.handler", write_handler(tmp_path, HANDLER), "--memory", "512", "--name", "my-fn"
    )
    lam = lambda_client(server.api_url)
    client_context = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    reply = lam.invoke(
        FunctionName="arn:aws:lambda:us-east-1:123456789012:function:my-fn",
        Payload=b'{"kind": "context"}',
        ClientContext=client_context,
    )
    ctx = json.loads(reply["Payload"].read())
    assert ctx["memory"] == "512" or ctx["memory"] == 512
    assert ctx["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:my-fn"
    assert ctx["name"] == "my-fn"
    assert 0 < ctx["left"] <= 120_000  # dev's default timeout
    assert ctx["client"] == {"k": "v"}


@pytest.mark.timeout(30)
def test_invoke_handler_error_is_unhandled(fn):
    _, lam = fn
    reply, body = invoke(lam, {"kind": "fail"})
    assert reply["StatusCode"] == 200
    assert reply["FunctionError"] == "Unhandled"
    error = json.loads(body)
    assert error["errorType"] == "ValueError" and error["errorMessage"] == "bad input"


@pytest.mark.timeout(30)
def test_invoke_timeout_then_fresh_environment(fn):
    server, lam = fn
    reply, body = invoke(lam, {"kind": "slow"})
    assert reply["FunctionError"] == "Unhandled"
    error = json.loads(body)
    assert error["errorType"] == "Sandbox.Timeout"
    assert "Task timed out after 2.00 seconds" in error["errorMessage"]
    reply, body = invoke(lam, {"n": 2})
    assert json.loads(body) == {"echo": {"n": 2}}
    assert server.logs().count("INIT_START") == 2


@pytest.mark.timeout(30)
def test_invoke_oversize_response(fn):
    _, lam = fn
    reply, body = invoke(lam, {"kind": "big"})
    assert reply["FunctionError"] == "Unhandled"
    assert json.loads(body)["errorType"] == "Function.ResponseSizeTooLarge"
    assert json.loads(invoke(lam, {"after": "big"})[1]) == {"echo": {"after": "big"}}


@pytest.mark.timeout(30)
def test_invoke_crashed_runtime_then_fresh_environment(fn):
    _, lam = fn
    reply, body = invoke(lam, {"kind": "crash"})
    assert reply["FunctionError"] == "Unhandled"
    error = json.loads(body)
    assert error["errorType"] == "Runtime.ExitError"
    assert "exit status 7" in error["errorMessage"]
    assert json.loads(invoke(lam, {"n": 3})[1]) == {"echo": {"n": 3}}


@pytest.mark.timeout(30)
def test_event_and_dry_run(fn):
    server, lam = fn
    reply = lam.invoke(FunctionName="app", InvocationType="Event", Payload=b'{"kind": "async"}')
    assert reply["StatusCode"] == 202
    server.wait_for_log(r"handling async")
    reply = lam.invoke(FunctionName="app", InvocationType="DryRun")
    assert reply["StatusCode"] == 204


@pytest.mark.timeout(30)
def test_api_errors(fn):
    server, lam = fn
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as err:
        lam.invoke(FunctionName="other", Payload=b"{}")
    assert "Function not found" in err.value.response["Error"]["Message"]
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="app", Qualifier="7", Payload=b"{}")
    with pytest.raises(lam.exceptions.InvalidRequestContentException):
        lam.invoke(FunctionName="app", Payload=b"{not json")
    with pytest.raises(lam.exceptions.RequestTooLargeException):
        lam.invoke(FunctionName="app", Payload=b'"' + b"x" * (6 * 1024 * 1024) + b'"')
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke_with_response_stream(FunctionName="nope", Payload=b"{}")
    assert "handling" not in server.logs()


@pytest.mark.timeout(60)
def test_concurrency_limit_gives_429(dev_server, tmp_path):
    server = dev_server(
        "app.handler", write_handler(tmp_path, HANDLER), "--concurrency", "2", "--timeout", "10"
    )
    lam = lambda_client(server.api_url)
    invoke(lam, {})  # one warm environment
    results = []
    threads = [
        threading.Thread(
            target=lambda: results.append(invoke(lam, {"kind": "sleep", "seconds": 2}))
        )
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    server.wait_for_log(r"(?s)(handling sleep.*){2}")
    with pytest.raises(lam.exceptions.TooManyRequestsException) as err:
        invoke(lam, {"n": 1})
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert err.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    for t in threads:
        t.join()
    sleeping = {"echo": {"kind": "sleep", "seconds": 2}}
    assert [json.loads(body) for _, body in results] == [sleeping, sleeping]
    assert json.loads(invoke(lam, {"n": 2})[1]) == {"echo": {"n": 2}}


@pytest.mark.timeout(30)
def test_stream_success_chunks_arrive_as_yielded(fn):
    _, lam = fn
    reply, chunks, complete = stream(lam, {"kind": "stream"}, LogType="Tail")
    assert reply["StatusCode"] == 200
    assert b"".join(c for _, c in chunks) == b"part 0\npart 1\npart 2\n"
    assert complete is not None and "ErrorCode" not in complete
    assert "handling stream" in base64.b64decode(complete["LogResult"]).decode()
    times = [at for at, c in chunks for _ in range(c.count(b"\n"))]
    for i, at in enumerate(times):
        assert at - times[0] >= i * 0.25, times


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("payload", "code", "body"),
    [
        ({"kind": "fail"}, "ValueError", b""),
        ({"kind": "stream", "then": "fail"}, "RuntimeError", b"part 0\npart 1\npart 2\n"),
        ({"kind": "stream", "then": "hang"}, "Sandbox.Timeout", b"part 0\npart 1\npart 2\n"),
        ({"kind": "stream", "then": "crash"}, "Runtime.ExitError", b"part 0\npart 1\npart 2\n"),
        ({"kind": "crash"}, "Runtime.ExitError", b""),
        ({"kind": "slow"}, "Sandbox.Timeout", b""),
    ],
    ids=["error-before-first-byte", "error-after-first-byte", "timeout-mid-stream",
         "crash-mid-stream", "crash-before-first-byte", "timeout-before-first-byte"],
)  # fmt: skip
def test_stream_errors_arrive_in_invoke_complete(fn, payload, code, body):
    _, lam = fn
    reply, chunks, complete = stream(lam, payload)
    assert reply["StatusCode"] == 200
    assert b"".join(c for _, c in chunks) == body
    assert complete is not None and complete["ErrorCode"] == code
    details = json.loads(complete["ErrorDetails"])
    assert details["errorType"] == code
    # The next invocation works (a fresh environment where the old one died).
    assert json.loads(invoke(lam, {"n": 1})[1]) == {"echo": {"n": 1}}


@pytest.mark.timeout(30)
def test_stream_keeps_prelude_like_lambda(dev_server, tmp_path):
    root = write_handler(
        tmp_path,
        """
        from lambdastream import StreamingResponse
        def handler(event, context):
            return StreamingResponse(iter(["body"]), status_code=201)
        """,
    )
    server = dev_server("app.handler", root)
    lam = lambda_client(server.api_url)
    _, chunks, complete = stream(lam, {})
    data = b"".join(c for _, c in chunks)
    prelude, sep, rest = data.partition(b"\0" * 8)
    assert sep and rest == b"body" and json.loads(prelude)["statusCode"] == 201
    assert complete == {}


@pytest.mark.timeout(30)
def test_api_rejects_non_post_cleanly(fn):
    server, _ = fn
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(server.api_url + "/2015-03-31/functions/app/invocations")
    assert err.value.code == 404
    assert err.value.headers["x-amzn-ErrorType"] == "UnknownOperationException"


@pytest.mark.timeout(30)
def test_stream_failure_of_ours_still_ends_with_invoke_complete(tmp_path, monkeypatch):
    from lambdastream.local import invoke_api
    from lambdastream.wire.eventstream import EventStreamError

    def frame_payload_chunks(pieces):
        if any(b"boom" in bytes(p) for p in pieces):  # a chunk the dev server cannot send
            raise EventStreamError("payload cannot be framed")
        return real(pieces)

    real = invoke_api.frame_payload_chunks
    monkeypatch.setattr(invoke_api, "frame_payload_chunks", frame_payload_chunks)
    root = write_handler(
        tmp_path,
        """
        import time
        def handler(event, context):
            yield "part 0\\n"
            time.sleep(0.3)
            yield "boom\\n"
            yield "part 2\\n"
        """,
    )
    with serve_in_process(root) as dev:
        lam = lambda_client(dev.api_url)
        reply, chunks, complete = stream(lam, {}, LogType="Tail")
        assert reply["StatusCode"] == 200
        assert b"".join(c for _, c in chunks) == b"part 0\n"
        assert complete is not None and complete["ErrorCode"] == "Runtime.InvalidResponse"
        details = json.loads(complete["ErrorDetails"])
        assert details["errorType"] == "Runtime.InvalidResponse"
        assert "payload cannot be framed" in details["errorMessage"]
        assert "LogResult" in complete
        assert "Runtime.InvalidResponse: could not send the response" in dev.log.getvalue()
        # The server and the runtime carry on.
        _, chunks, complete = stream(lam, {"again": 1})
        assert complete is not None and complete["ErrorCode"] == "Runtime.InvalidResponse"
