"""``lambdastream dev``'s flags: each checked as it is read, grouped as they are documented.

Example::

    >>> parser = argparse.ArgumentParser()
    >>> add_arguments(parser)
    >>> args = parser.parse_args(["main:app", "--timeout", "30"])
    >>> args.handler, args.timeout, problem(args)
    ('main.app', 30.0, None)
    >>> args.port, api_port(args)  # the Invoke API takes the port after --port's
    (9000, 9001)
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import NoReturn

__all__ = ["add_arguments", "api_port", "handler_spec", "problem"]

# --max-concurrency: bounded, so that a typo (--max-concurrency 1000) does not
# start a storm of workers in one environment.
MAX_CONCURRENCY_LIMIT = 64


def _env_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _timeout(text: str) -> float:
    value = float(text)
    if not 0 < value <= 900:
        raise argparse.ArgumentTypeError("timeout must be more than 0 and at most 900 seconds")
    return value


def _memory(text: str) -> int:
    value = int(text)
    if not 128 <= value <= 10240:
        raise argparse.ArgumentTypeError("memory must be from 128 to 10240 MB")
    return value


def _positive_seconds(text: str) -> float:
    value = float(text)
    if not 0 < value <= 6 * 3600:  # also refuses nan and inf
        raise argparse.ArgumentTypeError("must be more than 0 and at most 21600 seconds")
    return value


def _port(text: str) -> int:
    """A TCP port: 0 (any free one) to 65535.

    >>> _port("0"), _port("65535")
    (0, 65535)
    >>> _port("70000")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: 70000 is not a port: use 0 (any free port) to 65535
    """
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port: use 0 (any free port) to 65535")
    return value


def _max_concurrency(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_CONCURRENCY_LIMIT:
        raise argparse.ArgumentTypeError(
            f"{text} is not from 1 to {MAX_CONCURRENCY_LIMIT} invocations per environment"
        )
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _header_value(text: str) -> str:
    """A ``--cors-*`` value: it is sent as a header, so it must be one."""
    from lambdastream.wire.prelude import sendable

    if not sendable(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} cannot be sent as an HTTP header value"
            " (Latin-1 text without control characters)"
        )
    return text


def handler_spec(text: str) -> str:
    """The handler as the runtime takes it: ``module.attr``.

    ``module:attr`` is uvicorn's spelling of an app (``main:app``,
    ``pkg.web:app``): it is accepted and passed on as ``module.attr``, which
    the runtime loads the same way (and serves as a web app when ``attr``
    is an ASGI or WSGI app). A spec without ``:`` is passed on unchanged:
    the runtime reports a malformed one as Lambda does.

    >>> handler_spec("main:app"), handler_spec("pkg.web:app"), handler_spec("app.handler")
    ('main.app', 'pkg.web.app', 'app.handler')
    """
    if ":" not in text:
        return text
    module, _, attr = text.partition(":")
    problem = None
    if not module or not attr:
        problem = "both sides of ':' must be named"
    elif ":" in attr:
        problem = "it has more than one ':'"
    elif not attr.isidentifier():
        problem = (
            f"{attr!r} is not a Python name: the attribute must be one name"
            " (main:app, not main:app.state)"
        )
    elif not all(part.isidentifier() for part in module.split(".")):
        problem = f"{module!r} is not a dotted module name (pkg.module)"
    if problem:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not module:attribute ({problem}); write module.function"
            " (app.handler) or module:attribute (main:app, pkg.web:app)"
        )
    return f"{module}.{attr}"


def _stage(text: str) -> str:
    from lambdastream.local.rest_event import STAGE_NAME

    if not STAGE_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} cannot name a stage (letters, digits, '-' and '_', at most 128)"
        )
    return text


def _idle_seconds(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 900:  # also refuses nan and inf
        raise argparse.ArgumentTypeError("must be from 0 (no limit) to 900 seconds")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``dev``'s flags, group by group; a wrong one is refused in one line."""

    def one_line_error(message: str) -> NoReturn:
        # The usage of ~30 flags would bury the reason; --help has them.
        parser.exit(2, f"{parser.prog}: error: {message}\n")

    parser.error = one_line_error  # type: ignore[method-assign]
    _function_flags(parser)
    _listen_flags(parser)
    _cors_flags(parser)
    _async_flags(parser)


