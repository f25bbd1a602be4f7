"""The fault matrix: every way an invocation can fail, as the caller and the log see it.

Each case runs under the real ``lambdastream dev`` and is read twice, through
the Function URL (a raw HTTP/1.1 client that keeps trailers) and through
``invoke_with_response_stream`` (boto3), and the dev server's log is
checked for the line that tells a developer what happened. The Bedrock
cases run the chat example against ``bedrock-local``'s fault directives.
docs/reliability.md lists the same cases with what AWS does.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from h11client import request
from runcount import RECORD_RUN, runs
from support import REPO, DevServer, lambda_client, start_dev, write_handler

FAULTS = (
    RECORD_RUN
    + """
import os, signal, sys, threading, time

def _route(event):
    if "requestContext" in event:  # a Function URL request: the case is the path
        return event["rawPath"].strip("/"), event
    return event.get("case", ""), event

def handler(event, context):
    case, event = _route(event)
    record_run(context.aws_request_id)
    return CASES[case](event, context)

def ok(event, context):
    yield "all "
    yield "fine"

def raises_before(event, context):
    raise ValueError("before the first byte")
    yield "never"

def raises_after(event, context):
    yield "partial"
    raise KeyError("after the first byte")

def hangs(event, context):
    yield from ()
    time.sleep(30)

def bad_yield(event, context):
    yield "fine"
    yield {"not": "bytes"}

def too_large(event, context):
    return "x" * (7 * 1024 * 1024)

def killed(event, context):
    yield "partial"
    os.kill(os.getpid(), signal.SIGKILL)
    yield "never"

def exits_after(event, context):
    # Answers, then the process ends between this invocation and the next.
    threading.Timer(0.2, os._exit, (3,)).start()
    return "answered"

async def burst(event, context):
    # 10,000 chunks in one event-loop turn: far more buffers than one
    # sendmsg takes (tests/e2e/test_exactly_once.py goes to 100,000)
    for _ in range(10_000):
        yield b"0123456789abcdef"

class _Silent:
    def __lambda_answer__(self, reply):
        pass

def answers_nothing(event, context):
    return _Silent()

def cut(event, context):
    # The connection to the Runtime API is cut (cutting_proxy.py) mid-stream.
    yield "partial"
    time.sleep(0.1)
    yield "CUT-HERE"
    time.sleep(0.1)
    yield "never"

def slow_stream(event, context):
    for i in range(10):
        yield f"tick {i}\\n"
        time.sleep(0.1)
    with open(os.path.join(os.environ["LAMBDA_TASK_ROOT"], "ran-to-the-end"), "w") as f:
        f.write(context.aws_request_id)

