"""What a managed Python runtime gives a function, built from this machine.

Lambda's ``python3.x`` runtime starts ``/var/lang/bin/python3.x
/var/runtime/bootstrap.py`` (or, with ``AWS_LAMBDA_EXEC_WRAPPER``, the
wrapper with those two as arguments); the interpreter has nothing installed,
boto3 and botocore live in ``/var/runtime`` beside the bootstrap, layers are
unpacked into ``/opt`` and the function's code into ``/var/task``. The
stand-in puts each of these in a directory: a venv without pip for
``/var/lang`` (an interpreter with the standard library only), a directory
with links to this machine's boto3 and botocore for ``/var/runtime``, and a
``bootstrap.py`` there that fails loudly if it is ever run, since the
wrapper must replace it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# What the managed runtime ships in /var/runtime that functions use.
_SDK_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")
MANAGED_BOOTSTRAP_RAN = "the managed runtime's own bootstrap ran"


@dataclass
class ManagedRuntime:
    """A stand-in for one managed ``python3.x`` runtime."""

    version: str  # "3.13"
    python: Path  # stands for /var/lang/bin/python3.x
    runtime_dir: Path  # stands for /var/runtime

    @property
    def bootstrap(self) -> Path:
        """Stands for /var/runtime/bootstrap.py."""
        return self.runtime_dir / "bootstrap.py"

    def wrapper_command(self, wrapper: Path) -> list[str]:
        """What the managed runtime runs when ``AWS_LAMBDA_EXEC_WRAPPER=wrapper``."""
        return [str(wrapper), str(self.python), str(self.bootstrap)]

    @property
    def execution_env(self) -> str:
        """The ``AWS_EXECUTION_ENV`` the managed bootstrap exports."""
        return f"AWS_Lambda_python{self.version}"


def build(root: Path, version: str, interpreter: str) -> ManagedRuntime:
    """Make the stand-in under ``root`` for ``interpreter`` (Python ``version``)."""
    lang = root / "var-lang"
    subprocess.run(
        [interpreter, "-m", "venv", "--without-pip", str(lang)], check=True, capture_output=True
    )
    runtime_dir = root / "var-runtime"
    runtime_dir.mkdir()
    (runtime_dir / "bootstrap.py").write_text(f"raise SystemExit({MANAGED_BOOTSTRAP_RAN!r})\n")
    site = Path(__import__("botocore").__file__).resolve().parents[1]
    for name in _SDK_PACKAGES:
        for candidate in (site / name, site / f"{name}.py"):
            if candidate.exists():
                (runtime_dir / candidate.name).symlink_to(candidate)
    return ManagedRuntime(version, lang / "bin" / f"python{version}", runtime_dir)


def lambda_pythons() -> dict[str, str]:
    """Lambda's Python versions this machine has: version -> interpreter."""
    from lambdastream.deploy.layer import find_interpreters

    return find_interpreters()


def newest_lambda_python(required: str = "3.13") -> tuple[str, str]:
    """The interpreter for ``required``, else the newest Lambda Python here.

    Under CI the required one must exist: the templates deploy on it.
    """
    found = lambda_pythons()
    if required in found:
        return required, found[required]
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"CI needs a python{required} here; found {sorted(found)}")
    version = max(found, key=lambda v: tuple(map(int, v.split("."))))
    return version, found[version]


def current_python() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"
