"""ASGI: a FastAPI app on our runtime, against Mangum and a web server behind a proxy.

The app (FastAPI "hello"): ``GET /hello`` answers JSON, ``GET /stream`` is a
``StreamingResponse`` of 10 small chunks. Contenders, each started as a real
process against a loopback Runtime API (``bench.runtime_api_stub``) and given
Function URL events (payload 2.0, built by ``lambdastream dev``'s own code):

- **ours**: ``python -m lambdastream.runtime`` with ``_HANDLER=app_ours.handler``,
  where ``handler = lambdastream.asgi.asgi(app)``: the app runs in the runtime
  process and streams (HTTP integration prelude, 8 NULs, the body); and the
  same with ``_HANDLER=app.app``, the runtime finding the ASGI app itself;
- **Mangum**: ``handler = Mangum(app, lifespan="off")`` in the same runtime
  (only the adapter differs; Mangum answers buffered);
- **uvicorn + proxy**: the AWS Lambda Web Adapter as it runs uvicorn
  (``bench/lwa_model.py``: uvicorn on a loopback port, readiness-polled every
  10 ms, each event forwarded as HTTP/1.1 on a kept-alive connection, the
  response relayed to the Runtime API in streaming mode). A shell starts
  uvicorn and then ``exec``-s the proxy, as Lambda starts the adapter (an
  extension) alongside the app. uvicorn runs as the adapter's docs show it
  (``python -m uvicorn app:app --port N``: httptools, asyncio), without its
  access log.

Figures:

- cold start: process spawn to the first response to ``GET /hello``, median
  and p90 of N starts, contenders interleaved (checked: the answer is the
  app's); and the same answer from a plain ASGI app (no framework), where
  the runtime's and the server's own start are not hidden behind FastAPI's
  import (~220 ms, which every contender pays);
- warm ``GET /stream``: time from handing out the event to the first byte of
  the body (after the prelude; Mangum's buffered answer counts when it is
  complete), p50/p99 over N invocations of one process; and the CPU each
  invocation costs: the runtime process's, or the proxy's plus uvicorn's.

- where the cold start goes: a fresh interpreter (``python -c pass``),
  ``import fastapi`` and the app's module (FastAPI and its 2 routes) alone,
  each a timed ``python -c`` started as the contenders are; each contender's
  FastAPI cold start is then the app module alone, which every contender
  pays, plus what the contender adds (its own modules that FastAPI does not
  import already, its other processes, the readiness poll, the first
  invocation). The plain app's cold start is not subtracted: the runtime and
  uvicorn import much that FastAPI imports too (``asyncio``, ``json``, ...).

``--cpus N`` pins every process of every contender (the runtime, the shell,
uvicorn, the proxy, their children) to N of this machine's CPUs (``taskset``
before the command, ~1 ms for all alike; children inherit it), and this
process, which plays the Runtime API, to the others when there are any (on
Lambda the Runtime API is not served from the function's CPU). Lambda gives
a function CPU in proportion to its memory, one vCPU at 1,769 MB and less
below: ``--cpus 1`` measures the cold start as on a 1-vCPU function, where
uvicorn's start cannot overlap the proxy's as it does on 2 free CPUs.
``--cold-only`` skips the warm part (``bench.report`` runs the cold start
once more that way, ``--cpus 1``).

Goals: ours' cold start within 5% of Mangum's, and at least 1.5x faster than
uvicorn behind the proxy.

    python -m bench.asgi [--quick] [--starts 15] [--invocations 1000] [--cpus N] [--cold-only]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.figures import Figure, percentile
from bench.runtime_api_stub import (
    ACCEPTED,
    answer_next,
    base_env,
    read_request,
    time_to_first_response,
)

HERE = Path(__file__).resolve().parent
LWA_MODEL = HERE / "lwa_model.py"
CHUNKS = 10

APP = f"""from fastapi import FastAPI
from fastapi.responses import StreamingResponse

app = FastAPI()


@app.get("/hello")
async def hello():
    return {{"hello": "world"}}


