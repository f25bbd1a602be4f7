"""The ``lambdastream`` command: argument parsing only.

Each subcommand lives in its own module, which defines
``add_arguments(parser)`` and ``run(args) -> int``; it is imported only when
that subcommand runs, so ``lambdastream invoke`` does not pay for the local
Lambda's imports and vice versa.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "dev": ("lambdastream.local.command", "run a function locally the way Lambda does"),
    "bedrock-local": (
        "lambdastream.bedrock.command",
        "serve a local bedrock-runtime endpoint for boto3",
    ),
    "invoke": ("lambdastream.caller.command", "stream a Function URL's or function's answer"),
    "init": (
        "lambdastream.deploy.scaffold",
        "start a new project that streams: a Bedrock chat or a FastAPI app",
    ),
    "build": (
        "lambdastream.deploy.command",
        "build the layer that lets the managed Python runtimes stream, or a function with bytecode",
    ),
}


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """Build the parser; only the chosen subcommand's module is imported."""
    parser = argparse.ArgumentParser(
        prog="lambdastream",
        description="Stream responses from Python on AWS Lambda.",
    )
    from lambdastream import __version__

    parser.add_argument("--version", action="version", version=f"lambdastream {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module_name, help_text) in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            module = importlib.import_module(module_name)
            module.add_arguments(sub_parser)
            sub_parser.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``lambdastream`` console script."""
    args_list = sys.argv[1:] if argv is None else argv
    args = build_parser(args_list).parse_args(args_list)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
