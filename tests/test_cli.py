"""The command line as a newcomer meets it: --version, every default in --help,
a usage line from the runtime, a busy port named by the flag that changes it."""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys

import pytest

import lambdastream
from lambdastream.cli import COMMANDS, build_parser


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, timeout=timeout
    )


def test_version():
    result = run("lambdastream", "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"lambdastream {lambdastream.__version__}"


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser([name])
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_shows_every_default(command):
    for action in _subparser(command)._actions:
        if action.option_strings and action.default not in (None, False, argparse.SUPPRESS):
            assert "default" in (action.help or ""), (command, action.option_strings)


def test_the_runtime_says_how_to_run_it():
    for flag in ("--help", "-h"):
        result = run("lambdastream.runtime", flag)
        assert result.returncode == 0
        assert result.stdout.startswith("usage: python -m lambdastream.runtime [HANDLER]")
        assert "AWS_LAMBDA_RUNTIME_API" in result.stdout
        assert result.stderr == ""


@pytest.mark.parametrize(
    ("command", "flag"),
    [
        (["dev", "app.handler", "--api-port", "0", "--port"], "--port"),
        (["dev", "app.handler", "--port", "0", "--api-port"], "--api-port"),
        (["bedrock-local", "--port"], "--port"),
    ],
)
def test_a_port_in_use_names_the_flag_that_changes_it(command, flag, tmp_path):
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return 1\n")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "lambdastream", *command, str(port)],
            capture_output=True, text=True, timeout=30, cwd=tmp_path,
        )  # fmt: skip
    assert result.returncode == 1
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert lines[-1].endswith(f"port {port} is already in use: choose another with {flag}"), lines
    assert "Traceback" not in result.stderr
