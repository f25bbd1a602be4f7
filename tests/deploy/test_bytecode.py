"""Bytecode in every deployment package ``sam build`` makes: nothing compiles at a cold start.

Lambda unpacks a function into ``/var/task`` and its layers into ``/opt``,
both read-only: a module shipped without bytecode for the runtime's Python is
compiled from source, in memory, at every cold start (FastAPI, Starlette and
Pydantic: about half a second). So every ``.py`` that ``sam build`` puts in a
function or a layer must have beside it an unchecked-hash ``.pyc`` (PEP 552:
flags 0b01, valid whatever the files' dates after unzipping) made by the
function's own Python: its magic number, its ``cpython-3XX`` tag, the hash
of that very source, and the path the module has on Lambda.

Each build is checked by the target interpreter itself (its
``importlib.util.MAGIC_NUMBER`` and ``source_hash``): the chat example and
every project ``lambdastream init`` writes, built as their users build them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from cfn import load
from deploy_support import CHAT_DIR, INIT_PROJECTS, inspect_bytecode, need_python_bin
from lambda_standin import build

# Run by the function's Python with the build on sys.path as on Lambda (boto3
# from the managed runtime's directory), unable to write bytecode as on a
# read-only /var/task: the function's and the layer's modules compiled from
# source while the handler's module loads.
_IMPORT = r"""
import importlib.machinery, importlib, json, sys
compiled = []
to_code = importlib.machinery.SourceFileLoader.source_to_code
def recording(self, data, path, *args, **kwargs):
    compiled.append(path)
    return to_code(self, data, path, *args, **kwargs)
importlib.machinery.SourceFileLoader.source_to_code = recording
module, runtime_dir, *roots = sys.argv[1:]
sys.path[:0] = [*roots, runtime_dir]
importlib.import_module(module)
# What the layer's wrapper runs before the handler loads.
importlib.import_module("lambdastream.runtime.bootstrap")
print(json.dumps([p for p in compiled if p.startswith(tuple(roots))]))
"""


def _python(build) -> Path:
    """The function's Python (its Runtime in the built template), as sam build needs it."""
    runtime = load(build.template)["Resources"][build.function.name]["Properties"]["Runtime"]
    version = runtime.removeprefix("python")
    return Path(need_python_bin(version)) / f"python{version}"


@pytest.fixture(params=["chat", "init-bedrock", "init-fastapi"])
def built(request):
    """What sam build made of each template the project ships (the FastAPI one needs the index)."""
    fixture = {"chat": "sam_build_dir", "init-bedrock": "bedrock_build"}
    return request.getfixturevalue(fixture.get(request.param, "fastapi_build"))


def test_every_module_ships_unchecked_hash_bytecode_for_the_functions_python(built):
    python = _python(built)
    report = inspect_bytecode(
        python, [(built.function, "/var/task"), (built.layer / "python", "/opt/python")]
    )
    assert report["sources"] >= 20  # the app and the layer's runtime at least
    assert report["problems"] == []
    # No bytecode of another Python left over from the developer's tree
    # (examples/chat/__pycache__ holds some): the function's Python only.
    tags = {p.name.split(".")[-2] for p in built.function.rglob("*.pyc")}
    assert tags == {report["tag"]}


