"""What the deploy tests share: the templates, the tools they drive, an offline environment."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from support import missing

REPO = Path(__file__).resolve().parents[2]
CHAT_DIR = REPO / "examples" / "chat"
CHAT_TEMPLATE = CHAT_DIR / "template.yaml"
# Every SAM template the project ships: the examples' and the project
# templates `lambdastream init` writes (picked up as they are added), not
# what a local `sam build` left in a hidden .aws-sam/.
TEMPLATES = sorted(
    path
    for pattern in ("examples/**/template.yaml", "src/lambdastream/deploy/**/template.yaml")
    for path in REPO.glob(pattern)
    if not any(part.startswith(".") for part in path.relative_to(REPO).parts)
)
# A port nothing listens on: any attempt to reach the network through a
# proxy fails at once instead of hanging or, worse, succeeding.
_DEAD_PROXY = "http://127.0.0.1:9"


def template_id(path: Path) -> str:
    """A short test id: the template's directory relative to the repository."""
    return path.parent.relative_to(REPO).as_posix()


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


def run_sam(args: list[str], cwd: Path, *, path: list[str]) -> subprocess.CompletedProcess[str]:
    """Run ``sam ARGS`` in ``cwd``, offline, with ``path`` first on PATH."""
    sam = need_executable("sam")
    env = offline_env(PATH=os.pathsep.join([*path, os.environ.get("PATH", "")]))
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
