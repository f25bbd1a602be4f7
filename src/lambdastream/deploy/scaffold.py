"""``lambdastream init DIR``: a new project that streams as generated.

It writes a streaming Bedrock handler (``app.py``), a SAM template secure
by default (``template.yaml``: the function on python3.13 with the
lambdastream layer, a Function URL with ``AuthType: AWS_IAM``, a role
allowed only the configured model), ``layer/Makefile`` through which
``sam build`` builds the layer, ``requirements.txt`` and a README with the
three commands.

Example::

    lambdastream init my-chat
    cd my-chat && lambdastream dev app.handler --bedrock-local
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

__all__ = ["PROJECT_FILES", "add_arguments", "run", "write_project"]

_TEMPLATES = Path(__file__).parent / "project"
# File in the package -> file in the new project (dotfiles are not package data).
PROJECT_FILES = {
    "app.py": "app.py",
    "template.yaml": "template.yaml",
    "layer-Makefile": "layer/Makefile",
    "requirements.txt": "requirements.txt",
    "README.md": "README.md",
    "gitignore": ".gitignore",
}
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,63}$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``init``'s flags."""
    parser.add_argument("directory", type=Path, metavar="DIR", help="where to create the project")
    parser.add_argument(
        "--name",
        default=None,
        help="the project's name, used for the stack (default: DIR's name)",
    )


def write_project(directory: Path, name: str) -> list[Path]:
    """Write the project's files into ``directory``; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for source, target in PROJECT_FILES.items():
        text = (_TEMPLATES / source).read_text().replace("{{name}}", name)
        path = directory / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


def run(args: argparse.Namespace) -> int:
    """Create the project, refusing to touch a directory that holds anything."""
    directory: Path = args.directory
    name = args.name or directory.resolve().name
    if not _NAME.match(name):
        print(
            f"lambdastream init: {name!r} cannot name a stack (letters, digits and '-',"
            " starting with a letter); pass --name",
            file=sys.stderr,
        )
        return 2
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        what = "is not a directory" if not directory.is_dir() else "is not empty"
        print(f"lambdastream init: {directory} {what}; choose a new directory", file=sys.stderr)
        return 2
    try:
        write_project(directory, name)
    except OSError as exc:
        print(f"lambdastream init: {exc}", file=sys.stderr)
        return 1
    print(f"Created {name} in {directory}. Next:")
    print(f"  cd {directory}")
    print("  lambdastream dev app.handler --bedrock-local --timeout 60   # try it, no AWS account")
    print("  sam build && sam deploy --guided                           # deploy it")
    return 0
