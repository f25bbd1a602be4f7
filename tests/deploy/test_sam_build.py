"""``sam build`` of the chat template, offline, and of the FastAPI project ``init`` writes.

The chat's build runs with every proxy pointing at a dead port and no
package index (``offline_env``), so a build step that reaches for the
network fails here rather than on someone's deploy.

The FastAPI project's cannot run offline: its requirements.txt names
FastAPI, which sam's Python workflow pip-installs from the package index as
wheels for the function's runtime and architecture (python3.13 on arm64:
pydantic-core is compiled). It runs with the index reachable as the user's
pip reaches it (``index_env``), once ``need_package_index`` has seen pip
fetch those wheels: without the index it fails under CI and skips
elsewhere. Its layer is built by the same layer/Makefile that test_init
builds offline.
"""

from __future__ import annotations

import ast
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
    for module in ("app.py", "auth.py", "protocols.py"):
        assert (function / module).is_file(), module
    for page in ("index.html", "app.js", "markdown.js", "style.css"):
        assert (function / "static" / page).is_file(), page
    # lambdastream comes from the layer only: a second copy in the function
    # would shadow it (LAMBDA_TASK_ROOT is first on sys.path).
    assert not (function / "lambdastream").exists()
    # Bytecode for the function's Python only (test_bytecode checks each file),
    # none of the developer's left over from examples/chat/__pycache__.
    assert {p.name for p in function.rglob("*.pyc")} == {
        "app.cpython-313.pyc",
        "auth.cpython-313.pyc",
        "protocols.cpython-313.pyc",
        "__init__.cpython-313.pyc",
    }


def test_built_template_points_at_the_built_artifacts(sam_build_dir):
    resources = load(sam_build_dir.template)["Resources"]
    code = resources["ChatFunction"]["Properties"]["CodeUri"]
    content = resources["LambdastreamLayer"]["Properties"]["ContentUri"]
    assert (sam_build_dir.root / code).resolve() == sam_build_dir.function.resolve()
    assert (sam_build_dir.root / content).resolve() == sam_build_dir.layer.resolve()


# -- The FastAPI project ------------------------------------------------------------

_AARCH64 = 183  # ELF e_machine of an arm64 shared object


def test_fastapi_function_holds_the_app_and_fastapi_built_for_its_runtime(fastapi_build):
    function = fastapi_build.function
    properties = load(fastapi_build.template)["Resources"]["StreamingFunction"]["Properties"]
    assert (properties["Runtime"], properties["Architectures"]) == ("python3.13", ["arm64"])
    assert (function / "app.py").is_file()
    for package in ("fastapi", "starlette", "pydantic"):
        assert (function / package / "__init__.py").is_file(), package
    # pydantic-core is compiled: for Lambda's Python 3.13 on arm64, whatever
    # this machine runs.
    (extension,) = (function / "pydantic_core").glob("_pydantic_core*.so")
    assert extension.name == "_pydantic_core.cpython-313-aarch64-linux-gnu.so"
    header = extension.read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == _AARCH64
    # lambdastream comes from the layer only (a copy here would shadow it).
    assert not (function / "lambdastream").exists()
    assert not list(function.glob("lambdastream-*.dist-info"))


def test_fastapi_layer_holds_what_the_app_imports_from_lambdastream(fastapi_build):
    layer = fastapi_build.layer
    assert sorted(p.name for p in layer.iterdir()) == ["lambdastream", "python"]
    assert os.access(layer / "lambdastream", os.X_OK)
    tree = ast.parse((fastapi_build.function / "app.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
    imported = {name for name in imported if name.split(".")[0] == "lambdastream"}
    assert imported >= {"lambdastream", "lambdastream.asgi"}  # sse; handler = asgi(app)
    for module in imported:
        where = layer / "python" / Path(*module.split("."))
        assert where.with_suffix(".py").is_file() or (where / "__init__.py").is_file(), module
    # What serves handler = asgi(app) inside the runtime.
    assert (layer / "python" / "lambdastream" / "runtime" / "asgi_server.py").is_file()


def test_fastapi_built_template_points_at_the_built_artifacts(fastapi_build):
    resources = load(fastapi_build.template)["Resources"]
    code = resources["StreamingFunction"]["Properties"]["CodeUri"]
    content = resources["LambdastreamLayer"]["Properties"]["ContentUri"]
    assert (fastapi_build.root / code).resolve() == fastapi_build.function.resolve()
    assert (fastapi_build.root / content).resolve() == fastapi_build.layer.resolve()
