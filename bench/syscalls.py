"""Wire cost: syscalls per buffered invocation and per streamed chunk.

The runtime process runs under ``strace -f`` (it starts the runtime, so no
invocation is missed) against a stub Runtime API; the trace is cut into
invocations at the runtime's requests for its next event, and only whole
invocations are counted: not the first (it may import lazily), not what
comes before it (start-up) or after the last (the exit, where a reconnect
races the stub's close and so varies with the machine's load). Counts, not
times. Compares lambdastream with awslambdaric (buffered only: it cannot
stream).

    python -m bench.syscalls [--invocations 100]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass

from bench.figures import Figure
from bench.runtime_api_stub import base_env, serve_invocations

HANDLERS = """
CHUNK = b"x" * 16

def buffered(event, context):
    return {"ok": event["n"]}

def streamed(event, context):
    for _ in range(100):
        yield CHUNK
"""
CHUNKS_PER_STREAM = 100
# The syscalls that send bytes.
WRITES = ("sendto", "sendmsg", "write", "writev")
# Where one invocation ends and the next begins: the runtime asks for an event.
_NEXT = "GET /2018-06-01/runtime/invocation/next "
# `PID name(first argument, ...`, or a call another thread interrupted:
# `PID name(args <unfinished ...>` (its `<... name resumed>` line is not a new call).
_CALL = re.compile(r"^\d+ +([a-z_0-9]+)\((\d*)")


@dataclass
class Traced:
    """One invocation's syscalls, in order, each as ``name(first argument)``.

    >>> Traced(["recvfrom(3)", "sendto(3)", "write(1)", "sendto(3)"], api_fd=3).writes
    2
    """

    calls: list[str]
    api_fd: int  # the Runtime API connection

    @property
    def writes(self) -> int:
        """Writes on the Runtime API connection: what the runtime chose to send."""
        sends = {f"{name}({self.api_fd})" for name in WRITES}
        return sum(call in sends for call in self.calls)


def split_invocations(trace: list[str]) -> list[Traced]:
    """Cut an ``strace -f`` log into invocations, each ending with its request for the next.

    What comes before the first request for an event (start-up) and after
    the last belongs to no invocation.

    >>> log = [
    ...     '7 openat(AT_FDCWD, "app.py", O_RDONLY) = 3',
    ...     '7 sendto(3, "GET /2018-06-01/runtime/invocation/next HTTP/1.1"..., 99) = 99',
    ...     '7 recvfrom(3, "HTTP/1.1 200 OK"..., 65536, 0, NULL, NULL) = 243',
    ...     '7 sendto(3, "POST /2018-06-01/runtime/invocation/r0/response"..., 173) = 173',
    ...     '7 sendto(3, "GET /2018-06-01/runtime/invocation/next HTTP/1.1"..., 99) = 99',
    ...     '7 recvfrom(3, "", 65536, 0, NULL, NULL) = 0',
    ... ]
    >>> split_invocations(log)
    [Traced(calls=['recvfrom(3)', 'sendto(3)', 'sendto(3)'], api_fd=3)]
    """
    invocations: list[Traced] = []
    current: list[str] | None = None
    for line in trace:
        match = _CALL.match(line)
        if match is None:
            continue  # a resumed call, a signal, an exit
        name, fd = match.groups()
        call = f"{name}({fd})" if fd else name
        if name in WRITES and _NEXT in line:
            if current is not None:
                invocations.append(Traced([*current, call], int(fd)))
            current = []
        elif current is not None:
            current.append(call)
    return invocations


def trace_invocations(
    command: list[str], env: dict[str, str], root: str, invocations: int
) -> list[Traced]:
    """Run ``invocations`` invocations through the runtime ``command`` under strace;
    the syscalls of each but the first, in order."""
    out = os.path.join(root, f"strace-{invocations}.txt")
    # -s: enough of each buffer to tell a request for the next event.
    strace = ["strace", "-f", "-qq", "-s", "64", "-o", out]
    serve_invocations([*strace, *command], env, root, invocations)
    with open(out, errors="replace") as log:
        traced = split_invocations(log.read().splitlines())
    # One more when the runtime, refused its last event, reconnected and asked
    # again before the stub stopped listening: that belongs to no invocation.
    if len(traced) not in (invocations, invocations + 1):
        raise RuntimeError(f"{out}: {len(traced)} invocations traced, {invocations} served")
    return traced[1:invocations]


def per_invocation(
    command: list[str], env: dict[str, str], root: str, extra: int
) -> tuple[float, dict[str, float], float]:
    """Of ``extra`` invocations after a first: the median of their syscalls, each
    syscall's mean, and the median of their writes on the Runtime API connection."""
    traced = trace_invocations(command, env, root, 1 + extra)
    counts = Counter(call.split("(")[0] for one in traced for call in one.calls)
    detail = {name: n / len(traced) for name, n in counts.items()}
    total = statistics.median(len(one.calls) for one in traced)
    return total, detail, statistics.median(one.writes for one in traced)


BUFFERED_TARGET = 5  # syscalls per buffered invocation, at most


def run(invocations: int = 100) -> list[Figure]:
    """Count, print, and return the figures for the report (strace needed)."""
    if shutil.which("strace") is None:
        raise RuntimeError("strace is not installed (Debian: apt-get install strace)")
    root = tempfile.mkdtemp(prefix="lambdastream-bench-")
    with open(os.path.join(root, "app.py"), "w") as f:
        f.write(HANDLERS)
    py = sys.executable
    rows = [
        ("lambdastream", "buffered", [py, "-m", "lambdastream.runtime", "app.buffered"]),
        ("awslambdaric", "buffered", [py, "-m", "awslambdaric", "app.buffered"]),
        ("lambdastream", "streamed", [py, "-m", "lambdastream.runtime", "app.streamed"]),
    ]
    print(f"syscalls of the runtime process per invocation (median of {invocations})")
    totals: dict[tuple[str, str], float] = {}
    per_chunk = float("nan")
    for runtime, kind, command in rows:
        env = base_env(root, command[-1])
        total, detail, writes = per_invocation(command, env, root, invocations)
        totals[runtime, kind] = total
        shown = ", ".join(f"{name} {n:g}" for name, n in sorted(detail.items()))
        line = f"  {runtime:13} {kind:9} {total:7.2f}   ({shown})"
        if kind == "streamed":
            # Less the write that ends the stream and the GET for the next event.
            per_chunk = (writes - 2) / CHUNKS_PER_STREAM
            line += f"\n  {'':13} {'':9} writes per chunk: {per_chunk:.2f} (target: exactly 1)"
        print(line)
    ours = totals["lambdastream", "buffered"]
    name = "syscalls per buffered invocation"
    how = "strace -f of the runtime process, the median of N invocations after a first"
    return [
        Figure(name, ours, "awslambdaric", totals["awslambdaric", "buffered"], "syscalls",
               goal=1.0, group="wire cost", note=how),
        Figure(name, ours, "target", BUFFERED_TARGET, "syscalls", goal=1.0, group="wire cost"),
        Figure("writes per streamed 16 B chunk", per_chunk, "target", 1.0, "writes", goal=1.0,
               group="wire cost"),
    ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invocations", type=int, default=100)
    args = parser.parse_args()
    if shutil.which("strace") is None:
        print("strace is not installed (Debian: apt-get install strace)", file=sys.stderr)
        return 2
    run(args.invocations)
    return 0


if __name__ == "__main__":
    sys.exit(main())
