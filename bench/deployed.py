"""Cold start as deployed: the FastAPI template as ``sam build`` makes it, against its peers.

Four functions, the same FastAPI app (``lambdastream init --template
fastapi``'s ``app.py``: a JSON route, a streamed one, Server-Sent Events),
each a SAM project built by ``sam build`` (no container) for python3.13 on
this machine's architecture, each packaged as its own documentation says:

- **ours**: the init project itself (its architecture set to this
  machine's): the function built by its Makefile (``lambdastream build
  function``: every module compiled to unchecked-hash bytecode), the layer
  by ``layer/Makefile``; ``AWS_LAMBDA_EXEC_WRAPPER=/opt/lambdastream``;
- **ours without bytecode**: the same, every ``__pycache__`` of the function
  removed, as sam's own Python build would ship it (the layer keeps its
  bytecode): what the bytecode is worth;
- **Mangum**: ``handler = Mangum(app, lifespan="off")`` (Mangum's README),
  requirements ``fastapi`` and ``mangum``, sam's own Python build, no
  layer, started by the managed runtime's own bootstrap (awslambdaric);
- **LWA model**: the app as ``main:app`` under uvicorn, packaged as the Lambda
  Web Adapter's ``fastapi-response-streaming-zip`` example: requirements
  ``fastapi`` and ``uvicorn``, ``run.sh`` as handler, ``AWS_LAMBDA_EXEC_WRAPPER=
  /opt/bootstrap`` (its layer's wrapper, which ``exec``s the handler),
  ``AWS_LWA_INVOKE_MODE=response_stream``; the adapter itself, an extension
  that Lambda starts beside the runtime, is ``bench/lwa_model.py`` (its Rust
  binary cannot be built here).

Each starts as Lambda starts a python3.13 function: ``[wrapper]
/var/lang/bin/python3.13 /var/runtime/bootstrap.py`` in ``/var/task``, with
Lambda's environment, stand-ins for each directory (``/var/lang``: a venv of
python3.13 with nothing installed; ``/var/runtime``: awslambdaric and a
bootstrap doing what the managed one does, compiled as on Lambda), all
mounted read-only (a private mount namespace, ``unshare``): no run can leave
bytecode for the next. Figures: spawn to the first response to ``GET /``,
rounds interleaved, the first discarded; then where ours' import time goes
(``-X importtime``, grouped by package).

Goals: ours at least 1.5x faster to start than the adapter model, 1.3x than Mangum.

    python -m bench.deployed [--quick] [--rounds 9]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.figures import Figure, percentile
from bench.runtime_api_stub import answer_next, read_request

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VERSION = "3.13"  # the template's runtime
OURS, BARE, MANGUM, LWA = "ours", "ours without bytecode", "Mangum", "LWA model"
LWA_GOAL, MANGUM_GOAL = 1.5, 1.3
GROUP = "cold start as deployed"
# lambdastream.sse's framing, for the peers' /events (not on the measured path).
_PEER_SSE = """import json


async def sse(events):
    async for event in events:
        data = json.dumps(event["data"])
        yield f"event: {event['event']}\\nid: {event['id']}\\ndata: {data}\\n\\n"
"""
# What takes lambdastream out of the app, for the peers (they have no layer).
_OURS_ONLY = {
    "from lambdastream import sse\n": _PEER_SSE,
    "from lambdastream.asgi import asgi\n": "",
    "handler = asgi(app)\n": "{entry}",
}
MANGUM_TEMPLATE = """AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  MangumFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: .
      Handler: app.handler
      Runtime: python{version}
      Architectures: [{arch}]
"""
# The Lambda Web Adapter's fastapi-response-streaming-zip example, on python3.13.
LWA_TEMPLATE = """AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  FastAPIFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: app/
      Handler: run.sh
      Runtime: python{version}
      Architectures: [{arch}]
      MemorySize: 256
      Environment:
        Variables:
          AWS_LAMBDA_EXEC_WRAPPER: /opt/bootstrap
          AWS_LWA_INVOKE_MODE: response_stream
          PORT: 8000
      Layers:
        - !Sub arn:aws:lambda:${{AWS::Region}}:753240598075:layer:LambdaAdapterLayerX86:25
