"""The Makefile's promises to a newcomer: make check needs nothing but a venv, make
demo installs only what the demo runs, and system packages are announced first.

What make would run is read with ``make -n`` (its dry run); make check's test
selection is collected by pytest itself.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest
from support import REPO, missing

# What make check must leave to make test: each needs a browser, the Node.js
# client, the SAM CLI, strace, a network install, or is the soak or the README.
NOT_IN_CHECK = (
    "tests/chat/test_chat_page.py",
    "tests/chat/test_chat_demo.py",
    "tests/deploy/",
    "tests/peers/",
    "tests/local/test_dev_conformance.py",
    "tests/local/test_dev_relay_sends.py",
    "tests/runtime/test_wire_cost.py",
    "tests/test_install.py",
    "tests/test_soak.py",
    "tests/test_readme_snippets.py",
    "tests/test_readme_deploy_snippets.py",
)
# What it must run (the unit and local end-to-end tests).
IN_CHECK = (
    "tests/wire/",
    "tests/runtime/",
    "tests/e2e/",
    "tests/local/",
    "tests/web/",
    "tests/chat/test_chat_validation.py",
    "tests/test_cli.py",
    "tests/test_vocabulary.py",
    "tests/test_import_graph.py",
    "tests/test_doctests.py",
    "tests/test_fault_matrix.py",
)
ROOT_OR_SYSTEM = re.compile(r"\b(apt-get|apt|sudo|dpkg|install-system-deps|install-node-ric|sam)\b")


def make_dry_run(*args: str) -> list[str]:
    """The commands ``make -n ARGS`` would run, one per logical line."""
    if shutil.which("make") is None:
        missing("make", "Debian's make")
    result = subprocess.run(
        ["make", "-n", *args], cwd=REPO, capture_output=True, text=True, timeout=60,
        env={**os.environ, "MAKEFLAGS": ""},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.replace("\\\n", " ").splitlines()


def test_make_check_runs_pytest_alone_with_no_system_package_and_no_root():
    commands = make_dry_run("check")
    assert not [c for c in commands if ROOT_OR_SYSTEM.search(c)], commands
    pytest_runs = [c for c in commands if " -m pytest " in c]
    assert len(pytest_runs) == 1, commands


@pytest.mark.timeout(120)
def test_make_check_collects_the_unit_and_local_tests_and_nothing_that_needs_more():
    command = shlex.split(next(c for c in make_dry_run("check") if " -m pytest " in c))
    # Collected in this process's Python, without the workers.
    at = command.index("-n")
    del command[at : at + 2]
    command = [sys.executable, *command[1:], "--collect-only"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=110)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    collected = [line for line in result.stdout.splitlines() if "::" in line]
    assert len(collected) > 1000, result.stdout[-2000:]
    assert not [t for t in collected if t.startswith(NOT_IN_CHECK)]
    for where in IN_CHECK:
        assert any(t.startswith(where) for t in collected), where


def test_make_demo_installs_the_package_alone_and_says_so(tmp_path):
    venv = tmp_path / "venv"  # a fresh clone: no venv yet
    commands = make_dry_run("demo", f"VENV={venv}")
    installs = [c for c in commands if "pip install" in c and " -e " in c]
    assert len(installs) == 1, commands
    assert re.search(r"pip install -q --disable-pip-version-check -e \.(;|$)", installs[0])
    assert "[dev]" not in " ".join(commands)
    assert not [c for c in commands if ROOT_OR_SYSTEM.search(c)], commands
    assert any("echo" in c and "installing lambdastream" in c for c in commands), commands


def test_a_venv_made_by_make_install_is_enough_for_make_demo(tmp_path):
    venv = tmp_path / "venv"  # no Python in it: an install would fail
    venv.mkdir()
    (venv / ".installed").touch()
    os.utime(venv / ".installed", (2**31, 2**31))  # newer than pyproject.toml
    result = subprocess.run(
        ["make", f"VENV={venv}", f"{venv}/.installed-package"],
        cwd=REPO, capture_output=True, text=True, timeout=60, env={**os.environ, "MAKEFLAGS": ""},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert (venv / ".installed-package").is_file()
    assert "installing" not in result.stdout + result.stderr


def apt_install(*packages: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    if shutil.which("dpkg-query") is None:
        missing("dpkg-query", "a Debian system")
    return subprocess.run(
        ["bash", str(REPO / "tools" / "apt-install.sh"), "the test of apt-install", *packages],
        capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL,
    )  # fmt: skip


NOT_A_PACKAGE = "lambdastream-test-no-such-package"


def test_system_packages_that_are_there_are_not_installed_again():
    result = apt_install("dpkg", env={**os.environ, "SYSTEM_DEPS": "install"})
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_system_deps_skip_installs_nothing_and_says_how_to_install_them():
    result = apt_install("dpkg", NOT_A_PACKAGE, env={**os.environ, "SYSTEM_DEPS": "skip"})
    assert result.returncode == 3
    assert result.stderr == (
        f"apt-install: SYSTEM_DEPS=skip: not installing {NOT_A_PACKAGE} (the test of"
        " apt-install); install them with: sudo apt-get install --no-install-recommends"
        f" {NOT_A_PACKAGE}\n"
    )


def test_what_will_be_installed_is_said_before_apt_get_runs(tmp_path):
    # apt-get itself is a stand-in here: it says on the same stream that it ran.
    fake = tmp_path / "bin"
    fake.mkdir()
    for tool, then in (("apt-get", "exit 0"), ("sudo", 'exec "$@"')):
        (fake / tool).write_text(f'#!/bin/sh\necho "ran: {tool} $*" >&2\n{then}\n')
        (fake / tool).chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}", "SYSTEM_DEPS": "install"}
    result = apt_install(NOT_A_PACKAGE, env=env)
    assert result.returncode == 0, result.stderr
    said, *ran = result.stderr.splitlines()
    assert said.startswith(
        f"apt-install: installing Debian packages {NOT_A_PACKAGE} (the test of apt-install) with"
    ), result.stderr
    assert said.endswith(
        f"to do without root: sudo apt-get install --no-install-recommends {NOT_A_PACKAGE}"
        " yourself, then make test SYSTEM_DEPS=skip; or make check, which needs none"
    ), said
    installs = [line for line in ran if line.startswith("ran: ")]
    assert installs[-1].endswith(f"install -y -qq --no-install-recommends {NOT_A_PACKAGE}")
