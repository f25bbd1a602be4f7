"""``lambdastream bedrock-local``: serve a local Bedrock endpoint for boto3.

One port answers both services: ``bedrock-runtime`` (the models) and the
``bedrock`` control plane's catalogue reads (ListFoundationModels, ...).

Example::

    $ lambdastream bedrock-local --port 8900
    $ export AWS_ENDPOINT_URL_BEDROCK_RUNTIME=http://127.0.0.1:8900
    $ export AWS_ENDPOINT_URL_BEDROCK=http://127.0.0.1:8900
    $ python my_script.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import TYPE_CHECKING

from lambdastream.bedrock import faults

if TYPE_CHECKING:
    from lambdastream.bedrock.local import BedrockLocal
    from lambdastream.wire.sigv4 import SigV4Verifier


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1); beyond loopback, only requests"
        " SigV4-signed with your local AWS credentials are served, as on AWS",
    )
    parser.add_argument(
        "--region",
        default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        help="the region signatures are checked for beyond loopback (default $AWS_REGION)",
    )
    parser.add_argument(
        "--port", type=int, default=8900, help="port to listen on (default 8900; 0 = any)"
    )
    parser.add_argument(
        "--backend",
        choices=("scripted", "openai"),
        default="scripted",
        help="scripted: a deterministic model that writes an answer about your question"
        " (default); openai: forward to an OpenAI-compatible server",
    )
    parser.add_argument(
        "--script",
        choices=("answer", "echo"),
        default=None,
        help="scripted backend: answer (a Markdown answer about the question) or echo"
        " ('You said: <your last message>', for tests); default $LAMBDASTREAM_BEDROCK_SCRIPT,"
        " else answer",
    )
    parser.add_argument(
        "--first-token-latency",
        type=float,
        default=0.3,
        metavar="SECONDS",
        help="scripted backend: wait before the first token (default 0.3)",
    )
    parser.add_argument(
        "--tokens-per-second",
        type=float,
        default=65.0,
        help="scripted backend: average pace of the tokens after the first"
        " (default 65; 0 = no wait)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="inject a fault in every request: throttle[:N], error:CODE, stream-error:N[:code], "
        "latency:S (repeatable; per request, put [[SPEC]] in the prompt; default: none)",
    )
    parser.add_argument(
        "--openai-base-url",
        metavar="URL",
        help="openai backend: API root, e.g. http://127.0.0.1:11434/v1 (Ollama)",
    )
    parser.add_argument(
        "--openai-model",
        metavar="NAME",
        help="openai backend: model name to request (default: the Bedrock model id)",
    )
    parser.add_argument(
        "--openai-api-key", metavar="KEY", help="openai backend: sent as a Bearer token"
    )


def run(args: argparse.Namespace) -> int:
    from lambdastream.bedrock.local import BedrockLocal, build_backend
    from lambdastream.bedrock.local_server import start_server
    from lambdastream.httpserver import is_loopback

    if args.backend == "openai" and not args.openai_base_url:
        print("bedrock-local: --backend openai needs --openai-base-url", file=sys.stderr)
        return 2
    try:
        handler = BedrockLocal(
            build_backend(
                args.backend,
                first_token_latency=args.first_token_latency,
                tokens_per_second=args.tokens_per_second,
                script=args.script,
                openai_base_url=args.openai_base_url,
                openai_model=args.openai_model,
                openai_api_key=args.openai_api_key,
            ),
            args.fault,
            authorize=_authorizer(args),
        )
    except (ValueError, faults.DirectiveError) as exc:
        print(f"bedrock-local: {exc}", file=sys.stderr)
        return 2

    async def main() -> None:
        from lambdastream.httpserver import port_named

        try:
            with port_named(args.port, "--port"):
                server = await start_server(args.host, args.port, handler, log=_log)
        except OSError as exc:
            print(
                f"bedrock-local: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
                file=sys.stderr,
            )
            raise SystemExit(1) from None
        port = server.sockets[0].getsockname()[1]
        host = f"[{args.host}]" if ":" in args.host else args.host
        print(f"bedrock-local ({_describe(handler)}) listening on http://{host}:{port}", flush=True)
        if not is_loopback(args.host):
            print(
                f"  port {port}: SigV4-signed requests only (your local AWS credentials,"
                f" region {args.region}), as on AWS",
                flush=True,
            )
            if handler.authorize is not None and not handler.authorize.has_credentials:
                _log(
                    f"WARNING: listening on {args.host} with no local AWS credentials:"
                    f" every request to port {port} will get 403"
                )
        # Both services of boto3 go to this one server: the runtime, and the
        # control plane's catalogue (apps that list models at init).
        print(f"  export AWS_ENDPOINT_URL_BEDROCK_RUNTIME=http://{host}:{port}", flush=True)
        print(f"  export AWS_ENDPOINT_URL_BEDROCK=http://{host}:{port}", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(main())
    return 0


def _authorizer(args: argparse.Namespace) -> SigV4Verifier | None:
    """Beyond loopback, the signature checker (service ``bedrock``); else None."""
    from lambdastream.httpserver import is_loopback

    if is_loopback(args.host):
        return None
    from lambdastream.credentials import local_credentials
    from lambdastream.wire.sigv4 import SigV4Verifier

    return SigV4Verifier(args.region, local_credentials(), service="bedrock")


def _describe(handler: BedrockLocal) -> str:
    """What answers: ``scripted`` (with its script when it echoes) or ``openai``."""
    from lambdastream.bedrock.scripted import ScriptedBackend

    backend = handler.backend
    if isinstance(backend, ScriptedBackend):
        return "scripted" if backend.script == "answer" else f"scripted, {backend.script}"
    return "openai"


def _log(message: str) -> None:
    print(f"bedrock-local: {message}", file=sys.stderr, flush=True)
