"""Relay: how fast ``lambdastream dev`` passes a stream from a runtime to a client.

Starts the real ``lambdastream dev`` (one per contender, as a subprocess) and
talks to its Function URL over a raw keep-alive socket. For each runtime:

- time to first body byte, p50/p99 over N warm invocations of a handler that
  writes one 16-byte chunk;
- small chunks: one invocation writing 100,000 chunks of 16 bytes, chunks/s
  as the client receives them, with the CPU share the dev server and the
  runtime used during it (a process near 100% is the bottleneck);
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

    python -m bench.relay [--quick] [--runs 1000] [--strace] [--no-node]

cargo-lambda is not a contender: its ``watch`` runs only ``cargo run`` of a
Rust package, and with ``--only-lambda-apis`` its Runtime API lives under a
path prefix (``AWS_LAMBDA_RUNTIME_API=http://127.0.0.1:9000/.rt``) that
neither our runtime nor Node's streaming client can use (both take
``host:port`` and send fixed paths).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
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

REPO = Path(__file__).resolve().parent.parent
NODE_PEER = REPO / "tests" / "peers" / "node"

HANDLER = """def handler(event, context):
    q = event.get("queryStringParameters") or {}
    chunk = b"x" * int(q.get("size", "16"))
    # A generator streams one chunk per yield.
    return (chunk for _ in range(int(q.get("count", "1"))))
