"""An environment's lifecycle under a runtime that misbehaves.

On Lambda an environment serves at most one invocation at a time, and an
invocation ends at its timeout whatever state its response is in. The
runtimes here are the real one (an endless stream) or raw-socket scripts
(tests/raw_runtime.py) that call the Runtime API out of turn.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import threading
import time
from pathlib import Path

import pytest
from h11client import request
from support import write_handler

RAW_RUNTIME = Path(__file__).resolve().parents[1] / "raw_runtime.py"

ENDLESS = """
def handler(event, context):
    return endless() if event.get("rawQueryString") == "endless" else "quick"

def endless():
    chunk = b"x" * (1 << 20)
    while True:  # past Lambda's 200 MB cap, and on until the timeout
        yield chunk
"""


@pytest.mark.timeout(60)
def test_a_stream_cut_at_the_size_cap_still_ends_at_the_timeout(dev_server, tmp_path):
    server = dev_server(
        "app.handler", write_handler(tmp_path, ENDLESS), "--timeout", "4", "--concurrency", "1"
    )
    started = time.monotonic()
    reply = request(server.url + "/?endless", timeout=30)
    assert reply.status == 200 and reply.complete
    assert dict(reply.trailers)["lambda-runtime-function-error-type"] == (
        "Function.ResponseSizeTooLarge"
    )
    assert len(reply.body) <= 200 * 1000 * 1000
    # The function still runs (Lambda bills it to its timeout): the one
    # environment is busy until then, and then it is thrown away.
    while time.monotonic() - started < 4 - 0.5:
        assert request(server.url + "/").status == 429
        time.sleep(0.2)
    deadline = time.monotonic() + 10
    while (quick := request(server.url + "/")).status == 429:
        assert time.monotonic() < deadline, "the environment was never freed"
        time.sleep(0.2)
    assert quick.status == 200 and quick.body == b'"quick"'
    server.wait_for_log(r"Task timed out after 4\.00 seconds")


def _runtime(tmp_path: Path, script: str) -> Path:
    shutil.copy(RAW_RUNTIME, tmp_path / "raw_runtime.py")
    return write_handler(tmp_path, script, name="runtime.py")


def _start(dev_server, root: Path, *extra: str):
    return dev_server(
        "app.handler", root, "--bootstrap", f"{sys.executable} runtime.py", "--timeout", "10",
        *extra,
    )  # fmt: skip


NEXT_TWICE = """
from raw_runtime import Connection

api = Connection()
first, _ = api.next_invocation()
again, _ = api.next_invocation()  # /next again, without answering
third, _ = api.next_invocation()  # and once more
print(f"second next gave the same invocation: {again == first == third}", flush=True)
print("answered first:", api.respond(first, b'"first"'), flush=True)
second, _ = api.next_invocation()
print("answered second:", api.respond(second, b'"second"'), flush=True)
api.next_invocation()
"""


@pytest.mark.timeout(60)
def test_next_again_without_an_answer_gets_the_same_invocation(dev_server, tmp_path):
    # As Lambda's Runtime API does (the runtime interface emulator's
    # RuntimeReadyState.Ready: /next in Ready renders the current event
    # again): never a second invocation while the first is unanswered.
    server = _start(dev_server, _runtime(tmp_path, NEXT_TWICE), "--concurrency", "1")
    assert request(server.url + "/", timeout=15).body == b'"first"'
    server.wait_for_log(r"second next gave the same invocation: True")
    # The one environment is busy until its runtime asks for work again
    # (a call before that is throttled, as on Lambda): wait for that moment.
    deadline = time.monotonic() + 10
    while (second := request(server.url + "/", timeout=15)).status == 429:
        assert time.monotonic() < deadline, "the runtime never asked for work again"
        time.sleep(0.05)
    assert second.body == b'"second"'
    server.wait_for_log(r"answered second: 202")
    logs = server.logs()
    assert logs.count("START RequestId") == 2 and logs.count("END RequestId") == 2
    assert logs.index("END RequestId") < logs.rindex("START RequestId")
    # Lambda re-renders silently; dev says so each time, with a count, so
    # that a runtime re-running its handler never hides.
    first_id = re.search(r"START RequestId: (\S+)", logs).group(1)
    warnings = re.findall(r"WARNING RequestId: (\S+) .*delivered again \(delivery (\d+)\)", logs)
    assert warnings == [(first_id, "2"), (first_id, "3")], logs


NEXT_WHILE_STREAMING = """
from raw_runtime import Connection

api = Connection()
rid, _ = api.next_invocation()
api.send(
    f"POST /2018-06-01/runtime/invocation/{rid}/response HTTP/1.1\\r\\nHost: x\\r\\n"
    "Lambda-Runtime-Function-Response-Mode: streaming\\r\\nTransfer-Encoding: chunked\\r\\n"
    "Content-Type: text/plain\\r\\n\\r\\n3\\r\\none\\r\\n".encode()
)
other = Connection()
other.request("GET", "/invocation/next")
status, _, body = other.answer()
print("next while streaming:", status, body.decode(), flush=True)
api.send(b"3\\r\\ntwo\\r\\n0\\r\\n\\r\\n")
print("stream answered:", api.answer()[0], flush=True)
api.next_invocation()
"""


@pytest.mark.timeout(60)
def test_next_while_a_response_streams_is_an_invalid_state_transition(dev_server, tmp_path):
    server = _start(dev_server, _runtime(tmp_path, NEXT_WHILE_STREAMING))
    reply = request(server.url + "/", timeout=15)
    assert reply.status == 200 and reply.body == b"onetwo" and reply.trailers == []
    line = server.wait_for_log(r"next while streaming: (\d+) (.*)$")
    assert line.group(1) == "403"
    assert json.loads(line.group(2))["errorType"] == "InvalidStateTransition"
    server.wait_for_log(r"stream answered: 202")


TWO_WAITING = """
from raw_runtime import Connection