CASES = {name: f for name, f in globals().items() if callable(f) and not name.startswith("_")}
"""
)
BURST = b"0123456789abcdef" * 10_000


@dataclass
class Case:
    """One fault: what the Function URL client, the SDK caller and the log see."""

    name: str
    url_status: int
    url_body: bytes | None  # None: not checked (e.g. a 502's generic text)
    url_error: str | None  # the Error-Type trailer after the first byte
    sdk_error: str | None  # InvokeComplete.ErrorCode
    log: str  # a regex the dev server's log must match


CASES = [
    Case("ok", 200, b"all fine", None, None, r"END RequestId"),
    Case(
        "raises_before", 502, None, None, "ValueError",
        r"\[ERROR\] ValueError: before the first byte",
    ),
    Case(
        "raises_after", 200, b"partial", "KeyError", "KeyError",
        r"\[ERROR\] KeyError: 'after the first byte'",
    ),
    Case("hangs", 502, None, None, "Sandbox.Timeout", r"Task timed out after 2\.00 seconds"),
    Case(
        "bad_yield", 200, b"fine", "TypeError", "TypeError",
        r"TypeError: a streaming handler must yield bytes or str, not dict",
    ),
    Case(
        "too_large", 502, None, None, "Function.ResponseSizeTooLarge",
        r"Function\.ResponseSizeTooLarge: Response payload size exceeded",
    ),
    Case(
        "killed", 200, b"partial", "Runtime.ExitError", "Runtime.ExitError",
        r"Runtime exited with error: exit status -9",
    ),
    Case("burst", 200, BURST, None, None, r"END RequestId"),
    Case(
        "answers_nothing", 502, None, None, "Runtime.NoResponse",
        r"\[ERROR\] Runtime\.NoResponse: The handler returned without sending a response",
    ),
]  # fmt: skip


@pytest.fixture(scope="module")
def faults(tmp_path_factory) -> Iterator[tuple[DevServer, Path]]:
    root = write_handler(tmp_path_factory.mktemp("faults"), FAULTS)
    server = start_dev("app.handler", root, "--name", "app", "--timeout", "2")
    yield server, root
    server.stop()


def _new_runs(root: Path, before: set[str], calls: int) -> None:
    """``calls`` new request ids were run since ``before``, each exactly once."""
    counted = runs(root)
    new = {rid: n for rid, n in counted.items() if rid not in before}
    assert len(new) == calls and set(new.values()) == {1}, new


def _sdk(server: DevServer, case: str) -> tuple[bytes, dict]:
    lam = lambda_client(server.api_url)
    reply = lam.invoke_with_response_stream(FunctionName="app", Payload=json.dumps({"case": case}))
    payload, complete = b"", {}
    for event in reply["EventStream"]:
        if "PayloadChunk" in event:
            payload += event["PayloadChunk"]["Payload"]
        else:
            complete = event["InvokeComplete"]
    return payload, complete


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_each_fault_as_the_function_url_the_sdk_and_the_log_see_it(faults, case):
    server, root = faults
    before = set(runs(root))
    reply = request(f"{server.url}/{case.name}", timeout=30)
    assert reply.complete, "the client's response did not end properly"
    assert reply.status == case.url_status, reply.body
    if case.url_body is not None:
        assert reply.body == case.url_body
    trailers = dict(reply.trailers)
    assert trailers.get("lambda-runtime-function-error-type") == case.url_error
    if case.url_error:
        error = json.loads(base64.b64decode(trailers["lambda-runtime-function-error-body"]))
        assert error["errorType"] == case.url_error
    payload, complete = _sdk(server, case.name)
    assert complete.get("ErrorCode") == case.sdk_error, complete
    if case.sdk_error:
        assert json.loads(complete["ErrorDetails"])["errorType"] == case.sdk_error
    else:
        assert payload == case.url_body
    server.wait_for_log(case.log)
    # Whatever failed, each of the two requests ran its handler once.
    _new_runs(root, before, 2)


@pytest.mark.timeout(60)
def test_a_stream_whose_connection_to_the_runtime_api_is_cut_runs_once(dev_server, tmp_path):
    # The wire between the runtime and the Runtime API breaks mid-stream
    # (tests/cutting_proxy.py): the caller's answer ends with an error, the
    # handler never runs again, and the next request is served.
    shutil.copy(REPO / "tests" / "cutting_proxy.py", tmp_path / "cutting_proxy.py")
    root = write_handler(tmp_path, FAULTS)
    runtime = f"{sys.executable} -m lambdastream.runtime app.handler"
    bootstrap = f"{sys.executable} cutting_proxy.py CUT-HERE -- {runtime}"
    server = dev_server("app.handler", root, "--name", "app", "--bootstrap", bootstrap)
    for _attempt in range(2):
        before = set(runs(root))
        reply = request(f"{server.url}/cut", timeout=30)
        assert reply.complete and reply.status == 200
        assert reply.body == b"partial"
        error_type = dict(reply.trailers)["lambda-runtime-function-error-type"]
        assert error_type in ("Runtime.TruncatedResponse", "Runtime.ExitError"), error_type
        _new_runs(root, before, 1)
        assert request(f"{server.url}/ok", timeout=30).body == b"all fine"
    assert "delivered again" not in server.logs()


@pytest.mark.timeout(60)
def test_a_runtime_that_exits_between_invocations_is_replaced(faults):
    server, _root = faults
    assert request(f"{server.url}/exits_after", timeout=15).body == b'"answered"'
    server.wait_for_log(r"Runtime exited with error: exit status 3")
    # The next call starts a fresh environment and is served normally.
    cold_starts = server.logs().count("INIT_START")
    assert request(f"{server.url}/ok", timeout=15).body == b"all fine"
    assert server.logs().count("INIT_START") == cold_starts + 1


@pytest.mark.timeout(60)
def test_a_client_that_disconnects_mid_stream_does_not_stop_the_function(faults):
    server, root = faults
    marker = root / "ran-to-the-end"
    marker.unlink(missing_ok=True)
    parts = urlsplit(server.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(b"GET /slow_stream HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"tick 0" in sock.recv(65536)
    # As on Lambda, the function runs to its end (and is billed for it)...
    deadline = time.monotonic() + 10
    while not marker.exists():
        assert time.monotonic() < deadline, "the function was stopped by the disconnect"
        time.sleep(0.1)
    request_id = marker.read_text()
    server.wait_for_log(rf"REPORT RequestId: {request_id}")
    # ...and the next invocation is clean.
    assert request(f"{server.url}/ok", timeout=15).body == b"all fine"


CHAT_CASES = [
    # (directive, Function URL status, body check, log regex)
    ("[[throttle:9]]", 429, lambda b: json.loads(b)["error"]["code"] == "model_busy",
     r'"error_code": "model_busy"'),
    ("[[error:ModelTimeoutException]]", 503,
     lambda b: json.loads(b)["error"]["code"] == "model_unavailable",
     r'"error_code": "model_unavailable"'),
    ("[[stream-error:2]]", 200, lambda b: len(b) > 0, r"modelStreamErrorException"),
]  # fmt: skip


@pytest.fixture(scope="module")
def chat() -> Iterator[DevServer]:
    server = start_dev(
        "examples.chat.app.handler", REPO, "--name", "chat", "--timeout", "60", "--bedrock-local"
    )
    yield server
    server.stop()


@pytest.mark.timeout(90)
@pytest.mark.parametrize(("directive", "status", "body_ok", "log"), CHAT_CASES,
                         ids=["throttles", "times-out", "fails-mid-stream"])  # fmt: skip
def test_bedrock_faults_as_the_chat_caller_and_the_log_see_them(
    chat, directive, status, body_ok, log
):
    prompt = f"one two three four five {directive}"
    reply = request(
        chat.url + "/", "POST", [("content-type", "application/json")],
        body=json.dumps({"prompt": prompt}).encode(), timeout=60,
    )  # fmt: skip
    assert reply.complete
    assert reply.status == status, reply.body
    assert body_ok(reply.body), reply.body
    if status == 200:  # failed after the answer began: Lambda's error trailers
        assert dict(reply.trailers).get("lambda-runtime-function-error-type")
    chat.wait_for_log(log)


EXITS_MID_STREAM = """
import os

def handler(event, context):
    for _ in range(16):
        yield b"x" * (1 << 20)
    os._exit(3)
"""


@pytest.mark.timeout(60)
def test_bytes_written_before_the_runtime_exits_all_reach_the_client(dev_server, tmp_path):
    # Found by the soak (bench/soak.py): the dev server closed the runtime's
    # connection as soon as it saw the process gone, dropping what it had
    # not read yet.
    server = dev_server("app.handler", write_handler(tmp_path, EXITS_MID_STREAM), "--timeout", "30")
    for _ in range(3):
        reply = request(server.url + "/", timeout=30)
        assert reply.complete
        assert len(reply.body) == 16 << 20
        assert dict(reply.trailers)["lambda-runtime-function-error-type"] == "Runtime.ExitError"
        report = server.wait_for_log(r"REPORT RequestId: .*Max Memory Used: (\d+) MB").group(1)
        assert int(report) > 0
