"""``lambdastream build``: the layer for Lambda's managed Python runtimes, or a function's package.

Example::

    lambdastream build layer -o lambdastream-layer.zip
    lambdastream build layer --dir .aws-sam/layer      # unpacked, for sam build
    lambdastream build function --runtime python3.13 --arch arm64 -o function.zip
    lambdastream build function --runtime python3.13 --arch arm64 --dir "$ARTIFACTS_DIR"
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
from pathlib import Path

__all__ = ["add_arguments", "run"]

# `build function`'s own flags: refused with `build layer`, which has no use for them.
_FUNCTION_FLAGS = ("runtime", "arch", "src", "requirements", "python")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``build``'s flags."""
    parser.add_argument(
        "what",
        choices=["layer", "function"],
        help="layer: lambdastream's runtime for the managed Python runtimes; function: a"
        " function's package (its code and requirements for its runtime and architecture,"
        " every module compiled to bytecode by the runtime's Python)",
    )
    out = parser.add_mutually_exclusive_group()
    out.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        metavar="FILE",
        help="the zip to write (default lambdastream-layer.zip, or function.zip)",
    )
    out.add_argument(
        "--dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="write it unpacked into DIR instead (as Lambda unpacks it: /opt, /var/task)",
    )
    function = parser.add_argument_group("build function")
    function.add_argument(
        "--runtime", metavar="RUNTIME", help="the function's Runtime (python3.10 ... python3.14)"
    )
    function.add_argument(
        "--arch", choices=["arm64", "x86_64"], help="the function's architecture (Architectures)"
    )
    function.add_argument(
        "--src",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="the function's code, copied as sam copies a CodeUri (default: .)",
    )
    function.add_argument(
        "--requirements",
        type=Path,
        default=None,
        metavar="FILE",
        help="what to install with it (default: requirements.txt in --src, if there is one)",
    )
    function.add_argument(
        "--python",
        default=None,
        metavar="INTERPRETER",
        help="the runtime's Python, which compiles the bytecode (default: python3.X on PATH,"
        " then pyenv's)",
    )


def run(args: argparse.Namespace) -> int:
    """Build what was asked for and say what it holds."""
    if args.what == "function":
        return _run_function(args)
    given = [f"--{name}" for name in _FUNCTION_FLAGS if _given(args, name)]
    if given:
        print(
            f"lambdastream build layer: {', '.join(given)} is for build function", file=sys.stderr
        )
        return 2
    return _run_layer(args)


def _given(args: argparse.Namespace, name: str) -> bool:
    value = getattr(args, name, None)
    return value is not None and not (name == "src" and value == Path("."))


def _run_layer(args: argparse.Namespace) -> int:
    from lambdastream.deploy.layer import LAMBDA_PYTHONS, WRAPPER_NAME, build_layer

    try:
        layer = build_layer()
    except (OSError, RuntimeError) as exc:
        print(f"lambdastream build: {exc}", file=sys.stderr)
        return 1
    if not layer.pythons:
        print("lambdastream build: found no Python 3.10 or newer to compile with", file=sys.stderr)
        return 1
    modules = sum(1 for name in layer.files if name.endswith(".py"))
    summary = f"{modules} modules, compiled for Python {', '.join(layer.pythons)}"
    try:
        if args.dir is not None:
            layer.write_dir(args.dir)
            where = f"{args.dir}/ ({summary})"
        else:
            path = args.output or Path("lambdastream-layer.zip")
            data = layer.zip_bytes()
            path.write_bytes(data)
            digest = hashlib.sha256(data).hexdigest()
            where = f"{path} ({len(data) // 1024} KiB, {summary}, sha256 {digest})"
    except OSError as exc:
        print(f"lambdastream build: {exc}", file=sys.stderr)
        return 1
    print(f"lambdastream build: wrote {where}")
    missing = [v for v in LAMBDA_PYTHONS if v not in layer.pythons]
    if missing:
        print(
            f"lambdastream build: no interpreter here for Python {', '.join(missing)}: functions"
            " on those runtimes compile lambdastream at every cold start (install it and"
            " build again to avoid that)",
            file=sys.stderr,
        )
    print(
        f"Set AWS_LAMBDA_EXEC_WRAPPER=/opt/{WRAPPER_NAME} on a function with this layer"
        " (runtime python3.10 or newer)."
    )
    return 0


def _run_function(args: argparse.Namespace) -> int:
    from lambdastream.deploy.archive import tree_entries, write_zip
    from lambdastream.deploy.function import (
        BuildError,
        build_function,
        check_output,
        runtime_version,
    )
    from lambdastream.deploy.layer import find_interpreters

    if not args.runtime or not args.arch:
        print(
            "lambdastream build function: --runtime and --arch are required (the function's"
            " Runtime and Architectures, e.g. --runtime python3.13 --arch arm64)",
            file=sys.stderr,
        )
        return 2
    source: Path = args.src
    requirements = args.requirements
    if requirements is None and (source / "requirements.txt").is_file():
        requirements = source / "requirements.txt"
    target: Path = args.dir or args.output or Path("function.zip")
    try:
        version = runtime_version(args.runtime)
        interpreter = args.python or find_interpreters((version,)).get(version)
        if interpreter is None:
            raise BuildError(
                f"no Python {version} here: the bytecode must come from the runtime's own"
                f" Python (sam build needs it too); install python{version} or name it with"
                " --python"
            )
        check_output(source, target)
        with tempfile.TemporaryDirectory(prefix="lambdastream-function-") as tmp:
            # Built aside, then delivered: a failed build leaves the output as it was.
            scratch = Path(tmp, "function")
            scratch.mkdir()
            built = build_function(
                source, scratch, runtime=args.runtime, architecture=args.arch,
                interpreter=interpreter, requirements=requirements, leave_out=[target],
                log=lambda message: print(f"lambdastream build: {message}", file=sys.stderr),
            )  # fmt: skip
            files = sum(1 for _ in tree_entries(scratch))
            if args.dir is not None:
                shutil.copytree(scratch, target, dirs_exist_ok=True)
                where = f"{target}/"
            else:
                with target.open("wb") as out:
                    write_zip(out, tree_entries(scratch))
                digest = hashlib.sha256(target.read_bytes()).hexdigest()
                where = f"{target} ({target.stat().st_size // 1024} KiB, sha256 {digest})"
    except (BuildError, OSError) as exc:
        print(f"lambdastream build: {exc}", file=sys.stderr)
        return 1
    bytecode = built.bytecode
    what = f"{requirements.name} installed and " if built.installed and requirements else ""
    print(
        f"lambdastream build: wrote {where}: {files} files for {built.runtime} on"
        f" {built.architecture}, {what}{bytecode.compiled} modules compiled ({bytecode.tag},"
        " unchecked-hash .pyc)"
    )
    if bytecode.failed:
        listed = ", ".join(rel for rel, _ in bytecode.failed[:3])
        more = f" and {len(bytecode.failed) - 3} more" if len(bytecode.failed) > 3 else ""
        print(
            f"lambdastream build: {len(bytecode.failed)} files of the requirements do not compile"
            f" on Python {bytecode.version} (so cannot be imported there either): {listed}{more}",
            file=sys.stderr,
        )
    return 0