first = Connection()
rid, _ = first.next_invocation()  # the cold start's invocation
print("warm-up answered:", first.respond(rid, b'"warm"'), flush=True)
first.request("GET", "/invocation/next")
second = Connection()
second.request("GET", "/invocation/next")
status, _, body = second.answer()
print("second waiting next:", status, body.decode(), flush=True)
status, headers, _ = first.answer()
rid = headers["lambda-runtime-aws-request-id"]
print("first answered:", first.respond(rid, b'"only"'), flush=True)
first.next_invocation()
"""


@pytest.mark.timeout(60)
def test_a_second_waiting_next_is_refused_and_the_first_gets_the_invocation(dev_server, tmp_path):
    server = _start(dev_server, _runtime(tmp_path, TWO_WAITING))
    assert request(server.url + "/", timeout=15).body == b'"warm"'
    line = server.wait_for_log(r"second waiting next: (\d+) (.*)$")
    assert line.group(1) == "403"
    assert json.loads(line.group(2))["errorType"] == "InvalidStateTransition"
    results = []
    thread = threading.Thread(target=lambda: results.append(request(server.url + "/", timeout=15)))
    thread.start()
    thread.join(20)
    assert results and results[0].body == b'"only"'
    server.wait_for_log(r"first answered: 202")


BARE_CR_TRAILER = """
from raw_runtime import Connection

api = Connection()
rid, _ = api.next_invocation()
api.send(
    f"POST /2018-06-01/runtime/invocation/{rid}/response HTTP/1.1\\r\\nHost: x\\r\\n"
    "Lambda-Runtime-Function-Response-Mode: streaming\\r\\nTransfer-Encoding: chunked\\r\\n"
    "Content-Type: text/plain\\r\\n\\r\\n7\\r\\npartial\\r\\n"
    "0\\r\\nLambda-Runtime-Function-Error-Type: Bad\\rX-Injected: yes\\r\\n\\r\\n".encode()
)
print("bare CR trailer answered:", api.answer()[0], flush=True)
"""


@pytest.mark.timeout(60)
def test_a_trailer_with_a_bare_cr_is_a_truncated_response(dev_server, tmp_path):
    server = _start(dev_server, _runtime(tmp_path, BARE_CR_TRAILER))
    reply = request(server.url + "/", timeout=15)
    assert reply.status == 200 and reply.body == b"partial" and reply.complete
    trailers = dict(reply.trailers)
    assert trailers["lambda-runtime-function-error-type"] == "Runtime.TruncatedResponse"
    assert "x-injected" not in trailers
    server.wait_for_log(r"bare CR trailer answered: 400")
    assert "X-Injected" not in server.logs()


LONG_TRAILERS = """
from raw_runtime import Connection

api = Connection()
rid, _ = api.next_invocation()
body = "A" * int(open("trailer-size").read())
api.send(
    f"POST /2018-06-01/runtime/invocation/{rid}/response HTTP/1.1\\r\\nHost: x\\r\\n"
    "Lambda-Runtime-Function-Response-Mode: streaming\\r\\nTransfer-Encoding: chunked\\r\\n"
    "Content-Type: text/plain\\r\\n\\r\\n7\\r\\npartial\\r\\n"
    f"0\\r\\nLambda-Runtime-Function-Error-Type: Big\\r\\n"
    f"Lambda-Runtime-Function-Error-Body: {body}\\r\\n\\r\\n".encode()
)
print("long trailers answered:", api.answer()[0], flush=True)
"""
# The trailer section's bytes other than the body's value, final CRLF included.
_TRAILER_FRAME = len(
    "Lambda-Runtime-Function-Error-Type: Big\r\nLambda-Runtime-Function-Error-Body: \r\n\r\n"
)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("size", "taken"), [(4096 - _TRAILER_FRAME, True), (4097 - _TRAILER_FRAME, False)]
)
def test_trailers_beyond_go_s_4_kib_buffer_are_a_truncated_response(
    dev_server, tmp_path, size, taken
):
    # Lambda's Runtime API is Go's net/http: it reads a chunked body's trailer
    # section, its final CRLF included, within its 4 KiB read buffer
    # (transfer.go, seeUpcomingDoubleCRLF: "suspiciously long trailer").
    (tmp_path / "trailer-size").write_text(str(size))
    server = _start(dev_server, _runtime(tmp_path, LONG_TRAILERS))
    reply = request(server.url + "/", timeout=15)
    assert reply.status == 200 and reply.body == b"partial" and reply.complete
    error_type = dict(reply.trailers)["lambda-runtime-function-error-type"]
    assert error_type == ("Big" if taken else "Runtime.TruncatedResponse")
    server.wait_for_log(rf"long trailers answered: {202 if taken else 400}")
