"""Fixtures for the deploy tests: the chat built by ``sam build``, offline."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from deploy_support import CHAT_DIR, CHAT_TEMPLATE, need_python_bin, run_sam


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
    root = tmp_path_factory.mktemp("sam-build") / "build"
    result = run_sam(
        ["build", "--template-file", str(CHAT_TEMPLATE), "--build-dir", str(root)],
        CHAT_DIR,
        path=[need_python_bin("3.13")],
    )
    assert result.returncode == 0, f"sam build failed:\n{result.stdout}\n{result.stderr}"
    return SamBuild(
        root=root,
        template=root / "template.yaml",
        layer=root / "LambdastreamLayer",
        function=root / "ChatFunction",
    )
