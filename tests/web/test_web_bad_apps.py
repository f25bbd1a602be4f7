"""Apps that break the ASGI protocol, and events that are not a request, through
the real ``lambdastream dev`` and runtime: each gets a clear error in the
log, the client a well-formed answer, and the next request to the same
environment is served as if nothing happened.

The app (``apps/bad_apps.py``) is a bare ``async def app(scope, receive,
send)`` named by ``_HANDLER=bad_apps.app``. ``--concurrency 1`` keeps one
environment: ``/ok`` reports its process id and how many requests it served,
so the test sees the same process carry on. uvicorn serves the same app for
comparison where both can say the same thing.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from h11client import request as raw_request
from support import DevServer, lambda_client
from webdiff import TIMEOUT, client, dev_server, uvicorn_server

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def dev() -> Iterator[DevServer]:
    with dev_server("bad_apps.app", "--concurrency", "1") as server:
        yield server


@pytest.fixture(scope="module")
def uvicorn_url() -> Iterator[str]:
    with uvicorn_server("bad_apps:app") as (url, _log):
        yield url


def get(base: str, path: str, **kwargs: Any) -> httpx.Response:
    """GET ``path``; a 429 (the one environment still busy finishing the
    invocation before: Lambda's throttle) is retried, for up to 10 s."""
    deadline = time.monotonic() + 10
    while True:
        with client(base) as http:
            reply = http.get(path, **kwargs)
        if reply.status_code != 429 or time.monotonic() > deadline:
            return reply
        time.sleep(0.05)


def served_by(base: str) -> tuple[int, int]:
    """(process id, requests served) of the environment that answers ``/ok``."""
    reply = get(base, "/ok")
    assert reply.status_code == 200, reply.text
    match = re.fullmatch(r"ok pid=(\d+) served=(\d+) path=/ok\n", reply.text)
    assert match, reply.text
    return int(match.group(1)), int(match.group(2))


def invocation_log(server: DevServer, request_id: str) -> str:
    """What the dev server printed between the invocation's START and END."""
    server.wait_for_log(rf"END RequestId: {request_id}")
    text = server.logs()
    start = text.index(f"START RequestId: {request_id}")
    return text[start : text.index(f"END RequestId: {request_id}", start)]


# path -> (the error logged, in the invocation's log)
BEFORE_THE_RESPONSE = {
    "/never-start": r"\[ERROR\] ASGIError: the ASGI app returned without sending"
    r" http\.response\.start",
    "/reject-header": r"\[ERROR\] ValueError: rejected header x-reject: yes\n"
    r"Traceback \(most recent call last\):\n.*bad_apps\.py",
    "/bad-status": r"\[ERROR\] ASGIError: http\.response\.start with an invalid status: 1000",
    "/body-first": r"\[ERROR\] ASGIError: http\.response\.body sent before http\.response\.start",
}


@pytest.mark.parametrize("path", list(BEFORE_THE_RESPONSE))
def test_failure_before_the_response(path: str, dev: DevServer) -> None:
    """Nothing was sent: the client gets uvicorn's plain 500, the log the error,
    and the same environment serves the next request."""
    pid, served = served_by(dev.url)
    reply = get(dev.url, path, headers={"x-reject": "yes"})
    assert (reply.status_code, reply.text) == (500, "Internal Server Error")
    assert reply.headers["content-type"] == "text/plain; charset=utf-8"
    log = invocation_log(dev, reply.headers["x-amzn-requestid"])
    assert re.search(BEFORE_THE_RESPONSE[path], log, re.S), log
    assert served_by(dev.url) == (pid, served + 2)  # the bad request, then this one


@pytest.mark.parametrize("path", ["/never-start", "/reject-header", "/body-first"])
def test_uvicorn_answers_the_same(path: str, uvicorn_url: str, dev: DevServer) -> None:
    """Where uvicorn answers (it drops the connection on /bad-status), the
    status and body are the same."""
    answers = [get(base, path, headers={"x-reject": "yes"}) for base in (uvicorn_url, dev.url)]
    assert [(r.status_code, r.content) for r in answers] == [(500, b"Internal Server Error")] * 2


def test_response_started_twice(dev: DevServer, uvicorn_url: str) -> None:
    """A second http.response.start, before any body: no byte has left the
    runtime yet (the prelude waits for the first body), so the client gets
    the plain 500, and the log the breach. uvicorn has already sent the
    first head (200) when the second comes, and cuts the body: there the
    two cannot agree."""
    pid, served = served_by(dev.url)
    reply = raw_request(f"{dev.url}/start-twice", timeout=TIMEOUT)
    assert (reply.status, reply.body, reply.complete) == (500, b"Internal Server Error", True)
    assert reply.trailers == []
    log = invocation_log(dev, reply.header("x-amzn-requestid") or "")
    assert re.search(r"\[ERROR\] ASGIError: http\.response\.start sent twice", log), log
    assert served_by(dev.url) == (pid, served + 2)

    uvicorn = raw_request(f"{uvicorn_url}/start-twice", timeout=TIMEOUT)
    assert (uvicorn.status, uvicorn.body, uvicorn.complete) == (200, b"", False)


def url_event(body: str, is_base64: bool) -> dict[str, Any]:
    """A Function URL event as AWS builds one, made by hand (payload 2.0)."""
    domain = "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/echo",
        "rawQueryString": "",
        "headers": {"host": domain, "content-type": "application/octet-stream"},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefghijklmnopqrstuvwxyz012345",
            "domainName": domain,
            "domainPrefix": "abcdefghijklmnopqrstuvwxyz012345",
            "http": {
                "method": "POST",
                "path": "/echo",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "test",
            },
            "requestId": "hand-made",
            "routeKey": "$default",
            "stage": "$default",
            "time": "28/Nov/2026:06:00:00 +0000",
            "timeEpoch": 1795845600000,
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


def invoke(lam: Any, event: dict[str, Any]) -> dict[str, Any]:
    """``lambda.invoke``; a throttle (the one environment still busy) is retried for up to 10 s."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return lam.invoke(FunctionName="bad_apps", Payload=json.dumps(event))
        except lam.exceptions.TooManyRequestsException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_body_that_is_not_base64(dev: DevServer) -> None:
    """isBase64Encoded true and a body that is not base64, sent with boto3's
    invoke: the invocation fails with InvalidEvent before the app runs, the
    log says why, and the next request is served by the same environment."""
    lam = lambda_client(dev.api_url)
    pid, served = served_by(dev.url)

    # The hand-made event is right: with a base64 body, the app echoes it
    # (the Invoke API returns the streamed answer raw: prelude, 8 NULs, body).
    data = b"\x00binary\xff\x00"
    good = invoke(lam, url_event(base64.b64encode(data).decode(), True))
    assert "FunctionError" not in good
    prelude, _, body = good["Payload"].read().partition(b"\x00" * 8)
    assert json.loads(prelude) == {"statusCode": 200, "headers": {}}
    assert body == data

    bad = invoke(lam, url_event("not base64!", True))
    assert bad["FunctionError"] == "Unhandled"
    error = json.loads(bad["Payload"].read())
    assert error["errorType"] == "InvalidEvent"
    assert "isBase64Encoded is true but the body is not base64" in error["errorMessage"]
    dev.wait_for_log(r"\[ERROR\] InvalidEvent: isBase64Encoded is true but the body is not base64")
    # The good event reached the app, the bad one did not: this /ok is its second since.
    assert served_by(dev.url) == (pid, served + 2)
