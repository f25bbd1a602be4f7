"""``lambdastream dev``: run a function locally the way Lambda does.

Its HTTP port is the function's Function URL, or with ``--entry rest`` the
``execute-api`` URL of an API Gateway REST API (``/<stage>/...``); the
handler may be a web app spelled as uvicorn spells it (``main:app``). The
flags are :mod:`lambdastream.local.dev_flags`'; serving is a few steps:
the function's configuration, who may call it, its two listeners, the
banner, then waiting for Ctrl-C or SIGTERM.

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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lambdastream.local.dev_flags import add_arguments, api_port, problem

if TYPE_CHECKING:
    from lambdastream.local.function import FunctionConfig
    from lambdastream.local.function_url import FunctionUrl
    from lambdastream.local.iam import IamAuthorizer
    from lambdastream.local.invoke_api import InvokeApi
    from lambdastream.local.logs import LogPrinter
    from lambdastream.local.pool import Pool
    from lambdastream.local.rest_api import RestApi

__all__ = ["add_arguments", "function_config", "run"]


def run(args: argparse.Namespace) -> int:
    """Run the local Lambda until Ctrl-C (or SIGTERM)."""
    wrong = problem(args)
    if wrong:
        print(f"lambdastream dev: {wrong}", file=sys.stderr)
        return 2
    unresolved = function_config(args, None).unresolved()
    if unresolved is not None and not args.watch:
        _say_unresolved(args, unresolved)
        return 1
    try:
        return asyncio.run(_serve(args, unresolved))
    except OSError as exc:
        print(f"lambdastream dev: {exc.strerror or exc}", file=sys.stderr)
        return 1


def _say_unresolved(args: argparse.Namespace, error: str) -> None:
    """A handler that names no module: every environment's init would fail, after a
    banner that looked healthy. Said at once, as the runtime will say it."""
    print(
        f"lambdastream dev: the handler {args.handler} does not resolve; every init would fail"
        f" with\n  {error}\n  (looked under --root {args.root.resolve()} and on the Python"
        " path: is --root the directory that holds the module?)",
        file=sys.stderr,
    )


async def _serve(args: argparse.Namespace, unresolved: str | None) -> int:
    """Serve until stopped (0), or 1 when a provisioned environment cannot start.

    ``unresolved``: the init error of a handler module found nowhere, which
    ``--watch`` serves on with (the editor has not saved the module yet).
    """
    from lambdastream.local.logs import LogPrinter
    from lambdastream.local.pool import Pool

    printer = LogPrinter()
    bedrock = _start_bedrock(args)
    config = function_config(args, bedrock.url if bedrock is not None else None)
    pool = Pool(config, printer)
    authorize = _invoke_api_authorizer(args)
    url_app = _frontend(args, pool, printer, authorize)
    listeners = await _listen(args, url_app, pool, config, authorize, printer)
    try:
        if unresolved is not None:
            printer.warning(
                f"WARNING: {unresolved} (nothing under --root {config.root.resolve()} yet:"
                " watching for it)"
            )
        provisioned = ""
        if args.provisioned:
            # Initialized before the URL is shown: no first request waits for init.
            ready = await pool.provision(args.provisioned)
            provisioned = f", {ready} of {args.provisioned} provisioned and initialized"
            if ready < args.provisioned and not _init_failure_tolerated(args, printer, ready):
                return 1
        _banner(printer, args, config, url_app, listeners, provisioned, bedrock)
        _warn_who_may_call(
            printer, args, listeners.url_port, listeners.api_port, authorize, listeners.beyond
        )
        await _until_stopped(args, config, pool, printer)
        return 0
    finally:
        printer.info("lambdastream dev: stopping")
        listeners.close()
        await pool.close()
        if bedrock is not None:
            with contextlib.suppress(Exception):
                bedrock.stop()


def _start_bedrock(args: argparse.Namespace) -> Any:
    """``--bedrock-local``: the local Bedrock endpoint, running; else None."""
    if not args.bedrock_local:
        return None
    from lambdastream.bedrock.local_server import start_background

    return start_background(host="127.0.0.1", port=0)


def _init_failure_tolerated(args: argparse.Namespace, printer: LogPrinter, ready: int) -> bool:
    """An environment of ``--provisioned`` failed its init: stop, as Lambda fails the
    provisioned concurrency config; with ``--watch``, serve and wait for a fix."""
    failed = f"{args.provisioned - ready} of {args.provisioned} provisioned environments failed"
    if args.watch:
        printer.warning(f"WARNING: {failed} to initialize (the init error is above): watching")
        return True
    print(
        f"lambdastream dev: {failed} to initialize (the init error is above): fix it, or"
        " add --watch to serve on while you do",
        file=sys.stderr,
    )
    return False


def function_config(args: argparse.Namespace, bedrock_url: str | None) -> FunctionConfig:
    """The function as the flags describe it (``--bedrock-local``'s URL, if started)."""
    from lambdastream.local.function import FunctionConfig

    env = dict(args.env)
    if bedrock_url is not None:
        # One server answers both: bedrock-runtime and the bedrock control plane's
        # catalogue (apps that list models at init would otherwise wait on AWS).
        env.setdefault("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", bedrock_url)
        env.setdefault("AWS_ENDPOINT_URL_BEDROCK", bedrock_url)
        if not os.environ.get("AWS_ACCESS_KEY_ID"):
            env.setdefault("AWS_ACCESS_KEY_ID", "local")
            env.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    if args.watch:
        # A .pyc is trusted when the source's size and mtime (whole seconds)
        # match: an edit within the same second would load the old code.
        env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    return FunctionConfig(
        handler=args.handler,
        root=args.root,
        name=args.name,
        bootstrap=args.bootstrap,
        env=env,
        timeout=args.timeout,
        memory=args.memory,
        concurrency=args.concurrency,
        max_concurrency=args.max_concurrency,
        region=args.region,
        log_format=args.log_format,
        emulate_bandwidth=args.emulate_bandwidth,
        snap_start=args.snap_start,
        async_retries=args.async_retries,
        async_retry_delay=args.async_retry_delay,
        max_event_age=args.max_event_age,
    )


def _invoke_api_authorizer(args: argparse.Namespace) -> IamAuthorizer | None:
    """Who may call: AWS serves the Invoke API signed only, and so does dev unless it
    stays on loopback with ``--auth NONE`` (boto3 from this machine, signed or not)."""
    from lambdastream.httpserver import is_loopback

    if args.auth == "AWS_IAM" or not is_loopback(args.host):
        from lambdastream.local.iam import IamAuthorizer

        return IamAuthorizer.with_local_credentials(args.region)
    return None


def _frontend(
    args: argparse.Namespace, pool: Pool, printer: LogPrinter, authorize: IamAuthorizer | None
) -> FunctionUrl | RestApi:
    """The HTTP port's app: the Function URL, or the REST API with ``--entry rest``."""
    if args.entry == "rest":
        from lambdastream.local.iam import IamAuthorizer
        from lambdastream.local.rest_api import DEFAULT_IDLE_TIMEOUT, SIGNING_SERVICE, RestApi
        from lambdastream.local.rest_event import DEFAULT_STAGE

        # An AWS_IAM method: requests signed for execute-api, not lambda.
        rest_authorize = (
            IamAuthorizer.with_local_credentials(args.region, SIGNING_SERVICE)
            if args.auth == "AWS_IAM"
            else None
        )
        idle = DEFAULT_IDLE_TIMEOUT if args.idle_timeout is None else args.idle_timeout
        return RestApi(
            pool,
            printer,
            stage=args.stage or DEFAULT_STAGE,
            region=args.region,
            authorize=rest_authorize,
            idle_timeout=idle or None,
        )
    from lambdastream.local.function_url import FunctionUrl

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
    return FunctionUrl(
        pool,
        printer,
        region=args.region,
        authorize=authorize if args.auth == "AWS_IAM" else None,
        cors=cors,
    )


@dataclass
class _Listeners:
    """The two listening servers: the HTTP port's and the Invoke API's."""

    url_server: Any
    api_server: Any
    url_port: int
    api_port: int
    beyond: bool  # listening beyond loopback

    def close(self) -> None:
        self.url_server.close()
        self.api_server.close()


async def _listen(
    args: argparse.Namespace,
    url_app: FunctionUrl | RestApi,
    pool: Pool,
    config: FunctionConfig,
    authorize: IamAuthorizer | None,
    printer: LogPrinter,
) -> _Listeners:
    """Open the HTTP port and the Invoke API's port (a busy one is named by its flag)."""
    from lambdastream.httpserver import is_loopback, port_named, serve
    from lambdastream.local.function_url import MAX_REQUEST
    from lambdastream.local.invoke_api import MAX_PAYLOAD, InvokeApi

    api_app: InvokeApi = InvokeApi(pool, config, authorize=authorize)

    async def open_port(app: Any, port: int, flag: str, max_body: int) -> Any:
        with port_named(port, flag):
            return await serve(
                app, args.host, port, max_body=max_body, on_too_large=app.too_large,
                log=printer.warning,
            )  # fmt: skip

    url_server = await open_port(url_app, args.port, "--port", MAX_REQUEST)
    try:
        api_server = await open_port(api_app, api_port(args), "--api-port", MAX_PAYLOAD)
    except BaseException:
        url_server.close()
        raise
    return _Listeners(
        url_server,
        api_server,
        url_server.sockets[0].getsockname()[1],
        api_server.sockets[0].getsockname()[1],
        not is_loopback(args.host),
    )


def _banner(
    printer: LogPrinter,
    args: argparse.Namespace,
    config: FunctionConfig,
    url_app: FunctionUrl | RestApi,
    listeners: _Listeners,
    provisioned: str,
    bedrock: Any,
) -> None:
    """What runs, and where to call it."""
    from lambdastream.local.rest_api import RestApi

    shown = f"[{args.host}]" if ":" in args.host else args.host
    printer.info(
        f"lambdastream dev: function {config.name} ({config.handler}) from {config.root.resolve()}"
    )
    if isinstance(url_app, RestApi):
        idle_text = f"{url_app.idle_timeout:g} s" if url_app.idle_timeout else "none"
        printer.info(
            f"  REST API:     http://{shown}:{listeners.url_port}/{url_app.stage}/  (API Gateway"
            f" REST API, stage {url_app.stage}: streaming proxy integrations on ANY / and"
            f" ANY /{{proxy+}}; idle timeout {idle_text})"
        )
    else:
        printer.info(f"  Function URL: http://{shown}:{listeners.url_port}/")
    printer.info(f"  Invoke API:   http://{shown}:{listeners.api_port}")
    printer.info(
        f"  boto3: boto3.client('lambda', endpoint_url='http://{shown}:{listeners.api_port}')"
        f" with FunctionName={config.name!r}"
    )
    printer.info(
        f"  timeout {config.timeout:g} s, memory {config.memory} MB,"
        f" concurrency {config.concurrency}{provisioned}, auth {args.auth}"
    )
    if bedrock is not None:
        # Bound to 127.0.0.1 whatever --host says: only the function calls it.
        printer.info(f"  local Bedrock: {bedrock.url} (127.0.0.1 only)")


async def _until_stopped(
    args: argparse.Namespace, config: FunctionConfig, pool: Pool, printer: LogPrinter
) -> None:
    """Serve until Ctrl-C or SIGTERM (restarting environments on changes with ``--watch``)."""
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
        if watcher is not None:
            watcher.cancel()


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
