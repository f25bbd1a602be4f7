"""``lambdastream build layer``: write the layer for Lambda's managed Python runtimes.

Example::

    lambdastream build layer -o lambdastream-layer.zip
    lambdastream build layer --dir .aws-sam/layer      # unpacked, for sam build
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``build``'s flags."""
    parser.add_argument("what", choices=["layer"], help="what to build")
    out = parser.add_mutually_exclusive_group()
    out.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        metavar="FILE",
        help="the zip to write (default lambdastream-layer.zip)",
    )
    out.add_argument(
        "--dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="write the layer unpacked into DIR instead (as Lambda unpacks it into /opt)",
    )


def run(args: argparse.Namespace) -> int:
    """Build the layer and say what it holds."""
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