"""
LWA_RUN_SH = (
    "#!/bin/bash\n\nPATH=$PATH:$LAMBDA_TASK_ROOT/bin PYTHONPATH=$LAMBDA_TASK_ROOT"
    " exec python -m uvicorn --port=$PORT main:app\n"
)
LWA_WRAPPER = (
    '#!/bin/bash\n\nexec -- "${LAMBDA_TASK_ROOT}/${_HANDLER}"\n'  # its layer's /opt/bootstrap
)
# Stands for /var/runtime/bootstrap.py of the managed python3.13 runtime:
# the task root and the layers' directories first on sys.path (.pth files
# read), then awslambdaric's loop. /opt is beside /var/task in the stand-in.
MANAGED_BOOTSTRAP = """import os, site, sys
task = os.environ["LAMBDA_TASK_ROOT"]
opt = os.path.join(os.path.dirname(task), "opt")
layer_dirs = [opt + "/python/lib/python%d.%d/site-packages" % sys.version_info[:2], opt + "/python"]
if "PYTHONPATH" not in os.environ:
    sys.path[0:0] = layer_dirs
sys.path.insert(0, task)
site.addsitedir(task)
if "PYTHONPATH" not in os.environ:
    for directory in layer_dirs:
        site.addsitedir(directory)
from awslambdaric.__main__ import main
main([sys.argv[0], os.environ["_HANDLER"]])
"""


class NotRun(Exception):
    """A tool or service the bench needs is missing; the message says which."""


def lambda_architecture() -> str:
    """This machine's architecture as Lambda names it."""
    machine = platform.machine()
    return {"x86_64": "x86_64", "AMD64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[machine]


def peer_app(ours: str, entry: str) -> str:
    """The template's app without lambdastream, ``entry`` in place of ``handler = asgi(app)``.

    >>> peer_app("from lambdastream.asgi import asgi\\nhandler = asgi(app)\\n", "")
    Traceback (most recent call last):
    ...
    AssertionError: the template's app no longer has 'from lambdastream import sse\\n'
    """
    for line, replacement in _OURS_ONLY.items():
        assert line in ours, f"the template's app no longer has {line!r}"
        ours = ours.replace(line, replacement.replace("{entry}", entry))
    return ours


def _tools() -> tuple[str, str]:
    from lambdastream.deploy.layer import find_interpreters

    python = find_interpreters((VERSION,)).get(VERSION)
    if python is None:
        raise NotRun(f"not run: no python{VERSION} here (the template's runtime)")
    beside = Path(sys.executable).parent / "sam"
    sam = str(beside) if beside.is_file() else shutil.which("sam")
    if sam is None:
        raise NotRun("not run: the SAM CLI is not installed (make sam-cli)")
    return python, sam


def write_projects(root: Path, arch: str) -> dict[str, Path]:
    """The three SAM projects, for ``arch``: project directory by contender."""
    from lambdastream.deploy.scaffold import write_project

    ours = root / "src" / "ours"
    write_project(ours, "bench-fastapi", "fastapi")
    for name, old in (("template.yaml", "Architectures: [arm64]"), ("Makefile", "= arm64")):
        text = (ours / name).read_text()
        assert old in text, f"{name} no longer says {old!r}"
        (ours / name).write_text(text.replace(old, old.replace("arm64", arch)))
    app = (ours / "app.py").read_text()
    mangum = root / "src" / "mangum"
    mangum.mkdir(parents=True)
    entry = 'from mangum import Mangum\n\nhandler = Mangum(app, lifespan="off")\n'
    (mangum / "app.py").write_text(peer_app(app, entry))
    (mangum / "requirements.txt").write_text("fastapi\nmangum\n")
    (mangum / "template.yaml").write_text(MANGUM_TEMPLATE.format(version=VERSION, arch=arch))
    lwa = root / "src" / "lwa"
    (lwa / "app").mkdir(parents=True)
    (lwa / "app" / "main.py").write_text(peer_app(app, ""))
    (lwa / "app" / "requirements.txt").write_text("fastapi\nuvicorn\n")
    (lwa / "app" / "run.sh").write_text(LWA_RUN_SH)
    (lwa / "app" / "run.sh").chmod(0o755)
    (lwa / "template.yaml").write_text(LWA_TEMPLATE.format(version=VERSION, arch=arch))
    return {OURS: ours, MANGUM: mangum, LWA: lwa}


def sam_build(projects: dict[str, Path], python: str, sam: str) -> None:
    """``sam build`` in each project at once (mostly waiting for the package index)."""
    path = os.pathsep.join([str(Path(python).parent), str(Path(sys.executable).parent)])
    env = dict(os.environ, PATH=f"{path}{os.pathsep}{os.environ['PATH']}", SAM_CLI_TELEMETRY="0")
    running = {
        name: subprocess.Popen(
            [sam, "build"],
            cwd=project,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name, project in projects.items()
    }
    for name, proc in running.items():
        out, _ = proc.communicate(timeout=600)
        if proc.returncode != 0:
            raise NotRun(f"not run: sam build of {name} failed: {out.strip().splitlines()[-1:]}")


def stage(root: Path, projects: dict[str, Path], python: str) -> Path:
    """Lambda's directories for each contender under ``root/lambda``, from what sam built."""
    from lambdastream.deploy.bytecode import compile_tree

    fs = root / "lambda"
    subprocess.run([python, "-m", "venv", "--without-pip", str(fs / "var-lang")], check=True)
    runtime = fs / "var-runtime"
    pip = [python, "-m", "pip", "install", "--quiet", "--no-compile", "--only-binary=:all:"]
    tag = f"manylinux2014_{platform.machine()}"
    result = subprocess.run(
        [*pip, "--platform", tag, "--implementation", "cp", "--python-version", VERSION,
         "--target", str(runtime), "awslambdaric"],
        capture_output=True, text=True, env=dict(os.environ, PIP_ROOT_USER_ACTION="ignore"),
    )  # fmt: skip
    if result.returncode != 0:
        raise NotRun(f"not run: awslambdaric for python{VERSION}: {result.stderr.strip()[-200:]}")
    (runtime / "bootstrap.py").write_text(MANAGED_BOOTSTRAP)
    compile_tree(python, runtime, "/var/runtime")  # the managed runtime's files are compiled
    built = {name: project / ".aws-sam" / "build" for name, project in projects.items()}
    copies = {
        OURS: (built[OURS] / "StreamingFunction", built[OURS] / "LambdastreamLayer"),
        BARE: (built[OURS] / "StreamingFunction", built[OURS] / "LambdastreamLayer"),
        MANGUM: (built[MANGUM] / "MangumFunction", None),
        LWA: (built[LWA] / "FastAPIFunction", None),
    }
    for name, (task, opt) in copies.items():
        home = fs / _slug(name)
        shutil.copytree(task, home / "task", symlinks=True)
        if opt is not None:
            shutil.copytree(opt, home / "opt", symlinks=True)
        else:
            (home / "opt").mkdir()
    for pycache in (fs / _slug(BARE) / "task").rglob("__pycache__"):
        shutil.rmtree(pycache)
    lwa_opt = fs / _slug(LWA) / "opt"
    (lwa_opt / "bootstrap").write_text(LWA_WRAPPER)
    (lwa_opt / "bootstrap").chmod(0o755)
    (lwa_opt / "extensions").mkdir()
    shutil.copy(HERE / "lwa_model.py", lwa_opt / "extensions" / "lambda-adapter.py")
    return fs


def _slug(name: str) -> str:
    return name.replace(" ", "-")


def command(name: str, fs: Path, port: int, flags: tuple[str, ...] = ()) -> list[str]:
    """How Lambda starts ``name``'s runtime (and, for the adapter, its extension beside it)."""
    python = str(fs / "var-lang" / "bin" / f"python{VERSION}")
    bootstrap = str(fs / "var-runtime" / "bootstrap.py")
    opt = fs / _slug(name) / "opt"
    if name in (OURS, BARE):
        return [str(opt / "lambdastream"), python, *flags, bootstrap]
    if name == MANGUM:
        return [python, *flags, bootstrap]
    model = str(opt / "extensions" / "lambda-adapter.py")
    script = f'"$@" & exec "$0" -I -S {model} --port {port} --server-pid $!'
    return ["/bin/sh", "-c", script, python, str(opt / "bootstrap"), python, *flags, bootstrap]


def environment(name: str, fs: Path, port: int, api: str) -> dict[str, str]:
    """The environment Lambda gives a python3.13 function (no PYTHONPATH, no HOME)."""
    home = fs / _slug(name)
    lang = fs / "var-lang" / "bin"
    env = {
        "PATH": f"{lang}:/usr/local/bin:/usr/bin/:/bin:{home / 'opt' / 'bin'}",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(home / "task"),
        "LAMBDA_RUNTIME_DIR": str(fs / "var-runtime"),
        "_HANDLER": "run.sh" if name == LWA else "app.handler",
        "AWS_LAMBDA_RUNTIME_API": api,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{VERSION}",
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1769",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
    }
    if name in (OURS, BARE):
        env["AWS_LAMBDA_EXEC_WRAPPER"] = str(home / "opt" / "lambdastream")
    elif name == LWA:
        env.update(
            AWS_LAMBDA_EXEC_WRAPPER=str(home / "opt" / "bootstrap"),
            AWS_LWA_INVOKE_MODE="response_stream",
            PORT=str(port),
        )
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def first_response(  # type: ignore[no-untyped-def]
    name: str, fs: Path, event: bytes, stderr, extra: dict[str, str], flags: tuple[str, ...] = ()
) -> float:
    """Start ``name`` as Lambda does; ms from spawn to its first response (checked: the app's)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    srv.settimeout(60)
    port = free_port()
    env = environment(name, fs, port, f"127.0.0.1:{srv.getsockname()[1]}") | extra
    start = time.perf_counter()
    proc = subprocess.Popen(
        command(name, fs, port, flags), env=env, cwd=env["LAMBDA_TASK_ROOT"],
        stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True,
    )  # fmt: skip
    try:
        conn, _ = srv.accept()
        conn.settimeout(60)
        _, _, buf = read_request(conn, b"")  # GET /next
        answer_next(conn, "r1", event)
        head, body, _ = read_request(conn, buf)
        elapsed = (time.perf_counter() - start) * 1000
        conn.close()
    finally:
        srv.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    line = head.split(b"\r\n", 1)[0]
    if not (b"/response" in line and b"world" in body):
        raise RuntimeError(f"{name}: not the app's answer: {line!r} {body[:300]!r}")
    return elapsed


def read_only(fs: Path) -> tuple[str, dict[str, str]]:
    """Make ``fs`` read-only for this process and its children, as Lambda's /var/task
    and /opt are; return how, and what the contenders' environment needs for it."""
    if os.geteuid() == 0 and shutil.which("mount"):
        for args in (["--bind", str(fs), str(fs)], ["-o", "remount,bind,ro", str(fs), str(fs)]):
            subprocess.run(["mount", *args], capture_output=True)
    probe = fs / _slug(OURS) / "task" / "probe"
    try:
        probe.write_text("")
    except OSError:
        return "a read-only mount (as on Lambda)", {}
    probe.unlink()
    # Not root: no mount. An interpreter told not to write bytecode does what
    # a read-only directory makes it do: compile in memory, every time.
    return "writable directories, PYTHONDONTWRITEBYTECODE=1 (no read-only mount)", {
        "PYTHONDONTWRITEBYTECODE": "1"
    }


def measure(fs: Path, rounds: int) -> dict:
    """In a private mount namespace: the cold starts and ours' -X importtime lines, as JSON."""
    from bench.asgi import url_event

    how, extra = read_only(fs)
    event = url_event("/")
    names = [OURS, BARE, MANGUM, LWA]
    walls: dict[str, list[float]] = {name: [] for name in names}
    with open(os.devnull, "w") as quiet:
        for i in range(rounds + 1):  # the first round fills the page cache
            for name in names:
                wall = first_response(name, fs, event, quiet, extra)
                if i:
                    walls[name].append(wall)
        with tempfile.TemporaryFile("w+") as log:
            importtime_wall = first_response(OURS, fs, event, log, extra, ("-X", "importtime"))
            log.seek(0)
            lines = [line for line in log.read().splitlines() if line.startswith("import time:")]
    return {"how": how, "walls": walls, "importtime": lines, "importtime_wall": importtime_wall}


def import_breakdown(lines: list[str], task: Path) -> tuple[float, dict[str, tuple[str, float]]]:
    """Total import ms, and self ms by top-level package with where it lives.

    >>> lines = ["import time: self [us] | cumulative | imported package",
    ...          "import time:       300 |        300 |   fastapi.routing",
    ...          "import time:      1000 |       1300 | fastapi",
    ...          "import time:       200 |        200 | json"]
    >>> import_breakdown(lines, Path("/nonexistent"))
    (1.5, {'fastapi': ('standard library', 1.3), 'json': ('standard library', 0.2)})
    """
    total = 0.0
    by_package: dict[str, float] = {}
    for line in lines:
        fields = line.split("|")
        try:
            own, cumulative = int(fields[0].split(":")[1]), int(fields[1])
        except (IndexError, ValueError):
            continue  # the header
        name = fields[2].rstrip()
        if len(name) - len(name.lstrip()) == 1:  # a top-level import: one space of indent
            total += cumulative / 1000
        package = name.strip().split(".")[0]
        by_package[package] = by_package.get(package, 0.0) + own / 1000
    return total, {name: (_where(name, task), ms) for name, ms in by_package.items()}


def _where(package: str, task: Path) -> str:
    if package == "lambdastream":
        return "the layer"
    if package == "app":
        return "the app's module"
    if (
        (task / package).is_dir()
        or (task / f"{package}.py").is_file()
        or any(task.glob(f"{package}.*.so"))
    ):
        return "the function's dependencies"
    return "standard library"


def versions(fs: Path) -> str:
    """The packages that matter, as each function got them: ``fastapi 0.x, ...``."""
    found = {}
    for dist in sorted(fs.glob("*/task/*.dist-info")):
        name, _, version = dist.name.removesuffix(".dist-info").partition("-")
        if name in ("fastapi", "pydantic", "starlette", "mangum", "uvicorn"):
            found[name] = version
    return ", ".join(f"{name} {version}" for name, version in found.items())


def measure_in_child(fs: Path, rounds: int) -> dict:
    """:func:`measure` in a process of its own mount namespace (as root), where ``fs``
    can be mounted read-only without touching this machine's mounts."""
    private = ["unshare", "--mount", "--propagation", "private", "--"]
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        private = []
    child = subprocess.run(
        [*private, sys.executable, "-m", "bench.deployed", "--measure", str(fs), "--rounds",
         str(rounds)], cwd=REPO, stdout=subprocess.PIPE, text=True, check=True,
    )  # fmt: skip
    return json.loads(child.stdout)


def run(quick: bool = False, rounds: int | None = None) -> list[Figure]:
    """Build, measure, print, and return the figures for the report."""
    rounds = rounds or (5 if quick else 9)
    arch = lambda_architecture()
    name = f"FastAPI template as sam build makes it, python{VERSION} on {arch}, cold start"
    root = Path(tempfile.mkdtemp(prefix="lambdastream-deployed-"))
    try:
        try:
            python, sam = _tools()
            print(f"as deployed: sam build of ours, Mangum and the adapter model"
                  f" (python{VERSION}, {arch}) in {root}", flush=True)  # fmt: skip
            t0 = time.monotonic()
            projects = write_projects(root, arch)
            sam_build(projects, python, sam)
            fs = stage(root, projects, python)
        except NotRun as exc:
            print(f"as deployed: {exc}")
            return [
                Figure(f"{name} (median)", None, peer, None, "ms", goal=goal, group=GROUP,
                       note=str(exc))
                for peer, goal in ((LWA, LWA_GOAL), (MANGUM, MANGUM_GOAL))
            ]  # fmt: skip
        print(f"  built and staged in {time.monotonic() - t0:.0f} s: {versions(fs)}", flush=True)
        result = measure_in_child(fs, rounds)
        return report(name, result, fs / _slug(OURS) / "task", rounds, arch)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def report(name: str, result: dict, task: Path, rounds: int, arch: str) -> list[Figure]:
    """Print the cold starts and where ours' imports go; the figures."""
    walls: dict[str, list[float]] = result["walls"]
    med = {n: statistics.median(v) for n, v in walls.items()}
    p90 = {n: percentile(v, 90) for n, v in walls.items()}
    print(f"  spawn to the first response to GET /, {rounds} rounds (interleaved), on"
          f" {result['how']}, {os.cpu_count()} CPUs unpinned")  # fmt: skip
    print(f"  {'':24} {'median':>9} {'p90':>9}  vs ours")
    for n in walls:
        print(f"  {n:24} {med[n]:6.0f} ms {p90[n]:6.0f} ms  {med[n] / med[OURS]:.2f}x")
    print(f"  {LWA} / ours {med[LWA] / med[OURS]:.2f}x (goal >= {LWA_GOAL}), {MANGUM} / ours"
          f" {med[MANGUM] / med[OURS]:.2f}x (goal >= {MANGUM_GOAL})")  # fmt: skip
    total, packages = import_breakdown(result["importtime"], task)
    by_where: dict[str, float] = {}
    for where, ms in packages.values():
        by_where[where] = by_where.get(where, 0.0) + ms
    wall = result["importtime_wall"]
    print(f"  ours, what is left: imports {total:.0f} ms (-X importtime, in a start of"
          f" {wall:.0f} ms with its overhead); self time by where:")  # fmt: skip
    for where, ms in sorted(by_where.items(), key=lambda item: -item[1]):
        print(f"    {where:30} {ms:6.0f} ms")
    print("  by package (self time, the 15 largest):")
    top = sorted(packages.items(), key=lambda item: -item[1][1])[:15]
    for package, (where, ms) in top:
        print(f"    {package:30} {ms:6.0f} ms  ({where})")
    left = ", ".join(f"{p} {ms:.0f} ms" for p, (_, ms) in top[:6])
    how = (
        f"sam build (no container) of each, python{VERSION} on {arch}, started read-only as the"
        f" managed runtime starts it; {LWA}: uvicorn as in the adapter's"
        f" fastapi-response-streaming-zip example, bench/lwa_model.py for the adapter; the"
        f" peers without our bytecode step, as their docs package them. Ours' imports take"
        f" {total:.0f} ms (-X importtime), most in {left}"
    )
    return [
        Figure(f"{name} (median)", med[OURS], LWA, med[LWA], "ms", goal=LWA_GOAL, group=GROUP,
               note=how),
        Figure(f"{name} (median)", med[OURS], MANGUM, med[MANGUM], "ms", goal=MANGUM_GOAL,
               group=GROUP, note="Mangum(app, lifespan='off') under the managed bootstrap"),
        Figure(f"{name} (p90)", p90[OURS], LWA, p90[LWA], "ms", group=GROUP),
        Figure(f"{name} (p90)", p90[OURS], MANGUM, p90[MANGUM], "ms", group=GROUP),
        Figure(f"{name} (median)", med[OURS], BARE, med[BARE], "ms", group=GROUP,
               note="the same function without its bytecode, as sam's own Python build"
               " ships it: what the bytecode is worth"),
    ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 rounds")
    parser.add_argument("--rounds", type=int, help="cold starts per contender (default 9)")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child's part
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.rounds or 9)))
        return 0
    run(args.quick, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
