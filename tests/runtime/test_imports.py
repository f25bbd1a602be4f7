"""The runtime imports the standard library only, and little of it."""

from __future__ import annotations

import subprocess
import sys

import pytest

RUNTIME_MODULES = [
    "lambdastream.runtime",
    "lambdastream.runtime.__main__",
    "lambdastream.runtime.bootstrap",
    "lambdastream.runtime.http",
    "lambdastream.runtime.snapstart",
    "lambdastream.runtime.web_event",
    "lambdastream.runtime.web_answer",
    "lambdastream.runtime.asgi_server",
    "lambdastream.runtime.wsgi_server",
    "lambdastream.runtime.workers",
    "lambdastream.asgi",
    "lambdastream.wsgi",
]
# Costly modules a handler that does not need them must never pay for.
LAZY = ["asyncio", "logging", "http.client", "socket", "typing", "traceback", "base64", "inspect"]
# The JSON codec is json's own C accelerator, called directly: the json
# package would bring re, enum, functools and collections (~6 ms).
LAZY += ["json", "re", "enum", "importlib", "runpy"]


def imported_by(statement: str) -> list[str]:
    """Modules that ``statement`` imports, beyond what the interpreter loads anyway."""
    baseline = set(_importtime("pass"))
    return [n for n in _importtime(statement) if n not in baseline]


def _importtime(statement: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        check=True,
    )
    names = []
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "package":
                names.append(name)
    return names


@pytest.mark.parametrize("module", RUNTIME_MODULES)
def test_runtime_imports_only_the_standard_library(module):
    names = imported_by(f"import {module}")
    assert module in names
    third_party = {
        n.split(".")[0]
        for n in names
        if n.split(".")[0] not in sys.stdlib_module_names and n.split(".")[0] != "lambdastream"
    }
    assert third_party == set()


@pytest.mark.parametrize(
    "statement",
    [
        "import lambdastream.runtime.bootstrap",
        "from lambdastream import StreamingResponse, sse",
    ],
)
def test_cold_start_path_leaves_costly_modules_unloaded(statement):
    names = set(imported_by(statement))
    assert names.isdisjoint(LAZY), sorted(names & set(LAZY))


def test_events_and_results_are_coded_without_the_json_package():
    statement = (
        "from lambdastream.runtime.marshal import compact_json, encode_result, loads; "
        'loads(b\' {"a": [1, 2.5, null, "\\\\u00e9"]} \'); '
        "encode_result({'a': [1, 2.5, None, 'x']}); compact_json({'statusCode': 200})"
    )
    names = set(imported_by(statement))
    assert "lambdastream.runtime.marshal" in names
    assert names.isdisjoint(["json", "re"]), sorted(names & {"json", "re"})


# What only Managed Instances' workers need (AWS_LAMBDA_MAX_CONCURRENCY > 1).
WORKERS_ONLY = ["lambdastream.runtime.workers", "mmap", "fcntl", "multiprocessing", "signal"]


def test_serving_an_ordinary_function_loads_no_more_than_it_needs(tmp_path):
    # The whole cold path, as a container entrypoint runs it: start, load the
    # handler, serve one invocation. Nothing costly, nothing of the workers.
    from managed_runtime_api import Delivery, ManagedRuntimeApi, start_runtime, stop_runtime

    (tmp_path / "app.py").write_text("def handler(event, context):\n    return {'ok': 1}\n")
    api = ManagedRuntimeApi(max_concurrency=1)
    entry = "from lambdastream.runtime.bootstrap import run; run()"
    proc = start_runtime(
        api, tmp_path, "app.handler", None, python_args=("-X", "importtime", "-c", entry)
    )
    try:
        api.add(Delivery("r1"))
        api.wait_answered(["r1"])
    finally:
        api.close()
        _, err = stop_runtime(proc)
    assert api.answers["r1"][0].body == b'{"ok": 1}'
    baseline = set(_importtime("pass"))
    names = {
        line.rsplit("|", 1)[1].strip()
        for line in err.splitlines()
        if line.startswith("import time:") and "|" in line
    } - baseline
    assert "lambdastream.runtime.bootstrap" in names
    assert names.isdisjoint(LAZY + WORKERS_ONLY), sorted(names & set(LAZY + WORKERS_ONLY))
