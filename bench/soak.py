"""Soak: thousands of streamed invocations through ``lambdastream dev``, every byte checked.

Starts the real ``lambdastream dev`` running ``bench/soak_function.py`` and
drives it over loopback sockets with ``--in-flight`` invocations at once,
spread over four clients:

- ``url``: the Function URL, raw HTTP/1.1 (h11) on keep-alive connections
  reused across invocations; the error trailers are read;
- ``stream``: the Invoke API's InvokeWithResponseStream, SigV4-signed
  requests on keep-alive connections, the event stream decoded by
  botocore's own decoder;
- ``boto3-stream``: real boto3 ``invoke_with_response_stream``;
- ``boto3-invoke``: real boto3 ``invoke`` (the buffered path).

Each invocation asks for ``size`` bytes derived from a seed, cut into
chunks from a few bytes (many) to 1 MiB (few); the client recomputes the
bytes from the seed and compares what arrives with them as it arrives,
byte for byte (stronger than a checksum, and it says where a stream went
wrong), the bytes before an injected failure included. Some invocations
carry an injected failure: the handler raises before or after its first
byte, sleeps past its timeout, exits (``os._exit``) before or after its
first byte, or the client walks away mid-stream. Each must reach the client as exactly that error
(502 or error trailers, ``InvokeComplete.ErrorCode``, ``FunctionError``),
and no success may look like a failure. The function writes as a generator,
as an async generator that writes bursts of 1 to 100,000 chunks per
event-loop turn, or as an ASGI app that checks for a disconnect between
bursts (as ``request.is_disconnected()`` does).

Every run of the handler is counted by request id: each must run exactly
once, whatever failed (a re-run repeats the function's side effects).

Then the leaks: the dev server's open descriptors are counted with no
environment alive, before the soak and after it; runtime processes are
counted throughout (never more than ``--concurrency``); and the dev server
is stopped while environments are idle and busy, after which no process it
started may be left. This process is a child subreaper
(``PR_SET_CHILD_SUBREAPER``), so every process the dev server or a function
leaves behind becomes its child and is found without looking at anyone
else's.

    python -m bench.soak [--invocations 10000] [--in-flight 50] [--seed 1]

It lives in bench/ with the other programs that drive the real dev server
and print figures (``relay.py``), runs as ``python -m bench.soak`` like
them, and ``tests/test_soak.py`` runs a bounded version of it.

Exit status 1 on any lost, corrupted or misreported response, any leak, or
an error of the dev server's own in its log. ``--inject-bug`` plants a
defect (in the function, or a client connection held open) to see the
checks catch it. The same seed gives the same invocations.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import concurrent.futures
import contextlib
import ctypes
import gc
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import h11
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.eventstream import EventStreamBuffer, ParserError

from bench.soak_function import FINISHED, chunk_sizes, content

REPO = Path(__file__).resolve().parent.parent
FUNCTION = "soak"
HANDLER = "bench.soak_function.handler"
REGION = "us-east-1"
KiB, MiB = 1024, 1024 * 1024

ROUTES = ("url", "stream", "boto3-stream", "boto3-invoke")
# Clients that can walk away mid-stream (boto3 gives no say over its socket).
RAW_ROUTES = ("url", "stream")
# route -> share of invocations
ROUTE_WEIGHTS = {"url": 45, "stream": 30, "boto3-stream": 15, "boto3-invoke": 10}
# kind -> per mille of invocations. Timeouts are few: each holds an
# environment for the whole --timeout.
KIND_WEIGHTS = {
    "ok": 862,
    "raise-before": 20,
    "raise-after": 25,
    "timeout-before": 2,
    "timeout-after": 3,
    "exit-before": 10,
    "exit-after": 15,
    "disconnect": 63,  # only on RAW_ROUTES (ok elsewhere): about 47 per mille of all
}
ERROR_TYPES = {
    "raise-before": "SoakError",
    "raise-after": "SoakError",
    "timeout-before": "Sandbox.Timeout",
    "timeout-after": "Sandbox.Timeout",
    "exit-before": "Runtime.ExitError",
    "exit-after": "Runtime.ExitError",
}
# (share, sizes from, to, chunk sizes from, to): a few bytes in tiny chunks,
# many small chunks, and a few streams of a few MB in large ones.
SIZE_CLASSES = (
    (30, 1, 256, 1, 16),
    (35, 256, 16 * KiB, 8, 128),
    (28, 16 * KiB, 512 * KiB, 256, 4 * KiB),
    (7, 512 * KiB, 4 * MiB, 16 * KiB, MiB),
)
# Deliberate defects (--inject-bug): in the function, or the client's.
BUGS = {
    "flip": "one byte of a response flipped (corrupted)",
    "truncate": "a response's last byte never written (corrupted)",
    "swallow": "an injected raise that never happens (misreported)",
    "wrong-type": "an injected raise under another error type (misreported)",
    "orphan": "the function leaves a process that outlives the dev server (leaked process)",
    "rerun": "a request id whose run is counted twice (not run once)",
    "hold": "the client keeps one connection open past the end (leaked descriptor)",
}
# How the function writes (style -> share of invocations); asgi answers
# Function URL requests only (an Invoke API payload is no HTTP request).
STYLE_WEIGHTS = {"sync": 50, "async": 30, "asgi": 20}
# Chunks per event-loop turn for the async styles: log-uniform over 1 to 100,000.
MAX_BURST = 100_000
# (share of async url invocations, sizes from, to, chunk sizes from, to): bursts
# of tiny chunks, up to ~100,000 per turn (only on the Function URL: an SDK
# client decodes one event per chunk, and 100,000 events outlast --timeout).
BURST_CLASS = (5, 256 * KiB, 2 * MiB, 1, 32)
OK, LOST, CORRUPTED, MISREPORTED = "ok", "lost", "corrupted", "misreported"
_ANSWERED_502 = b"Internal Server Error"
_PR_SET_CHILD_SUBREAPER = 36


# -- the plan: what each invocation asks for ---------------------------------------


@dataclass(frozen=True)
class Spec:
    """One invocation: its route, its bytes, and the failure it injects."""

    index: int
    route: str
    kind: str
    seed: int
    size: int
    lo: int  # chunk sizes
    hi: int
    at: int = 0  # *-after kinds: bytes written before the failure
    code: int = 0  # exit-* kinds: the exit status
    http: bool = False  # url only: a StreamingResponse (prelude, x-soak-seed header)
    bug: str = ""
    style: str = "sync"  # sync | async | asgi
    burst: int = 1  # async, asgi: chunks per event-loop turn

    @property
    def error_type(self) -> str | None:
        """The error the caller must see, or None for a success."""
        return ERROR_TYPES.get(self.kind)

    @property
    def expected_length(self) -> int:
        """How many of ``content(seed, size)``'s bytes the function writes."""
        if self.kind.endswith("-before"):
            return 0
        if self.kind.endswith("-after"):
            return self.at
        return self.size

    def params(self) -> dict[str, str]:
        """The request: query string of the Function URL, payload of the Invoke API."""
        params = {
            "seed": str(self.seed),
            "size": str(self.size),
            "lo": str(self.lo),
            "hi": str(self.hi),
            "kind": self.kind,
        }
        if self.kind.endswith("-after"):
            params["at"] = str(self.at)
        if self.kind.startswith("exit-"):
            params["code"] = str(self.code)
        if self.http:
            params["http"] = "1"
        if self.bug:
            params["bug"] = self.bug
        if self.style != "sync":
            params["style"] = self.style
            params["burst"] = str(self.burst)
        return params


