"""The deployed chat, end to end: what ``sam build`` produced (the layer
standing for /opt, the function for /var/task), the layer's exec wrapper
started exactly as a managed Python runtime starts it, under the real
``lambdastream dev``, answering from ``bedrock-local``.

The interpreter stands for ``/var/lang/bin/python3.13`` and has nothing
installed (lambdastream can only come from the layer), boto3 comes from the
stand-in ``/var/runtime`` as on Lambda, and ``PYTHONPATH`` is unset as
Lambda leaves it.
"""

from __future__ import annotations

import json
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from h11client import request
from lambda_standin import MANAGED_BOOTSTRAP_RAN, build, newest_lambda_python
from support import lambda_client, write_handler

PROMPT = "Why stream the answer?"


@pytest.fixture(scope="module")
def managed(tmp_path_factory):
    version, interpreter = newest_lambda_python("3.13")
    return build(tmp_path_factory.mktemp("managed"), version, interpreter)


@pytest.fixture(scope="module")
def deployed(sam_build_dir, tmp_path_factory) -> Iterator[tuple[Path, Path]]:
    """(/opt, /var/task): the layer and the chat function as ``sam build`` made
    them, copied (modes kept) and made read-only, as Lambda unpacks them."""
    root = tmp_path_factory.mktemp("deployed")
    opt, task = root / "opt", root / "task"
    shutil.copytree(sam_build_dir.layer, opt)
    shutil.copytree(sam_build_dir.function, task)
    for path in (opt, task, *opt.rglob("*"), *task.rglob("*")):
        path.chmod(path.stat().st_mode & ~0o222)
    yield opt, task
    for path in (opt, task, *opt.rglob("*"), *task.rglob("*")):
        path.chmod(path.stat().st_mode | 0o200)


@pytest.fixture
def start_deployed(dev_server, managed, deployed):
    opt, task = deployed

    def start(*extra: str, handler: str = "app.handler", root: Path = task):
        bootstrap = shlex.join(managed.wrapper_command(opt / "lambdastream"))
        return dev_server(
            handler,
            root,
            "--bootstrap", bootstrap, "--name", "chat", "--timeout", "60",
            # The managed bootstrap exports it before it runs the wrapper.
            "--env", f"AWS_EXECUTION_ENV={managed.execution_env}",
            *extra,
            env={"PYTHONPATH": "", "LAMBDASTREAM_BEDROCK_SCRIPT": "echo"},
        )  # fmt: skip

    return start


def _chat_over_function_url(server) -> None:
    body = json.dumps({"prompt": PROMPT}).encode()
    reply = request(
        server.url, "POST", [("content-type", "application/json")], body=body, timeout=60
    )
    assert reply.status == 200, reply.body
    assert reply.header("content-type").startswith("text/plain")
    text = reply.body.decode()
    assert PROMPT in text
    # Streamed: the words arrived in many pieces, spread over time.
    assert len(reply.chunks) >= 4
    assert reply.chunks[-1][0] - reply.chunks[0][0] > 0.05
    assert MANAGED_BOOTSTRAP_RAN not in server.logs()


def _chat_over_invoke_with_response_stream(server) -> None:
    lam = lambda_client(server.api_url)
    event = {"prompt": PROMPT}
    reply = lam.invoke_with_response_stream(FunctionName="chat", Payload=json.dumps(event))
    payload, complete = b"", None
    for part in reply["EventStream"]:
        if "PayloadChunk" in part:
            payload += part["PayloadChunk"]["Payload"]
        else:
            complete = part["InvokeComplete"]
    assert complete is not None and "ErrorCode" not in complete, complete
    # Lambda does not strip the HTTP prelude for SDK callers.
    prelude, _, text = payload.partition(b"\0" * 8)
    assert json.loads(prelude)["statusCode"] == 200
    assert PROMPT in text.decode()


def test_chat_streams_from_the_layer_through_the_function_url(start_deployed):
    server = start_deployed("--bedrock-local")
    _chat_over_function_url(server)
    server.wait_for_log(r"REPORT RequestId: .*Init Duration")


def test_chat_streams_from_the_layer_through_invoke_with_response_stream(start_deployed):
    server = start_deployed("--bedrock-local")
    _chat_over_invoke_with_response_stream(server)


def test_chat_streams_from_the_layer_under_snap_start(start_deployed):
    server = start_deployed("--bedrock-local", "--snap-start")
    _chat_over_function_url(server)
    _chat_over_invoke_with_response_stream(server)
    server.wait_for_log(r"RESTORE_REPORT Restore Duration: [\d.]+ ms\tStatus: success")


PROBE = """
import os, sys
import boto3
import lambdastream
from lambdastream import StreamingResponse

def handler(event, context):
    return {
        "executable": sys.executable,
        "path": sys.path,
        "lambdastream": lambdastream.__file__,
        "runtime": sys.modules["lambdastream.runtime.bootstrap"].__file__,
        "boto3": boto3.__file__,
        "pythonpath": os.environ.get("PYTHONPATH"),
        "unicode": "é",
    }
"""


def test_the_wrapper_gives_the_managed_runtimes_sys_path(
    start_deployed, managed, deployed, tmp_path
):
    opt, _ = deployed
    task = write_handler(tmp_path / "task", PROBE)
    server = start_deployed(root=task)
    reply = request(server.url, "POST", body=b"{}")
    assert reply.status == 200, reply.body
    # python3.12+ runtimes send non-ASCII as is (awslambdaric's ensure_ascii).
    assert ('"é"' in reply.body.decode()) == (managed.version >= "3.12")
    seen = json.loads(reply.body)
    assert seen["executable"] == str(managed.python)
    assert seen["lambdastream"] == str(opt / "python" / "lambdastream" / "__init__.py")
    assert seen["runtime"].startswith(str(opt / "python" / "lambdastream"))
    assert seen["boto3"].startswith(str(managed.runtime_dir))
    # The managed bootstrap's order: task root, the layer (its site-packages
    # dir only when it exists), the interpreter's site-packages, the managed
    # runtime's directory, then the standard library.
    site = managed.python.parents[1] / "lib" / f"python{managed.version}" / "site-packages"
    assert seen["path"][:4] == [
        str(task),
        str(opt / "python"),
        str(site),
        str(managed.runtime_dir),
    ]
    assert "" not in seen["path"]
    assert seen["pythonpath"] == str(managed.runtime_dir)


def test_a_missing_handler_through_the_wrapper_is_an_init_error(start_deployed):
    server = start_deployed(handler="nothere.handler")
    lam = lambda_client(server.api_url)
    reply = lam.invoke(FunctionName="chat", Payload=b"{}")
    assert reply["FunctionError"] == "Unhandled"
    error = json.loads(reply["Payload"].read())
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert error["errorMessage"] == "Unable to import module 'nothere': No module named 'nothere'"
    server.wait_for_log(r"exit status 1")
