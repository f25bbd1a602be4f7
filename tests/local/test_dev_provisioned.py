"""``lambdastream dev --provisioned N``: environments initialized before the URL is shown."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest
from h11client import request
from support import write_handler

SLOW_INIT = """
import os, time

time.sleep(0.8)  # an init that costs something (imports, clients)

def handler(event, context):
    time.sleep(0.3)  # keep both calls in flight together
    return {"init": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"], "pid": os.getpid()}
"""


@pytest.mark.timeout(60)
def test_provisioned_environments_are_initialized_before_the_url_is_shown(dev_server, tmp_path):
    server = dev_server(
        "app.handler", write_handler(tmp_path, SLOW_INIT), "--provisioned", "2",
        "--concurrency", "3",
    )  # fmt: skip
    server.wait_for_log(r"2 of 2 provisioned and initialized")
    logs = server.logs()
    assert logs.count("(provisioned)") == 2
    assert logs.index("INIT_START environment 2 (provisioned)") < logs.index("Function URL:")

    replies: list = []

    def call() -> None:
        started = time.monotonic()
        replies.append((request(server.url + "/", timeout=15), time.monotonic() - started))

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    bodies = [json.loads(reply.body) for reply, _ in replies]
    assert [b["init"] for b in bodies] == ["provisioned-concurrency"] * 2
    assert len({b["pid"] for b in bodies}) == 2
    assert all(elapsed < 0.8 for _, elapsed in replies), replies  # no request waited for init
    server.wait_for_log(r"(?s)REPORT RequestId.*REPORT RequestId")
    assert "Init Duration" not in server.logs()


def test_more_provisioned_than_the_concurrency_is_refused(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "lambdastream", "dev", "app.handler", "--root", str(tmp_path),
         "--provisioned", "3", "--concurrency", "2"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "lambdastream dev: --provisioned 3 must be from 0 to --concurrency (2)"
    )
