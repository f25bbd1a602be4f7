"""Exactly once: every request gets one answer, and its handler runs once.

Each case runs the real runtime under the real ``lambdastream dev`` and
reads the Function URL with a raw HTTP/1.1 client that keeps trailers; the
handler records every run (``runcount``), so a re-run of the same request id
cannot hide behind a good-looking answer. The three findings of issue 20
are here: a burst of async chunks in one loop turn (it lost the answer and
re-ran the handler ~1,000 times a second), an ASGI app that fails after its
last message (nothing was posted: re-run until the timeout), and
``request.is_disconnected()`` (it cancelled the adapter's shared future and
cut the stream after its first part; with FastAPI and sse-starlette
themselves in tests/web/test_web_exactly_once.py).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from h11client import Reply, request
from runcount import RECORD_RUN, runs
from support import DevServer, start_dev, write_handler

CHUNK = b"0123456789abcdef"

FUNCTIONS = (
    RECORD_RUN
    + '''
import asyncio
from lambdastream.asgi import asgi


async def burst(event, context):
    """N chunks of 16 bytes, all yielded in one event-loop turn (no await)."""
    record_run(context.aws_request_id)
    count = int(event["queryStringParameters"]["n"])
    for _ in range(count):
        yield b"0123456789abcdef"


async def bursts(event, context):
    """Bursts of N chunks between awaits, 5 times."""
    record_run(context.aws_request_id)
    count = int(event["queryStringParameters"]["n"])
    for _ in range(5):
        for _ in range(count):
            yield b"0123456789abcdef"
        await asyncio.sleep(0)


async def _str_body(scope, receive, send):
    # A raw ASGI app whose last message has a str body: it raises after
    # what it thinks is the end of its response.
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"first,", "more_body": True})
    await send({"type": "http.response.body", "body": "last"})


_str_body_app = asgi(_str_body, lifespan="off")


def str_body(event, context):
    record_run(context.aws_request_id)
    return _str_body_app(event, context)


class _Silent:
    """An answer that sends itself, and sends nothing: the runtime must answer."""

    def __lambda_answer__(self, reply):
        pass


def silent(event, context):
    record_run(context.aws_request_id)
    return _Silent()


async def _disconnect_checks(scope, receive, send):
    # What Starlette's request.is_disconnected() does each time: receive()
    # in a cancelled scope, i.e. a receive() cancelled while it waits.
    message = await receive()
    assert message["type"] == "http.request", message
    await send({"type": "http.response.start", "status": 200, "headers": []})
    for part in range(5):
        pending = asyncio.ensure_future(receive())
        await asyncio.sleep(0)
        pending.cancel()
        await send({"type": "http.response.body", "body": b"part %d," % part, "more_body": True})
    await send({"type": "http.response.body", "body": b"end"})
    # After the response is complete, receive() says the client is gone.
    assert (await receive())["type"] == "http.disconnect"


_disconnect_app = asgi(_disconnect_checks, lifespan="off")


def disconnect_checks(event, context):
    record_run(context.aws_request_id)
    return _disconnect_app(event, context)


def handler(event, context):
    return globals()[event["rawPath"].strip("/")](event, context)
'''
)


@pytest.fixture(scope="module")
def dev(tmp_path_factory) -> Iterator[tuple[DevServer, Path]]:
    root = write_handler(tmp_path_factory.mktemp("once"), FUNCTIONS)
    server = start_dev("app.handler", root, "--name", "app", "--timeout", "20")
    yield server, root
    server.stop()


def _call(server: DevServer, path: str) -> tuple[Reply, str]:
    reply = request(server.url + path, timeout=60)
    assert reply.complete, "the response did not end properly"
    return reply, reply.header("x-amzn-requestid") or ""


def _ran_once(root: Path, request_id: str) -> None:
    assert request_id
    assert runs(root)[request_id] == 1, f"{request_id} ran {runs(root)[request_id]} times"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("count", [1, 10, 340, 1_000, 100_000])
def test_a_burst_of_async_chunks_in_one_turn_streams_whole_once(dev, count):
    server, root = dev
    reply, request_id = _call(server, f"/burst?n={count}")
    assert reply.status == 200
    assert reply.trailers == []
    assert reply.body == CHUNK * count
    _ran_once(root, request_id)


@pytest.mark.timeout(120)
def test_bursts_between_awaits_stream_whole_once(dev):
    server, root = dev
    reply, request_id = _call(server, "/bursts?n=5000")
    assert reply.status == 200
    assert reply.body == CHUNK * 25_000
    _ran_once(root, request_id)


@pytest.mark.timeout(60)
def test_an_asgi_app_failing_on_its_last_message_is_answered_once(dev):
    server, root = dev
    reply, request_id = _call(server, "/str_body")
    # As under uvicorn, the status and what the app sent before the failure
    # reach the client; Lambda's error trailers then end the stream.
    assert reply.status == 200
    assert reply.body == b"first,"
    trailers = dict(reply.trailers)
    assert trailers["lambda-runtime-function-error-type"] == "TypeError"
    _ran_once(root, request_id)
    logged = server.wait_for_log(rf"(?s)START RequestId: {request_id}.*?END RequestId").group(0)
    assert logged.count("[ERROR] TypeError") == 1, logged


@pytest.mark.timeout(60)
def test_a_handler_that_answers_nothing_gets_an_error_posted_for_it(dev):
    server, root = dev
    before = set(runs(root))
    reply, _ = _call(server, "/silent")
    assert reply.status == 502
    (request_id,) = set(runs(root)) - before
    _ran_once(root, request_id)
    logged = server.wait_for_log(rf"(?s)START RequestId: {request_id}.*?END RequestId").group(0)
    assert logged.count("[ERROR] Runtime.NoResponse") == 1, logged
    assert "returned without sending a response or an error" in logged
    # and through the SDK's eyes: the error type, once
    from support import lambda_client

    lam = lambda_client(server.api_url)
    answer = lam.invoke(FunctionName="app", Payload=json.dumps({"rawPath": "/silent"}))
    assert answer["FunctionError"] == "Unhandled"
    error = json.loads(answer["Payload"].read())
    assert error["errorType"] == "Runtime.NoResponse"


@pytest.mark.timeout(60)
def test_cancelling_a_pending_receive_leaves_the_stream_intact(dev):
    server, root = dev
    reply, request_id = _call(server, "/disconnect_checks")
    assert reply.status == 200
    assert reply.body == b"part 0,part 1,part 2,part 3,part 4,end"
    assert reply.trailers == []
    _ran_once(root, request_id)
    assert "InvalidStateError" not in server.logs()


LONG_ERROR = """
import sys

def deep(n):
    if n:
        return deep(n - 1)
    raise ValueError("why " * 5000)

def handler(event, context):
    yield "partial"
    deep(200)
"""


@pytest.mark.timeout(60)
def test_an_error_after_the_first_byte_fits_lambdas_trailers_however_long(dev_server, tmp_path):
    # A long message and a deep stack would pass Go's 4 KiB trailer buffer:
    # Lambda would report a truncated response instead of the error.
    server = dev_server("app.handler", write_handler(tmp_path, LONG_ERROR))
    reply = request(server.url + "/", timeout=30)
    assert reply.status == 200 and reply.body == b"partial" and reply.complete
    trailers = dict(reply.trailers)
    assert trailers["lambda-runtime-function-error-type"] == "ValueError"
    error = json.loads(base64.b64decode(trailers["lambda-runtime-function-error-body"]))
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"].startswith("why why")
    assert error["stackTrace"], error  # the innermost frames are kept
    assert 'raise ValueError("why " * 5000)' in error["stackTrace"][-1]
    section = sum(len(f"{k}: {v}\r\n") for k, v in reply.trailers) + 2
    assert section <= 4096
