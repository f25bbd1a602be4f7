"""``lambdastream init DIR``: a new project that streams as generated.

Two templates (``--template``), each a SAM project secure by default
(``template.yaml``: the function on python3.13 with the lambdastream layer, a
Function URL with ``InvokeMode: RESPONSE_STREAM`` and ``AuthType: AWS_IAM``,
a role that may write only its own log group, and more only where the app
needs it), ``layer/Makefile`` and ``Makefile`` through which ``sam build``
builds the layer and the function (its requirements and every module
compiled to bytecode: ``lambdastream build``), ``requirements.txt`` and a
README with the three commands:

- ``bedrock`` (the default): a handler that streams a Bedrock model's
  answer; its role may call only the configured model.
- ``fastapi``: a FastAPI app (a JSON route, a streamed one, Server-Sent
  Events) served by ``handler = asgi(app)``.

Example::

    lambdastream init my-chat
    cd my-chat && lambdastream dev app.handler --bedrock-local
    lambdastream init my-api --template fastapi
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

__all__ = ["FASTAPI_FILES", "PROJECT_FILES", "TEMPLATES", "add_arguments", "run", "write_project"]

_TEMPLATES = Path(__file__).parent / "project"
# File in the package -> file in the new project (dotfiles are not package
# data, and the package data is one flat directory: the templates' own files
# carry a prefix there).
PROJECT_FILES = {
    "app.py": "app.py",
    "template.yaml": "template.yaml",
    "function-Makefile": "Makefile",
    "layer-Makefile": "layer/Makefile",
    "requirements.txt": "requirements.txt",
    "README.md": "README.md",
    "gitignore": ".gitignore",
}
FASTAPI_FILES = {
    "fastapi-app.py": "app.py",
    "fastapi-template.yaml": "template.yaml",
    "function-Makefile": "Makefile",
    "layer-Makefile": "layer/Makefile",
    "fastapi-requirements.txt": "requirements.txt",
    "fastapi-README.md": "README.md",
    "gitignore": ".gitignore",
}
# --template NAME -> (its files, the line `init` prints to try it locally).
TEMPLATES: dict[str, tuple[dict[str, str], str]] = {
    "bedrock": (
        PROJECT_FILES,
        "lambdastream dev app.handler --bedrock-local --timeout 60   # try it, no AWS account",
    ),
    "fastapi": (
        FASTAPI_FILES,
        "pip install -r requirements.txt && lambdastream dev app.handler   # try it: curl -N"
        " http://127.0.0.1:9000/stream",
    ),
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
    parser.add_argument(
        "--template",
        choices=sorted(TEMPLATES),
        default="bedrock",
        help="what the project streams: bedrock, a Bedrock model's answer (app.handler);"
        " fastapi, a FastAPI app (JSON, a streamed body, Server-Sent Events) served by"
        " handler = asgi(app) (default bedrock)",
    )


def write_project(directory: Path, name: str, template: str = "bedrock") -> list[Path]:
    """Write the files of ``template`` into ``directory``; return their paths."""
    files, _ = TEMPLATES[template]
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for source, target in files.items():
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
    template = getattr(args, "template", "bedrock")
    try:
        write_project(directory, name, template)
    except OSError as exc:
        print(f"lambdastream init: {exc}", file=sys.stderr)
        return 1
    print(f"Created {name} ({template}) in {directory}. Next:")
    print(f"  cd {directory}")
    print(f"  {TEMPLATES[template][1]}")
    print("  sam build && sam deploy --guided   # deploy it")
    return 0
