"""Relay: how fast ``lambdastream dev`` passes a stream from a runtime to a client.

Starts the real ``lambdastream dev`` (one per contender, as a subprocess) and
talks to its Function URL over a raw keep-alive socket. For each runtime:

- time to first body byte, p50/p99 over N warm invocations of a handler that
  writes one 16-byte chunk;
- small chunks: one invocation writing 100,000 chunks of 16 bytes, chunks/s
  as the client receives them, with the CPU share the dev server and the
  runtime used during it (a process near 100% is the bottleneck) and the
  runtime's CPU per chunk;
- large: one 100 MiB stream in 64 KiB chunks, MiB/s.

Throughput figures are the median of ``--repeat`` runs (one stream varies by
up to 2x from run to run on a shared 2-core machine).

Contenders: our runtime (``python -m lambdastream.runtime``), the official
Node.js client (``tests/peers/node``, installed by ``tools/install-node-ric.sh``)
and a *floor*: a few lines of Python on a raw socket that answer each
invocation with the same bytes and one send per chunk, so the dev server's
own cost shows. "floor, batched" sends the same chunks 64 KiB per send: the
dev server's ceiling when the runtime is not the limit. With ``--strace``,
``strace -c`` counts the syscalls of the dev server and of the runtime per
relayed chunk (strace slows everything: that pass is not timed).

Async small chunks, the same shape on both sides: 100,000 writes of 16 bytes,
``PER_TURN`` (10) of them in one event-loop turn, then one yield to the loop:
``await asyncio.sleep(0)`` in Python (an async generator handler, and a
Starlette ``StreamingResponse`` through ``lambdastream.asgi``), ``await new
Promise(setImmediate)`` in Node (``bench/node/async_chunks.mjs``). Node sends
the writes of one turn in one ``writev`` (it corks the socket until the next
tick); the figure is chunks/s and the runtime's CPU per chunk. The same again
with all 100,000 writes in one turn ("one turn": a burst, as an async
generator over rows it already holds writes them); Node then waits for
"drain" whenever its socket's buffer is full, our runtime sends what the turn
gathered each 64 KiB.

cargo-lambda's relay: ``cargo lambda watch`` (the ``cargo-lambda`` package
from PyPI) runs only ``cargo run`` of a Rust package, and gives the function a
Runtime API under a path prefix (``AWS_LAMBDA_RUNTIME_API=
http://127.0.0.1:PORT/.rt/relayfloor``) that neither our runtime nor Node's
client can use (both take ``host:port``). So the floor runtime, which follows
the prefix, runs behind both relays: ``bench/cargo_lambda_exec`` is a
std-only Rust package (it builds offline) whose binary execs it. Both relays
then relay the same runtime sending the same bytes (an HTTP integration
prelude, which cargo-lambda's Function URL requires, and the chunks).

    python -m bench.relay [--quick] [--runs 1000] [--strace] [--no-node] [--no-cargo-lambda]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.figures import Figure, percentile

REPO = Path(__file__).resolve().parent.parent
NODE_PEER = REPO / "tests" / "peers" / "node"
NODE_ASYNC = Path(__file__).resolve().parent / "node"
CARGO_PACKAGE = Path(__file__).resolve().parent / "cargo_lambda_exec"
PER_TURN = 10  # async writes per event-loop turn

HANDLER = """import asyncio


def handler(event, context):
    q = event.get("queryStringParameters") or {}
    chunk = b"x" * int(q.get("size", "16"))
    # A generator streams one chunk per yield.
    return (chunk for _ in range(int(q.get("count", "1"))))


async def async_handler(event, context):
    # per_turn chunks in one event-loop turn, then one yield to the loop.
    q = event.get("queryStringParameters") or {}
    chunk = b"x" * int(q.get("size", "16"))
    count, per_turn = int(q.get("count", "1")), int(q.get("per_turn", "10"))
    for start in range(0, count, per_turn):
        for _ in range(min(per_turn, count - start)):
            yield chunk
        await asyncio.sleep(0)
"""

# The same shape as an ASGI app: a Starlette StreamingResponse, through our adapter.
ASGI_HANDLER = """import asyncio

from starlette.applications import Starlette
from starlette.responses import StreamingResponse
from starlette.routing import Route

from lambdastream.asgi import asgi


