"""``lambdastream dev --max-concurrency N``: one environment, N invocations at once.

A raw runtime (tests/raw_runtime.py, each worker a thread with its own
connection) stands in for a runtime's N workers, so that what is checked
here is the Runtime API's side, as Lambda Managed Instances serve it: N
``/next`` calls waiting at once, each handed a different invocation,
replies routed by request id, a second reply for one id refused with 400,
a late reply after a timeout refused with 410 once, and ``Sandbox.Timedout``
without stopping the worker. (tests/e2e/test_managed_instances.py runs our
own runtime's workers through it.)
"""

from __future__ import annotations

import json
import shutil
import sys
import threading
import time
from pathlib import Path

import pytest
from h11client import request
from support import write_handler

RAW_RUNTIME = Path(__file__).resolve().parents[1] / "raw_runtime.py"

WORKERS = """
import json, os, sys, threading, time
from raw_runtime import Connection

N = int(os.environ["AWS_LAMBDA_MAX_CONCURRENCY"])
runs = open("runs.log", "a")


def worker(index):
    api = Connection()
    while True:
        rid, event = api.next_invocation()
        runs.write(rid + "\\n"); runs.flush()
        path = json.loads(event).get("rawPath", "/")
        if path == "/late":
            time.sleep(float(os.environ.get("LATE", "3")))
        elif path != "/quick":
            time.sleep(1)
        status = api.respond(rid, json.dumps({"worker": index, "path": path}).encode())
        print(f"worker {index} answered {rid}: {status}", flush=True)
        if path == "/twice":
            print(f"second answer: {api.respond(rid, b'again')}", flush=True)


print(f"max concurrency {N}", flush=True)
threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(N)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
"""


def _start(dev_server, tmp_path: Path, n: int, *extra: str):
    shutil.copy(RAW_RUNTIME, tmp_path / "raw_runtime.py")
    root = write_handler(tmp_path, WORKERS, name="runtime.py")
    return dev_server(
        "app.handler", root, "--bootstrap", f"{sys.executable} runtime.py",
        "--max-concurrency", str(n), "--concurrency", "1", *extra,
    )  # fmt: skip


def _at_once(url: str, paths: list[str]) -> tuple[list, float]:
    replies: list = [None] * len(paths)

    def call(i: int) -> None:
        replies[i] = request(url + paths[i], timeout=30)

    started = time.monotonic()
    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(paths))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return replies, time.monotonic() - started


@pytest.mark.timeout(60)
@pytest.mark.parametrize("n", [4, 16])
def test_n_invocations_run_at_once_in_one_environment(dev_server, tmp_path, n):
    server = _start(dev_server, tmp_path, n, "--provisioned", "1")
    server.wait_for_log(rf"max concurrency {n}")  # initialized before any request
    replies, elapsed = _at_once(server.url, ["/"] * n)
    assert [r.status for r in replies] == [200] * n
    assert len({json.loads(r.body)["worker"] for r in replies}) == n  # one each
    assert elapsed < 1.5 + n * 0.05, elapsed  # together, not one after another
    logs = server.logs()
    assert logs.count("INIT_START") == 1  # one environment
    runs = (tmp_path / "runs.log").read_text().split()
    assert len(runs) == n and len(set(runs)) == n  # each invocation ran once
    assert "delivered again" not in logs


@pytest.mark.timeout(60)
def test_a_cold_environment_takes_n_invocations_while_it_starts(dev_server, tmp_path):
    server = _start(dev_server, tmp_path, 4)
    replies, elapsed = _at_once(server.url, ["/"] * 4)
    assert [r.status for r in replies] == [200] * 4
    assert server.logs().count("INIT_START") == 1
    assert elapsed < 2.5, elapsed  # its start, then the four together


@pytest.mark.timeout(60)
def test_one_more_than_n_is_throttled_at_concurrency_one(dev_server, tmp_path):
    server = _start(dev_server, tmp_path, 4, "--provisioned", "1")
    replies, _ = _at_once(server.url, ["/"] * 5)
    assert sorted(r.status for r in replies) == [200, 200, 200, 200, 429]


@pytest.mark.timeout(60)
def test_a_second_reply_for_one_request_is_refused_with_400(dev_server, tmp_path):
    server = _start(dev_server, tmp_path, 2)
    reply = request(server.url + "/twice", timeout=15)
    assert reply.status == 200
    server.wait_for_log(r"second answer: 400")


@pytest.mark.timeout(60)
def test_a_timed_out_invocation_is_sandbox_timedout_and_its_late_reply_gets_410(
    dev_server, tmp_path
):
    server = _start(dev_server, tmp_path, 2, "--timeout", "1")
    late = request(server.url + "/late", timeout=15)
    assert late.status == 502
    server.wait_for_log(r"Sandbox\.Timedout: RequestId: \S+ Error: Task timed out after 1\.00")
    # Its worker was not stopped: it answers late, and is told 410.
    server.wait_for_log(r"worker \d answered \S+: 410")
    # The environment serves on, with the same process (an answer at once:
    # the 1-second one would race the 1-second timeout).
    assert request(server.url + "/quick", timeout=15).status == 200
    assert server.logs().count("INIT_START") == 1