@app.get("/stream")
async def stream():
    async def body():
        for i in range({CHUNKS}):
            yield b"chunk %d\\n" % i

    return StreamingResponse(body(), media_type="text/plain")
"""
# The same answer without a framework: what the runtime and the server cost alone.
PLAIN_APP = """async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b'{"hello": "world"}'})
"""
ENTRIES = {
    "app_ours.py": (
        "from lambdastream.asgi import asgi\n\nfrom app import app\n\nhandler = asgi(app)\n"
    ),
    "app_mangum.py": (
        "from mangum import Mangum\n\nfrom app import app\n\n"
        'handler = Mangum(app, lifespan="off")\n'
    ),
}
LWA = "uvicorn + proxy"
MANGUM = "Mangum"
OURS = "ours: asgi(app)"
OURS_DIRECT = "ours: _HANDLER=app.app"
LWA_TARGET = 1.5  # ours at least 1.5x faster to start
MANGUM_TARGET = 1.05  # ours within 5% of Mangum's start
LAMBDA_1_VCPU = "as Lambda at 1,769 MB"  # one full vCPU at that memory size, less below
# What every contender's start contains, each timed alone as a fresh ``python -c``.
PROBES = {
    "interpreter": "pass",
    "import fastapi": "import fastapi",
    "app module": "import app",  # FastAPI and the app's 2 routes
}


@dataclass
class Contender:
    name: str
    handler: str  # _HANDLER for our runtime; the ASGI app for uvicorn

    @property
    def lwa(self) -> bool:
        return self.name == LWA


CONTENDERS = [
    Contender(OURS, "app_ours.handler"),
    Contender(OURS_DIRECT, "app.app"),
    Contender(MANGUM, "app_mangum.handler"),
    Contender(LWA, "app:app"),
]


def url_event(path: str) -> bytes:
    """A Function URL event for ``GET path``, as Lambda (and ``lambdastream dev``) builds it."""
    from lambdastream.local.url_event import URL_ID, build_event
    from lambdastream.wire.request import HttpRequest

    host = f"{URL_ID}.lambda-url.us-east-1.on.aws"
    request = HttpRequest("GET", path, [("Host", host), ("User-Agent", "bench")], b"")
    event = build_event(request, request_id="r", source_ip="127.0.0.1", scheme="https")
    return json.dumps(event).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_sets(cpus: int | None) -> tuple[list[int] | None, list[int] | None]:
    """(the CPUs the contenders get, the CPUs this process moves to) for
    ``--cpus``; (None, None) without it: everything floats on all CPUs."""
    if cpus is None:
        return None, None
    have = sorted(os.sched_getaffinity(0))
    if not 1 <= cpus <= len(have):
        raise SystemExit(f"--cpus {cpus}: this process may use {len(have)} CPUs")
    if shutil.which("taskset") is None:
        raise SystemExit("--cpus needs taskset (util-linux)")
    return have[:cpus], have[cpus:] or None


def pinned(cmd: list[str], cpus: list[int] | None) -> list[str]:
    """``cmd`` run on ``cpus`` (it and every child), or as is when None."""
    if cpus is None:
        return cmd
    return ["taskset", "-c", ",".join(map(str, cpus)), *cmd]


@contextlib.contextmanager
def runs_on(cpus: list[int] | None) -> Iterator[None]:
    """This thread (the Runtime API stub) on ``cpus`` for the block, if given."""
    if cpus is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def command(contender: Contender, cpus: list[int] | None = None) -> list[str]:
    py = sys.executable
    if not contender.lwa:
        return pinned([py, "-m", "lambdastream.runtime", contender.handler], cpus)
    port = free_port()
    server = [py, "-m", "uvicorn", contender.handler, "--host", "127.0.0.1", "--port", str(port),
              "--no-access-log", "--log-level", "warning"]  # fmt: skip
    script = f'"$@" & exec "$0" -I -S {LWA_MODEL} --port {port} --server-pid $!'
    return pinned(["/bin/sh", "-c", script, py, *server], cpus)


def check_answer(name: str, head: bytes, body: bytes, expect: bytes) -> None:
    """The runtime's request was the invocation's answer, carrying ``expect``."""
    line = head.split(b"\r\n", 1)[0]
    if not (line.startswith(b"POST") and b"/response" in line and expect in body):
        raise RuntimeError(f"{name}: not the app's answer: {line!r} {body[:300]!r}")


def cold_starts(task: Path, starts: int, cpus: list[int] | None = None) -> dict[str, list[float]]:
    """Spawn-to-first-response times (ms) of each contender, rounds interleaved."""
    event = url_event("/hello")
    walls: dict[str, list[float]] = {c.name: [] for c in CONTENDERS}
    for i in range(starts + 1):  # the first round warms the page cache
        for contender in CONTENDERS:
            first: list[tuple[bytes, bytes]] = []
            env = base_env(str(task), contender.handler)
            cmd = command(contender, cpus)
            wall, _ = time_to_first_response(cmd, env, str(task), event, first)
            check_answer(contender.name, *first[0], b"world")
            if i:
                walls[contender.name].append(wall)
    return walls


def probe_times(task: Path, rounds: int, cpus: list[int] | None = None) -> dict[str, list[float]]:
    """Wall ms of each of :data:`PROBES` as a fresh ``python -c``, started
    as the runtime is (same interpreter, environment, directory and CPUs),
    to the byte it writes when its code has run (its exit not counted, as a
    cold start ends at the first response); rounds interleaved, the first
    one discarded."""
    env = base_env(str(task), "app.app")
    times: dict[str, list[float]] = {name: [] for name in PROBES}
    for i in range(rounds + 1):
        for name, code in PROBES.items():
            cmd = pinned([sys.executable, "-c", f"{code}\nimport os\nos.write(1, b'.')"], cpus)
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, env=env, cwd=str(task), stdout=subprocess.PIPE)
            done = proc.stdout.read(1)  # type: ignore[union-attr]
            wall = (time.perf_counter() - t0) * 1000
            proc.stdout.close()  # type: ignore[union-attr]
            if proc.wait() or done != b".":
                raise RuntimeError(f"python -c {code!r} failed ({proc.returncode})")
            if i:
                times[name].append(wall)
    return times


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            for child in f.read().split():
                found += [int(child), *descendants(int(child))]
    return found


def tree_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds of ``pid`` itself and of all its descendants together."""
    others = 0.0
    for child in descendants(pid):
        with contextlib.suppress(FileNotFoundError):
            others += process_cpu(child)
    return process_cpu(pid), others


