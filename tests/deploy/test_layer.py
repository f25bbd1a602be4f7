"""The layer: what it holds, that it is reproducible, and its exec wrapper's errors."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from lambda_standin import lambda_pythons

from lambdastream.deploy.layer import WRAPPER_NAME, build_layer

REPO = Path(__file__).resolve().parents[2]
# Local tools and what only they need: never on Lambda.
NOT_IN_LAYER = (
    "lambdastream/local/",
    "lambdastream/cli.py",
    "lambdastream/caller/",
    "lambdastream/wire/eventstream.py",
    "lambdastream/wire/sigv4.py",
    "lambdastream/wire/prelude.py",
    "lambdastream/deploy/",
    "lambdastream/bedrock/local.py",
    "lambdastream/httpserver/",
    "lambdastream/bedrock/faults.py",
    "lambdastream/bedrock/command.py",
    "lambdastream/bedrock/backends.py",
    "tests/",
)


@pytest.fixture(scope="module")
def layer_zip(tmp_path_factory) -> bytes:
    out = tmp_path_factory.mktemp("layer") / "layer.zip"
    result = subprocess.run(
        [sys.executable, "-m", "lambdastream", "build", "layer", "-o", str(out)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    # The command reports the size and the digest.
    assert f"sha256 {hashlib.sha256(out.read_bytes()).hexdigest()}" in result.stdout
    return out.read_bytes()


def test_the_layer_holds_the_wrapper_and_only_what_runs_on_lambda(layer_zip):
    names = zipfile.ZipFile(io.BytesIO(layer_zip)).namelist()
    assert WRAPPER_NAME in names
    sources = {n for n in names if n.endswith(".py")}
    assert {
        "python/lambdastream/__init__.py",
        "python/lambdastream/runtime/bootstrap.py",
        "python/lambdastream/runtime/http.py",
        "python/lambdastream/runtime/snapstart.py",
        "python/lambdastream/bedrock/stream.py",
        "python/lambdastream/asgi.py",
        "python/lambdastream/wsgi.py",
        "python/lambdastream/runtime/asgi_server.py",
        # the protocols the runtime speaks ship with it
        "python/lambdastream/wire/__init__.py",
        "python/lambdastream/wire/chunks.py",
        "python/lambdastream/wire/integration.py",
        "python/lambdastream/wire/dechunk.py",
    } <= sources
    assert all(n == WRAPPER_NAME or n.startswith("python/lambdastream/") for n in names)
    assert [n for n in names if any(part in n for part in NOT_IN_LAYER)] == []
    # Small: a few hundred KiB with .pyc files for four Pythons (~830 KiB
    # with the ASGI and WSGI adapters and the Managed Instances workers,
    # ~1,050 KiB with the OpenAI and AI SDK protocols). Size is not cold
    # start: only what a function imports is read.
    assert len(layer_zip) < 1200 * 1024, len(layer_zip)


def test_every_module_ships_compiled_for_every_python_found(layer_zip):
    names = set(zipfile.ZipFile(io.BytesIO(layer_zip)).namelist())
    tags = [f"cpython-{v.replace('.', '')}" for v in lambda_pythons()]
    assert tags
    for source in (n for n in names if n.endswith(".py")):
        folder, _, module = source.rpartition("/")
        for tag in tags:
            assert f"{folder}/__pycache__/{module[:-3]}.{tag}.pyc" in names, (source, tag)


def test_two_builds_are_byte_identical(layer_zip):
    again = build_layer().zip_bytes()
    assert hashlib.sha256(again).hexdigest() == hashlib.sha256(layer_zip).hexdigest()


def test_the_wrapper_is_executable_and_the_rest_is_not(layer_zip):
    archive = zipfile.ZipFile(io.BytesIO(layer_zip))
    for info in archive.infolist():
        mode = info.external_attr >> 16
        assert stat.S_ISREG(mode)
        assert stat.S_IMODE(mode) == (0o755 if info.filename == WRAPPER_NAME else 0o644)


@pytest.fixture(scope="module")
def opt(tmp_path_factory, layer_zip) -> Path:
    """The layer unpacked as Lambda unpacks it (keeping modes), read-only like /opt."""
    root = tmp_path_factory.mktemp("opt")
    with zipfile.ZipFile(io.BytesIO(layer_zip)) as archive:
        for info in archive.infolist():
            path = root / info.filename
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(archive.read(info))
            path.chmod(stat.S_IMODE(info.external_attr >> 16))
    for path in sorted(root.rglob("*"), reverse=True):
        path.chmod(path.stat().st_mode & ~0o222)
    yield root
    for path in root.rglob("*"):
        path.chmod(path.stat().st_mode | 0o200)


@pytest.mark.parametrize("version", sorted(lambda_pythons()))
def test_each_python_loads_the_runtime_from_its_pyc_files(opt, version):
    interpreter = lambda_pythons()[version]
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "import lambdastream.runtime.bootstrap, lambdastream.runtime.http, lambdastream.bedrock"
    )
    result = subprocess.run(
        [interpreter, "-v", "-c", probe, str(opt / "python")],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"]},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stderr.splitlines()
    loaded = [line for line in lines if str(opt) in line and "code object from" in line]
    assert len(loaded) >= 10, result.stderr[-2000:]
    # `-v` says where each code object came from: a .pyc, never a compiled .py
    # (the directory is read-only, as /opt is, so a compile could not be saved).
    tag = f"cpython-{version.replace('.', '')}.pyc"
    assert all("__pycache__/" in line and tag in line for line in loaded), loaded


def _wrapper(opt: Path, *args: str, env: dict[str, str] | None = None):
    return subprocess.run(
        [str(opt / WRAPPER_NAME), *args],
        capture_output=True,
        text=True,
        env=env if env is not None else {"PATH": os.environ["PATH"]},
        timeout=30,
    )


def test_the_wrapper_started_by_hand_says_what_it_expects(opt):
    result = _wrapper(opt)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert "expected the interpreter and bootstrap script" in result.stderr


def test_the_wrapper_without_lambdas_variables_is_one_clear_line(opt, tmp_path):
    result = _wrapper(opt, sys.executable, str(tmp_path / "bootstrap.py"))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "AWS_LAMBDA_RUNTIME_API and LAMBDA_TASK_ROOT not set" in lines[0]
    assert "lambdastream dev" in lines[0]


def test_the_wrapper_keeps_the_interpreters_flags(opt, tmp_path):
    # AWS's own example wrapper adds `-X importtime` before the script; flags
    # between the interpreter and the script belong to the interpreter.
    result = _wrapper(opt, sys.executable, "-X", "importtime", str(tmp_path / "bootstrap.py"))
    assert result.returncode == 2
    assert "import time:" in result.stderr
    assert "lambdastream.runtime.bootstrap" in result.stderr
