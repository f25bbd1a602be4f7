"""Asynchronous invokes queue for a busy function, up to a bound, then are throttled."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from h11client import request
from support import write_handler

SLOW = """
import time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return "done"
"""


def _event(server, payload: bytes):
    return request(
        f"{server.api_url}/2015-03-31/functions/app/invocations",
        "POST",
        [("x-amz-invocation-type", "Event"), ("content-type", "application/json")],
        body=payload,
        timeout=15,
    )


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.mark.timeout(120)
def test_a_full_event_queue_throttles_and_memory_stays_bounded(dev_server, tmp_path):
    server = dev_server(
        "app.handler", write_handler(tmp_path, SLOW), "--name", "app", "--concurrency", "1",
        "--timeout", "30",
    )  # fmt: skip
    # One event holds the only environment; the rest queue behind it.
    assert _event(server, json.dumps({"sleep": 6}).encode()).status == 202
    one_mb = json.dumps({"pad": "x" * (1024 * 1024 - 20)}).encode()
    statuses = []
    for _ in range(300):
        reply = _event(server, one_mb)
        statuses.append(reply.status)
        if reply.status == 429:
            assert reply.header("x-amzn-errortype") == "TooManyRequestsException"
            assert json.loads(reply.body)["Type"] == "User"
    accepted = statuses.count(202)
    assert 20 <= accepted <= 40, statuses  # the queue holds 32 MB of payload
    assert statuses.count(429) == 300 - accepted
    assert _rss_mb(server.proc.pid) < 150
    # Once the queue drains, events are taken again.
    deadline = time.monotonic() + 60
    while _event(server, b"{}").status != 202:
        assert time.monotonic() < deadline, "the queue never drained"
        time.sleep(0.5)


FLAKY = """
import os

def handler(event, context):
    attempts = os.path.join(os.environ["LAMBDA_TASK_ROOT"], "attempts")
    with open(attempts, "a") as f:
        f.write(context.aws_request_id + "\\n")
    with open(attempts) as f:
        tries = len(f.read().splitlines())
    if tries <= event.get("fail_times", 0):
        raise RuntimeError(f"attempt {tries} fails")
    return "ok"
"""


def _attempts(root: Path) -> list[str]:
    path = root / "attempts"
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.timeout(60)
def test_a_failed_async_invoke_is_retried_twice_with_the_same_request_id(dev_server, tmp_path):
    root = write_handler(tmp_path, FLAKY)
    server = dev_server("app.handler", root, "--name", "app", "--async-retry-delay", "0.2")
    assert _event(server, json.dumps({"fail_times": 5}).encode()).status == 202
    deadline = time.monotonic() + 20
    while len(_attempts(root)) < 3:
        assert time.monotonic() < deadline, _attempts(root)
        time.sleep(0.1)
    time.sleep(1)  # no fourth attempt: Lambda retries twice
    attempts = _attempts(root)
    assert len(attempts) == 3 and len(set(attempts)) == 1  # one event, one request id
    server.wait_for_log(rf"async invocation {attempts[0]} failed \(RuntimeError\); retry 1 of 2")
    server.wait_for_log(rf"async invocation {attempts[0]} failed \(RuntimeError\); retry 2 of 2")
    server.wait_for_log(rf"async invocation {attempts[0]} failed \(RuntimeError\) after 2 retries")


@pytest.mark.timeout(60)
def test_an_async_invoke_that_succeeds_on_a_retry_stops_there(dev_server, tmp_path):
    root = write_handler(tmp_path, FLAKY)
    server = dev_server("app.handler", root, "--name", "app", "--async-retry-delay", "0.2")
    assert _event(server, json.dumps({"fail_times": 1}).encode()).status == 202
    server.wait_for_log(r"retry 1 of 2")
    deadline = time.monotonic() + 20
    while len(_attempts(root)) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(1)
    assert len(_attempts(root)) == 2
    assert "retry 2 of 2" not in server.logs()


@pytest.mark.timeout(60)
def test_async_retries_can_be_turned_off(dev_server, tmp_path):
    root = write_handler(tmp_path, FLAKY)
    server = dev_server("app.handler", root, "--name", "app", "--async-retries", "0")
    assert _event(server, json.dumps({"fail_times": 5}).encode()).status == 202
    server.wait_for_log(r"failed \(RuntimeError\) after 0 retries")
    assert len(_attempts(root)) == 1


@pytest.mark.timeout(60)
def test_an_event_older_than_the_maximum_age_is_dropped_not_run(dev_server, tmp_path):
    root = write_handler(tmp_path, SLOW.replace('return "done"', 'return event.get("mark")'))
    server = dev_server(
        "app.handler", root, "--name", "app", "--concurrency", "1", "--max-event-age", "1",
        "--timeout", "10",
    )  # fmt: skip
    assert _event(server, json.dumps({"sleep": 3}).encode()).status == 202
    assert _event(server, json.dumps({"mark": "too-old"}).encode()).status == 202
    line = server.wait_for_log(r"async invocation (\S+) dropped: older than the maximum event age")
    time.sleep(0.5)
    assert server.logs().count("START RequestId") == 1, "the expired event ran"
    assert line.group(1)