def chunk_count(spec: Spec) -> int:
    """How many chunks the function writes for ``spec``."""
    count, written = 0, 0
    for n in chunk_sizes(spec.seed, spec.size, spec.lo, spec.hi):
        if written >= spec.expected_length:
            break
        count += 1
        written += n
    return count


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def make_spec(
    rng: random.Random, index: int, route: str, kind: str, max_size: int, bug: str = ""
) -> Spec:
    """A spec of this route and kind, its size, chunking and style drawn from ``rng``."""
    style = _pick(rng, STYLE_WEIGHTS) if not bug else "sync"
    if style == "asgi" and route != "url":
        style = "async"
    classes = [c for c in SIZE_CLASSES if c[1] <= max_size]
    if style != "sync" and route == "url" and BURST_CLASS[1] <= max_size:
        classes.append(BURST_CLASS)
    _, lo_size, hi_size, lo_chunk, hi_chunk = rng.choices(classes, [c[0] for c in classes])[0]
    hi_size = min(hi_size, max_size)
    # Log-uniform within the class: as many streams of 1 KB as of 10 KB.
    size = max(1, min(hi_size, round(lo_size * (hi_size / lo_size) ** rng.random())))
    if bug in ("flip", "truncate"):
        size = max(size, 2)
    return Spec(
        index=index,
        route=route,
        kind=kind,
        seed=rng.getrandbits(48),
        size=size,
        lo=lo_chunk,
        hi=hi_chunk,
        at=rng.randint(1, size) if kind.endswith("-after") else 0,
        code=rng.randint(1, 125) if kind.startswith("exit-") else 0,
        http=route == "url" and (style == "asgi" or rng.random() < 0.5),
        bug=bug,
        style=style,
        burst=round(MAX_BURST ** rng.random()) if style != "sync" else 1,
    )


def combinations() -> list[tuple[str, str]]:
    """Every (route, kind) the soak can run."""
    return [
        (route, kind)
        for route in ROUTES
        for kind in KIND_WEIGHTS
        if kind != "disconnect" or route in RAW_ROUTES
    ]


def make_plan(
    count: int, seed: int, *, max_size: int, cover: bool = True, bugs: tuple[str, ...] = ()
) -> list[Spec]:
    """``count`` invocations drawn from ``seed`` (the same seed, the same plan).

    ``cover``: every (route, kind) at least once, however few invocations.
    ``bugs``: one more invocation per function bug, of a kind the bug shows in.
    """
    rng = random.Random(seed)
    pairs = combinations() if cover else []
    while len(pairs) < count:
        route = _pick(rng, ROUTE_WEIGHTS)
        kind = _pick(rng, KIND_WEIGHTS)
        if kind == "disconnect" and route not in RAW_ROUTES:
            kind = "ok"
        pairs.append((route, kind))
    pairs = pairs[:count]
    rng.shuffle(pairs)
    plan = [make_spec(rng, i, route, kind, max_size) for i, (route, kind) in enumerate(pairs)]
    # A kind and a client the bug shows through (a Function URL's 502 says no error type).
    shown_by = {"swallow": ("url", "raise-after"), "wrong-type": ("stream", "raise-before")}
    for bug in bugs:
        if bug != "hold":  # the client's own bug: no invocation of its own
            route, kind = shown_by.get(bug, ("url", "ok"))
            plan.append(make_spec(rng, len(plan), route, kind, max_size, bug=bug))
    return plan


# -- what a client saw, and the verdict ----------------------------------------------


class BodyCheck:
    """Compares the bytes received, as they arrive, with the bytes expected."""

    def __init__(self, expected: bytes) -> None:
        self.expected = memoryview(expected)
        self.received = 0
        self.first_difference: int | None = None

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        start, n = self.received, len(data)
        self.received += n
        if self.first_difference is not None:
            return
        want = self.expected[start : start + n]
        if want != data:
            same = next(
                (i for i, (a, b) in enumerate(zip(want, data, strict=False)) if a != b), len(want)
            )
            self.first_difference = start + same

    def problem(self, whole: bool = True) -> str:
        """Why the body is wrong ("" if it is right); ``whole``: all of it must have come."""
        expected = len(self.expected)
        if self.first_difference is not None:
            return (
                f"byte {self.first_difference} differs"
                f" (received {self.received} bytes, expected {expected})"
            )
        if whole and self.received != expected:
            return f"received {self.received} bytes, expected {expected}"
        if not whole and self.received == 0:
            return "no byte received"
        return ""


@dataclass
class Observed:
    """What one client saw of one invocation, whatever the route."""

    body: BodyCheck
    status: int = 0
    request_id: str = ""
    seed_header: str | None = None  # url with a prelude: x-soak-seed
    other_body: bytes = b""  # the body of an answer that is not a 200 stream
    error_type: str | None = None  # trailer, ErrorCode, or the error JSON's errorType
    error: Any = None  # the error JSON, decoded
    function_error: str | None = None  # boto3-invoke: FunctionError
    complete: bool = False  # the response ended as the protocol says it ends
    problem: str = ""  # why it did not
    frame_error: str = ""  # an event-stream message that did not decode


class Throttled(Exception):
    """429 / TooManyRequestsException: every environment was busy; try again."""


def judge(spec: Spec, obs: Observed, timeout: float) -> tuple[str, str]:
    """The verdict on one invocation: (OK | LOST | CORRUPTED | MISREPORTED, why)."""
    if obs.frame_error:
        return CORRUPTED, f"event stream: {obs.frame_error}"
    if not obs.complete:
        return LOST, obs.problem or "the response never ended"
    want = spec.error_type
    if spec.route == "url" and want and spec.kind.endswith("-before"):
        if obs.status == 502 and obs.other_body == _ANSWERED_502:
            return OK, ""
        return MISREPORTED, f"expected 502, got {obs.status} {obs.error_type or ''}".rstrip()
    if obs.status != 200:
        return MISREPORTED, f"status {obs.status}: {obs.other_body[:200]!r}"
    got = obs.error_type
    if spec.route == "boto3-invoke" and obs.function_error not in (None, "Unhandled"):
        return MISREPORTED, f"FunctionError {obs.function_error!r}"
    if got != want:
        message = _message(obs.error)
        return MISREPORTED, f"expected {want or 'success'}, got {got or 'success'} {message}"
    if want:
        problem = _error_problem(spec, obs, timeout)
        if problem:
            return MISREPORTED, problem
    if spec.http and obs.seed_header != str(spec.seed):
        return CORRUPTED, f"x-soak-seed header {obs.seed_header!r}, expected {spec.seed}"
    if spec.route == "boto3-invoke" and want:
        return OK, ""  # the payload is the error JSON, checked above
    problem = obs.body.problem(whole=spec.kind != "disconnect")
    if problem:
        return CORRUPTED, problem
    return OK, ""


