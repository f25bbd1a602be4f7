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
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from lambdastream.deploy.archive import zip_bytes
from lambdastream.deploy.bytecode import compile_tree

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
    # the protocols the chat function speaks to OpenAI and AI SDK clients
    "lambdastream.chatapi.openai_chat",
    "lambdastream.chatapi.ui_stream",
)
# Where the package lands on Lambda; also the path compiled into the .pyc
# files, so that they do not depend on where the build ran.
_OPT_PYTHON = "/opt/python"


@dataclass
class Layer:
    """What a build produced: the files (path in the zip -> bytes) and for whom."""

    files: dict[str, bytes] = field(default_factory=dict)
    pythons: list[str] = field(default_factory=list)

    def zip_bytes(self) -> bytes:
        """The layer as a zip, the same bytes for the same files."""
        return zip_bytes((name, data, name == WRAPPER_NAME) for name, data in self.files.items())

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
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / rel).write_bytes(layer.files[f"python/{rel}"])
        for version, interpreter in sorted(interpreters.items()):
            done = compile_tree(interpreter, out, _OPT_PYTHON, version=version)
            if done.failed:
                rel, why = done.failed[0]
                raise RuntimeError(f"compiling {rel} for Python {version}: {why}")
            layer.pythons.append(version)
        for path in sorted(out.rglob("*.pyc")):
            layer.files[f"python/{path.relative_to(out).as_posix()}"] = path.read_bytes()
    return layer
