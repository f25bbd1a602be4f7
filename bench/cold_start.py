"""Cold start: process spawn to the first response, against peers.

Prints the median and p90 of N starts for: the floor (an interpreter that
imports the handler and json, sends one GET on a raw socket and posts the
answer: the least any Python runtime must do), lambdastream's runtime (as
``python -m lambdastream.runtime``), and awslambdaric. Ratios against the
floor and against awslambdaric are the headline.

    python -m bench.cold_start [--runs 21]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile

from bench.runtime_api_stub import base_env, time_to_first_response

HANDLER = """def handler(event, context):
    return {"ok": event["n"]}
"""

FLOOR = """import json, os, _socket
import app
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
s = _socket.socket()
s.connect((host, int(port)))
s.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
data = s.recv(65536)
result = app.handler(json.loads(data.split(b"\\r\\n\\r\\n", 1)[1]), None)
body = json.dumps(result).encode()
s.sendall(b"POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\\r\\n"
          b"Host: x\\r\\nContent-Length: %d\\r\\n\\r\\n%s" % (len(body), body))
s.recv(65536)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="lambdastream-bench-")
    with open(os.path.join(root, "app.py"), "w") as f:
        f.write(HANDLER)
    with open(os.path.join(root, "floor.py"), "w") as f:
        f.write(FLOOR)
    env = base_env(root, "app.handler")
    py = sys.executable
    contenders = {
        "floor": [py, os.path.join(root, "floor.py")],
        "lambdastream": [py, "-m", "lambdastream.runtime", "app.handler"],
        "awslambdaric": [py, "-m", "awslambdaric", "app.handler"],
    }
    print(f"cold start, spawn to first response, {args.runs} rounds (contenders interleaved)")
    for command in contenders.values():  # warm the page cache and .pyc files
        time_to_first_response(command, env, root)
    walls: dict[str, list[float]] = {name: [] for name in contenders}
    cpus: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.runs):
        for name, command in contenders.items():
            wall, cpu = time_to_first_response(command, env, root)
            walls[name].append(wall)
            cpus[name].append(cpu)
    wall_med = {name: statistics.median(v) for name, v in walls.items()}
    cpu_med = {name: statistics.median(v) for name, v in cpus.items()}
    print(f"  {'':14} {'wall median':>12} {'wall p90':>9} {'cpu median':>11}")
    for name in contenders:
        p90 = sorted(walls[name])[max(0, int(len(walls[name]) * 0.9) - 1)]
        print(f"  {name:14} {wall_med[name]:9.1f} ms {p90:6.1f} ms {cpu_med[name]:8.1f} ms")
    for label, med in (("wall", wall_med), ("cpu", cpu_med)):
        ours = med["lambdastream"]
        print(
            f"  {label:4}: lambdastream / floor {ours / med['floor']:.2f}x (target <= 1.20x), "
            f"awslambdaric / lambdastream {med['awslambdaric'] / ours:.2f}x (target >= 1.25x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