def read_timed(conn: socket.socket, buf: bytes) -> tuple[float, bytes, bytes]:
    """Read one response request from the runtime; return (when its body's
    first byte came, perf_counter seconds; the body; what followed).

    For an HTTP integration stream the body's first byte is the first after
    the prelude and its 8-NUL delimiter; for a buffered answer
    (Content-Length), the answer complete."""
    while b"\r\n\r\n" not in buf:
        buf += conn.recv(65536)
    head, _, rest = buf.partition(b"\r\n\r\n")
    lower = head.lower()
    if b"transfer-encoding: chunked" not in lower:
        _, whole, rest = read_request(conn, buf)
        return time.perf_counter(), whole, rest
    integration = b"http-integration-response" in lower
    body = bytearray()
    first = None
    pos = 0
    while True:
        while True:
            eol = rest.find(b"\r\n", pos)
            if eol < 0:
                break
            size = int(rest[pos:eol].split(b";")[0], 16)
            if size == 0:
                end = rest.find(b"\r\n\r\n", eol)
                if end >= 0:
                    return first or time.perf_counter(), bytes(body), rest[end + 4 :]
                break
            if len(rest) < eol + 4 + size:
                break
            body += rest[eol + 2 : eol + 2 + size]
            pos = eol + 4 + size
        if first is None:
            start = body.find(bytes(8)) + 8 if integration else 0
            if (start >= 8 or not integration) and len(body) > start:
                first = time.perf_counter()
        more = conn.recv(65536)
        if not more:
            raise ConnectionError("runtime closed the connection mid-response")
        rest += more