def _function_flags(parser: argparse.ArgumentParser) -> None:
    """The function: what runs, and what Lambda's configuration would set."""
    parser.add_argument(
        "handler",
        metavar="HANDLER",
        type=handler_spec,
        help="module.function (app.handler), or a web app as uvicorn names it,"
        " module:attribute (main:app), passed to the runtime as module.attribute",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=Path("."),
        help="the function's code, its LAMBDA_TASK_ROOT (default: the current directory)",
    )
    parser.add_argument(
        "--name", default="", help="function name (default: from the handler's module)"
    )
    parser.add_argument(
        "--env",
        action="append",
        type=_env_pair,
        default=[],
        metavar="KEY=VALUE",
        help="set a variable in the function's environment (repeatable; default: none)",
    )
    from lambdastream.local.function import DEFAULT_TIMEOUT

    parser.add_argument(
        "--timeout",
        type=_timeout,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"invocation timeout (default {DEFAULT_TIMEOUT:g}, what `lambdastream init`'s"
        " template deploys; max 900)",
    )
    parser.add_argument(
        "--memory",
        type=_memory,
        default=128,
        metavar="MB",
        help="memory size reported to the function (default 128)",
    )
    parser.add_argument(
        "--concurrency",
        type=_positive,
        default=10,
        metavar="N",
        help="at most N environments at once (default 10)",
    )
    parser.add_argument(
        "--max-concurrency",
        type=_max_concurrency,
        default=1,
        metavar="N",
        help="invocations one environment takes at once, as on Lambda Managed Instances"
        f" (AWS_LAMBDA_MAX_CONCURRENCY=N is set when N > 1; 1 to {MAX_CONCURRENCY_LIMIT};"
        " default 1: one at a time, as on Lambda)",
    )
    parser.add_argument(
        "--provisioned",
        type=int,
        default=0,
        metavar="N",
        help="start and initialize N environments before serving, like provisioned"
        " concurrency (default 0)",
    )
    parser.add_argument(
        "--bootstrap",
        default=None,
        metavar="COMMAND",
        help="runtime command to run instead of lambdastream's runtime"
        " (default: python -m lambdastream.runtime HANDLER)",
    )
    parser.add_argument(
        "--region",
        default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        help="AWS_REGION of the function (default: $AWS_REGION, else us-east-1)",
    )
    parser.add_argument(
        "--log-format",
        choices=["Text", "JSON"],
        default="Text",
        help="AWS_LAMBDA_LOG_FORMAT (default Text)",
    )
    parser.add_argument(
        "--snap-start",
        action="store_true",
        help="initialize as SnapStart does (AWS_LAMBDA_INITIALIZATION_TYPE=snap-start,"
        " /restore/next, snapshot hooks)",
    )
    parser.add_argument(
        "--bedrock-local",
        action="store_true",
        help="start a local Bedrock endpoint and point the function at it",
    )
    parser.add_argument(
        "--watch", action="store_true", help="restart environments when files under --root change"
    )


def _listen_flags(parser: argparse.ArgumentParser) -> None:
    """Where it listens, and what calls it."""
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1); beyond loopback, the Invoke API"
        " takes only SigV4-signed requests",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=9000,
        help="HTTP port: the Function URL, or the REST API with --entry rest"
        " (default 9000; 0 = any)",
    )
    parser.add_argument(
        "--api-port",
        type=_port,
        default=None,
        help="Invoke API port for boto3 (default: the port after --port, 9001;"
        " with --port 0, any; 0 = any)",
    )
    parser.add_argument(
        "--entry",
        choices=["url", "rest"],
        default="url",
        help="what calls the function on the HTTP port: url, a Function URL (payload 2.0"
        " events); rest, an API Gateway REST API's execute-api URL, /STAGE/..., with"
        " streaming proxy integrations on ANY / and ANY /{proxy+} (payload 1.0 events)"
        " (default url)",
    )
    parser.add_argument(
        "--stage",
        type=_stage,
        default=None,
        metavar="NAME",
        help="--entry rest: the stage, the first path segment (default Prod, the stage"
        " SAM's implicit API deploys to: .../Prod/hello)",
    )
    parser.add_argument(
        "--idle-timeout",
        type=_idle_seconds,
        default=None,
        metavar="SECONDS",
        help="--entry rest: end a stream after this long without a byte from the"
        " function, as API Gateway does (default 300, a regional API's; 30 for"
        " edge-optimized; 0 = never)",
    )
    parser.add_argument(
        "--auth",
        choices=["NONE", "AWS_IAM"],
        default="NONE",
        help="Function URL auth type (default NONE); AWS_IAM: the Function URL and the"
        " Invoke API take only requests SigV4-signed with your local credentials",
    )
    parser.add_argument(
        "--emulate-bandwidth",
        action="store_true",
        help="limit streams to 2 MB/s after the first 6 MB, as Lambda does",
    )