async def chunks(request):
    q = request.query_params
    chunk = b"x" * int(q.get("size", "16"))
    count, per_turn = int(q.get("count", "1")), int(q.get("per_turn", "10"))

    async def body():
        for start in range(0, count, per_turn):
            for _ in range(min(per_turn, count - start)):
                yield chunk
            await asyncio.sleep(0)

    return StreamingResponse(body(), media_type="application/octet-stream")


app = Starlette(routes=[Route("/", chunks)])
handler = asgi(app)
"""

# The least a runtime can do: no handler call, no framing work per chunk.
# It follows a Runtime API address with a path prefix (cargo-lambda's), and
# sends an HTTP integration prelude and its delimiter as two chunks, as
# lambda_runtime does (cargo-lambda's Function URL reads them as such).
FLOOR = """import json, os, _socket
api = os.environ["AWS_LAMBDA_RUNTIME_API"].split("://", 1)[-1]
hostport, _, prefix = api.partition("/")
prefix = ("/" + prefix.rstrip("/")).encode() if prefix else b""
host, port = hostport.rsplit(":", 1)
s = _socket.socket()
s.connect((host, int(port)))
s.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
buf = b""
meta = b'{"statusCode":200,"headers":{"content-type":"application/octet-stream"},"cookies":[]}'
prelude = b"%x\\r\\n%s\\r\\n8\\r\\n%s\\r\\n" % (len(meta), meta, bytes(8))

def read_response():
    global buf
    while b"\\r\\n\\r\\n" not in buf:
        buf += s.recv(65536)
    head, _, buf = buf.partition(b"\\r\\n\\r\\n")
    fields = dict(
        line.split(b": ", 1) for line in head.lower().split(b"\\r\\n")[1:] if b": " in line
    )
    length = int(fields.get(b"content-length", b"0"))
    while len(buf) < length:
        buf += s.recv(65536)
    body, buf = buf[:length], buf[length:]
    return fields, body