@dataclass
class Warm:
    ttfb: list[float]  # ms
    cpu_runtime: float  # CPU ms per invocation: the runtime process (the proxy for LWA)
    cpu_children: float  # CPU ms per invocation of its children (uvicorn)


def warm(
    contender: Contender,
    task: Path,
    invocations: int,
    warmup: int = 50,
    cpus: list[int] | None = None,
) -> Warm:
    """``invocations`` warm ``GET /stream`` through one process of ``contender``."""
    event = url_event("/stream")
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    srv.settimeout(60)
    env = dict(
        base_env(str(task), contender.handler),
        AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{srv.getsockname()[1]}",
    )
    proc = subprocess.Popen(
        command(contender, cpus), env=env, cwd=str(task), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # its complaint when this stub hangs up; answers are checked
        start_new_session=True,
    )  # fmt: skip
    try:
        conn, _ = srv.accept()
        conn.settimeout(60)
        buf = b""
        times: list[float] = []
        cpu0 = (0.0, 0.0)
        for i in range(warmup + invocations):
            _, _, buf = read_request(conn, buf)  # GET /next
            if i == warmup:
                cpu0 = tree_cpu(proc.pid)
            t0 = time.perf_counter()
            answer_next(conn, f"r{i}", event)
            first, body, buf = read_timed(conn, buf)
            conn.sendall(ACCEPTED)
            if b"chunk %d" % (CHUNKS - 1) not in body:
                raise RuntimeError(f"{contender.name}: unexpected answer {body[:300]!r}")
            if i >= warmup:
                times.append((first - t0) * 1000)
        _, _, buf = read_request(conn, buf)  # the next GET: the last invocation is done
        cpu1 = tree_cpu(proc.pid)
        conn.close()
    finally:
        srv.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return Warm(
        times,
        (cpu1[0] - cpu0[0]) * 1000 / invocations,
        (cpu1[1] - cpu0[1]) * 1000 / invocations,
    )


def write_task(root: Path, app: str = APP) -> Path:
    task = root / ("task" if app == APP else "plain")
    task.mkdir()
    (task / "app.py").write_text(app)
    for name, source in ENTRIES.items():
        (task / name).write_text(source)
    return task


def run(
    quick: bool = False,
    starts: int | None = None,
    invocations: int | None = None,
    cpus: int | None = None,
    cold_only: bool = False,
) -> list[Figure]:
    """Measure, print, and return the figures for the report.

    ``cpus``: pin the contenders to that many CPUs (see the module's doc);
    ``cold_only``: skip the warm part."""
    starts = starts or (5 if quick else 15)
    invocations = invocations or (200 if quick else 1000)
    import lambdastream.asgi  # noqa: F401  (fails here, clearly, if the adapter is missing)

    mine, stub = cpu_sets(cpus)
    with runs_on(stub):
        return _run(starts, invocations, mine, stub, cold_only)


