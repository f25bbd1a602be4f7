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
