"""Fixtures for the deploy tests: the chat built by ``sam build``, offline."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from deploy_support import (
    CHAT_DIR,
    CHAT_TEMPLATE,
    need_executable,
    need_python_bin,
    offline_env,
)


@dataclass(frozen=True)
class SamBuild:
    """What ``sam build`` made of examples/chat/template.yaml."""

    root: Path  # sam's build directory
    template: Path  # the built template (CodeUri/ContentUri point into root)
    layer: Path  # the layer, as Lambda unpacks it into /opt
    function: Path  # the function's code, as Lambda unpacks it into /var/task


@pytest.fixture(scope="session")
def sam_build_dir(tmp_path_factory: pytest.TempPathFactory) -> SamBuild:
    """Run ``sam build`` (no container, no network) on the chat template, once per session.

    The layer is built from this checkout's ``src/`` by its Makefile, the
    function is examples/chat/ as sam's Python workflow copies it (Python
    3.13, the function's runtime, first on PATH).
    """
    sam = need_executable("sam")
    python_bin = need_python_bin("3.13")
    root = tmp_path_factory.mktemp("sam-build") / "build"
    env = offline_env(PATH=python_bin + os.pathsep + os.environ.get("PATH", ""))
    result = subprocess.run(
        [sam, "build", "--template-file", str(CHAT_TEMPLATE), "--build-dir", str(root)],
        cwd=CHAT_DIR,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"sam build failed:\n{result.stdout}\n{result.stderr}"
    return SamBuild(
        root=root,
        template=root / "template.yaml",
        layer=root / "LambdastreamLayer",
        function=root / "ChatFunction",
    )