def _run(
    starts: int,
    invocations: int,
    mine: list[int] | None,
    stub: list[int] | None,
    cold_only: bool,
) -> list[Figure]:
    n = len(mine) if mine else len(os.sched_getaffinity(0))
    where = f"on {n} CPU{'s' if n > 1 else ''}"
    on = f" {where}" if mine is None else ""  # in the figures' names; else the group says it
    if mine is None:
        group = "ASGI"
        pinning = f"all {n} CPUs, unpinned: uvicorn and the proxy start in parallel"
    else:
        group = f"ASGI {where}, " + (LAMBDA_1_VCPU if n == 1 else "pinned")
        pinning = (
            f"every contender's processes pinned to CPU {','.join(map(str, mine))} (taskset),"
            " the Runtime API stub "
            + (f"on CPU {','.join(map(str, stub))}" if stub else "sharing it (no other CPU)")
        )
    root = Path(tempfile.mkdtemp(prefix="lambdastream-asgi-"))
    task = write_task(root)
    print(
        f"ASGI: FastAPI hello app, {pinning}; Python {sys.version_info[0]}."
        f"{sys.version_info[1]}; cold start: spawn to first response to GET /hello,"
        f" {starts} rounds (contenders interleaved)"
    )
    walls = cold_starts(task, starts, mine)
    med = {name: statistics.median(values) for name, values in walls.items()}
    p90 = {name: percentile(values, 90) for name, values in walls.items()}
    print(f"  {'':24} {'median':>9} {'p90':>9}  vs ours")
    for name in walls:
        print(f"  {name:24} {med[name]:6.1f} ms {p90[name]:6.1f} ms  {med[name] / med[OURS]:.2f}x")
    print(
        f"  ours / {MANGUM}: {med[OURS] / med[MANGUM]:.3f}x (target <= {MANGUM_TARGET}),"
        f" {LWA} / ours: {med[LWA] / med[OURS]:.2f}x (target >= {LWA_TARGET})"
    )

    plain = cold_starts(write_task(root, PLAIN_APP), starts, mine)
    plain_med = {name: statistics.median(values) for name, values in plain.items()}
    print("  the same answer from a plain ASGI app (no framework):")
    for name in plain:
        print(f"  {name:24} {plain_med[name]:6.1f} ms {percentile(plain[name], 90):6.1f} ms"
              f"  {plain_med[name] / plain_med[OURS]:.2f}x")  # fmt: skip

    probes = probe_times(task, starts, mine)
    probe = {name: statistics.median(values) for name, values in probes.items()}
    app_alone = probe["app module"]
    print(
        f"  where the time goes (medians), {where}: python -c pass {probe['interpreter']:.1f} ms;"
        f" python -c 'import fastapi' {probe['import fastapi']:.1f} ms; python -c 'import app'"
        f" (the app module: FastAPI, 2 routes) {app_alone:.1f} ms ({starts} rounds each)"
    )
    print(f"  {'':24} {'cold start':>10} = {'app module':>10} + {'the rest':>9}  {'plain app':>9}")
    for name in walls:
        print(
            f"  {name:24} {med[name]:7.1f} ms   {app_alone:7.1f} ms   {med[name] - app_alone:6.1f}"
            f" ms  {plain_med[name]:6.1f} ms"
        )
    print(
        "  (the rest: what the contender adds to the app's own import in a fresh interpreter;"
        " plain app: its cold start without FastAPI, which re-imports much FastAPI imports)"
    )
    ceiling = med[LWA] / app_alone
    print(
        f"  were ours to add nothing to the app module, {LWA} / ours would be {ceiling:.2f}x;"
        f" {LWA_TARGET}x needs the peer to add {(LWA_TARGET - 1) * app_alone:.0f} ms or more"
    )

    cold = f"FastAPI cold start{on} (median)"
    how_lwa = (
        "bench/lwa_model.py: a Python model of the Lambda Web Adapter (its Rust binary"
        " cannot be built here: crates.io is unreachable); uvicorn started alongside it; " + pinning
    )
    if mine is None:
        how_lwa += " (`--cpus 1`: on one CPU, as a 1-vCPU Lambda at 1,769 MB runs them)"
    beyond = f"cold start{on} less the app's import (median)"
    rests = ", ".join(f"{name} {med[name] - app_alone:.0f} ms" for name in walls)
    how_beyond = (
        f"what each contender adds to the app's own import: python -c 'import app' (the app"
        f" module: FastAPI, 2 routes) takes {app_alone:.0f} ms {where}, of which import fastapi"
        f" {probe['import fastapi']:.0f} ms and the interpreter {probe['interpreter']:.0f} ms;"
        f" every contender pays it. Added: {rests}. Were ours to add nothing, the peer's"
        f" start would be {ceiling:.2f}x ours; {LWA_TARGET}x needs it to add"
        f" {(LWA_TARGET - 1) * app_alone:.0f} ms or more"
    )
    figures = [
        Figure(cold, med[OURS], LWA, med[LWA], "ms", goal=LWA_TARGET, group=group,
               note=how_lwa),
        Figure(f"FastAPI cold start{on} (p90)", p90[OURS], LWA, p90[LWA], "ms",
               group=group),
        Figure(cold, med[OURS], MANGUM, med[MANGUM], "ms", goal=1 / MANGUM_TARGET,
               group=group, note="the same runtime; Mangum(app, lifespan='off')"),
        Figure(f"{cold}, _HANDLER=app.app", med[OURS_DIRECT], MANGUM, med[MANGUM], "ms",
               goal=1 / MANGUM_TARGET, group=group),
        Figure(f"cold start{on}, plain ASGI app (median)", plain_med[OURS], LWA,
               plain_med[LWA], "ms", group=group,
               note="no framework: the runtime's and uvicorn's own start"),
        Figure(f"cold start{on}, plain ASGI app (median)", plain_med[OURS], MANGUM,
               plain_med[MANGUM], "ms", group=group),
        Figure(beyond, med[OURS] - app_alone, LWA, med[LWA] - app_alone, "ms", group=group,
               note=how_beyond),
    ]  # fmt: skip
    ratios = (
        f"{LWA} / ours cold start {where} {med[LWA] / med[OURS]:.2f}x (target >="
        f" {LWA_TARGET}); ours / {MANGUM} {med[OURS] / med[MANGUM]:.3f}x (target <="
        f" {MANGUM_TARGET})"
    )
    if cold_only:
        print(f"\nratios: {ratios}")
        return figures

    print(f"\nwarm GET /stream ({CHUNKS} chunks), {invocations} invocations of one process")
    print(
        f"  {'':24} {'TTFB p50':>9} {'p99':>9}  {'CPU/request':>11}"
        f" {'(runtime or proxy':>18} {'+ uvicorn)':>10}"
    )
    warms: dict[str, Warm] = {}
    for contender in CONTENDERS:
        w = warm(contender, task, invocations, cpus=mine)
        warms[contender.name] = w
        total = w.cpu_runtime + w.cpu_children
        print(
            f"  {contender.name:24} {percentile(w.ttfb, 50):6.3f} ms {percentile(w.ttfb, 99):6.3f}"
            f" ms {total:8.3f} ms {w.cpu_runtime:14.3f} ms {w.cpu_children:7.3f} ms"
        )

    def ttfb(name: str, p: float) -> float:
        return percentile(warms[name].ttfb, p)

    def cpu(name: str) -> float:
        return warms[name].cpu_runtime + warms[name].cpu_children

    figures += [
        Figure("warm TTFB, StreamingResponse (p50)", ttfb(OURS, 50), LWA, ttfb(LWA, 50), "ms",
               group=group),
        Figure("warm TTFB, StreamingResponse (p99)", ttfb(OURS, 99), LWA, ttfb(LWA, 99), "ms",
               group=group),
        Figure("warm TTFB, StreamingResponse (p50)", ttfb(OURS, 50), MANGUM, ttfb(MANGUM, 50),
               "ms", group=group, note="Mangum buffers: its first byte is its whole answer"),
        Figure("CPU per StreamingResponse request", cpu(OURS), LWA, cpu(LWA), "ms",
               group=group, note="ours: the runtime process; peer: the proxy plus uvicorn"),
        Figure("CPU per StreamingResponse request", cpu(OURS), "uvicorn alone",
               warms[LWA].cpu_children, "ms", group=group,
               note="the peer without its proxy's CPU (the Rust adapter's is less than the"
               " model's)"),
    ]  # fmt: skip
    print(
        f"\nratios: {ratios}; TTFB p50 ours / {LWA} {ttfb(OURS, 50) / ttfb(LWA, 50):.2f}x;"
        f" CPU/request ours / {LWA} {cpu(OURS) / cpu(LWA):.2f}x"
    )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 starts, 200 invocations")
    parser.add_argument("--starts", type=int, help="cold starts per contender (default 15)")
    parser.add_argument("--invocations", type=int, help="warm invocations (default 1000)")
    parser.add_argument(
        "--cpus",
        type=int,
        help="pin every contender's processes to N CPUs (default: all, unpinned)",
    )
    parser.add_argument("--cold-only", action="store_true", help="skip the warm part")
    args = parser.parse_args()
    run(args.quick, args.starts, args.invocations, args.cpus, args.cold_only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