"""

# The least a runtime can do: no handler call, no framing work per chunk.
FLOOR = """import json, os, _socket
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
s = _socket.socket()
s.connect((host, int(port)))
s.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
buf = b""

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
    s.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
    fields, body = read_response()
    rid = fields[b"lambda-runtime-aws-request-id"]
    q = json.loads(body).get("queryStringParameters") or {}
    size, count = int(q.get("size", "16")), int(q.get("count", "1"))
    frame = b"%x\\r\\n%s\\r\\n" % (size, b"x" * size)
    head = (b"POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\\r\\nHost: x\\r\\n"
            b"Lambda-Runtime-Function-Response-Mode: streaming\\r\\n"
            b"Content-Type: application/octet-stream\\r\\n"
            b"Transfer-Encoding: chunked\\r\\n\\r\\n" % rid)
    if q.get("batch"):
        per = max(1, 65536 // len(frame))
        sends = [frame * min(per, count - i) for i in range(0, count, per)]
    else:
        sends = [frame] * count
    s.sendall(head + sends[0])
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


class DevServer:
    """``lambdastream dev`` as a subprocess; its log goes to a file, not a pipe
    we would have to drain from the measuring process."""

    def __init__(self, contender: Contender, workdir: Path) -> None:
        self.log_path = workdir / f"{contender.name.replace(' ', '_')}.log"
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


class Client:
    """A raw-socket HTTP/1.1 client on one keep-alive connection."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = socket.create_connection(address)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def get(self, count: int, size: int, extra: str = "") -> tuple[float, float, bytes]:
        """One streamed GET; return (seconds to first body byte, seconds to the
        end, the raw chunked body). The body is kept as received and parsed
        afterwards, so that the client spends as little CPU as it can while
        the relay runs."""
        sock = self.sock
        request = f"GET /?count={count}&size={size}{extra} HTTP/1.1\r\nHost: bench\r\n\r\n"
        t0 = time.perf_counter()
        sock.sendall(request.encode())
        data = b""
        while True:  # the head, then at least one byte of the first chunk's payload
            more = sock.recv(1 << 20)
            if not more:
                raise ConnectionError("dev server closed the connection")
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
        request = f"GET /?count={count}&size={size} HTTP/1.1\r\nHost: bench\r\n\r\n"
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


def cpu_snapshot(server: DevServer) -> tuple[float, float]:
    """CPU seconds so far of the dev server and of all its runtimes together."""
    runtimes = 0.0
    for pid in server.runtime_pids():
        with contextlib.suppress(FileNotFoundError):  # an environment that just went away
            runtimes += cpu_seconds(pid)
    return cpu_seconds(server.proc.pid), runtimes


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def measure_first_byte(client: Client, server: DevServer, runs: int) -> tuple[float, float, int]:
    """(p50, p99) in ms of time to first body byte over ``runs`` warm
    invocations, and how many cold starts happened among them."""
    for _ in range(50):  # warm: environments started, code paths hot
        client.get(1, SMALL_SIZE)
    cold = server.cold_starts()
    times = [client.get(1, SMALL_SIZE)[0] * 1000 for _ in range(runs)]
    return percentile(times, 50), percentile(times, 99), server.cold_starts() - cold


@dataclass
class Throughput:
    rate: float  # chunks/s or MiB/s
    server_cpu: float  # share of one core the dev server used
    runtime_cpu: float  # same for the runtime process


def measure_small(client: Client, server: DevServer, extra: str = "") -> Throughput:
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


def measure_large(client: Client, server: DevServer) -> Throughput:
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


def count_syscalls(client: Client, server: DevServer, count: int) -> tuple[float, float, str]:
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="warm invocations for TTFB")
    parser.add_argument("--quick", action="store_true", help="100 TTFB runs")
    parser.add_argument("--no-node", action="store_true", help="skip the Node.js client")
    parser.add_argument("--strace", action="store_true", help="count syscalls per chunk")
    parser.add_argument(
        "--repeat", type=int, default=5, help="throughput runs per figure (median shown)"
    )
    args = parser.parse_args()
    runs = 100 if args.quick else args.runs

    workdir = Path(tempfile.mkdtemp(prefix="lambdastream-relay-"))
    (workdir / "relay_app.py").write_text(HANDLER)
    (workdir / "floor.py").write_text(FLOOR)
    contenders = [
        Contender("lambdastream", "relay_app.handler", workdir),
        Contender("floor", "relay_app.handler", workdir, f"{sys.executable} {workdir}/floor.py"),
    ]
    node_ready = (NODE_PEER / "node_modules" / "aws-lambda-ric").is_dir() and shutil.which("node")
    if not args.no_node:
        if node_ready:
            contenders.insert(
                1,
                Contender(
                    "node", "bench_stream.handler", NODE_PEER / "handlers",
                    str(NODE_PEER / "bootstrap"),
                ),
            )  # fmt: skip
        else:
            print("node: skipped (run tools/install-node-ric.sh)")
    print(
        f"relay through lambdastream dev, {os.cpu_count()} CPUs; TTFB over {runs} warm runs; "
        f"{SMALL_COUNT:,} x {SMALL_SIZE} B; {LARGE_COUNT} x {LARGE_SIZE // 1024} KiB; "
        f"throughput: median of {args.repeat} runs"
    )
    ttfb: dict[str, tuple[float, float, int]] = {}
    small: dict[str, Throughput] = {}
    large: dict[str, Throughput] = {}
    syscalls: dict[str, tuple[float, float, str]] = {}
    for contender in contenders:
        server = DevServer(contender, workdir)
        client = Client(server.address)
        try:
            ttfb[contender.name] = measure_first_byte(client, server, runs)
            small[contender.name] = median_of(args.repeat, measure_small, client, server)
            if contender.name == "floor":
                small["floor, batched"] = median_of(
                    args.repeat, measure_small, client, server, "&batch=1"
                )
            large[contender.name] = median_of(args.repeat, measure_large, client, server)
            if args.strace and shutil.which("strace"):
                syscalls[contender.name] = count_syscalls(client, server, 20_000)
        finally:
            client.close()
            server.stop()

    print("\ntime to first body byte (ms), one 16 B chunk, warm")
    print(f"  {'':16} {'p50':>7} {'p99':>7} {'cold starts among them':>23}")
    for name, (p50, p99, cold) in ttfb.items():
        print(f"  {name:16} {p50:7.3f} {p99:7.3f} {cold:23}")
    print(f"\nsmall chunks: {SMALL_COUNT:,} x {SMALL_SIZE} B in one invocation")
    print(f"  {'':16} {'chunks/s':>10} {'dev server CPU':>15} {'runtime CPU':>12}")
    for name, t in small.items():
        print(f"  {name:16} {t.rate:10,.0f} {t.server_cpu:14.0%} {t.runtime_cpu:12.0%}")
    print(f"\nlarge: {LARGE_COUNT} x {LARGE_SIZE // 1024} KiB (100 MiB) in one invocation")
    print(f"  {'':16} {'MiB/s':>10} {'dev server CPU':>15} {'runtime CPU':>12}")
    for name, t in large.items():
        print(f"  {name:16} {t.rate:10,.0f} {t.server_cpu:14.0%} {t.runtime_cpu:12.0%}")
    if syscalls:
        print("\nsyscalls per relayed 16 B chunk (strace -c -f, 20,000 chunks)")
        print(f"  {'':16} {'dev server':>10} {'runtime':>8}  dev server's top calls per chunk")
        for name, (server_calls, runtime_calls, top) in syscalls.items():
            print(f"  {name:16} {server_calls:10.3f} {runtime_calls:8.3f}  {top}")

    ours = "lambdastream"
    print("\nratios and targets")
    floor_p50, floor_p99, _ = ttfb["floor"]
    p50, p99, _ = ttfb[ours]
    print(
        f"  runtime adds to TTFB (ours - floor): p50 {p50 - floor_p50:+.3f} ms (target < 1), "
        f"p99 {p99 - floor_p99:+.3f} ms (target < 5)"
    )
    print(
        f"  relay: floor {small['floor'].rate:,.0f} chunks/s per-chunk sends, "
        f"{small['floor, batched'].rate:,.0f} batched (target >= 150,000); "
        f"TTFB p50 {floor_p50:.3f} ms (cargo-lambda ~0.5)"
    )
    if "node" in ttfb:
        node_p50, node_p99, _ = ttfb["node"]
        print(
            f"  ours / node: TTFB p50 {p50 / node_p50:.2f}x, p99 {p99 / node_p99:.2f}x (lower is "
            f"better); small {small[ours].rate / small['node'].rate:.2f}x, "
            f"large {large[ours].rate / large['node'].rate:.2f}x (target >= 1)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
