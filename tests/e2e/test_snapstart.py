"""SnapStart end to end: the runtime under ``lambdastream dev --snap-start``.

The function registers its hooks through AWS's own ``snapshot_restore_py``;
the runtime runs the before-snapshot hooks, waits on ``/restore/next``,
reconnects (a connection from before a snapshot does not survive it), runs
the after-restore hooks, then serves invocations.
"""

from __future__ import annotations

import json

from h11client import request
from support import lambda_client, write_handler

HOOKS = """
import os
from snapshot_restore_py import register_after_restore, register_before_snapshot

ran = []

@register_before_snapshot
def first_registered():
    ran.append("before:first")

@register_before_snapshot
def second_registered():
    ran.append("before:second")

register_after_restore(lambda tag: ran.append(f"after:{tag}"), "restored")

if os.environ.get("FAIL_BEFORE"):
    register_before_snapshot(lambda: 1 / 0)
if os.environ.get("FAIL_AFTER"):
    register_after_restore(lambda: {}["missing"])

def handler(event, context):
    return {"ran": ran, "init": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"]}
"""


def test_hooks_run_around_the_restore_in_order(dev_server, tmp_path):
    root = write_handler(tmp_path, HOOKS)
    server = dev_server("app.handler", root, "--snap-start")
    reply = request(server.url, "POST", body=b"{}")
    assert reply.status == 200
    # awslambdaric's order: before-snapshot hooks last registered first,
    # after-restore hooks in order.
    assert json.loads(reply.body) == {
        "ran": ["before:second", "before:first", "after:restored"],
        "init": "snap-start",
    }
    server.wait_for_log(r"RESTORE_REPORT Restore Duration: [\d.]+ ms\tStatus: success")
    report = server.wait_for_log(r"REPORT RequestId: \S+\t.*").group(0)
    assert "Restore Duration" in report and "Init Duration" not in report
    # Warm: the hooks ran once per environment.
    again = request(server.url, "POST", body=b"{}")
    assert json.loads(again.body)["ran"] == ["before:second", "before:first", "after:restored"]


def test_a_failing_before_snapshot_hook_is_an_init_error(dev_server, tmp_path):
    root = write_handler(tmp_path, HOOKS)
    server = dev_server("app.handler", root, "--snap-start", "--env", "FAIL_BEFORE=1")
    lam = lambda_client(server.api_url)
    reply = lam.invoke(FunctionName="app", Payload=b"{}")
    assert reply["FunctionError"] == "Unhandled"
    error = json.loads(reply["Payload"].read())
    assert error["errorType"] == "ZeroDivisionError"
    server.wait_for_log(r"Error Type: Runtime.BeforeSnapshotError")
    server.wait_for_log(r"exit status 64")


def test_a_failing_after_restore_hook_is_a_restore_error(dev_server, tmp_path):
    root = write_handler(tmp_path, HOOKS)
    server = dev_server("app.handler", root, "--snap-start", "--env", "FAIL_AFTER=1")
    lam = lambda_client(server.api_url)
    reply = lam.invoke(FunctionName="app", Payload=b"{}")
    assert reply["FunctionError"] == "Unhandled"
    assert json.loads(reply["Payload"].read())["errorType"] == "KeyError"
    server.wait_for_log(r"RESTORE_REPORT Restore Duration: [\d.]+ ms\tStatus: error")
    server.wait_for_log(r"Runtime.AfterRestoreError")
    server.wait_for_log(r"exit status 65")


def test_without_snap_start_the_hooks_never_run(dev_server, tmp_path):
    root = write_handler(tmp_path, HOOKS)
    server = dev_server("app.handler", root)
    reply = request(server.url, "POST", body=b"{}")
    assert json.loads(reply.body) == {"ran": [], "init": "on-demand"}
