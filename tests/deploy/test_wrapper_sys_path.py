"""The layer's runtime runs, whatever other ``lambdastream`` the function can reach.

A function often ships its own copy of lambdastream: it is in
requirements.txt for local runs and type checks, so ``sam build`` installs
it into the code Lambda unpacks into ``/var/task``, the runtime's working
directory. The wrapper starts the interpreter with ``-c``, so that directory
(``''``) comes first on ``sys.path``, before the interpreter's
site-packages; the runtime must still be the layer's, the one the wrapper
was built with. Started exactly as a managed Python runtime starts an exec
wrapper, under the real ``lambdastream dev``.
"""

from __future__ import annotations

import io
import json
import os
import shlex
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from h11client import request
from lambda_standin import MANAGED_BOOTSTRAP_RAN, build, newest_lambda_python
from support import write_handler

from lambdastream.deploy.layer import WRAPPER_NAME

REPO = Path(__file__).resolve().parents[2]
STALE = "a stale lambdastream ran the runtime"

PROBE = """
import sys

def handler(event, context):
    return {"runtime": sys.modules["lambdastream.runtime.bootstrap"].__file__}
"""


@pytest.fixture(scope="module")
def opt(tmp_path_factory) -> Path:
    """The layer as ``lambdastream build layer`` makes it, unpacked as into /opt."""
    out = tmp_path_factory.mktemp("layer") / "layer.zip"
    built = subprocess.run(
        [sys.executable, "-m", "lambdastream", "build", "layer", "-o", str(out)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert built.returncode == 0, built.stderr
    root = tmp_path_factory.mktemp("opt")
    with zipfile.ZipFile(io.BytesIO(out.read_bytes())) as archive:
        for info in archive.infolist():
            path = root / info.filename
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(archive.read(info))
            path.chmod(stat.S_IMODE(info.external_attr >> 16))
    return root


def _stale_lambdastream(into: Path) -> None:
    """A ``lambdastream`` whose runtime, if it is ever the one run, says so and fails."""
    package = into / "lambdastream"
    (package / "runtime").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "runtime" / "__init__.py").write_text("")
    (package / "runtime" / "bootstrap.py").write_text(
        "import sys\n\n\n"
        "def exec_wrapper_main(argv=None):\n"
        f"    sys.stderr.write({STALE!r} + '\\n')\n"
        "    return 1\n"
    )


@pytest.mark.parametrize("where", ["function code", "interpreter's site-packages"])
def test_the_layer_s_runtime_runs_before_any_other_lambdastream(where, opt, dev_server, tmp_path):
    version, interpreter = newest_lambda_python("3.13")
    managed = build(tmp_path / "managed", version, interpreter)
    task = write_handler(tmp_path / "task", PROBE)
    if where == "function code":
        _stale_lambdastream(task)
    else:
        _stale_lambdastream(
            managed.python.parents[1] / "lib" / f"python{version}" / "site-packages"
        )
    server = dev_server(
        "app.handler",
        task,
        "--bootstrap", shlex.join(managed.wrapper_command(opt / WRAPPER_NAME)),
        "--env", f"AWS_EXECUTION_ENV={managed.execution_env}",
        env={"PYTHONPATH": ""},
    )  # fmt: skip
    reply = request(server.url, "POST", body=b"{}")
    assert STALE not in server.logs()
    assert MANAGED_BOOTSTRAP_RAN not in server.logs()
    assert reply.status == 200, reply.body
    runtime = json.loads(reply.body)["runtime"]
    assert runtime.startswith(str(opt / "python" / "lambdastream") + os.sep)
