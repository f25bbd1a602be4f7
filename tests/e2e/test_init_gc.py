"""Init runs without the cyclic garbage collector, as a cold start should.

Importing a framework allocates hundreds of thousands of objects, and the
collector would walk them again and again while they load (~6% of
``import fastapi``). The runtime turns it off while the handler loads, then
freezes what init built (never garbage that matters, never walked again:
the first invocation pays nothing for it) and turns it back on. It does so
through the collection threshold, so ``gc.disable()`` stays the function's
own switch.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from support import lambda_client, write_handler

HANDLER = """
import gc

AT_IMPORT = gc.get_threshold()


def handler(event, context):
    return {
        "at_import": AT_IMPORT,
        "now": gc.get_threshold(),
        "enabled": gc.isenabled(),
        "frozen": gc.get_freeze_count(),
    }
"""

USER_DISABLED = """
import gc

gc.disable()  # the function's own choice, kept


def handler(event, context):
    return {"now": gc.isenabled()}
"""


@pytest.mark.timeout(30)
def test_the_collector_is_off_while_the_handler_loads_and_on_after(dev_server, tmp_path):
    server = dev_server("app.handler", write_handler(tmp_path, HANDLER), "--name", "app")
    reply = lambda_client(server.api_url).invoke(FunctionName="app", Payload=b"{}")
    state = json.loads(reply["Payload"].read())
    default = subprocess.run(
        [sys.executable, "-c", "import gc; print(list(gc.get_threshold()))"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert state["at_import"][0] == 0  # no automatic collection while it loads
    assert state["now"] == json.loads(default)  # the interpreter's own, after init
    assert state["enabled"] is True
    assert state["frozen"] > 1000  # the interpreter's and the module's objects


@pytest.mark.timeout(30)
def test_a_function_that_turns_the_collector_off_keeps_it_off(dev_server, tmp_path):
    server = dev_server("app.handler", write_handler(tmp_path, USER_DISABLED), "--name", "app")
    reply = lambda_client(server.api_url).invoke(FunctionName="app", Payload=b"{}")
    assert json.loads(reply["Payload"].read()) == {"now": False}
