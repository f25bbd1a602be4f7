"""`pip install lambdastream` gives every documented command, in a fresh venv.

The package is installed as a user installs it (a wheel built from this
tree, its dependencies from the index), not in development mode, so what is
missing from its dependencies or its package data shows here.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from support import DevServer, missing

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("install") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, capture_output=True)
    result = subprocess.run(
        [str(root / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         str(REPO)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return root


def run(venv: Path, *command: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / command[0]), *command[1:]],
        capture_output=True, text=True, timeout=120, cwd=cwd,
    )  # fmt: skip


@pytest.mark.timeout(900)
def test_every_command_runs_from_a_plain_install(venv, tmp_path):
    from lambdastream import __version__
    from lambdastream.cli import COMMANDS

    assert run(venv, "lambdastream", "--version").stdout.strip() == f"lambdastream {__version__}"
    for command in COMMANDS:
        result = run(venv, "lambdastream", command, "--help")
        assert result.returncode == 0, (command, result.stderr)
    # The Invoke API client needs boto3: a refused connection, not a missing module.
    result = run(
        venv, "lambdastream", "invoke", "--function", "f", "--endpoint", "http://127.0.0.1:9",
        "--region", "us-east-1", "--prompt", "hi", "--timeout", "5",
    )  # fmt: skip
    assert "ModuleNotFoundError" not in result.stderr and "No module named" not in result.stderr
    assert result.returncode == 4, result.stderr
    # stream_text's default client, as the README's Bedrock example uses it.
    result = run(
        venv, "python", "-c",
        "from lambdastream.bedrock import default_client; print(default_client('us-east-1'))",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # Package data: the layer's wrapper, the project templates, the runtime's usage.
    assert (
        run(venv, "lambdastream", "build", "layer", "-o", str(tmp_path / "layer.zip")).returncode
        == 0
    )
    assert run(venv, "lambdastream", "init", str(tmp_path / "project")).returncode == 0
    assert (tmp_path / "project" / "template.yaml").is_file()
    assert run(venv, "python", "-m", "lambdastream.runtime", "--help").stdout.startswith("usage:")


@pytest.mark.timeout(900)
def test_what_make_demo_runs_needs_the_package_alone(venv):
    # make demo installs the package alone: the demo's own command, from a plain install.
    if shutil.which("make") is None:
        missing("make", "Debian's make")
    # Under make test, a nested make prints "make[1]: Leaving directory" lines
    # (MAKELEVEL): not ours to read, so neither those nor the outer flags.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    dry_run = subprocess.run(
        ["make", "--no-print-directory", "-n", "demo", "PORT=0"],
        cwd=REPO, capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    command = dry_run.stdout.replace("\\\n", " ").splitlines()[-1]
    program, *args = shlex.split(command)
    assert program == ".venv/bin/lambdastream" and args[0] == "dev", command
    proc = subprocess.Popen(
        [str(venv / "bin" / "lambdastream"), *args],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    server = DevServer(proc)
    try:
        url = server.wait_for_log(r"Function URL: (http://\S+?)/?$", timeout=60).group(1)
        # The banner's lines arrive one by one: wait for this one too.
        server.wait_for_log(r"2 of 2 provisioned and initialized", timeout=60)
        with urllib.request.urlopen(url + "/", timeout=30) as page:
            assert page.headers["content-type"].startswith("text/html")
        answer = subprocess.run(
            [str(venv / "bin" / "lambdastream"), "invoke", url + "/", "--prompt", "hi"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert answer.returncode == 0 and answer.stdout.strip(), answer.stderr
    finally:
        server.stop()
