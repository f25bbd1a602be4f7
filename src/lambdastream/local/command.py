"""``lambdastream dev``: run a function locally the way Lambda does.

Its HTTP port is the function's Function URL, or with ``--entry rest`` the
``execute-api`` URL of an API Gateway REST API (``/<stage>/...``); the
handler may be a web app spelled as uvicorn spells it (``main:app``).

Example::

    lambdastream dev app.handler --root . --port 9000 --timeout 30
    curl -N http://127.0.0.1:9000/
    lambdastream dev main:app --entry rest        # curl -N http://127.0.0.1:9000/Prod/
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lambdastream.local.iam import IamAuthorizer
    from lambdastream.local.logs import LogPrinter
    from lambdastream.local.rest_api import RestApi

__all__ = ["add_arguments", "run"]


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
    """Declare ``dev``'s flags."""
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
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1); beyond loopback, the Invoke API"
        " takes only SigV4-signed requests",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=9000,
        help="HTTP port: the Function URL, or the REST API with --entry rest"
        " (default 9000; 0 = any)",
    )
    parser.add_argument(
        "--api-port",
        type=int,
        default=9001,
        help="Invoke API port for boto3 (default 9001; 0 = any)",
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
    parser.add_argument(
        "--timeout",
        type=_timeout,
        default=3.0,
        metavar="SECONDS",
        help="invocation timeout (default 3, max 900)",
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
        "--auth",
        choices=["NONE", "AWS_IAM"],
        default="NONE",
        help="Function URL auth type (default NONE); AWS_IAM: the Function URL and the"
        " Invoke API take only requests SigV4-signed with your local credentials",
    )
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
    parser.add_argument(
        "--emulate-bandwidth",
        action="store_true",
        help="limit streams to 2 MB/s after the first 6 MB, as Lambda does",
    )
    parser.add_argument(
        "--watch", action="store_true", help="restart environments when files under --root change"
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
        "--log-format",
        choices=["Text", "JSON"],
        default="Text",
        help="AWS_LAMBDA_LOG_FORMAT (default Text)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the local Lambda until Ctrl-C."""
    if not args.root.is_dir():
        print(f"lambdastream dev: --root {args.root} is not a directory", file=sys.stderr)
        return 2
    if not 0 <= args.provisioned <= args.concurrency:
        print(
            f"lambdastream dev: --provisioned {args.provisioned} must be from 0 to"
            f" --concurrency ({args.concurrency})",
            file=sys.stderr,
        )
        return 2
    problem = _entry_problem(args)
    if problem:
        print(f"lambdastream dev: {problem}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(args))
    except OSError as exc:
        print(f"lambdastream dev: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


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


def _warn_who_may_call(
    printer: LogPrinter,
    args: argparse.Namespace,
    url_port: int,
    api_port: int,
    authorize: IamAuthorizer | None,
    beyond_loopback: bool,
) -> None:
    """Say at startup which listener takes whom, loudly when one is open beyond loopback."""
    front = "the REST API" if args.entry == "rest" else "the Function URL"
    if beyond_loopback and args.auth == "AWS_IAM":
        printer.info(
            f"  listening on {args.host}: {front} and Invoke API take only"
            " SigV4-signed requests (your local AWS credentials)"
        )
    elif beyond_loopback:
        printer.warning(
            f"WARNING: listening on {args.host} with --auth NONE: {front}"
            f" (port {url_port}) is open to anyone who can reach this machine, unauthenticated,"
            " and runs your function with your credentials. Use --auth AWS_IAM to require"
            " signatures there too."
        )
        printer.warning(
            f"  Invoke API (port {api_port}): SigV4-signed requests only (your local AWS"
            " credentials), as on AWS"
        )
    if authorize is not None and not authorize.has_credentials:
        refusing = (
            f"{front} (port {url_port}) and the Invoke API (port {api_port})"
            if args.auth == "AWS_IAM"
            else f"the Invoke API (port {api_port})"
        )
        printer.warning(
            f"WARNING: no local AWS credentials were found: {refusing} will answer every"
            " request 403 (only requests signed with them are taken)."
        )


async def _serve(args: argparse.Namespace) -> None:
    from lambdastream.httpserver import is_loopback, port_named, serve
    from lambdastream.local.environments import FunctionConfig, Pool
    from lambdastream.local.function_url import MAX_REQUEST, FunctionUrl
    from lambdastream.local.invoke_api import MAX_PAYLOAD, InvokeApi
    from lambdastream.local.logs import LogPrinter

    printer = LogPrinter()
    env = dict(args.env)
    bedrock = None
    if args.bedrock_local:
        from lambdastream.bedrock.local import start_background

        bedrock = start_background(host="127.0.0.1", port=0)
        env.setdefault("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", bedrock.url)
        if not os.environ.get("AWS_ACCESS_KEY_ID"):
            env.setdefault("AWS_ACCESS_KEY_ID", "local")
            env.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    if args.watch:
        # A .pyc is trusted when the source's size and mtime (whole seconds)
        # match: an edit within the same second would load the old code.
        env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    config = FunctionConfig(
        handler=args.handler,
        root=args.root,
        name=args.name,
        bootstrap=args.bootstrap,
        env=env,
        timeout=args.timeout,
        memory=args.memory,
        concurrency=args.concurrency,
        region=args.region,
        log_format=args.log_format,
        emulate_bandwidth=args.emulate_bandwidth,
        snap_start=args.snap_start,
        async_retries=args.async_retries,
        async_retry_delay=args.async_retry_delay,
        max_event_age=args.max_event_age,
    )
    pool = Pool(config, printer)
    # AWS serves the Invoke API signed only: here too, unless it stays on
    # loopback with --auth NONE (boto3 from this machine, signed or not).
    beyond_loopback = not is_loopback(args.host)
    authorize = None
    if args.auth == "AWS_IAM" or beyond_loopback:
        from lambdastream.local.iam import IamAuthorizer

        authorize = IamAuthorizer.with_local_credentials(args.region)
    cors = None
    if args.cors_origin:
        from lambdastream.local.cors import CorsConfig

        cors = CorsConfig(
            origins=args.cors_origin,
            methods=args.cors_methods,
            headers=args.cors_headers,
            expose_headers=args.cors_expose_headers,
            max_age=args.cors_max_age,
            allow_credentials=args.cors_allow_credentials,
        )
    url_app: FunctionUrl | RestApi
    if args.entry == "rest":
        from lambdastream.local.rest_api import DEFAULT_IDLE_TIMEOUT, SIGNING_SERVICE, RestApi
        from lambdastream.local.rest_event import DEFAULT_STAGE

        rest_authorize = None
        if args.auth == "AWS_IAM":
            from lambdastream.local.iam import IamAuthorizer

            # An AWS_IAM method: requests signed for execute-api, not lambda.
            rest_authorize = IamAuthorizer.with_local_credentials(args.region, SIGNING_SERVICE)
        idle = DEFAULT_IDLE_TIMEOUT if args.idle_timeout is None else args.idle_timeout
        url_app = RestApi(
            pool,
            printer,
            stage=args.stage or DEFAULT_STAGE,
            region=args.region,
            authorize=rest_authorize,
            idle_timeout=idle or None,
        )
    else:
        url_app = FunctionUrl(
            pool,
            printer,
            region=args.region,
            authorize=authorize if args.auth == "AWS_IAM" else None,
            cors=cors,
        )
    api_app = InvokeApi(pool, config, authorize=authorize)
    with port_named(args.port, "--port"):
        url_server = await serve(
            url_app,
            args.host,
            args.port,
            max_body=MAX_REQUEST,
            on_too_large=url_app.too_large,
            log=printer.warning,
        )
    with port_named(args.api_port, "--api-port"):
        api_server = await serve(
            api_app,
            args.host,
            args.api_port,
            max_body=MAX_PAYLOAD,
            on_too_large=api_app.too_large,
            log=printer.warning,
        )
    url_port = url_server.sockets[0].getsockname()[1]
    api_port = api_server.sockets[0].getsockname()[1]
    shown = f"[{args.host}]" if ":" in args.host else args.host
    provisioned = ""
    if args.provisioned:
        # Initialized before the URL is shown: no first request waits for init.
        ready = await pool.provision(args.provisioned)
        provisioned = f", {ready} of {args.provisioned} provisioned and initialized"
    printer.info(
        f"lambdastream dev: function {config.name} ({config.handler}) from {config.root.resolve()}"
    )
    if isinstance(url_app, FunctionUrl):
        printer.info(f"  Function URL: http://{shown}:{url_port}/")
    else:
        idle_text = f"{url_app.idle_timeout:g} s" if url_app.idle_timeout else "none"
        printer.info(
            f"  REST API:     http://{shown}:{url_port}/{url_app.stage}/  (API Gateway REST"
            f" API, stage {url_app.stage}: streaming proxy integrations on ANY / and"
            f" ANY /{{proxy+}}; idle timeout {idle_text})"
        )
    printer.info(f"  Invoke API:   http://{shown}:{api_port}")
    printer.info(
        f"  boto3: boto3.client('lambda', endpoint_url='http://{shown}:{api_port}')"
        f" with FunctionName={config.name!r}"
    )
    printer.info(
        f"  timeout {config.timeout:g} s, memory {config.memory} MB,"
        f" concurrency {config.concurrency}{provisioned}, auth {args.auth}"
    )
    if bedrock is not None:
        # Bound to 127.0.0.1 whatever --host says: only the function calls it.
        printer.info(f"  local Bedrock: {bedrock.url} (127.0.0.1 only)")
    _warn_who_may_call(printer, args, url_port, api_port, authorize, beyond_loopback)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    watcher = None
    if args.watch:
        from lambdastream.local.watch import watch

        watcher = asyncio.ensure_future(watch(config.root, pool, printer))
    try:
        await stop.wait()
    finally:
        printer.info("lambdastream dev: stopping")
        if watcher is not None:
            watcher.cancel()
        url_server.close()
        api_server.close()
        await pool.close()
        if bedrock is not None:
            with contextlib.suppress(Exception):
                bedrock.stop()
