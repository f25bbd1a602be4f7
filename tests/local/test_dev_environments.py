"""Environments as Lambda keeps them: freed for a sequential caller, restored, stopped in time.

Each runs the real ``lambdastream dev`` with the real runtime:

- at ``--concurrency 1`` a caller that sends each request once it has the
  last answer is never throttled (the environment is handed over the moment
  its runtime asks ``/next`` again), while one that sends two at once is;
- a provisioned environment killed from outside is replaced, initialized
  before it serves, as Lambda keeps provisioned concurrency;
- SIGTERM or Ctrl-C stops dev within 5 s whatever is queued: asynchronous
  events still waiting are dropped, as for a deleted function, and said so.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest
from h11client import request
from support import lambda_client, start_dev, write_handler

QUICK = """
import os, time

def handler(event, context):
    if event.get("rawPath") == "/slow":
        time.sleep(1)
    return {"pid": os.getpid(), "init": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"]}
"""


@pytest.mark.timeout(120)
def test_a_sequential_caller_at_concurrency_one_is_never_throttled(dev_server, tmp_path):
    # A probe found 1 in 40 such requests throttled: the client had its whole
    # answer before the runtime was back at /next.
    server = dev_server("app.handler", write_handler(tmp_path, QUICK), "--concurrency", "1")
    statuses = []
    for i in range(300):
        statuses.append(request(server.url + "/", timeout=15).status)
        if i % 2:  # half at once, half after a pause of 2 to 10 ms
            time.sleep(0.002 + (i % 5) * 0.002)
    assert statuses == [200] * 300, statuses
    assert server.logs().count("INIT_START") == 1


@pytest.mark.timeout(60)
def test_two_callers_at_once_at_concurrency_one_are_throttled(dev_server, tmp_path):
    server = dev_server("app.handler", write_handler(tmp_path, QUICK), "--concurrency", "1")
    assert request(server.url + "/", timeout=15).status == 200  # warm
    replies: list = []
    slow = threading.Thread(target=lambda: replies.append(request(server.url + "/slow")))
    slow.start()
    time.sleep(0.3)  # the first is running
    second = request(server.url + "/", timeout=15)
    slow.join(15)
    assert second.status == 429
    assert json.loads(second.body) == {"Message": "Rate Exceeded."}
    assert replies[0].status == 200


@pytest.mark.timeout(90)
def test_a_provisioned_environment_killed_from_outside_is_restored(dev_server, tmp_path):
    server = dev_server(
        "app.handler", write_handler(tmp_path, QUICK), "--provisioned", "2", "--concurrency", "3"
    )
    server.wait_for_log(r"2 of 2 provisioned and initialized")
    # A provisioned environment's runtime to kill: on a busy machine a request
    # can find both on their way back to /next and start an on-demand one.
    victim = None
    for _ in range(20):
        body = json.loads(request(server.url + "/", timeout=15).body)
        if body["init"] == "provisioned-concurrency":
            victim = body["pid"]
            break
    assert victim is not None, "no request reached a provisioned environment"
    os.kill(victim, signal.SIGKILL)
    server.wait_for_log(r"\(provisioned\) is gone: starting a replacement")
    server.wait_for_log(r"INIT_START environment 3 \(provisioned\)")
    server.wait_for_log(r"environment 3 \(provisioned\) is initialized")
    # Two calls at once: both served by initialized provisioned environments.
    deadline = time.monotonic() + 20
    while True:
        replies: list = []

        def call(into: list = replies) -> None:
            into.append(request(server.url + "/slow"))

        threads = [threading.Thread(target=call) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        bodies = [json.loads(reply.body) for reply in replies]
        if all(b["init"] == "provisioned-concurrency" for b in bodies):
            break
        assert time.monotonic() < deadline, bodies
    assert victim not in {b["pid"] for b in bodies}
    assert "cold start" not in server.logs()


SLOW = """
import time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return "done"
"""


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_dev_stops_within_five_seconds_with_events_queued(tmp_path, sig):
    # A probe saw dev hang for 30 minutes after SIGTERM (or Ctrl-C, twice)
    # with Event invokes queued behind a busy function.
    root = write_handler(tmp_path, SLOW)
    server = start_dev(
        "app.handler", root, "--name", "app", "--concurrency", "1", "--timeout", "60"
    )
    try:
        lam = lambda_client(server.api_url)
        lam.invoke(FunctionName="app", InvocationType="Event", Payload=json.dumps({"sleep": 30}))
        for _ in range(20):
            answer = lam.invoke(FunctionName="app", InvocationType="Event", Payload=b"{}")
            assert answer["StatusCode"] == 202
        server.wait_for_log(r"START RequestId")
        started = time.monotonic()
        server.proc.send_signal(sig)
        server.proc.wait(10)
        assert time.monotonic() - started < 5
        logs = server.logs()
        # As AWS does with a deleted function's queue: what waited is dropped.
        assert "20 queued asynchronous invocations dropped" in logs, logs
    finally:
        server.stop()


NOFILE = """
import resource

def handler(event, context):
    return list(resource.getrlimit(resource.RLIMIT_NOFILE))
"""


@pytest.mark.timeout(60)
def test_the_function_gets_lambdas_1024_file_descriptors(dev_server, tmp_path):
    # dev raises its own limit for its connection cap; a function on Lambda
    # has 1,024 ("Lambda quotas": file descriptors), and gets that here too.
    server = dev_server("app.handler", write_handler(tmp_path, NOFILE))
    soft, hard = json.loads(request(server.url + "/", timeout=15).body)
    assert (soft, hard) == (1024, 1024)
