"""Fixtures for the deploy tests: the chat built by ``sam build`` offline, the FastAPI project."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from deploy_support import (
    CHAT_DIR,
    CHAT_TEMPLATE,
    need_package_index,
    need_python_bin,
    run_sam,
)

from lambdastream.deploy.scaffold import write_project


@dataclass(frozen=True)
class SamBuild:
    """What ``sam build`` made of a template."""

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


@pytest.fixture(scope="session")
def bedrock_build(tmp_path_factory: pytest.TempPathFactory) -> SamBuild:
    """Run ``sam build`` (no container, no network) on a ``lambdastream init`` project.

    As a user runs it in the project, with the ``lambdastream`` command of
    this checkout and python3.13 (the function's runtime) on PATH; its
    requirements.txt names nothing, so nothing is fetched.
    """
    project = tmp_path_factory.mktemp("init-bedrock") / "my-chat"
    write_project(project, project.name, "bedrock")
    root = project / ".aws-sam" / "build"
    result = run_sam(
        ["build"], project, path=[need_python_bin("3.13"), str(Path(sys.executable).parent)]
    )
    assert result.returncode == 0, f"sam build failed:\n{result.stdout}\n{result.stderr}"
    return SamBuild(
        root=root,
        template=root / "template.yaml",
        layer=root / "LambdastreamLayer",
        function=root / "StreamingFunction",
    )


@pytest.fixture(scope="session")
def fastapi_build(tmp_path_factory: pytest.TempPathFactory) -> SamBuild:
    """Run ``sam build`` (no container) on a ``lambdastream init --template fastapi`` project.

    As a user runs it in the project: the layer by its layer/Makefile (the
    ``lambdastream`` command of this checkout, offline), the function by
    sam's Python workflow, which pip-installs requirements.txt (FastAPI)
    from the package index, as wheels for the function's runtime and
    architecture (python3.13 on arm64): that needs the index.
    """
    project = tmp_path_factory.mktemp("init-fastapi") / "my-fastapi"
    write_project(project, project.name, "fastapi")
    python_bin = need_python_bin("3.13")
    need_package_index(
        str(Path(python_bin) / "python3.13"),
        ["fastapi", "pydantic-core"],
        platform="manylinux2014_aarch64",
        version="3.13",
    )
    root = project / ".aws-sam" / "build"
    result = run_sam(
        ["build"], project, path=[python_bin, str(Path(sys.executable).parent)], index=True
    )
    assert result.returncode == 0, f"sam build failed:\n{result.stdout}\n{result.stderr}"
    return SamBuild(
        root=root,
        template=root / "template.yaml",
        layer=root / "LambdastreamLayer",
        function=root / "StreamingFunction",
    )
