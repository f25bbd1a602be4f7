"""What the deploy tests share: the templates (the examples', and the projects
``lambdastream init`` writes), the tools they drive, an offline environment."""

from __future__ import annotations

import atexit
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from support import missing

from lambdastream.deploy import scaffold

REPO = Path(__file__).resolve().parents[2]
CHAT_DIR = REPO / "examples" / "chat"
CHAT_TEMPLATE = CHAT_DIR / "template.yaml"
# The examples' SAM templates (picked up as they are added), not what a
# local `sam build` left in a hidden .aws-sam/.
EXAMPLE_TEMPLATES = sorted(
    path
    for path in REPO.glob("examples/**/template.yaml")
    if not any(part.startswith(".") for part in path.relative_to(REPO).parts)
)
# The projects `lambdastream init DIR --template CHOICE` writes, one per
# choice (picked up as choices are added), as a user gets them: written by
# the scaffold's own write_project, placeholders filled in, once per test
# process into a temporary directory.
_INIT_ROOT = Path(tempfile.mkdtemp(prefix="lambdastream-init-"))
atexit.register(shutil.rmtree, _INIT_ROOT, ignore_errors=True)
INIT_PROJECTS = {choice: _INIT_ROOT / f"my-{choice}" for choice in sorted(scaffold.TEMPLATES)}
for _choice, _directory in INIT_PROJECTS.items():
    scaffold.write_project(_directory, _directory.name, _choice)
INIT_TEMPLATES = {choice: project / "template.yaml" for choice, project in INIT_PROJECTS.items()}
# Every SAM template the project ships: the examples' and those `init` writes.
TEMPLATES = [*EXAMPLE_TEMPLATES, *INIT_TEMPLATES.values()]
_INIT_IDS = {path: f"init-{choice}" for choice, path in INIT_TEMPLATES.items()}
# A port nothing listens on: any attempt to reach the network through a
# proxy fails at once instead of hanging or, worse, succeeding.
_DEAD_PROXY = "http://127.0.0.1:9"


def template_id(path: Path) -> str:
    """A short test id: ``init-CHOICE``, or the template's directory relative to the repository."""
    return _INIT_IDS.get(path) or path.parent.relative_to(REPO).as_posix()


def _missing(what: str) -> None:
    missing(what, "make install and make sam-cli install the deploy tools")


