"""Wire cost: syscalls per buffered invocation and per streamed chunk.

Counted with ``strace -f -c`` on the runtime process alone (noise-free:
counts, not times), as the difference between a run of 1 and of 1+N
invocations, so start-up and exit cancel out. Compares lambdastream with
awslambdaric (buffered only: it cannot stream).

    python -m bench.syscalls [--invocations 100]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

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


def count_syscalls(command: list[str], env: dict[str, str], root: str, invocations: int) -> dict:
    out = os.path.join(root, f"strace-{invocations}.txt")
    serve_invocations(["strace", "-f", "-c", "-o", out, *command], env, root, invocations)
    counts: dict[str, int] = {}
    with open(out) as report:
        for line in report:
            fields = line.split()
            # rows: % time, seconds, usecs/call, calls, [errors], syscall
            if len(fields) >= 5 and fields[-1] != "total" and fields[3].isdigit():
                counts[fields[-1]] = int(fields[3])
    return counts


def per_invocation(command, env, root, extra: int) -> tuple[float, dict[str, float]]:
    base = count_syscalls(command, env, root, 1)
    more = count_syscalls(command, env, root, 1 + extra)
    diff = {
        name: (more.get(name, 0) - base.get(name, 0)) / extra
        for name in set(base) | set(more)
        if more.get(name, 0) != base.get(name, 0)
    }
    return sum(diff.values()), diff


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
    print(f"syscalls of the runtime process per invocation ({invocations} invocations)")
    totals: dict[tuple[str, str], float] = {}
    per_chunk = float("nan")
    for runtime, kind, command in rows:
        env = base_env(root, command[-1])
        total, detail = per_invocation(command, env, root, invocations)
        totals[runtime, kind] = total
        shown = ", ".join(f"{name} {n:g}" for name, n in sorted(detail.items()))
        line = f"  {runtime:13} {kind:9} {total:7.2f}   ({shown})"
        if kind == "streamed":
            writes = detail.get("sendto", 0) + detail.get("sendmsg", 0) + detail.get("write", 0)
            # Less the write that ends the stream and the GET for the next event.
            per_chunk = (writes - 2) / CHUNKS_PER_STREAM
            line += f"\n  {'':13} {'':9} writes per chunk: {per_chunk:.2f} (target: exactly 1)"
        print(line)
    ours = totals["lambdastream", "buffered"]
    name = "syscalls per buffered invocation"
    how = "strace -f -c of the runtime process, (1 + N) - 1 invocations"
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
