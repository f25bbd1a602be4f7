"""``lambdastream bedrock-local``: serve a local bedrock-runtime endpoint for boto3.

Example::

    $ lambdastream bedrock-local --port 8900
    $ AWS_ENDPOINT_URL_BEDROCK_RUNTIME=http://127.0.0.1:8900 python my_script.py
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from lambdastream.bedrock import faults


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=8900, help="port to listen on (default 8900; 0 = any)"
    )
    parser.add_argument(
        "--backend",
        choices=("scripted", "openai"),
        default="scripted",
        help="scripted: a deterministic echo model (default); "
        "openai: forward to an OpenAI-compatible server",
    )
    parser.add_argument(
        "--first-token-latency",
        type=float,
        default=0.2,
        metavar="SECONDS",
        help="scripted backend: wait before the first token (default 0.2)",
    )
    parser.add_argument(
        "--tokens-per-second",
        type=float,
        default=50.0,
        help="scripted backend: pace of the tokens after the first (default 50; 0 = no wait)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="inject a fault in every request: throttle[:N], error:CODE, stream-error:N[:code], "
        "latency:S (repeatable; per request, put [[SPEC]] in the prompt)",
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
    from lambdastream.bedrock.local import BedrockLocal, build_backend, start_server

    if args.backend == "openai" and not args.openai_base_url:
        print("bedrock-local: --backend openai needs --openai-base-url", file=sys.stderr)
        return 2
    try:
        handler = BedrockLocal(
            build_backend(
                args.backend,
                first_token_latency=args.first_token_latency,
                tokens_per_second=args.tokens_per_second,
                openai_base_url=args.openai_base_url,
                openai_model=args.openai_model,
                openai_api_key=args.openai_api_key,
            ),
            args.fault,
        )
    except (ValueError, faults.DirectiveError) as exc:
        print(f"bedrock-local: {exc}", file=sys.stderr)
        return 2

    async def main() -> None:
        try:
            server = await start_server(args.host, args.port, handler, log=_log)
        except OSError as exc:
            print(
                f"bedrock-local: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr
            )
            raise SystemExit(1) from None
        port = server.sockets[0].getsockname()[1]
        host = f"[{args.host}]" if ":" in args.host else args.host
        print(f"bedrock-local ({args.backend}) listening on http://{host}:{port}", flush=True)
        print(f"  export AWS_ENDPOINT_URL_BEDROCK_RUNTIME=http://{host}:{port}", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(main())
    return 0


def _log(message: str) -> None:
    print(f"bedrock-local: {message}", file=sys.stderr, flush=True)