def need_executable(name: str) -> str:
    """The path of a command installed next to this Python, else on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        _missing(f"the {name} command")
    return str(found)


def need_module(name: str) -> ModuleType:
    """Import ``name``, or fail (CI) / skip (elsewhere) when it is not installed."""
    if importlib.util.find_spec(name) is None:
        _missing(f"the Python module {name}")
    return __import__(name)


def need_python_bin(version: str) -> str:
    """A directory whose ``python<version>`` runs: PATH first, then pyenv's versions.

    sam's Python build checks that the function's runtime version is on PATH;
    pyenv's shims do not run versions that are not selected, so the
    interpreter's own bin directory goes first on PATH instead.
    """
    from lambdastream.deploy.layer import find_interpreters

    interpreter = find_interpreters((version,)).get(version)
    if interpreter is None:
        _missing(f"a Python {version} interpreter (sam builds the function with its runtime's)")
        raise AssertionError("unreachable")
    return str(Path(interpreter).parent)


def run_sam(
    args: list[str], cwd: Path, *, path: list[str], index: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run ``sam ARGS`` in ``cwd`` with ``path`` first on PATH: offline, or ``index_env``."""
    sam = need_executable("sam")
    environment = index_env if index else offline_env
    env = environment(PATH=os.pathsep.join([*path, os.environ.get("PATH", "")]))
    return subprocess.run(
        [sam, *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )


def offline_env(**extra: str) -> dict[str, str]:
    """This environment with every way out closed: proxies to a dead port, no package index."""
    env = {k: v for k, v in os.environ.items() if k.lower() != "no_proxy"}
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy"):
        env[name] = _DEAD_PROXY
    env.update(
        PIP_NO_INDEX="1",
        SAM_CLI_TELEMETRY="0",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_DEFAULT_REGION="us-east-1",
        **extra,
    )
    return env


def index_env(**extra: str) -> dict[str, str]:
    """This environment as a user has it: their proxies, their pip configuration.

    For a build whose requirements pip must fetch from the package index.
    As in ``offline_env``: no telemetry, no EC2 metadata, a Region.
    """
    return {
        **os.environ,
        "SAM_CLI_TELEMETRY": "0",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
        **extra,
    }


def need_package_index(python: str, packages: list[str], *, platform: str, version: str) -> None:
    """Fail (CI) or skip (elsewhere) unless ``python``'s pip can fetch ``packages``' wheels.

    The wheels for ``platform`` and Python ``version`` (a function's
    architecture and runtime), as sam's Python build fetches them: without
    them, a build fails for want of the index, not for a fault of its own.
    """
    with tempfile.TemporaryDirectory() as dest:
        try:
            result = subprocess.run(
                [python, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                 "--platform", platform, "--python-version", version, "--implementation", "cp",
                 "--timeout", "15", "--retries", "1", "--dest", dest, *packages],
                env=index_env(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=120,
            )  # fmt: skip
            reason = None if result.returncode == 0 else result.stderr.strip() or "no output"
        except subprocess.TimeoutExpired:
            reason = "no answer in 120 s"
    if reason is not None:
        reason = reason.splitlines()[-1]
        missing(
            f"a package index with {', '.join(packages)} for {platform}, Python {version}"
            f" ({reason})",
            f"pip download {' '.join(packages)} must reach pip's configured index",
        )


# Run by the function's Python: every .py under each root, and what is wrong
# with its bytecode; prefix, when given, is where root is on Lambda (the
# path each module must be compiled under).
_INSPECT = r"""
import importlib.util, json, marshal, os, sys
problems, sources = [], 0
tag = sys.implementation.cache_tag
for root, prefix in json.loads(sys.argv[1]):
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            if not name.endswith(".py"):
                continue
            sources += 1
            source = os.path.join(folder, name)
            rel = os.path.relpath(source, root)
            pyc = os.path.join(folder, "__pycache__", f"{name[:-3]}.{tag}.pyc")
            try:
                with open(pyc, "rb") as f:
                    data = f.read()
            except OSError:
                problems.append([rel, "no " + os.path.basename(pyc)])
                continue
            with open(source, "rb") as f:
                expected = importlib.util.source_hash(f.read())
            if data[:4] != importlib.util.MAGIC_NUMBER:
                problems.append([rel, "magic number of another Python"])
            elif int.from_bytes(data[4:8], "little") != 0b01:
                problems.append([rel, f"flags {int.from_bytes(data[4:8], 'little'):#04b}"])
            elif data[8:16] != expected:
                problems.append([rel, "the hash of another source"])
            elif prefix and marshal.loads(data[16:]).co_filename != prefix + "/" + rel:
                problems.append([rel, "compiled as " + marshal.loads(data[16:]).co_filename])
print(json.dumps({"tag": tag, "sources": sources, "problems": problems}))
"""


def inspect_bytecode(python: Path, roots: list[tuple[Path, str | None]]) -> dict:
    """What ``python`` finds wrong with the bytecode of every ``.py`` under each root.

    Each root comes with where it is on Lambda (``/var/task``), or None not to
    check the paths compiled in. Returns ``{"tag": "cpython-313", "sources": N,
    "problems": [[path, why], ...]}``: the interpreter's own cache tag, magic
    number and source hash decide.
    """
    pairs = [[str(root), prefix] for root, prefix in roots]
    result = subprocess.run(
        [str(python), "-I", "-c", _INSPECT, json.dumps(pairs)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
