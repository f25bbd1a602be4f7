"""``sam build`` of the chat template, offline: what it puts in the layer and the function.

The build runs with every proxy pointing at a dead port and no package
index (``offline_env``), so a build step that reaches for the network fails
here rather than on someone's deploy.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from cfn import load
from deploy_support import need_python_bin


def test_layer_holds_the_exec_wrapper_and_the_runtime_only(sam_build_dir):
    layer = sam_build_dir.layer
    # As Lambda unpacks it into /opt: the wrapper at /opt/lambdastream (what
    # AWS_LAMBDA_EXEC_WRAPPER names), the package under /opt/python.
    assert sorted(p.name for p in layer.iterdir()) == ["lambdastream", "python"]
    wrapper = layer / "lambdastream"
    assert wrapper.is_file() and os.access(wrapper, os.X_OK)
    assert wrapper.read_text().startswith("#!/bin/sh\n")

    package = layer / "python" / "lambdastream"
    assert (package / "runtime" / "bootstrap.py").is_file()
    assert (package / "runtime" / "__pycache__" / "bootstrap.cpython-313.pyc").is_file()
    assert (package / "bedrock" / "stream.py").is_file()  # stream_text, for the chat
    # Nothing that only runs on a developer's machine.
    assert not (package / "local").exists()
    assert not (package / "cli.py").exists()
    shipped = {p.relative_to(layer).as_posix() for p in layer.rglob("*")}
    tests = {
        path
        for path in shipped
        if any(
            part in ("tests", "conftest.py") or part.startswith("test_") for part in path.split("/")
        )
    }
    assert not tests


def test_layer_wrapper_runs_the_runtime_from_the_layer(sam_build_dir):
    # As a managed runtime starts it (its interpreter, its flags, its bootstrap
    # script), minus Lambda. The interpreter is isolated (-I) and has no
    # lambdastream of its own: the wrapper must exec it on the bootstrap from
    # this layer, which then refuses to run outside Lambda rather than fail
    # to import.
    python = Path(need_python_bin("3.13")) / "python3.13"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_LAMBDA_", "PYTHON"))}
    env.pop("LAMBDA_TASK_ROOT", None)
    result = subprocess.run(
        [str(sam_build_dir.layer / "lambdastream"), str(python), "-I", "/var/runtime/bootstrap.py"],
        capture_output=True,
        text=True,
        env=env,
        cwd=sam_build_dir.root,
        timeout=30,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "AWS_LAMBDA_RUNTIME_API" in result.stderr


def test_function_holds_the_app_and_its_page_and_no_runtime_copy(sam_build_dir):
    function = sam_build_dir.function
    assert (function / "app.py").is_file()
    for page in ("index.html", "app.js", "markdown.js", "style.css"):
        assert (function / "static" / page).is_file(), page
    # lambdastream comes from the layer only: a second copy in the function
    # would shadow it (LAMBDA_TASK_ROOT is first on sys.path).
    assert not (function / "lambdastream").exists()
    assert not list(function.rglob("*.pyc"))


def test_built_template_points_at_the_built_artifacts(sam_build_dir):
    resources = load(sam_build_dir.template)["Resources"]
    code = resources["ChatFunction"]["Properties"]["CodeUri"]
    content = resources["LambdastreamLayer"]["Properties"]["ContentUri"]
    assert (sam_build_dir.root / code).resolve() == sam_build_dir.function.resolve()
    assert (sam_build_dir.root / content).resolve() == sam_build_dir.layer.resolve()