def _message(error: Any) -> str:
    return repr(error.get("errorMessage", ""))[:200] if isinstance(error, dict) else ""


def _error_problem(spec: Spec, obs: Observed, timeout: float) -> str:
    """Why the error JSON is not this invocation's injected error ("" if it is)."""
    error = obs.error
    if not isinstance(error, dict):
        return f"the error body is not an error JSON: {error!r:.200}"
    if error.get("errorType") != spec.error_type:
        return f"errorType {error.get('errorType')!r} under {obs.error_type!r}"
    message = str(error.get("errorMessage", ""))
    if spec.error_type == "SoakError":
        # Our own message names the seed: another invocation's error shows.
        if message != f"injected {spec.kind} seed={spec.seed}":
            return f"errorMessage {message!r}"
        return ""
    if obs.request_id and obs.request_id not in message:
        return f"errorMessage {message!r} names another request than {obs.request_id}"
    timed_out = f"Task timed out after {timeout:.2f} seconds"
    if spec.error_type == "Sandbox.Timeout" and timed_out not in message:
        return f"errorMessage {message!r}, expected {timed_out!r}"
    if spec.error_type == "Runtime.ExitError":
        status = re.search(r"exit status (\d+)", message)
        if status is None or int(status.group(1)) != spec.code:
            return f"errorMessage {message!r}, expected exit status {spec.code}"
    return ""


def _decode_error(text: str | bytes | None, base64_encoded: bool = False) -> Any:
    if text is None:
        return None
    try:
        raw = base64.b64decode(text, validate=True) if base64_encoded else text
        return json.loads(raw)
    except (ValueError, binascii.Error):
        return text


# -- clients ---------------------------------------------------------------------------