def _cors_flags(parser: argparse.ArgumentParser) -> None:
    """A Function URL's CORS configuration."""
    parser.add_argument(
        "--cors-origin",
        type=_header_value,
        action="append",
        default=[],
        metavar="ORIGIN",
        help="allow this origin (repeatable; * for any; default: none, CORS off)",
    )
    parser.add_argument(
        "--cors-methods",
        type=_header_value,
        default="*",
        metavar="LIST",
        help="allowed methods for CORS (default *)",
    )
    parser.add_argument(
        "--cors-headers",
        type=_header_value,
        default="",
        metavar="LIST",
        help="allowed request headers for CORS (default: none)",
    )
    parser.add_argument(
        "--cors-expose-headers",
        type=_header_value,
        default="",
        metavar="LIST",
        help="response headers exposed to the page (default: none)",
    )
    parser.add_argument(
        "--cors-max-age",
        type=int,
        default=0,
        metavar="SECONDS",
        help="how long browsers may cache a preflight (default 0: not sent)",
    )
    parser.add_argument(
        "--cors-allow-credentials",
        action="store_true",
        help="allow cookies/credentials in CORS requests",
    )


def _async_flags(parser: argparse.ArgumentParser) -> None:
    """Asynchronous (Event) invokes: retries and age, as Lambda's event invoke config."""
    parser.add_argument(
        "--async-retries",
        type=int,
        choices=[0, 1, 2],
        default=2,
        help="retries of a failed asynchronous (Event) invoke, as Lambda's"
        " MaximumRetryAttempts (default 2)",
    )
    parser.add_argument(
        "--async-retry-delay",
        type=_positive_seconds,
        default=1.0,
        metavar="SECONDS",
        help="wait before the first retry, doubled for the second (default 1; Lambda ~60)",
    )
    parser.add_argument(
        "--max-event-age",
        type=_positive_seconds,
        default=6 * 3600.0,
        metavar="SECONDS",
        help="drop an asynchronous event that waited longer, as Lambda's"
        " MaximumEventAgeInSeconds (default 21600; Lambda's minimum is 60)",
    )


def api_port(args: argparse.Namespace) -> int:
    """The Invoke API's port: ``--api-port``, else the one after ``--port`` (any with 0).

    Two ``dev`` servers started with different ``--port`` alone do not collide.

    >>> api_port(argparse.Namespace(port=9100, api_port=None))
    9101
    >>> api_port(argparse.Namespace(port=0, api_port=None))
    0
    """
    if args.api_port is not None:
        return int(args.api_port)
    return args.port + 1 if args.port else 0


def problem(args: argparse.Namespace) -> str | None:
    """What is wrong with flags that each parsed alone, together; None if nothing."""
    if not args.root.is_dir():
        return f"--root {args.root} is not a directory"
    if args.api_port is None and args.port == 65535:
        return "--port 65535 leaves no next port for the Invoke API: give --api-port too"
    if not 0 <= args.provisioned <= args.concurrency:
        return (
            f"--provisioned {args.provisioned} must be from 0 to --concurrency ({args.concurrency})"
        )
    return _entry_problem(args)


def _entry_problem(args: argparse.Namespace) -> str | None:
    """Why the flags do not fit ``--entry``, or None: a flag that would do nothing is an error."""
    if args.entry == "rest":
        if args.cors_origin:
            return (
                "--cors-* configure a Function URL's CORS; behind a REST API the function"
                " (or an OPTIONS method) answers CORS itself: drop them or use --entry url"
            )
        return None
    rest_only = (("--stage", args.stage), ("--idle-timeout", args.idle_timeout))
    given = [flag for flag, value in rest_only if value is not None]
    if given:
        return f"{' and '.join(given)} apply to --entry rest (the REST API), not a Function URL"
    return None
