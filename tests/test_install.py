"""`pip install lambdastream` gives every documented command, in a fresh venv.

The package is installed as a user installs it (a wheel built from this
tree, its dependencies from the index), not in development mode, so what is
missing from its dependencies or its package data shows here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
