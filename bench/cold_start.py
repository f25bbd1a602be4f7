"""Cold start: process spawn to the first response, against peers.

Prints the median and p90 of N starts for:

- the floor: an interpreter that imports the handler and json, sends one
  GET on a raw socket and posts the answer (the least any Python runtime
  must do);
- lambdastream through the entry point users deploy: the layer's exec
  wrapper, started as a managed Python runtime starts it
  (``/opt/lambdastream <python> /var/runtime/bootstrap.py``), with the layer
  built by ``lambdastream build layer`` into a directory standing for /opt;
- lambdastream as ``python -m lambdastream.runtime`` (what ``lambdastream
  dev`` runs);
- awslambdaric, the managed runtime's own client.

Each round runs twice: with a handler that imports nothing, and with one
that imports ``json`` itself (as most handlers do, through boto3 if not
directly), since lambdastream decodes events without the ``json`` package
and the floor imports it either way. Every contender runs on the same
interpreter. Ratios against the floor and against awslambdaric are the
headline.

    python -m bench.cold_start [--runs 21]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from bench.figures import Figure, percentile
from bench.runtime_api_stub import base_env, time_to_first_response

HANDLERS = {
    "plain handler": """def handler(event, context):
    return {"ok": event["n"]}
""",
    "handler importing json": """import json


def handler(event, context):
    return {"ok": event["n"]}
""",
}

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

WRAPPER_TARGET = 1.10
AWSLAMBDARIC_TARGET = 1.25


def build_layer_dir(root: Path) -> Path:
    """The layer as Lambda unpacks it into /opt, and a stand-in for /var/runtime."""
    from lambdastream.deploy.layer import build_layer

    opt = root / "opt"
    interpreter = {f"{sys.version_info[0]}.{sys.version_info[1]}": sys.executable}
    build_layer(interpreters=interpreter).write_dir(opt)
    runtime = root / "var-runtime"
    runtime.mkdir()
    # Never run: the wrapper replaces the managed bootstrap.
    (runtime / "bootstrap.py").write_text("raise SystemExit('the managed bootstrap ran')\n")
    return opt


def measure(runs: int, task: Path, contenders: dict[str, list[str]]) -> dict[str, list[float]]:
    env = base_env(str(task), "app.handler")
    env.pop("PYTHONPATH")  # Lambda sets none: each runtime finds its own code
    env["LAMBDA_RUNTIME_DIR"] = str(task.parent / "var-runtime")
    src = str(Path(__file__).resolve().parents[1] / "src")
    envs = {name: env for name in contenders}
    envs["python -m"] = dict(env, PYTHONPATH=src)
    for name, command in contenders.items():  # warm the page cache
        time_to_first_response(command, envs[name], str(task))
    walls: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(runs):
        for name, command in contenders.items():
            walls[name].append(time_to_first_response(command, envs[name], str(task))[0])
    return walls


def run(runs: int = 21) -> list[Figure]:
    """Measure, print the tables, and return the figures for the report."""
    root = Path(tempfile.mkdtemp(prefix="lambdastream-bench-"))
    opt = build_layer_dir(root)
    py = sys.executable
    print(
        f"cold start, spawn to first response, {runs} rounds (contenders interleaved),"
        f" Python {sys.version_info[0]}.{sys.version_info[1]}"
    )
    figures: list[Figure] = []
    for label, source in HANDLERS.items():
        task = root / label.replace(" ", "-")
        task.mkdir()
        (task / "app.py").write_text(source)
        (task / "floor.py").write_text(FLOOR)
        contenders = {
            "floor": [py, str(task / "floor.py")],
            "layer wrapper": [
                str(opt / "lambdastream"),
                py,
                str(root / "var-runtime" / "bootstrap.py"),
            ],
            "python -m": [py, "-m", "lambdastream.runtime", "app.handler"],
            "awslambdaric": [py, "-m", "awslambdaric", "app.handler"],
        }
        walls = measure(runs, task, contenders)
        med = {name: statistics.median(v) for name, v in walls.items()}
        print(f"  {label}:")
        print(f"    {'':14} {'median':>9} {'p90':>9}  vs floor")
        for name, values in walls.items():
            p90 = percentile(values, 90)
            print(
                f"    {name:14} {med[name]:6.1f} ms {p90:6.1f} ms  {med[name] / med['floor']:.2f}x"
            )
        ours = med["layer wrapper"]
        print(
            f"    layer wrapper / floor {ours / med['floor']:.2f}x (target <= {WRAPPER_TARGET}x),"
            f" awslambdaric / layer wrapper {med['awslambdaric'] / ours:.2f}x"
            f" (target >= {AWSLAMBDARIC_TARGET}x)"
        )
        name = f"{label}, layer wrapper (median)"
        how = "spawn to first response, the layer's exec wrapper as a managed runtime starts it"
        figures += [
            Figure(name, ours, "floor", med["floor"], "ms", goal=1 / WRAPPER_TARGET,
                   group="cold start", note=how if not figures else ""),
            Figure(name, ours, "awslambdaric", med["awslambdaric"], "ms",
                   goal=AWSLAMBDARIC_TARGET, group="cold start"),
        ]  # fmt: skip
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    run(args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