# Set on Lambda: the chat makes its Bedrock client as it loads.
LAMBDA_REGION = {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(params=["chat", "init-bedrock"])
def built_here(request):
    """The builds whose every module loads on this machine: FastAPI's pydantic-core
    is built for arm64, the template's architecture (``bench.deployed`` runs a
    build of it for this machine's)."""
    fixture = {"chat": "sam_build_dir", "init-bedrock": "bedrock_build"}[request.param]
    return request.getfixturevalue(fixture)


def test_the_handler_loads_without_compiling_a_module_of_the_function_or_layer(
    built_here, tmp_path
):
    python = _python(built_here)
    version = python.name.removeprefix("python")
    managed = build(tmp_path, version, str(python))
    properties = load(built_here.template)["Resources"][built_here.function.name]["Properties"]
    result = subprocess.run(
        [str(managed.python), "-I", "-B", "-c", _IMPORT, properties["Handler"].rsplit(".", 1)[0],
         str(managed.runtime_dir), str(built_here.function), str(built_here.layer / "python")],
        capture_output=True, text=True, timeout=120, cwd=built_here.function,
        env={"PATH": os.environ["PATH"], **LAMBDA_REGION},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_the_fastapi_function_holds_every_dependency_compiled(fastapi_build):
    # sam's own Python build unzips wheels: 290-odd .py files and no .pyc.
    function = fastapi_build.function
    for package in ("fastapi", "starlette", "pydantic", "pydantic_core", "anyio"):
        sources = list((function / package).rglob("*.py"))
        compiled = list((function / package).rglob("__pycache__/*.cpython-313.pyc"))
        assert sources and len(compiled) == len(sources), package


# A pip install command, up to the end of its shell command (a comment, &&, ;, |).
_PIP_INSTALL = re.compile(r"pip install((?:\s+(?![#;|&])[^\s`'\"#;|&]+)+)")
# A requirement naming lambdastream on an index (`lambdastream`,
# `lambdastream[x]`, `lambdastream>=0.1`), not a path or a wheel file.
_FROM_AN_INDEX = re.compile(r"^lambdastream(\[[^\]]*\])?([<>=!~].*)?$")


def _generated_files() -> list[Path]:
    files = [
        p
        for project in INIT_PROJECTS.values()
        for p in project.rglob("*")
        if p.is_file() and not any(part.startswith(".aws-sam") for part in p.parts)
    ]
    return [*files, CHAT_DIR / "Makefile", CHAT_DIR / "layer" / "Makefile"]


def test_no_generated_file_installs_lambdastream_from_a_package_index():
    # lambdastream is on no package index: a file telling users to
    # `pip install lambdastream` sends them to a name someone else may own.
    found = []
    for path in _generated_files():
        for line in path.read_text().splitlines():
            for match in _PIP_INSTALL.finditer(line):
                if any(_FROM_AN_INDEX.match(a.rstrip(").,:")) for a in match.group(1).split()):
                    found.append(f"{path.name}: {line.strip()}")
    assert found == []


def test_the_makefiles_say_where_lambdastream_comes_from():
    for project in INIT_PROJECTS.values():
        for makefile in (project / "Makefile", project / "layer" / "Makefile"):
            text = makefile.read_text()
            assert "pip install /path/to/lambdastream" in text, makefile
            assert "pip wheel" in text and ".whl" in text, makefile


def _assignments(makefile: Path) -> dict[str, str]:
    pairs = re.findall(r"^(\w+)\s*[:?]?=\s*(.*?)\s*$", makefile.read_text(), re.MULTILINE)
    return dict(pairs)


def test_each_functions_makefile_builds_for_its_runtime_and_architecture():
    # sam passes a makefile build nothing but ARTIFACTS_DIR: the Makefile
    # repeats the function's Runtime and Architectures, and must agree.
    templates = {"chat": CHAT_DIR / "template.yaml"}
    templates |= {f"init-{k}": p / "template.yaml" for k, p in INIT_PROJECTS.items()}
    for name, template in templates.items():
        resources = load(template)["Resources"]
        functions = {
            key: value
            for key, value in resources.items()
            if value["Type"] == "AWS::Serverless::Function"
        }
        assert functions, name
        for key, function in functions.items():
            assert function.get("Metadata", {}).get("BuildMethod") == "makefile", (name, key)
            properties = function["Properties"]
            makefile = template.parent / properties["CodeUri"] / "Makefile"
            assert f"build-{key}:" in makefile.read_text(), (name, key)
            variables = _assignments(makefile)
            assert variables["RUNTIME"] == properties["Runtime"], (name, key)
            assert [variables["ARCHITECTURE"]] == properties["Architectures"], (name, key)
