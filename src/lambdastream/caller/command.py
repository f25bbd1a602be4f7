"""``lambdastream invoke``: print a function's answer as it streams in.

Through a Function URL (or ``lambdastream dev``)::

    lambdastream invoke http://127.0.0.1:9000/ --prompt "Why stream?" --timing
    lambdastream invoke https://abc.lambda-url.eu-west-1.on.aws/ --data '{"prompt": "hi"}' --sigv4

Through the Invoke API (``InvokeWithResponseStream``)::

    lambdastream invoke --function chat --endpoint http://127.0.0.1:9001 --prompt hi

Body bytes go to stdout the moment they arrive; everything else (errors,
``--include`` headers, ``--timing`` figures) goes to stderr, so the output
can be piped; where both are read as one (a terminal, ``2>&1``), invoke's
own lines start lines of their own. Exit codes: 0 success; 1 the answer is
an HTTP error (4xx/5xx, its body is printed to stderr); 2 bad arguments or
no credentials; 3 the function failed or timed out after its answer began
(Lambda's error trailers, an ``InvokeComplete`` error, or an SSE ``event:
error``), said on stderr with the reason; 4 the connection failed, timed
out, or was cut short.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import BinaryIO, NoReturn, TextIO

from lambdastream.caller.output import Output
from lambdastream.caller.transport import (
    ApiError,
    CredentialsError,
    Data,
    End,
    Event,
    FunctionError,
    Head,
    SseErrorWatcher,
    StreamError,
    region_from_url,
    sigv4_headers,
    stream_function,
    stream_url,
)

EXIT_OK = 0
EXIT_HTTP_ERROR = 1
EXIT_USAGE = 2
EXIT_FUNCTION_ERROR = 3
EXIT_TRANSPORT = 4

# An error answer is shown on stderr; past this much it is cut (it is not data).
ERROR_BODY_LIMIT = 64 * 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``lambdastream invoke``'s options."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter

    def one_line_error(message: str) -> NoReturn:
        # Like every other usage error here: one line on stderr, exit 2 (--help has the rest).
        parser.exit(EXIT_USAGE, f"{parser.prog}: error: {message}\n")

    parser.error = one_line_error  # type: ignore[method-assign]
    parser.epilog = (
        "examples:\n"
        "  lambdastream invoke http://127.0.0.1:9000/ --prompt 'Why stream?' --timing\n"
        '  lambdastream invoke URL --data \'{"messages": [{"role": "user", '
        '"content": "hi"}]}\' --sse\n'
        "  lambdastream invoke URL --prompt hi --sigv4 --region eu-west-1\n"
        "  lambdastream invoke --function chat --endpoint http://127.0.0.1:9001 --prompt hi\n"
        "\n"
        "exit codes: 0 ok, 1 HTTP error status, 2 usage, 3 the function failed or timed\n"
        "out mid-stream (the stream was cut), 4 connection failed or cut short"
    )
    parser.add_argument("url", nargs="?", type=http_url, help="Function URL (omit with --function)")
    body = parser.add_mutually_exclusive_group()
    body.add_argument(
        "--data",
        "-d",
        metavar="JSON",
        help="request body, sent as is; @FILE reads a file, @- reads stdin",
    )
    body.add_argument(
        "--prompt", "-p", metavar="TEXT", help="shorthand for --data '{\"prompt\": TEXT}'"
    )
    parser.add_argument(
        "--method", "-X", help="HTTP method (default POST with a body, GET without)"
    )
    parser.add_argument(
        "--header",
        "-H",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="extra request header (repeatable; default: none)",
    )
    parser.add_argument(
        "--sse",
        action="store_true",
        help="ask for Server-Sent Events (Accept: text/event-stream)",
    )
    parser.add_argument(
        "--sigv4",
        action="store_true",
        help="sign the request with your AWS credentials (for AWS_IAM Function URLs)",
    )
    parser.add_argument(
        "--region",
        help="AWS region for --sigv4 or --function (default: from the URL, then your config)",
    )
    parser.add_argument(
        "--timing",
        action="store_true",
        help="print time to first byte, total time, bytes and chunks to stderr",
    )
    parser.add_argument(
        "--include", "-i", action="store_true", help="print status and headers to stderr"
    )
    parser.add_argument(
        "--function",
        "-f",
        metavar="NAME",
        help="call the Invoke API (InvokeWithResponseStream) for this function instead",
    )
    parser.add_argument(
        "--endpoint",
        metavar="URL",
        type=http_url,
        help="Invoke API endpoint, e.g. lambdastream dev's --api-port",
    )
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=960.0,
        metavar="S",
        help="give up when no byte arrives for S seconds (default 960)",
    )


def http_url(value: str) -> str:
    """An argparse type: ``value`` if it is an http(s) URL with a host and a valid port.

    >>> http_url("http://[::1]:9000/")
    'http://[::1]:9000/'
    >>> http_url("http://[::1")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: not a valid URL: 'http://[::1' (Invalid IPv6 URL)
    """
    try:
        parts = urllib.parse.urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number in range)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a valid URL: {value!r} ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"not an http(s) URL: {value!r}")
    return value


def positive_seconds(value: str) -> float:
    """An argparse type: a finite number of seconds above zero.

    >>> positive_seconds("0.5")
    0.5
    """
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, not {value!r}")
    return seconds


@dataclass
class Timing:
    """What ``--timing`` reports. Times are seconds from sending the request.

    >>> Timing(ttfb=0.1234, total=1.5, bytes=42, chunks=3, status=200).line()
    'timing: status=200 ttfb_ms=123.4 total_ms=1500.0 bytes=42 chunks=3'
    """

    ttfb: float | None = None
    total: float = 0.0
    bytes: int = 0
    chunks: int = 0
    status: int = 0

    def line(self) -> str:
        """One ``key=value`` line, easy for people and scripts to read."""
        ttfb = "-" if self.ttfb is None else f"{self.ttfb * 1000:.1f}"
        return (
            f"timing: status={self.status} ttfb_ms={ttfb} total_ms={self.total * 1000:.1f} "
            f"bytes={self.bytes} chunks={self.chunks}"
        )


def run(args: argparse.Namespace) -> int:
    """Run ``lambdastream invoke``; returns the exit code."""
    return invoke(args, stdout=sys.stdout.buffer, stderr=sys.stderr)


def invoke(args: argparse.Namespace, *, stdout: BinaryIO, stderr: TextIO) -> int:
    """Send the request ``args`` describe, stream the answer, report, return the exit code."""
    out = Output(stdout, stderr)
    try:
        body = _request_body(args)
        events = _open(args, body)
    except (_UsageError, CredentialsError) as exc:
        out.say(f"lambdastream invoke: {exc}")
        return EXIT_USAGE
    except StreamError as exc:
        out.say(f"lambdastream invoke: error: {exc}")
        return EXIT_TRANSPORT
    timing = Timing()
    started = time.perf_counter()
    try:
        try:
            code = _consume(events, args, out, timing, started)
        except CredentialsError as exc:
            out.say(f"lambdastream invoke: {exc}")
            return EXIT_USAGE
        except ApiError as exc:
            out.say(f"lambdastream invoke: error: {exc}")
            timing.status = exc.status
            code = EXIT_HTTP_ERROR
        except StreamError as exc:
            out.say(f"lambdastream invoke: error: {exc}")
            code = EXIT_TRANSPORT
        timing.total = time.perf_counter() - started
        if args.timing:
            out.say(timing.line())
        out.finish()
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, like other CLI tools.
        return EXIT_OK
    return code


class _UsageError(Exception):
    pass


def _request_body(args: argparse.Namespace) -> bytes | None:
    if args.prompt is not None:
        return json.dumps({"prompt": args.prompt}).encode()
    if args.data is None:
        return None
    if args.data == "@-":
        return sys.stdin.buffer.read()
    if args.data.startswith("@"):
        try:
            with open(args.data[1:], "rb") as f:
                return f.read()
        except OSError as exc:
            raise _UsageError(f"--data {args.data}: {exc.strerror}") from exc
    return args.data.encode()


def _open(args: argparse.Namespace, body: bytes | None) -> Iterator[Event]:
    if args.function:
        if args.url:
            raise _UsageError("give either a URL or --function, not both")
        if args.sigv4 or args.header or args.method or args.sse:
            raise _UsageError(
                "--sigv4, --header, --method and --sse apply to URLs; "
                "the Invoke API always signs and takes a payload"
            )
        return stream_function(
            args.function,
            body or b"",
            endpoint_url=args.endpoint,
            region=args.region,
            timeout=args.timeout,
        )
    if not args.url:
        raise _UsageError("a URL (or --function NAME) is required")
    if args.endpoint:
        raise _UsageError("--endpoint goes with --function")
    headers: dict[str, str] = {}
    if body is not None:
        headers["content-type"] = "application/json"
    headers["accept"] = "text/event-stream" if args.sse else "*/*"
    for raw in args.header:
        name, sep, value = raw.partition(":")
        if not sep or not name.strip():
            raise _UsageError(f"--header {raw!r}: expected 'Name: value'")
        headers[name.strip().lower()] = value.strip()
    method = (args.method or ("POST" if body is not None else "GET")).upper()
    sign = None
    if args.sigv4:
        region = args.region or region_from_url(args.url) or _configured_region() or "us-east-1"

        def sign(m: str, u: str, h: Mapping[str, str], b: bytes) -> dict[str, str]:
            return sigv4_headers(m, u, h, b, region=region)

    return stream_url(
        args.url, method=method, body=body or b"", headers=headers, sign=sign, timeout=args.timeout
    )


def _configured_region() -> str | None:
    import botocore.session

    return botocore.session.get_session().get_config_variable("region")


def _consume(
    events: Iterator[Event], args: argparse.Namespace, out: Output, timing: Timing, started: float
) -> int:
    code = EXIT_OK
    status = 0
    error_body = bytearray()
    sse: SseErrorWatcher | None = None
    for event in events:
        if isinstance(event, Head):
            status = timing.status = event.status
            if args.include:
                out.say(f"HTTP {event.status} {event.reason}".rstrip())
                for name, value in event.headers.items():
                    out.say(f"{name}: {value}")
                out.say("")
            if event.headers.get("content-type", "").startswith("text/event-stream"):
                sse = SseErrorWatcher()
        elif isinstance(event, Data):
            if not event.data:
                continue
            if timing.ttfb is None:
                timing.ttfb = time.perf_counter() - started
            timing.bytes += len(event.data)
            timing.chunks += 1
            if status >= 400:
                # An error answer is a message for the person, not output for the pipe.
                error_body += event.data[: ERROR_BODY_LIMIT - len(error_body)]
                continue
            out.body(event.data)
            if sse is not None:
                sse.feed(event.data)
        elif isinstance(event, FunctionError):
            out.say(
                f"lambdastream invoke: error: the stream was cut after {timing.bytes} bytes:"
                f" {cut_reason(event)}"
            )
            code = EXIT_FUNCTION_ERROR
        elif isinstance(event, End):
            break
    if status >= 400:
        text = error_body.decode("utf-8", "replace").strip()
        out.say(f"lambdastream invoke: error: HTTP {status}: {text}")
        return EXIT_HTTP_ERROR
    if code == EXIT_OK and sse is not None and sse.error is not None:
        out.say(f"lambdastream invoke: error: the stream sent an error event: {sse.error}")
        code = EXIT_FUNCTION_ERROR
    return code


def cut_reason(error: FunctionError) -> str:
    """Why a stream that had begun ended early, from Lambda's error trailers.

    >>> cut_reason(FunctionError("Sandbox.Timeout", "Task timed out after 3.00 seconds"))
    'the function timed out: Sandbox.Timeout: Task timed out after 3.00 seconds'
    >>> cut_reason(FunctionError("ValueError"))
    'the function failed mid-stream: ValueError'
    """
    what = "the function timed out" if error.timed_out else "the function failed mid-stream"
    detail = f": {error.message}" if error.message else ""
    return f"{what}: {error.error_type}{detail}"