class HttpConnection:
    """One HTTP/1.1 client connection: h11 over asyncio streams."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT)

    async def send(self, request: h11.Request, body: bytes = b"") -> None:
        data = self.h11.send(request) or b""
        if body:
            data += self.h11.send(h11.Data(data=body)) or b""
        data += self.h11.send(h11.EndOfMessage()) or b""
        self.writer.write(data)
        await self.writer.drain()

    async def next_event(self) -> Any:
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            self.h11.receive_data(await self.reader.read(256 * KiB))

    @property
    def reusable(self) -> bool:
        return self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE

    def close(self) -> None:
        self.writer.close()


class ConnectionPool:
    """Keep-alive connections to one server, each reused by invocation after invocation."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.host_header = f"{host}:{port}"
        self.idle: list[HttpConnection] = []
        self.opened = 0
        self.requests = 0
        self.local_ports: set[int] = set()  # of every connection it opened

    async def acquire(self) -> HttpConnection:
        self.requests += 1
        if self.idle:
            return self.idle.pop()
        reader, writer = await asyncio.open_connection(self.host, self.port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.opened += 1
        self.local_ports.add(writer.get_extra_info("sockname")[1])
        return HttpConnection(reader, writer)

    def release(self, conn: HttpConnection) -> None:
        """Back to the pool if the exchange ended cleanly; else closed."""
        if conn.reusable:
            conn.h11.start_next_cycle()
            self.idle.append(conn)
        else:
            conn.close()

    async def close(self) -> None:
        idle, self.idle = self.idle, []
        for conn in idle:
            conn.close()
        for conn in idle:
            with contextlib.suppress(OSError):
                await conn.writer.wait_closed()


async def call_url(pool: ConnectionPool, spec: Spec) -> Observed:
    """One Function URL invocation: GET with the spec in the query string."""
    obs = Observed(BodyCheck(content(spec.seed, spec.size)[: spec.expected_length]))
    conn = await pool.acquire()
    keep = False
    try:
        request = h11.Request(
            method="GET",
            target="/?" + urlencode(spec.params()),
            headers=[("Host", pool.host_header)],
        )
        await conn.send(request)
        while True:
            event = await conn.next_event()
            if isinstance(event, h11.Response):
                obs.status = event.status_code
                headers = {k.decode(): v.decode("latin-1") for k, v in event.headers}
                obs.request_id = headers.get("x-amzn-requestid", "")
                obs.seed_header = headers.get("x-soak-seed")
            elif isinstance(event, h11.Data):
                if obs.status != 200:
                    obs.other_body += event.data
                    continue
                obs.body.feed(event.data)
                if spec.kind == "disconnect" and obs.body.received:
                    obs.complete = True  # all this client wanted; it walks away
                    return obs
            elif isinstance(event, h11.EndOfMessage):
                trailers = {k.decode(): v.decode("latin-1") for k, v in event.headers}
                obs.error_type = trailers.get("lambda-runtime-function-error-type")
                obs.error = _decode_error(
                    trailers.get("lambda-runtime-function-error-body"), base64_encoded=True
                )
                obs.complete = True
                keep = True
                break
            else:  # ConnectionClosed
                obs.problem = "the connection closed before the response ended"
                break
    finally:
        if keep:
            pool.release(conn)
        else:
            conn.close()
    if obs.status == 429:
        raise Throttled
    return obs


class Signer:
    """SigV4 headers for Invoke API requests, as boto3 signs them."""

    def __init__(self) -> None:
        self.auth = SigV4Auth(Credentials("AKIDLOCAL", "local-secret"), "lambda", REGION)

    def headers(self, url: str, payload: bytes) -> list[tuple[str, str]]:
        request = AWSRequest(method="POST", url=url, data=payload)
        self.auth.add_auth(request)
        return [(k, v) for k, v in request.headers.items()]


STREAM_PATH = f"/2021-11-15/functions/{FUNCTION}/response-streaming-invocations"


async def call_stream(pool: ConnectionPool, signer: Signer, spec: Spec) -> Observed:
    """One InvokeWithResponseStream over a raw connection, decoded by botocore."""
    obs = Observed(BodyCheck(content(spec.seed, spec.size)[: spec.expected_length]))
    payload = json.dumps(spec.params()).encode()
    headers = signer.headers(f"http://{pool.host_header}{STREAM_PATH}", payload)
    conn = await pool.acquire()
    keep = False
    decoder = EventStreamBuffer()
    ended = False  # InvokeComplete seen
    try:
        request = h11.Request(
            method="POST",
            target=STREAM_PATH,
            headers=[
                ("Host", pool.host_header),
                ("Content-Length", str(len(payload))),
                *headers,
            ],
        )
        await conn.send(request, payload)
        while True:
            event = await conn.next_event()
            if isinstance(event, h11.Response):
                obs.status = event.status_code
                fields = {k.decode(): v.decode("latin-1") for k, v in event.headers}
                obs.request_id = fields.get("x-amzn-requestid", "")
            elif isinstance(event, h11.Data):
                if obs.status != 200:
                    obs.other_body += event.data
                    continue
                decoder.add_data(event.data)
                for message in decoder:
                    meta: Any = message.headers  # botocore's stubs say int
                    kind = meta.get(":event-type")
                    if ended:
                        obs.frame_error = f"{kind} after InvokeComplete"
                    elif kind == "PayloadChunk":
                        obs.body.feed(message.payload)
                    elif kind == "InvokeComplete":
                        ended = True
                        done = json.loads(message.payload)
                        obs.error_type = done.get("ErrorCode")
                        obs.error = _decode_error(done.get("ErrorDetails"))
                    else:
                        obs.frame_error = f"unexpected message {meta}"
                if spec.kind == "disconnect" and obs.body.received:
                    obs.complete = True
                    return obs
            elif isinstance(event, h11.EndOfMessage):
                keep = True
                if obs.status != 200 or ended:
                    obs.complete = True
                else:
                    obs.problem = "the event stream ended without InvokeComplete"
                break
            else:
                obs.problem = "the connection closed before the response ended"
                break
    except ParserError as exc:
        obs.frame_error = f"{type(exc).__name__}: {exc}"
    finally:
        if keep:
            pool.release(conn)
        else:
            conn.close()
    if obs.status == 429:
        raise Throttled
    return obs


def call_boto3_stream(lam: Any, spec: Spec) -> Observed:
    """One real boto3 ``invoke_with_response_stream`` (runs in a worker thread)."""
    obs = Observed(BodyCheck(content(spec.seed, spec.size)[: spec.expected_length]))
    try:
        reply = lam.invoke_with_response_stream(
            FunctionName=FUNCTION, Payload=json.dumps(spec.params()).encode()
        )
    except lam.exceptions.TooManyRequestsException:
        raise Throttled from None
    obs.status = reply["ResponseMetadata"]["HTTPStatusCode"]
    obs.request_id = reply["ResponseMetadata"].get("RequestId", "")
    # Closed when read (a no-op once urllib3 took the connection back): an
    # unreleased one would stay open until garbage collection, and the
    # descriptor check would count it against the dev server.
    with contextlib.closing(reply["EventStream"]) as events:
        for event in events:
            if obs.complete:
                obs.frame_error = f"{list(event)} after InvokeComplete"
            elif "PayloadChunk" in event:
                obs.body.feed(event["PayloadChunk"]["Payload"])
            elif "InvokeComplete" in event:
                done = event["InvokeComplete"]
                obs.error_type = done.get("ErrorCode")
                obs.error = _decode_error(done.get("ErrorDetails"))
                obs.complete = True
            else:
                obs.frame_error = f"unexpected event {list(event)}"
    if not obs.complete:
        obs.problem = "the event stream ended without InvokeComplete"
    return obs


def call_boto3_invoke(lam: Any, spec: Spec) -> Observed:
    """One real boto3 ``invoke`` (RequestResponse): the whole answer at once."""
    obs = Observed(BodyCheck(content(spec.seed, spec.size)[: spec.expected_length]))
    try:
        reply = lam.invoke(FunctionName=FUNCTION, Payload=json.dumps(spec.params()).encode())
    except lam.exceptions.TooManyRequestsException:
        raise Throttled from None
    with contextlib.closing(reply["Payload"]) as body:  # see call_boto3_stream
        payload = body.read()
    obs.status = reply["StatusCode"]
    obs.request_id = reply["ResponseMetadata"].get("RequestId", "")
    obs.function_error = reply.get("FunctionError")
    if obs.function_error:
        obs.error = _decode_error(payload)
        obs.error_type = obs.error.get("errorType") if isinstance(obs.error, dict) else None
    else:
        obs.body.feed(payload)
    obs.complete = True
    return obs


def lambda_client(api_url: str, pool_size: int, read_timeout: float) -> Any:
    """A real boto3 Lambda client for the local Invoke API (no retries: we count)."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "lambda",
        endpoint_url=api_url,
        region_name=REGION,
        aws_access_key_id="AKIDLOCAL",
        aws_secret_access_key="local-secret",
        config=Config(
            retries={"total_max_attempts": 1},
            max_pool_connections=pool_size,
            read_timeout=read_timeout,
            connect_timeout=10,
        ),
    )


@dataclass
class Result:
    """One invocation's verdict."""

    spec: Spec
    verdict: str
    detail: str = ""
    bytes_checked: int = 0
    throttled: int = 0
    seconds: float = 0.0
    request_id: str = ""


class Clients:
    """The four clients, and how one invocation is run, retried when throttled, and judged."""

    MAX_THROTTLED = 200  # retries of one invocation (~20 s) before it counts as lost

    def __init__(self, server: DevServer, in_flight: int, timeout: float) -> None:
        self.timeout = timeout
        # The client gives up well after the function's own deadline.
        self.deadline = timeout + 30
        self.url = ConnectionPool(*server.url_address)
        self.api = ConnectionPool(*server.api_address)
        self.signer = Signer()
        self.lam = lambda_client(server.api_url, in_flight, self.deadline)
        self.threads = concurrent.futures.ThreadPoolExecutor(in_flight, "boto3")

    async def _call(self, spec: Spec) -> Observed:
        if spec.route == "url":
            return await call_url(self.url, spec)
        if spec.route == "stream":
            return await call_stream(self.api, self.signer, spec)
        call = call_boto3_stream if spec.route == "boto3-stream" else call_boto3_invoke
        return await asyncio.get_running_loop().run_in_executor(self.threads, call, self.lam, spec)

    async def run(self, spec: Spec) -> Result:
        started = time.monotonic()
        throttled = 0
        while True:
            try:
                obs = await asyncio.wait_for(self._call(spec), self.deadline)
            except Throttled:
                throttled += 1
                if throttled <= self.MAX_THROTTLED:
                    await asyncio.sleep(0.1 * random.random())
                    continue
                obs = Observed(BodyCheck(b""), problem=f"throttled {throttled} times")
            except asyncio.TimeoutError:
                obs = Observed(BodyCheck(b""), problem=f"no answer within {self.deadline:g} s")
            except Exception as exc:  # what the client saw is the finding
                obs = Observed(BodyCheck(b""), problem=f"{type(exc).__name__}: {exc}")
            break
        verdict, detail = judge(spec, obs, self.timeout)
        return Result(
            spec,
            verdict,
            detail,
            obs.body.received if verdict == OK else 0,
            throttled,
            time.monotonic() - started,
            obs.request_id,
        )

    async def close(self) -> None:
        await self.url.close()
        await self.api.close()
        self.lam.close()
        self.threads.shutdown(wait=True)
        # botocore's close() leaves some connections (about ten here) to the
        # garbage collector: collected now, or the dev server would still see
        # them open and the descriptor check would blame it.
        gc.collect()


# -- the dev server and the processes around it ---------------------------------------


_URL_LINE = re.compile(r"Function URL: http://([\d.]+):(\d+)/")
_API_LINE = re.compile(r"Invoke API:\s+http://([\d.]+):(\d+)")


def children_of(pid: int | str) -> list[int]:
    """The live children of process ``pid`` (of any of its threads)."""
    found: list[int] = []
    with contextlib.suppress(FileNotFoundError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with (
                contextlib.suppress(FileNotFoundError),
                open(f"/proc/{pid}/task/{task}/children") as f,
            ):
                found.extend(int(p) for p in f.read().split())
    return sorted(set(found))


def status_field(pid: int | str, name: str) -> int:
    """A number from ``/proc/PID/status`` (kB for the Vm* fields; 0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(name + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


_TCP_STATES = {
    "01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1",
    "05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT",
    "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING",
}  # fmt: skip


def tcp_sockets() -> dict[str, tuple[tuple[str, int], tuple[str, int], str]]:
    """TCP sockets of this network namespace: inode -> (local, remote, state)."""

    def address(text: str) -> tuple[str, int]:
        host, port = text.split(":")
        raw = bytes.fromhex(host)
        # /proc/net/tcp prints each 32-bit word of the address in host order.
        words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
        family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
        return socket.inet_ntop(family, words), int(port, 16)

    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                state = _TCP_STATES.get(fields[3], fields[3])
                found[fields[9]] = (address(fields[1]), address(fields[2]), state)
    return found


def open_files(pid: int | str) -> set[str]:
    """What the descriptors of process ``pid`` point to (``socket:[123]``, paths)."""
    found = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(FileNotFoundError):  # closed meanwhile (listdir's own)
            found.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
    return found


def is_runtime(pid: int) -> bool:
    """Whether ``pid`` runs the runtime (a child between fork and exec does not yet)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"lambdastream.runtime" in f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False


def become_subreaper() -> None:
    """Processes orphaned below this one become its children (Linux prctl)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


class DevServer:
    """``lambdastream dev`` running the soak function; its log goes to a file."""

    def __init__(self, log_path: Path, timeout: float, concurrency: int) -> None:
        self.log_path = log_path
        # Every run of the handler, by request id (soak_function.record_run).
        self.runs_path = log_path.with_name(log_path.name + ".runs")
        self.runs_path.unlink(missing_ok=True)
        command = [
            sys.executable, "-m", "lambdastream", "dev", HANDLER, "--root", str(REPO),
            "--name", FUNCTION, "--port", "0", "--api-port", "0",
            "--timeout", f"{timeout:g}", "--concurrency", str(concurrency),
            "--env", f"LAMBDASTREAM_SOAK_RUNS={self.runs_path}",
        ]  # fmt: skip
        self._log = open(log_path, "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"},
            cwd=str(REPO),
        )
        self.pid = self.proc.pid
        deadline = time.monotonic() + 30
        while True:
            text = self.log()
            url, api = _URL_LINE.search(text), _API_LINE.search(text)
            if url and api:
                break
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"lambdastream dev did not start:\n{text}")
            time.sleep(0.05)
        self.url_address = (url.group(1), int(url.group(2)))
        self.api_address = (api.group(1), int(api.group(2)))
        self.api_url = f"http://{api.group(1)}:{api.group(2)}"

    def log(self) -> str:
        return self.log_path.read_text("utf-8", "replace")

    def runs(self) -> dict[str, int]:
        """How many times the handler ran for each request id."""
        counts: dict[str, int] = {}
        if self.runs_path.exists():
            for line in self.runs_path.read_text().split():
                counts[line] = counts.get(line, 0) + 1
        return counts

    def runtimes(self) -> list[int]:
        """The environments' runtime processes (the dev server's children)."""
        return children_of(self.pid)

    def fds(self) -> dict[str, str]:
        """The dev server's open descriptors: number -> what it is."""
        found = {}
        for fd in os.listdir(f"/proc/{self.pid}/fd"):
            with contextlib.suppress(FileNotFoundError):
                found[fd] = os.readlink(f"/proc/{self.pid}/fd/{fd}")
        return found

    def describe(self, target: str, clients: dict[int, str]) -> str:
        """A descriptor's target; a TCP socket told by its ends, its state, and
        which of ``clients`` (local port -> name) holds its other end."""
        inode = target.removeprefix("socket:[").removesuffix("]")
        if inode == target:
            return target
        ports = {self.url_address[1]: "Function URL", self.api_address[1]: "Invoke API"}
        found = tcp_sockets().get(inode)
        if found is None:
            return f"{target} (not a TCP socket)"
        local, remote, state = found
        side = ports.get(local[1]) or ports.get(remote[1]) or "another port (a Runtime API?)"
        text = f"{target} TCP {local[0]}:{local[1]} -> {remote[0]}:{remote[1]} {state} ({side})"
        # The other end still open in this process: the client holds it, not the server.
        peers = {f"socket:[{i}]" for i, (lo, re, _) in tcp_sockets().items() if lo == remote}
        if peers & open_files("self"):
            holder = clients.get(remote[1], "boto3")
            text += f", its other end still open in this soak's own client ({holder})"
        return text

    async def retire_environments(
        self, down_to: int | None = None, settle: float = 5.0
    ) -> dict[str, str]:
        """Kill every runtime process (all idle by now); return the descriptors left.

        With no environment alive, the dev server holds what it held at
        start: whatever else is open was leaked. Waits until no runtime is
        left and the count is down to ``down_to``, or (with no target) has
        not changed for half a second; at most ``settle`` seconds, so that
        a server slow to see its closed sockets is not taken for a leak.
        """
        for pid in self.runtimes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + settle
        last, since = self.fds(), time.monotonic()
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            now = self.fds()
            if self.runtimes() or len(now) != len(last):
                last, since = now, time.monotonic()
                continue
            if len(now) <= down_to if down_to is not None else time.monotonic() - since > 0.5:
                break
        return last

    def stop(self, timeout: float = 20.0) -> int | None:
        """Ctrl-C, as a developer stops it; killed if it lingers. Returns its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._log.close()
                return None
        self._log.close()
        return self.proc.returncode


class Sampler:
    """Watches the processes while the soak runs: how many, how big."""

    def __init__(self, server: DevServer, interval: float = 0.2) -> None:
        self.server = server
        self.interval = interval
        self.max_runtimes = 0
        self.runtime_hwm_kb = 0  # the largest VmHWM of any one runtime process
        self.runtimes_rss_kb = 0  # the most all runtimes held at once
        self.max_fds = 0
        self.strays: set[int] = set()  # processes orphaned to us while the server ran
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        runtimes = self.server.runtimes()
        self.max_runtimes = max(self.max_runtimes, len(runtimes))
        total = 0
        for pid in runtimes:
            if not is_runtime(pid):
                # Forked, not yet exec'd: a copy of the dev server, with its peak.
                continue
            self.runtime_hwm_kb = max(self.runtime_hwm_kb, status_field(pid, "VmHWM"))
            total += status_field(pid, "VmRSS")
        self.runtimes_rss_kb = max(self.runtimes_rss_kb, total)
        with contextlib.suppress(FileNotFoundError):
            self.max_fds = max(self.max_fds, len(os.listdir(f"/proc/{self.server.pid}/fd")))
        self.strays.update(p for p in children_of("self") if p != self.server.pid)

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.sample()


# -- the run ---------------------------------------------------------------------------


@dataclass
class Options:
    invocations: int = 10_000
    in_flight: int = 50
    seed: int = 1
    concurrency: int = 0  # 0: --in-flight plus a margin (see concurrency_for)
    timeout: float = 10.0
    max_size: int = 4 * MiB
    cover: bool = True
    bugs: tuple[str, ...] = ()
    log: Path | None = None
    max_seconds: float = 3600.0
    progress: bool = True


def concurrency_for(options: Options) -> int:
    """``--concurrency`` of the dev server.

    Lambda keeps an environment busy from the request until its runtime asks
    for the next one, after the caller already has its answer, and a killed
    environment counts until its process is gone: with exactly as many
    environments as invocations in flight, the next request can find them
    all taken and get a 429 as it would on Lambda. A margin keeps that rare;
    a 429 that still comes is retried and counted.
    """
    return options.concurrency or options.in_flight + max(2, options.in_flight // 5)


@dataclass
class Report:
    """What the soak found; ``problems()`` says whether it failed."""

    options: dict[str, Any]
    concurrency: int
    invocations: int = 0
    seconds: float = 0.0
    bytes_checked: int = 0
    # (route, kind) -> [run, correct]
    table: dict[str, list[int]] = field(default_factory=dict)
    lost: list[str] = field(default_factory=list)
    corrupted: list[str] = field(default_factory=list)
    misreported: list[str] = field(default_factory=list)
    not_finished: list[str] = field(default_factory=list)  # disconnects that did not run on
    throttled: int = 0
    connections: dict[str, list[int]] = field(default_factory=dict)  # opened, requests
    cold_starts: int = 0
    server_hwm_kb: int = 0
    server_rss_kb: list[int] = field(default_factory=list)  # before, after
    runtime_hwm_kb: int = 0
    runtime_report_mb: int = 0
    runtimes_rss_kb: int = 0
    max_runtimes: int = 0
    fds_before: int = 0
    fds_after: int = 0
    fds_max: int = 0
    fds_leaked: list[str] = field(default_factory=list)
    styles: dict[str, int] = field(default_factory=dict)  # sync/async/asgi -> invocations
    max_burst: int = 0  # the most chunks one async turn wrote
    handler_runs: int = 0  # runs of the handler, counted by request id
    not_run_once: list[str] = field(default_factory=list)  # request ids run 0 or 2+ times
    strays: list[int] = field(default_factory=list)  # processes orphaned during the run
    left_after_stop: list[int] = field(default_factory=list)
    server_exit: int | None = None
    server_errors: list[str] = field(default_factory=list)
    latency_ms: dict[str, float] = field(default_factory=dict)
    log: str = ""

    @property
    def injected(self) -> int:
        return sum(v[0] for k, v in self.table.items() if not k.endswith(" ok"))

    @property
    def reported(self) -> int:
        return sum(v[1] for k, v in self.table.items() if not k.endswith(" ok"))

    def problems(self) -> list[str]:
        """Every reason the soak failed (empty: it passed)."""
        out = []
        if self.invocations < self.options["invocations"]:
            out.append(f"only {self.invocations} of {self.options['invocations']} invocations ran")
        for name in ("lost", "corrupted", "misreported"):
            if getattr(self, name):
                out.append(f"{len(getattr(self, name))} {name}")
        if self.not_finished:
            out.append(f"{len(self.not_finished)} disconnected functions did not run to their end")
        if self.not_run_once:
            out.append(f"{len(self.not_run_once)} request ids whose handler did not run once")
        if self.max_runtimes > self.concurrency:
            out.append(f"{self.max_runtimes} runtime processes, over --concurrency")
        if self.fds_leaked:
            out.append(f"{len(self.fds_leaked)} descriptors leaked")
        if self.strays or self.left_after_stop:
            out.append("processes leaked")
        if self.server_exit != 0:
            out.append(f"the dev server exited with {self.server_exit}")
        if self.server_errors:
            out.append(f"{len(self.server_errors)} errors of the dev server's own in its log")
        return out

    def format(self) -> str:
        o = self.options
        rate = self.invocations / self.seconds if self.seconds else 0.0
        lines = [
            f"soak: lambdastream dev, {self.invocations:,} invocations, {o['in_flight']} in"
            f" flight, seed {o['seed']}, --timeout {o['timeout']:g}, --concurrency"
            f" {self.concurrency}, {os.cpu_count()} CPUs",
            "",
            f"invocations         {self.invocations:,} in {self.seconds:.1f} s ({rate:,.1f}/s);"
            f" latency p50 {self.latency_ms.get('p50', 0):.0f} ms,"
            f" p99 {self.latency_ms.get('p99', 0):.0f} ms",
            f"bytes checked       {self.bytes_checked:,}"
            f" ({self.bytes_checked / MiB / max(self.seconds, 1e-9):.1f} MiB/s)",
            f"failures injected   {self.injected:,}, correctly reported {self.reported:,}",
            f"lost                {len(self.lost)}",
            f"corrupted           {len(self.corrupted)}",
            f"misreported         {len(self.misreported)}",
            f"disconnects run on  {'all' if not self.not_finished else self.not_finished}",
            "styles              "
            + ", ".join(f"{style} {n:,}" for style, n in self.styles.items())
            + f"; up to {self.max_burst:,} chunks in one event-loop turn",
            f"handler runs        {self.handler_runs:,} counted by request id;"
            f" {len(self.not_run_once)} not exactly once",
            f"throttled (retried) {self.throttled:,}; cold starts {self.cold_starts:,}",
            f"peak RSS            dev server {self.server_hwm_kb / 1024:.1f} MB (VmHWM;"
            f" VmRSS {self.server_rss_kb[0] / 1024:.1f} MB before,"
            f" {self.server_rss_kb[-1] / 1024:.1f} MB after)",
            f"                    runtime process {self.runtime_hwm_kb / 1024:.1f} MB (VmHWM,"
            f" sampled; REPORT max {self.runtime_report_mb} MB); all runtimes at once"
            f" {self.runtimes_rss_kb / 1024:.0f} MB",
            f"leaked fds          {len(self.fds_leaked)} (dev server with no environment:"
            f" {self.fds_before} before, {self.fds_after} after; {self.fds_max} at most)",
            f"leaked processes    {max(0, self.max_runtimes - self.concurrency)} beyond"
            f" --concurrency ({self.max_runtimes} runtimes at most), {len(self.strays)}"
            f" orphaned while running, {len(self.left_after_stop)} left after the server"
            f" stopped (exit status {self.server_exit})",
            f"server errors       {len(self.server_errors)} in its log",
            "",
            "correctly reported / run, by kind and client:",
            "  " + f"{'':16}" + "".join(f"{r:>14}" for r in ROUTES),
        ]
        for kind in KIND_WEIGHTS:
            cells = []
            for route in ROUTES:
                run, good = self.table.get(f"{route} {kind}", [0, 0])
                cells.append(f"{good}/{run}" if run else "-")
            lines.append("  " + f"{kind:16}" + "".join(f"{c:>14}" for c in cells))
        keep = ", ".join(
            f"{route} {n:,} requests on {opened:,} connections"
            for route, (opened, n) in self.connections.items()
        )
        lines.append(f"keep-alive: {keep}")
        for name in (
            "lost", "corrupted", "misreported", "not_run_once", "server_errors", "fds_leaked",
        ):  # fmt: skip
            for line in getattr(self, name)[:10]:
                lines.append(f"  {name}: {line}")
        for pid in sorted({*self.strays, *self.left_after_stop}):
            lines.append(f"  leaked process: {pid}")
        problems = self.problems()
        lines.append(f"log: {self.log}")
        lines.append("FAIL: " + "; ".join(problems) if problems else "PASS")
        return "\n".join(lines)


def server_errors(log: str) -> list[str]:
    """Errors of the dev server's own in its log (not the function's, which are injected).

    A traceback counts unless it runs through the soak function; so do the
    messages the dev server prints when it could not do its job.
    """
    own = re.compile(
        r"could not send the response|Exception in callback|exception was never retrieved"
        r"|Runtime API rejected|Runtime\.TruncatedResponse|Runtime\.InvalidResponse"
        r"|ServiceException|Fatal error"
    )
    errors = []
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if own.search(line):
            errors.append(line.strip())
        elif line.startswith("Traceback (most recent call last)"):
            block = lines[i : i + 40]
            # Frame lines are indented (the runtime indents with no-break spaces).
            end = next((j for j, b in enumerate(block[1:], 1) if not b[:1].isspace()), 1)
            if not any("soak_function.py" in b for b in block[:end]):
                errors.append(" | ".join(b.strip() for b in block[: end + 1]))
    return errors


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


async def run_plan(
    clients: Clients, plan: list[Spec], in_flight: int, deadline: float, progress: bool
) -> list[Result]:
    """Run ``plan`` with ``in_flight`` invocations at all times until it is done."""
    results: list[Result] = []
    todo = iter(plan)  # shared: each worker takes the next spec
    started = time.monotonic()
    last_print = started

    async def worker() -> None:
        nonlocal last_print
        for spec in todo:
            if time.monotonic() > deadline:
                break
            results.append(await clients.run(spec))
            now = time.monotonic()
            if progress and now - last_print > 10:
                last_print = now
                bad = sum(r.verdict != OK for r in results)
                print(
                    f"  {len(results):,}/{len(plan):,} in {now - started:.0f} s, {bad} wrong",
                    flush=True,
                )

    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return results


async def wait_for_disconnected(server: DevServer, specs: list[Spec], seconds: float) -> list[Spec]:
    """Wait until each function a client walked away from has run to its end."""
    deadline = time.monotonic() + seconds
    while True:
        log = server.log()
        left = [s for s in specs if f"{FINISHED}{s.seed}\n" not in log]
        if not left or time.monotonic() > deadline:
            return left
        await asyncio.sleep(0.1)


async def linger(pool: ConnectionPool, seed: int) -> HttpConnection:
    """Start an invocation that streams one byte and then runs on; return its connection."""
    spec = Spec(-1, "url", "linger", seed, 2, 1, 1)
    conn = await pool.acquire()
    await conn.send(
        h11.Request(
            method="GET",
            target="/?" + urlencode(spec.params()),
            headers=[("Host", pool.host_header)],
        )
    )
    while True:
        event = await conn.next_event()
        if isinstance(event, h11.Data):
            return conn
        if isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
            raise RuntimeError(f"the lingering invocation ended: {event!r}")


async def stop_with_environments(server: DevServer, clients: Clients, seed: int) -> list[int]:
    """Ctrl-C the dev server with environments idle and busy; return processes left after."""
    rng = random.Random(seed)
    warm = [make_spec(rng, -1, route, "ok", 64 * KiB) for route in ROUTES]
    await asyncio.gather(*(clients.run(spec) for spec in warm))
    busy = [await linger(clients.url, rng.getrandbits(48)) for _ in range(2)]
    await asyncio.to_thread(server.stop)
    for conn in busy:
        conn.close()
    deadline = time.monotonic() + 5
    while True:
        left = [pid for pid in children_of("self") if not is_zombie(pid)]
        if not left or time.monotonic() > deadline:
            return left
        await asyncio.sleep(0.05)


def reap_strays(pids: list[int]) -> None:
    """End and reap what was left (processes this soak caused), by pid.

    They are this process's children (it is their subreaper): reaped here,
    they leave no zombie behind.
    """
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    for pid in pids:
        with contextlib.suppress(ChildProcessError):
            while not os.waitpid(pid, os.WNOHANG)[0] and time.monotonic() < deadline:
                time.sleep(0.01)


async def soak(options: Options) -> Report:
    """Run the whole soak against a fresh ``lambdastream dev``; return what it found."""
    become_subreaper()
    concurrency = concurrency_for(options)
    report = Report(options={**asdict(options), "log": str(options.log)}, concurrency=concurrency)
    log_dir = None
    if options.log is None:
        log_dir = tempfile.mkdtemp(prefix="lambdastream-soak-")
        options.log = Path(log_dir) / "dev.log"
    report.log = str(options.log)
    plan = make_plan(
        options.invocations,
        options.seed,
        max_size=options.max_size,
        cover=options.cover,
        bugs=options.bugs,
    )
    report.options["invocations"] = len(plan)
    server = DevServer(options.log, options.timeout, concurrency)
    try:
        # Warm up every path once, so that what the server opens for good
        # on first use is in the baseline; then no environment is left.
        clients = Clients(server, options.in_flight, options.timeout)
        rng = random.Random(options.seed)
        for route in ROUTES:
            result = await clients.run(make_spec(rng, -1, route, "ok", 64 * KiB))
            if result.verdict != OK:
                raise RuntimeError(f"warm-up on {route} failed: {result.detail}")
        await clients.close()
        before = await server.retire_environments()
        report.fds_before = len(before)
        report.server_rss_kb.append(status_field(server.pid, "VmRSS"))

        clients = Clients(server, options.in_flight, options.timeout)
        sampler = Sampler(server)
        sampler.start()
        started = time.monotonic()
        results = await run_plan(
            clients, plan, options.in_flight, started + options.max_seconds, options.progress
        )
        report.seconds = time.monotonic() - started
        disconnected = [r.spec for r in results if r.spec.kind == "disconnect"]
        report.not_finished = [
            f"seed {s.seed}"
            for s in await wait_for_disconnected(server, disconnected, options.timeout + 10)
        ]
        await sampler.stop()
        held = await clients.url.acquire() if "hold" in options.bugs else None
        report.connections = {
            "url": [clients.url.opened, clients.url.requests],
            "stream": [clients.api.opened, clients.api.requests],
        }
        await clients.close()
        report.server_hwm_kb = status_field(server.pid, "VmHWM")
        after = await server.retire_environments(down_to=len(before))
        report.fds_after = len(after)
        ours = {port: "raw url" for port in clients.url.local_ports}
        ours.update({port: "raw stream" for port in clients.api.local_ports})
        report.fds_leaked = [
            f"fd {fd} -> {server.describe(after[fd], ours)}"
            for fd in sorted(set(after) - set(before))
        ]
        if len(after) > len(before) and not report.fds_leaked:  # numbers reused, count grew
            report.fds_leaked = [f"{len(after) - len(before)} more descriptors than before"]
        report.server_rss_kb.append(status_field(server.pid, "VmRSS"))
        if held is not None:
            held.close()
        report.max_runtimes = sampler.max_runtimes
        report.runtime_hwm_kb = sampler.runtime_hwm_kb
        report.runtimes_rss_kb = sampler.runtimes_rss_kb
        report.fds_max = sampler.max_fds
        report.strays = sorted(sampler.strays)

        clients = Clients(server, options.in_flight, options.timeout)
        report.left_after_stop = await stop_with_environments(server, clients, options.seed)
        await clients.close()
        report.server_exit = server.proc.returncode
    finally:
        server.stop()
        left = [pid for pid in children_of("self") if pid != server.pid]
        reap_strays(sorted({*report.strays, *report.left_after_stop, *left}))

    log = server.log()
    runs = server.runs()
    server.runs_path.unlink(missing_ok=True)
    report.handler_runs = sum(runs.values())
    bugs = {r.request_id: r.spec.bug for r in results if r.spec.bug}
    report.not_run_once = [
        f"request {rid} ran {n} times{' bug ' + bugs[rid] if rid in bugs else ''}"
        for rid, n in runs.items()
        if n > 1
    ]
    report.not_run_once += [
        f"#{r.spec.index} {r.spec.route} {r.spec.kind}: request {r.request_id} ran"
        f" {runs.get(r.request_id, 0)} times"
        for r in results
        if r.request_id and runs.get(r.request_id, 0) == 0
    ]
    report.invocations = len(results)
    for r in results:
        report.styles[r.spec.style] = report.styles.get(r.spec.style, 0) + 1
    report.max_burst = max(
        (min(r.spec.burst, chunk_count(r.spec)) for r in results if r.spec.style != "sync"),
        default=0,
    )
    report.bytes_checked = sum(r.bytes_checked for r in results)
    report.throttled = sum(r.throttled for r in results)
    for r in results:
        cell = report.table.setdefault(f"{r.spec.route} {r.spec.kind}", [0, 0])
        cell[0] += 1
        cell[1] += r.verdict == OK
        if r.verdict != OK:
            where = (
                f"#{r.spec.index} {r.spec.route} {r.spec.kind} seed {r.spec.seed}"
                f" size {r.spec.size}{' bug ' + r.spec.bug if r.spec.bug else ''}"
                f" request {r.request_id or '?'}: {r.detail}"
            )
            getattr(report, r.verdict).append(where)
    seconds = [r.seconds * 1000 for r in results if r.spec.kind == "ok"]
    if seconds:
        report.latency_ms = {"p50": percentile(seconds, 50), "p99": percentile(seconds, 99)}
    report.cold_starts = log.count("INIT_START")
    report.runtime_report_mb = max(
        (int(m) for m in re.findall(r"Max Memory Used: (\d+) MB", log)), default=0
    )
    report.server_errors = server_errors(log)
    if log_dir is not None and not report.problems():
        Path(options.log).unlink()
        os.rmdir(log_dir)
        report.log = "(removed: the soak passed)"
    return report


def run_soak(options: Options) -> Report:
    return asyncio.run(soak(options))


def _size(text: str) -> int:
    """``4M``, ``512K`` or a number of bytes."""
    units = {"K": KiB, "M": MiB}
    return int(text[:-1]) * units[text[-1].upper()] if text[-1:].upper() in units else int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--invocations", type=int, default=10_000)
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--concurrency", type=int, default=0, help="dev server's (default: in-flight + 20%%)"
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="the function's, seconds")
    parser.add_argument("--max-size", type=_size, default=4 * MiB, help="largest response")
    parser.add_argument("--max-seconds", type=float, default=3600.0, help="give up after")
    parser.add_argument(
        "--no-cover", action="store_true", help="do not force every (client, kind) pair in"
    )
    parser.add_argument(
        "--inject-bug",
        action="append",
        default=[],
        choices=sorted(BUGS),
        help="plant a defect to see the checks catch it: "
        + "; ".join(f"{k}: {v}" for k, v in BUGS.items()),
    )
    parser.add_argument("--log", type=Path, help="the dev server's log (default: a temp file)")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    args = parser.parse_args(argv)
    options = Options(
        invocations=args.invocations,
        in_flight=args.in_flight,
        seed=args.seed,
        concurrency=args.concurrency,
        timeout=args.timeout,
        max_size=args.max_size,
        cover=not args.no_cover,
        bugs=tuple(args.inject_bug),
        log=args.log,
        max_seconds=args.max_seconds,
    )
    report = run_soak(options)
    print(report.format())
    if args.json:
        data = asdict(report)
        data["problems"] = report.problems()
        data["injected"], data["reported"] = report.injected, report.reported
        args.json.write_text(json.dumps(data, indent=1))
    return 1 if report.problems() else 0


if __name__ == "__main__":
    sys.exit(main())
