"""Build the Lambda layer: the runtime for the managed Python runtimes.

The layer unpacks into ``/opt``::

    lambdastream                      the exec wrapper (AWS_LAMBDA_EXEC_WRAPPER)
    python/lambdastream/...           what runs on Lambda: the runtime,
                                      StreamingResponse/sse, stream_text

and nothing else: no local tools, no tests. Each module ships compiled for
every Lambda Python this machine has (``__pycache__/*.cpython-3XX.pyc``):
``/opt`` is read-only on Lambda, so a module without its ``.pyc`` would be
compiled again at every cold start. The ``.pyc`` files are unchecked-hash
ones (no timestamp inside, no source ``stat`` at import) and the zip's
entries are sorted with fixed dates and modes, so two builds of the same
source with the same interpreters give the same bytes.

Example::

    lambdastream build layer -o lambdastream-layer.zip
    aws lambda publish-layer-version --layer-name lambdastream \\
        --zip-file fileb://lambdastream-layer.zip \\
        --compatible-runtimes python3.12 python3.13
"""

from __future__ import annotations

import glob
import io
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["LAMBDA_PYTHONS", "Layer", "build_layer", "find_interpreters", "layer_modules"]

# The managed Python runtimes Lambda lists (and the next one, when it comes).
LAMBDA_PYTHONS = ("3.10", "3.11", "3.12", "3.13", "3.14")
WRAPPER_NAME = "lambdastream"
# What a function runs that the layer must carry; everything they import
# from lambdastream comes along (found by modulefinder, lazy imports too).
ENTRY_MODULES = (
    "lambdastream",
    "lambdastream.runtime.bootstrap",
    "lambdastream.runtime.__main__",
    "lambdastream.runtime.http",
    "lambdastream.asgi",
    "lambdastream.wsgi",
    "lambdastream.bedrock",
)
# Where the package lands on Lambda; also the path compiled into the .pyc
# files, so that they do not depend on where the build ran.
_OPT_PYTHON = "/opt/python"
# Zip entries get this date (the zip format's earliest) unless
# SOURCE_DATE_EPOCH says otherwise.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)

# Run by each interpreter: compile the given sources into their
# __pycache__ files under the output directory.
_COMPILE = """
import importlib.util, py_compile, sys
out, files = sys.argv[1], sys.argv[2:]
for rel in files:
    py_compile.compile(
        out + "/src/" + rel,
        cfile=out + "/" + importlib.util.cache_from_source(rel),
        dfile=%r + "/" + rel,
        doraise=True,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
print("%%d.%%d" %% sys.version_info[:2])
"""


@dataclass
class Layer:
    """What a build produced: the files (path in the zip -> bytes) and for whom."""

    files: dict[str, bytes] = field(default_factory=dict)
    pythons: list[str] = field(default_factory=list)

    def zip_bytes(self) -> bytes:
        """The layer as a zip, the same bytes for the same files."""
        date = _zip_date()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name in sorted(self.files):
                info = zipfile.ZipInfo(name, date_time=date)
                info.create_system = 3  # Unix: Lambda keeps the modes below
                mode = 0o755 if name == WRAPPER_NAME else 0o644
                info.external_attr = (0o100000 | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, self.files[name], compresslevel=9)
        return buffer.getvalue()

    def write_dir(self, directory: Path) -> None:
        """Unpack the layer into ``directory``, as Lambda unpacks it into /opt."""
        for name, data in self.files.items():
            path = directory / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            path.chmod(0o755 if name == WRAPPER_NAME else 0o644)


def layer_modules(src: Path) -> list[str]:
    """The package's modules the layer carries, as paths relative to ``src``.

    >>> "lambdastream/local/command.py" in layer_modules(Path(__file__).parents[2])
    False
    """
    import modulefinder

    finder = modulefinder.ModuleFinder(path=[str(src)])
    for name in ENTRY_MODULES:
        finder.import_hook(name)
    files = []
    for name, module in finder.modules.items():
        path = getattr(module, "__file__", None)
        if (name == "lambdastream" or name.startswith("lambdastream.")) and path:
            files.append(Path(path).resolve().relative_to(src.resolve()).as_posix())
    return sorted(files)


def find_interpreters(versions: tuple[str, ...] = LAMBDA_PYTHONS) -> dict[str, str]:
    """Lambda's Python versions this machine can run: version -> interpreter.

    Looks for ``python3.X`` on ``PATH``, then under pyenv's versions; an
    interpreter counts only if it runs (pyenv's shims exist for versions
    they will not run).
    """
    found: dict[str, str] = {}
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    for version in versions:
        candidates = []
        if f"{sys.version_info[0]}.{sys.version_info[1]}" == version:
            candidates.append(sys.executable)
        if on_path := shutil.which(f"python{version}"):
            candidates.append(on_path)
        pattern = os.path.join(pyenv_root, "versions", f"{version}.*", "bin", f"python{version}")
        candidates += sorted(glob.glob(pattern), reverse=True)
        for candidate in candidates:
            if _runs_as(candidate, version):
                found[version] = candidate
                break
    return found


def _runs_as(interpreter: str, version: str) -> bool:
    try:
        result = subprocess.run(
            [interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0 and result.stdout.strip() == version


def build_layer(src: Path | None = None, interpreters: dict[str, str] | None = None) -> Layer:
    """Build the layer from the package in ``src`` (default: this installation's).

    ``interpreters`` maps a Python version to the interpreter that compiles
    its ``.pyc`` files (default: :func:`find_interpreters`).
    """
    import tempfile

    src = src or Path(__file__).resolve().parents[2]
    if interpreters is None:
        interpreters = find_interpreters()
    modules = layer_modules(src)
    layer = Layer()
    layer.files[WRAPPER_NAME] = (Path(__file__).parent / "wrapper.sh").read_bytes()
    for rel in modules:
        layer.files[f"python/{rel}"] = (src / rel).read_bytes()
    with tempfile.TemporaryDirectory(prefix="lambdastream-layer-") as tmp:
        out = Path(tmp)
        for rel in modules:
            (out / "src" / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / "src" / rel).write_bytes(layer.files[f"python/{rel}"])
        for version, interpreter in sorted(interpreters.items()):
            _compile(interpreter, version, out, modules)
            layer.pythons.append(version)
        for path in sorted(out.rglob("*.pyc")):
            layer.files[f"python/{path.relative_to(out).as_posix()}"] = path.read_bytes()
    return layer


def _compile(interpreter: str, version: str, out: Path, modules: list[str]) -> None:
    # A fresh interpreter per version, with hash randomization off: a set of
    # strings in a module's constants is marshalled in hash order.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONHASHSEED"] = "0"
    result = subprocess.run(
        [interpreter, "-s", "-c", _COMPILE % _OPT_PYTHON, str(out), *modules],
        capture_output=True,
        text=True,
        env=env,
        cwd=out / "src",
    )
    if result.returncode != 0 or result.stdout.strip() != version:
        detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"compiling for Python {version} with {interpreter}: {detail[0]}")


def _zip_date() -> tuple[int, int, int, int, int, int]:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return _ZIP_EPOCH
    import time

    stamp = time.gmtime(max(int(epoch), 315532800))  # the zip format starts in 1980
    return (stamp.tm_year, stamp.tm_mon, stamp.tm_mday, stamp.tm_hour, stamp.tm_min, stamp.tm_sec)
