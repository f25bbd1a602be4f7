"""Bytecode a read-only Lambda never has to make: unchecked-hash ``.pyc`` files.

Lambda unpacks a function into ``/var/task`` and its layers into ``/opt``,
both read-only: a module without a usable ``.pyc`` for the runtime's Python
is compiled from source, in memory, at every cold start (FastAPI, Starlette
and Pydantic together: about half a second). :func:`compile_tree` has the
runtime's own interpreter compile every module of a directory in place
(``__pycache__/NAME.cpython-3XX.pyc``: only that interpreter's magic number
and tag will do), as unchecked-hash files (PEP 552): no source date inside,
so they stay valid whatever dates unzipping gives the files, and importing
one does not even read the source to check it. Each is compiled under the
path its module has on Lambda (``/var/task/...``, ``/opt/python/...``, what
tracebacks show) with hash randomization off, so that the same sources give
the same bytes.

Example::

    >>> import sys, tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = (root / "app.py").write_text("handler = None\\n")
    >>> done = compile_tree(sys.executable, root, "/var/task")
    >>> done.compiled, done.failed
    (1, [])
    >>> [p.name for p in (root / "__pycache__").iterdir()] == [f"app.{done.tag}.pyc"]
    True
    >>> (root / "__pycache__" / f"app.{done.tag}.pyc").read_bytes()[4:8]  # flags: unchecked hash
    b'\\x01\\x00\\x00\\x00'
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["BytecodeError", "Compiled", "compile_tree", "interpreter_env"]

# Run by the target interpreter: compile every .py under the root, in place,
# each under its path on Lambda; report what did not compile (a module that
# does not compile on this Python cannot be imported on it either).
_COMPILE = r"""
import json, os, py_compile, sys
root, prefix = sys.argv[1], sys.argv[2].rstrip("/")
compiled, failed = 0, []
for folder, dirs, files in os.walk(root):
    dirs[:] = sorted(d for d in dirs if d != "__pycache__")
    for name in sorted(files):
        if not name.endswith(".py"):
            continue
        path = os.path.join(folder, name)
        rel = os.path.relpath(path, root).replace(os.sep, "/")
        try:
            py_compile.compile(
                path,
                dfile=prefix + "/" + rel,
                doraise=True,
                invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
            )
            compiled += 1
        except (py_compile.PyCompileError, ValueError) as exc:
            failed.append([rel, str(exc).strip().splitlines()[-1]])
print(json.dumps({
    "version": "%d.%d" % sys.version_info[:2],
    "tag": sys.implementation.cache_tag,
    "compiled": compiled,
    "failed": failed,
}))
"""


class BytecodeError(RuntimeError):
    """The interpreter could not compile the tree (it did not run, or is not the one asked for)."""


@dataclass
class Compiled:
    """What :func:`compile_tree` did: for which Python, how many modules, which failed."""

    version: str  # "3.13"
    tag: str  # "cpython-313", the .pyc files' tag
    compiled: int
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path in the tree, why)


def interpreter_env() -> dict[str, str]:
    """This environment for running a target interpreter: no ``PYTHON*`` setting of
    ours (a ``PYTHONPATH`` or ``PYTHONPYCACHEPREFIX`` would change what it does),
    hash randomization off (a set's constants are marshalled in hash order)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONHASHSEED"] = "0"
    return env


def compile_tree(
    interpreter: str, root: Path, prefix: str, *, version: str | None = None
) -> Compiled:
    """Compile every ``.py`` under ``root`` in place with ``interpreter``.

    ``prefix`` is where ``root`` is on Lambda (``/var/task``); ``version``
    ("3.13"), when given, is the Python the interpreter must be. Raises
    :class:`BytecodeError` if the interpreter fails or is another version.
    """
    try:
        result = subprocess.run(
            [interpreter, "-s", "-c", _COMPILE, str(root), prefix],
            capture_output=True,
            text=True,
            env=interpreter_env(),
            timeout=900,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise BytecodeError(f"compiling with {interpreter}: {exc}") from exc
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise BytecodeError(f"compiling with {interpreter}: {detail[0]}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    if version is not None and report["version"] != version:
        raise BytecodeError(f"{interpreter} is Python {report['version']}, not {version}")
    failed = [(rel, why) for rel, why in report["failed"]]
    return Compiled(report["version"], report["tag"], report["compiled"], failed)
