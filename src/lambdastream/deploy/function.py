"""A function's deployment package, with bytecode: ``lambdastream build function``.

What ``sam build``'s Python workflow makes of a function (its
requirements installed from wheels for the function's runtime and
architecture, then its code copied over them, minus what that workflow
leaves out), plus what it leaves out that matters: every module compiled by
the runtime's own Python into an unchecked-hash ``.pyc``
(:mod:`lambdastream.deploy.bytecode`). Lambda's ``/var/task`` is read-only,
so without them each cold start compiles every dependency again.

The templates' Makefiles run it for ``sam build`` (``BuildMethod:
makefile``); for CDK, Terraform or anything that takes a zip or a
directory, it is the one command::

    lambdastream build function --runtime python3.13 --arch arm64 -o function.zip
    lambdastream build function --runtime python3.13 --arch arm64 --dir "$ARTIFACTS_DIR"

The wheels are chosen as sam chooses them (pip's ``--platform`` for each
manylinux level the runtime's glibc allows, ``--only-binary=:all:``):

    >>> wheel_platforms("3.13", "arm64")  # doctest: +NORMALIZE_WHITESPACE
    ['manylinux2014_aarch64', 'manylinux_2_17_aarch64',
     'manylinux_2_28_aarch64', 'manylinux_2_34_aarch64']
    >>> wheel_platforms("3.11", "x86_64")[-1]
    'manylinux_2_17_x86_64'
    >>> runtime_version("python3.13")
    '3.13'
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lambdastream.deploy.bytecode import BytecodeError, Compiled, compile_tree, interpreter_env

__all__ = [
    "ARCHITECTURES",
    "EXCLUDED",
    "BuildError",
    "FunctionBuild",
    "build_function",
    "check_output",
    "has_requirements",
    "runtime_version",
    "wheel_platforms",
]

# Lambda's architecture names -> the machine names in wheel tags.
ARCHITECTURES = {"arm64": "aarch64", "x86_64": "x86_64"}
# Where a function's code is on Lambda: the path its bytecode is compiled under.
TASK_ROOT = "/var/task"
# What sam's Python workflow leaves out when it copies a function's code
# (aws-lambda-builders' python_pip EXCLUDED_FILES), matched against each
# file's or directory's name: the same package, with bytecode.
EXCLUDED = (
    ".aws-sam", ".chalice", ".git", ".gitignore", "*.pyc", "__pycache__", "*.so", ".Python",
    "*.egg-info", "*.egg", "pip-log.txt", "pip-delete-this-directory.txt", "htmlcov", ".tox",
    ".nox", ".coverage", ".cache", ".pytest_cache", ".python-version", ".mypy_cache",
    ".dmypy.json", ".pyre", ".env", ".venv", "venv", "venv.bak", "env.bak", "ENV", "env",
    ".vscode", ".idea",
)  # fmt: skip
# The newest manylinux level each runtime's glibc runs (Amazon Linux 2:
# glibc 2.26, so manylinux_2_17 wheels; Amazon Linux 2023, from python3.12:
# glibc 2.34), and every level below it that pip knows a tag for.
_LEVELS = ("manylinux2014", "manylinux_2_17", "manylinux_2_28", "manylinux_2_34")
_NEWEST_LEVEL = {"3.10": "manylinux_2_17", "3.11": "manylinux_2_17"}
_RUNTIME = re.compile(r"^python(3\.\d+)$")


class BuildError(RuntimeError):
    """The function cannot be built as asked; the message says why and what to do."""


@dataclass
class FunctionBuild:
    """What :func:`build_function` put in the package."""

    root: Path  # the package, as Lambda unpacks it into /var/task
    runtime: str  # "python3.13"
    architecture: str  # "arm64"
    installed: bool  # whether requirements were installed
    bytecode: Compiled


def runtime_version(runtime: str) -> str:
    """The Python version of a Lambda runtime name; raises :class:`BuildError` for others."""
    match = _RUNTIME.match(runtime)
    if not match:
        raise BuildError(f"{runtime!r} is not a Lambda Python runtime (python3.10 ... python3.14)")
    return match.group(1)


def wheel_platforms(version: str, architecture: str) -> list[str]:
    """pip's ``--platform`` values for Lambda's Python ``version`` on ``architecture``."""
    machine = ARCHITECTURES[architecture]
    newest = _LEVELS.index(_NEWEST_LEVEL.get(version, "manylinux_2_34"))
    levels = list(_LEVELS[: newest + 1])
    if machine == "x86_64":  # manylinux1 and 2010 were never made for arm64
        levels[:0] = ["manylinux1", "manylinux2010"]
    return [f"{level}_{machine}" for level in levels]


def has_requirements(text: str) -> bool:
    """Whether a requirements file asks for anything (pip refuses to install nothing).

    >>> has_requirements("# boto3 comes with the runtime\\n\\n"), has_requirements("fastapi\\n")
    (False, True)
    """
    return any(line.split("#", 1)[0].strip() for line in text.splitlines())


def build_function(
    source: Path,
    out: Path,
    *,
    runtime: str,
    architecture: str,
    interpreter: str,
    requirements: Path | None = None,
    leave_out: Sequence[Path] = (),
    log: Callable[[str], None] = print,
) -> FunctionBuild:
    """Build the package of the function whose code is in ``source`` into the empty ``out``.

    ``interpreter`` is the runtime's Python (it compiles the bytecode, and its
    pip, or else this one's, installs ``requirements``); ``leave_out`` are
    paths under ``source`` not to copy (where the package is going). Raises
    :class:`BuildError`.
    """
    version = runtime_version(runtime)
    if architecture not in ARCHITECTURES:
        raise BuildError(f"{architecture!r} is not a Lambda architecture (arm64 or x86_64)")
    installed = False
    if requirements is not None and has_requirements(requirements.read_text()):
        _install(requirements, out, version, architecture, interpreter, log)
        installed = True
    _copy_code(source, out, [out, *leave_out])
    try:
        bytecode = compile_tree(interpreter, out, TASK_ROOT, version=version)
    except BytecodeError as exc:
        raise BuildError(str(exc)) from exc
    own = [rel for rel, _ in bytecode.failed if (source / rel).is_file()]
    if own:
        why = dict(bytecode.failed)[own[0]]
        raise BuildError(f"{own[0]} does not compile on Python {version}: {why}")
    return FunctionBuild(out, runtime, architecture, installed, bytecode)


def _install(
    requirements: Path,
    out: Path,
    version: str,
    architecture: str,
    interpreter: str,
    log: Callable[[str], None],
) -> None:
    # pip chooses by the tags given, not by the interpreter that runs it:
    # any pip will do, the runtime's first, as sam uses it.
    pip = [interpreter, "-m", "pip"] if _has_pip(interpreter) else [sys.executable, "-m", "pip"]
    platforms = [
        arg for tag in wheel_platforms(version, architecture) for arg in ("--platform", tag)
    ]
    command = [
        *pip, "install", "--quiet", "--disable-pip-version-check", "--no-warn-script-location",
        "--target", str(out), "--requirement", str(requirements),
        # Wheels for Lambda, not for this machine: its Python, its architecture.
        "--only-binary=:all:", "--implementation", "cp", "--python-version", version, *platforms,
        # pip would compile them with timestamps, by whatever runs it: ours come next.
        "--no-compile",
    ]  # fmt: skip
    log(f"installing {requirements.name} for python{version} on {architecture}")
    # A build as root (containers, CI) is deliberate here: pip installs into a directory only.
    env = {**interpreter_env(), "PIP_ROOT_USER_ACTION": "ignore"}
    result = subprocess.run(command, env=env, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise BuildError(
            f"pip could not install {requirements} for python{version} on {architecture}"
            " (above). Every requirement needs a wheel for that Python and architecture, or"
            " a pure-Python one: for a package published as source only, build its wheel"
            " (pip wheel --no-deps -w wheels NAME) and set PIP_FIND_LINKS=wheels"
        )


def _has_pip(interpreter: str) -> bool:
    probe = "import importlib.util, sys; sys.exit(importlib.util.find_spec('pip') is None)"
    try:
        command = [interpreter, "-s", "-c", probe]
        return subprocess.run(command, env=interpreter_env(), timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _copy_code(source: Path, out: Path, leave_out: Sequence[Path]) -> None:
    """Copy the code over what pip installed, minus :data:`EXCLUDED` and ``leave_out``."""
    skip = {path.resolve() for path in leave_out}

    def ignore(folder: str, names: list[str]) -> set[str]:
        ignored = {n for n in names if any(fnmatch.fnmatch(n, p) for p in EXCLUDED)}
        return ignored | {n for n in names if Path(folder, n).resolve() in skip}

    shutil.copytree(source, out, ignore=ignore, dirs_exist_ok=True)


def _is_inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def check_output(source: Path, out: Path) -> None:
    """Refuse an output that would hold the source: copying it in would never end.

    >>> check_output(Path("/p"), Path("/p/build/function.zip"))
    >>> check_output(Path("/p/src"), Path("/p"))
    Traceback (most recent call last):
    ...
    lambdastream.deploy.function.BuildError: the output /p holds the code in /p/src
    """
    if _is_inside(source, out):
        raise BuildError(f"the output {out} holds the code in {source}")