while True:
    s.sendall(b"GET %s/2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"
              % prefix)
    fields, body = read_response()
    rid = fields[b"lambda-runtime-aws-request-id"]
    q = json.loads(body).get("queryStringParameters") or {}
    size, count = int(q.get("size", "16")), int(q.get("count", "1"))
    frame = b"%x\\r\\n%s\\r\\n" % (size, b"x" * size)
    head = (b"POST %s/2018-06-01/runtime/invocation/%s/response HTTP/1.1\\r\\nHost: x\\r\\n"
            b"Lambda-Runtime-Function-Response-Mode: streaming\\r\\n"
            b"Content-Type: application/vnd.awslambda.http-integration-response\\r\\n"
            b"Transfer-Encoding: chunked\\r\\n\\r\\n" % (prefix, rid))
    if q.get("batch"):
        per = max(1, 65536 // len(frame))
        sends = [frame * min(per, count - i) for i in range(0, count, per)]
    else:
        sends = [frame] * count
    s.sendall(head + prelude + sends[0])
    for data in sends[1:]:
        s.sendall(data)
    s.sendall(b"0\\r\\n\\r\\n")
    read_response()
"""

SMALL_COUNT = 100_000
SMALL_SIZE = 16
LARGE_SIZE = 64 * 1024
LARGE_COUNT = 1600  # 100 MiB
_END = b"\r\n0\r\n\r\n"  # the terminating chunk (our bench streams carry no trailers)
_URL = re.compile(rb"Function URL: http://([\d.]+):(\d+)/")


@dataclass
class Contender:
    name: str
    handler: str
    root: Path
    bootstrap: str | None = None
    small_only: bool = False  # the async contenders: small chunks only
    extra: str = ""  # added to each request's query
    relay: str = "lambdastream dev"  # or "cargo-lambda"


class DevServer:
    """``lambdastream dev`` as a subprocess; its log goes to a file, not a pipe
    we would have to drain from the measuring process."""

    path = "/"  # the Function URL's path

    def __init__(self, contender: Contender, workdir: Path) -> None:
        self.log_path = workdir / f"{contender.name.replace(' ', '_').replace(',', '')}.log"
        command = [
            sys.executable, "-m", "lambdastream", "dev", contender.handler,
            "--root", str(contender.root), "--port", "0", "--api-port", "0",
            "--timeout", "120",
        ]  # fmt: skip
        if contender.bootstrap:
            command += ["--bootstrap", contender.bootstrap]
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop)
        env = {**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, cwd=str(REPO),
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while True:
            found = _URL.search(self.log_path.read_bytes())
            if found:
                self.address = (found.group(1).decode(), int(found.group(2)))
                break
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"dev server did not start:\n{self.log_path.read_text()}")
            time.sleep(0.05)

    def runtime_pids(self) -> list[int]:
        """The environments' runtime processes (children of the dev server).

        A request that comes before the last runtime asked for more work
        starts another environment, as in Lambda: after warming up there
        are a few, and any of them may serve the next invocation.
        """
        with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
            return [int(pid) for pid in f.read().split()]

    def cold_starts(self) -> int:
        """Environments started so far."""
        return self.log_path.read_bytes().count(b"INIT_START")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


class CargoLambda:
    """``cargo lambda watch`` relaying the floor, as :class:`DevServer` does:
    its Function URL is ``/lambda-url/relayfloor/``."""

    path = "/lambda-url/relayfloor/"

    def __init__(self, contender: Contender, workdir: Path, command: list[str]) -> None:
        package = workdir / "cargo_lambda_exec"
        if not package.exists():
            shutil.copytree(CARGO_PACKAGE, package)
        self.log_path = workdir / "cargo-lambda.log"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop)
        env = {**os.environ, "NO_COLOR": "1", "PATH": cargo_path()}
        self.proc = subprocess.Popen(
            [*command, "lambda", "watch", "-A", "127.0.0.1", "-P", str(port), "--ignore-changes",
             "--quiet", "--", *shlex.split(contender.bootstrap or "")],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            cwd=str(package),
        )  # fmt: skip
        self.address = ("127.0.0.1", port)
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(self.address, 1):
                break
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(
                    f"cargo lambda watch did not start:\n{self.log_path.read_text()}"
                )
            time.sleep(0.05)

    def runtime_pids(self) -> list[int]:
        """The floor runtimes cargo-lambda started (through cargo run and the exec)."""
        pids = []
        for pid in descendants(self.proc.pid):
            with contextlib.suppress(FileNotFoundError), open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"floor.py" in f.read():
                    pids.append(pid)
        return pids

    def cold_starts(self) -> int:
        return self.log_path.read_bytes().count(b"starting lambda function instance")

    def stop(self) -> None:
        for pid in self.runtime_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def cargo_path() -> str:
    """PATH with cargo's own directory on it (rustup puts it in ~/.cargo/bin)."""
    path = os.environ.get("PATH", "")
    home_cargo = Path.home() / ".cargo" / "bin"
    if shutil.which("cargo") is None and (home_cargo / "cargo").exists():
        path = f"{home_cargo}{os.pathsep}{path}"
    return path


def cargo_lambda_command() -> tuple[list[str] | None, str]:
    """How to run cargo-lambda here, or None and why not."""
    if shutil.which("cargo", path=cargo_path()) is None:
        return None, "cargo (the Rust toolchain) is not installed"
    beside = Path(sys.executable).parent / "cargo-lambda"
    found = str(beside) if beside.exists() else shutil.which("cargo-lambda")
    if found is None:
        return None, "cargo-lambda is not installed (pip install cargo-lambda; make bench does)"
    return [found], ""


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``."""
    found: list[int] = []
    with contextlib.suppress(FileNotFoundError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                for child in f.read().split():
                    found += [int(child), *descendants(int(child))]
    return found


class Client:
    """A raw-socket HTTP/1.1 client on one keep-alive connection."""

    def __init__(self, address: tuple[str, int], path: str = "/") -> None:
        self.sock = socket.create_connection(address)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(120)  # a stuck relay is an error, not a hang
        self.path = path
        self.first_response_byte = 0.0

    def get(self, count: int, size: int, extra: str = "") -> tuple[float, float, bytes]:
        """One streamed GET; return (seconds to first body byte, seconds to the
        end, the raw chunked body). The body is kept as received and parsed
        afterwards, so that the client spends as little CPU as it can while
        the relay runs. ``first_response_byte`` holds when its first byte
        (of the status line) came."""
        sock = self.sock
        request = (
            f"GET {self.path}?count={count}&size={size}{extra} HTTP/1.1\r\nHost: bench\r\n\r\n"
        )
        t0 = time.perf_counter()
        sock.sendall(request.encode())
        data = b""
        while True:  # the head, then at least one byte of the first chunk's payload
            more = sock.recv(1 << 20)
            if not more:
                raise ConnectionError("dev server closed the connection")
            if not data:
                self.first_response_byte = time.perf_counter() - t0
            data += more
            head_end = data.find(b"\r\n\r\n")
            if head_end >= 0:
                if not data.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(f"unexpected response: {data[:300]!r}")
                size_end = data.find(b"\r\n", head_end + 4)
                if size_end >= 0 and len(data) > size_end + 2:
                    break
        first = time.perf_counter() - t0
        parts = [data[head_end + 4 :]]
        tail = parts[0][-7:]
        while not tail.endswith(_END):
            more = sock.recv(1 << 20)
            if not more:
                raise ConnectionError("dev server closed the connection mid-stream")
            parts.append(more)
            tail = (tail + more[-7:])[-7:]
        return first, time.perf_counter() - t0, b"".join(parts)

    def get_counting(self, count: int, size: int) -> tuple[float, int]:
        """A large streamed GET whose body is counted, not kept: (seconds, body bytes)."""
        sock = self.sock
        request = f"GET {self.path}?count={count}&size={size} HTTP/1.1\r\nHost: bench\r\n\r\n"
        t0 = time.perf_counter()
        sock.sendall(request.encode())
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        total = 0
        tail = b""
        while not tail.endswith(_END):
            n = sock.recv_into(buf)
            if not n:
                raise ConnectionError("dev server closed the connection mid-stream")
            total += n
            tail = (tail + bytes(view[max(0, n - 7) : n]))[-7:]
        return time.perf_counter() - t0, total

    def close(self) -> None:
        self.sock.close()


def chunk_sizes(body: bytes) -> list[int]:
    """Payload sizes of a chunked body, in order, without the terminating chunk."""
    sizes: list[int] = []
    pos = 0
    while True:
        eol = body.index(b"\r\n", pos)
        size = int(body[pos:eol].split(b";")[0], 16)
        if size == 0:
            return sizes
        sizes.append(size)
        pos = eol + 2 + size + 2


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_snapshot(server: DevServer | CargoLambda) -> tuple[float, float]:
    """CPU seconds so far of the dev server and of all its runtimes together."""
    runtimes = 0.0
    for pid in server.runtime_pids():
        with contextlib.suppress(FileNotFoundError):  # an environment that just went away
            runtimes += cpu_seconds(pid)
    return cpu_seconds(server.proc.pid), runtimes


def measure_first_byte(
    client: Client, server: DevServer | CargoLambda, runs: int
) -> tuple[float, float, int, float]:
    """(p50, p99) in ms of time to first body byte over ``runs`` warm
    invocations, how many cold starts happened among them, and the p50 of
    the first response byte (the status line: a relay that holds the body
    back, as cargo-lambda's Nagle-delayed writes do, sends it sooner)."""
    for _ in range(50):  # warm: environments started, code paths hot
        client.get(1, SMALL_SIZE)
    cold = server.cold_starts()
    times, heads = [], []
    for _ in range(runs):
        times.append(client.get(1, SMALL_SIZE)[0] * 1000)
        heads.append(client.first_response_byte * 1000)
    return (
        percentile(times, 50),
        percentile(times, 99),
        server.cold_starts() - cold,
        percentile(heads, 50),
    )


@dataclass
class Throughput:
    rate: float  # chunks/s or MiB/s
    server_cpu: float  # share of one core the dev server used
    runtime_cpu: float  # same for the runtime process

    @property
    def runtime_cpu_per_item(self) -> float:
        """The runtime's CPU per chunk (or per MiB), in microseconds."""
        return self.runtime_cpu / self.rate * 1e6


def measure_small(client: Client, server: DevServer | CargoLambda, extra: str = "") -> Throughput:
    """Chunks/s for one invocation writing SMALL_COUNT chunks of SMALL_SIZE bytes."""
    client.get(1000, SMALL_SIZE, extra)  # warm this path once
    cpu0 = cpu_snapshot(server)
    _, elapsed, body = client.get(SMALL_COUNT, SMALL_SIZE, extra)
    cpu1 = cpu_snapshot(server)
    sizes = chunk_sizes(body)
    # The framing may differ (a relay may re-chunk); the payload must not.
    if sum(sizes) != SMALL_COUNT * SMALL_SIZE:
        raise RuntimeError(f"got {sum(sizes)} payload bytes, expected {SMALL_COUNT * SMALL_SIZE}")
    return Throughput(
        SMALL_COUNT / elapsed, (cpu1[0] - cpu0[0]) / elapsed, (cpu1[1] - cpu0[1]) / elapsed
    )


def measure_large(client: Client, server: DevServer | CargoLambda) -> Throughput:
    """MiB/s for one stream of LARGE_COUNT chunks of LARGE_SIZE bytes."""
    cpu0 = cpu_snapshot(server)
    elapsed, total = client.get_counting(LARGE_COUNT, LARGE_SIZE)
    cpu1 = cpu_snapshot(server)
    payload = LARGE_COUNT * LARGE_SIZE
    if total < payload:
        raise RuntimeError(f"got {total} bytes, expected at least {payload}")
    return Throughput(
        payload / (1 << 20) / elapsed,
        (cpu1[0] - cpu0[0]) / elapsed,
        (cpu1[1] - cpu0[1]) / elapsed,
    )


def median_of(runs: int, measure: Callable[..., Throughput], *args: object) -> Throughput:
    """The run of median rate among ``runs``: single streams vary a lot here."""
    results = sorted((measure(*args) for _ in range(max(1, runs))), key=lambda t: t.rate)
    return results[len(results) // 2]


def count_syscalls(
    client: Client, server: DevServer | CargoLambda, count: int
) -> tuple[float, float, str]:
    """Syscalls per chunk of the dev server and of the runtime while relaying
    ``count`` small chunks, and the dev server's top syscalls."""
    pids = {"server": [server.proc.pid], "runtime": server.runtime_pids()}
    procs = {}
    outputs = {}
    for name, group in pids.items():
        out = Path(tempfile.mktemp(prefix=f"strace-{name}-"))
        outputs[name] = out
        attach = [arg for pid in group for arg in ("-p", str(pid))]
        procs[name] = subprocess.Popen(
            ["strace", "-f", "-c", "-o", str(out), *attach],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    time.sleep(1.0)  # let strace attach to every thread
    client.get(count, SMALL_SIZE)
    totals = {}
    for name, proc in procs.items():
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
        text = outputs[name].read_text()
        found = re.search(r"^-+.*\n\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)", text, re.M)
        totals[name] = int(found.group(1)) if found else 0
        if name == "server":
            rows = re.findall(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$", text, re.M)
            top = ", ".join(f"{call} {int(n) / count:.3f}" for n, call in rows[:4])
        outputs[name].unlink()
    return totals["server"] / count, totals["runtime"] / count, top


TTFB_ADDED_P50 = 1.0  # ms the runtime may add to the first byte over the floor, p50
TTFB_ADDED_P99 = 5.0
FLOOR_CHUNKS_TARGET = 150_000  # chunks/s: the relay alone, per-chunk sends
RELAY_TTFB_SLACK = 0.1  # ms the relay's first byte may trail cargo-lambda's, p50


def contenders_for(
    workdir: Path, node: bool, cargo: bool, asyncs: bool
) -> tuple[list[Contender], dict[str, str]]:
    """The contenders to run, and the ones skipped with why."""
    (workdir / "relay_app.py").write_text(HANDLER)
    (workdir / "relay_asgi.py").write_text(ASGI_HANDLER)
    (workdir / "floor.py").write_text(FLOOR)
    floor = f"{sys.executable} {workdir}/floor.py"
    turn = f"&per_turn={PER_TURN}"
    contenders = [Contender("lambdastream", "relay_app.handler", workdir)]
    skipped: dict[str, str] = {}
    node_ready = (NODE_PEER / "node_modules" / "aws-lambda-ric").is_dir() and shutil.which("node")
    if node and not node_ready:
        skipped["node"] = "the Node.js client is not installed (tools/install-node-ric.sh)"
    elif node:
        bootstrap = str(NODE_PEER / "bootstrap")
        contenders.append(
            Contender("node", "bench_stream.handler", NODE_PEER / "handlers", bootstrap)
        )
    contenders.append(Contender("floor", "relay_app.handler", workdir, floor))
    if cargo:
        command, why = cargo_lambda_command()
        if command is None:
            skipped["floor via cargo-lambda"] = why
        else:
            contenders.append(Contender("floor via cargo-lambda", "", workdir, floor,
                                        relay="cargo-lambda"))  # fmt: skip
    if asyncs:
        contenders.append(
            Contender("lambdastream async", "relay_app.async_handler", workdir, small_only=True,
                      extra=turn)
        )  # fmt: skip
        contenders.append(
            Contender("lambdastream ASGI", "relay_asgi.handler", workdir, small_only=True,
                      extra=turn)
        )  # fmt: skip
        burst = f"&per_turn={SMALL_COUNT}"
        contenders.append(
            Contender("lambdastream async, one turn", "relay_app.async_handler", workdir,
                      small_only=True, extra=burst)
        )  # fmt: skip
        if node and node_ready:
            contenders.append(
                Contender("node async", "async_chunks.handler", NODE_ASYNC,
                          str(NODE_PEER / "bootstrap"), small_only=True, extra=turn)
            )  # fmt: skip
            contenders.append(
                Contender("node async, one turn", "async_chunks.handler", NODE_ASYNC,
                          str(NODE_PEER / "bootstrap"), small_only=True, extra=burst)
            )  # fmt: skip
    return contenders, skipped


def start(contender: Contender, workdir: Path) -> DevServer | CargoLambda:
    if contender.relay == "cargo-lambda":
        command, why = cargo_lambda_command()
        if command is None:
            raise RuntimeError(why)
        return CargoLambda(contender, workdir, command)
    return DevServer(contender, workdir)


def run(
    runs: int = 1000,
    repeat: int = 5,
    quick: bool = False,
    node: bool = True,
    cargo: bool = True,
    asyncs: bool = True,
    strace: bool = False,
) -> list[Figure]:
    """Measure, print, and return the figures for the report."""
    workdir = Path(tempfile.mkdtemp(prefix="lambdastream-relay-"))
    contenders, skipped = contenders_for(workdir, node, cargo, asyncs)
    for name, why in skipped.items():
        print(f"{name}: not run: {why}")
    print(
        f"relay through lambdastream dev, {os.cpu_count()} CPUs; TTFB over {runs} warm runs; "
        f"{SMALL_COUNT:,} x {SMALL_SIZE} B; {LARGE_COUNT} x {LARGE_SIZE // 1024} KiB; "
        f"throughput: median of {repeat} runs"
    )
    ttfb: dict[str, tuple[float, float, int, float]] = {}
    small: dict[str, Throughput] = {}
    large: dict[str, Throughput] = {}
    syscalls: dict[str, tuple[float, float, str]] = {}
    for contender in contenders:
        try:
            server = start(contender, workdir)
        except RuntimeError as exc:
            skipped[contender.name] = str(exc).splitlines()[0]
            print(f"{contender.name}: not run: {exc}")
            continue
        client = Client(server.address, server.path)
        name = contender.name
        try:
            if contender.small_only:
                client.get(1, SMALL_SIZE, contender.extra)  # the environment started
                small[name] = median_of(repeat, measure_small, client, server, contender.extra)
                continue
            ttfb[name] = measure_first_byte(client, server, runs)
            small[name] = median_of(repeat, measure_small, client, server)
            if name.startswith("floor"):
                small[f"{name}, batched"] = median_of(
                    repeat, measure_small, client, server, "&batch=1"
                )
            large[name] = median_of(repeat, measure_large, client, server)
            if strace and shutil.which("strace") and contender.relay == "lambdastream dev":
                syscalls[name] = count_syscalls(client, server, 20_000)
        finally:
            client.close()
            server.stop()

    width = 34
    print("\ntime to first body byte (ms), one 16 B chunk, warm; and to the response's first byte")
    print(
        f"  {'':{width}} {'p50':>7} {'p99':>7} {'cold starts among them':>23}"
        f" {'first response byte p50':>24}"
    )
    for name, (p50, p99, cold, head) in ttfb.items():
        print(f"  {name:{width}} {p50:7.3f} {p99:7.3f} {cold:23} {head:24.3f}")
    print(f"\nsmall chunks: {SMALL_COUNT:,} x {SMALL_SIZE} B in one invocation"
          f" (async: {PER_TURN} writes per event-loop turn)")  # fmt: skip
    print(
        f"  {'':{width}} {'chunks/s':>10} {'relay CPU':>10} {'runtime CPU':>12}"
        f" {'runtime us/chunk':>17}"
    )
    for name, t in small.items():
        print(
            f"  {name:{width}} {t.rate:10,.0f} {t.server_cpu:9.0%} {t.runtime_cpu:12.0%}"
            f" {t.runtime_cpu_per_item:17.2f}"
        )
    print(f"\nlarge: {LARGE_COUNT} x {LARGE_SIZE // 1024} KiB (100 MiB) in one invocation")
    print(f"  {'':{width}} {'MiB/s':>10} {'relay CPU':>10} {'runtime CPU':>12}")
    for name, t in large.items():
        print(f"  {name:{width}} {t.rate:10,.0f} {t.server_cpu:9.0%} {t.runtime_cpu:12.0%}")
    if syscalls:
        print("\nsyscalls per relayed 16 B chunk (strace -c -f, 20,000 chunks)")
        print(f"  {'':{width}} {'dev server':>10} {'runtime':>8}  dev server's top calls per chunk")
        for name, (server_calls, runtime_calls, top) in syscalls.items():
            print(f"  {name:{width}} {server_calls:10.3f} {runtime_calls:8.3f}  {top}")
    figures = relay_figures(ttfb, small, large, skipped)
    print("\nratios and targets")
    for f in figures:
        ratio = "not run" if f.ratio is None else f"{f.ratio:.2f}x"
        goal = f" (goal {f.goal_text}{', met' if f.met else ', missed' if f.met is False else ''})"
        print(f"  {f.group}: {f.name}: ours / {f.peer_name} {ratio}{goal if f.goal else ''}")
    return figures


def relay_figures(
    ttfb: dict[str, tuple[float, float, int, float]],
    small: dict[str, Throughput],
    large: dict[str, Throughput],
    skipped: dict[str, str],
) -> list[Figure]:
    """The report's figures from the measurements (missing ones: not run)."""

    def get(table: dict, name: str, pick: Callable) -> float | None:
        return pick(table[name]) if name in table else None

    def rate(t: Throughput) -> float:
        return t.rate

    def cpu(t: Throughput) -> float:
        return t.runtime_cpu_per_item

    def p50(t: tuple) -> float:
        return t[0]

    def p99(t: tuple) -> float:
        return t[1]

    def first_byte(t: tuple) -> float:
        return t[3]

    cargo_head = get(ttfb, "floor via cargo-lambda", first_byte)
    cargo_head_budget = None if cargo_head is None else cargo_head + RELAY_TTFB_SLACK
    ours = "lambdastream"
    floor_p50, floor_p99 = get(ttfb, "floor", p50), get(ttfb, "floor", p99)
    budget50 = None if floor_p50 is None else floor_p50 + TTFB_ADDED_P50
    budget99 = None if floor_p99 is None else floor_p99 + TTFB_ADDED_P99
    node_why = skipped.get("node", "")
    cargo_why = skipped.get("floor via cargo-lambda", "")
    g, ga, gc = "relay: sync generator", "relay: async 16 B chunks", "relay: the relay alone"
    chunks = f"{SMALL_COUNT:,} x {SMALL_SIZE} B"
    figures = [
        Figure("TTFB (p50)", get(ttfb, ours, p50), f"floor + {TTFB_ADDED_P50:g} ms", budget50,
               "ms", goal=1.0, group=g,
               note="the runtime may add 1 ms (p99: 5 ms) to a raw-socket runtime's first byte"),
        Figure("TTFB (p99)", get(ttfb, ours, p99), f"floor + {TTFB_ADDED_P99:g} ms", budget99,
               "ms", goal=1.0, group=g),
        Figure("TTFB (p50)", get(ttfb, ours, p50), "node", get(ttfb, "node", p50), "ms",
               group=g, note=node_why),
        Figure("TTFB (p99)", get(ttfb, ours, p99), "node", get(ttfb, "node", p99), "ms", group=g),
        Figure(f"{chunks}, chunks/s", get(small, ours, rate), "node", get(small, "node", rate),
               "chunks/s", better="higher", goal=1.0, group=g),
        Figure(f"{chunks}, runtime CPU per chunk", get(small, ours, cpu), "node",
               get(small, "node", cpu), "us", goal=1.0, group=g),
        Figure("100 MiB in 64 KiB chunks", get(large, ours, rate), "node",
               get(large, "node", rate), "MiB/s", better="higher", goal=1.0, group=g),
    ]  # fmt: skip
    for contender in ("lambdastream async", "lambdastream ASGI"):
        label = "async generator" if contender.endswith("async") else "ASGI StreamingResponse"
        why = skipped.get(contender, "") or node_why
        figures += [
            Figure(f"{label}, chunks/s", get(small, contender, rate), "node async",
                   get(small, "node async", rate), "chunks/s", better="higher", goal=1.0,
                   group=ga, note=why or (f"{PER_TURN} writes per event-loop turn on both sides"
                                          if contender.endswith("async") else "")),
            Figure(f"{label}, runtime CPU per chunk", get(small, contender, cpu), "node async",
                   get(small, "node async", cpu), "us", goal=1.0, group=ga),
        ]  # fmt: skip
    burst_why = skipped.get("lambdastream async, one turn", "") or node_why
    figures += [
        Figure(f"async generator, all {SMALL_COUNT:,} in one turn, chunks/s",
               get(small, "lambdastream async, one turn", rate), "node async, one turn",
               get(small, "node async, one turn", rate), "chunks/s", better="higher", goal=1.0,
               group=ga, note=burst_why or "every write before the first yield to the loop"),
        Figure(f"async generator, all {SMALL_COUNT:,} in one turn, runtime CPU per chunk",
               get(small, "lambdastream async, one turn", cpu), "node async, one turn",
               get(small, "node async, one turn", cpu), "us", goal=1.0, group=ga),
    ]  # fmt: skip
    figures += [
        Figure("floor relayed, chunks/s, one send per chunk", get(small, "floor", rate),
               "cargo-lambda", get(small, "floor via cargo-lambda", rate), "chunks/s",
               better="higher", goal=1.0, group=gc,
               note=cargo_why or "the same floor runtime behind both relays"),
        Figure("floor relayed, chunks/s, batched sends", get(small, "floor, batched", rate),
               "cargo-lambda", get(small, "floor via cargo-lambda, batched", rate), "chunks/s",
               better="higher", goal=1.0, group=gc),
        Figure("floor relayed, TTFB (p50)", floor_p50, "cargo-lambda",
               get(ttfb, "floor via cargo-lambda", p50), "ms", group=gc,
               note="cargo-lambda sets no TCP_NODELAY on the sockets it accepts (strace): its"
               " response head leaves at once, the first body bytes wait for the client's"
               " delayed ACK (~40 ms) under Nagle's algorithm"),
        Figure("floor relayed, first response byte (p50)", get(ttfb, "floor", first_byte),
               f"cargo-lambda + {RELAY_TTFB_SLACK:g} ms", cargo_head_budget, "ms", goal=1.0,
               group=gc, note="the status line's first byte, which cargo-lambda does not hold"
               " back: the relays' own latency"),
        Figure("floor relayed, 100 MiB in 64 KiB chunks", get(large, "floor", rate),
               "cargo-lambda", get(large, "floor via cargo-lambda", rate), "MiB/s",
               better="higher", goal=1.0, group=gc),
        Figure("floor relayed, chunks/s, one send per chunk", get(small, "floor", rate),
               "target", FLOOR_CHUNKS_TARGET, "chunks/s", better="higher", goal=1.0, group=gc),
    ]  # fmt: skip
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="warm invocations for TTFB")
    parser.add_argument("--quick", action="store_true", help="100 TTFB runs, 1 throughput run")
    parser.add_argument("--no-node", action="store_true", help="skip the Node.js client")
    parser.add_argument("--no-cargo-lambda", action="store_true", help="skip cargo-lambda")
    parser.add_argument("--no-async", action="store_true", help="skip the async contenders")
    parser.add_argument("--strace", action="store_true", help="count syscalls per chunk")
    parser.add_argument(
        "--repeat", type=int, default=5, help="throughput runs per figure (median shown)"
    )
    args = parser.parse_args()
    run(
        runs=100 if args.quick else args.runs,
        repeat=1 if args.quick else args.repeat,
        quick=args.quick,
        node=not args.no_node,
        cargo=not args.no_cargo_lambda,
        asyncs=not args.no_async,
        strace=args.strace,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
