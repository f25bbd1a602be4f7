"""The soak (``bench/soak.py``), bounded: 500 invocations, 20 in flight, every byte checked.

It runs as a developer runs it (``python -m bench.soak``) against the real
``lambdastream dev``; ``make soak`` runs the full 10,000. The second test
plants defects and checks that the soak catches each one, so that a soak
that passes means something.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.soak import (
    CORRUPTED,
    LOST,
    MISREPORTED,
    OK,
    BodyCheck,
    Observed,
    Spec,
    combinations,
    judge,
)
from bench.soak_function import content

REPO = Path(__file__).resolve().parent.parent


def run_soak(tmp_path: Path, *args: str, timeout: float = 240) -> tuple[int, dict[str, Any], str]:
    """``python -m bench.soak ARGS``: (exit status, the JSON report, what it printed)."""
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--json", str(report), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = proc.stdout + proc.stderr
    assert report.exists(), output
    return proc.returncode, json.loads(report.read_text()), output


@pytest.mark.timeout(300)
def test_soak_500_invocations_20_in_flight(tmp_path: Path) -> None:
    # --timeout 8: the injected timeouts hold an environment that long; a
    # real invocation here takes well under a second even on a loaded machine.
    code, report, output = run_soak(
        tmp_path,
        "--invocations", "500", "--in-flight", "20", "--seed", "14", "--timeout", "8",
        "--max-size", "512K", "--log", str(tmp_path / "dev.log"),
    )  # fmt: skip
    assert report["problems"] == [], output
    assert code == 0, output
    assert report["invocations"] == 500
    assert report["lost"] == report["corrupted"] == report["misreported"] == [], output
    # Every client met every injected failure, and each was reported as injected.
    for route, kind in combinations():
        run, correct = report["table"][f"{route} {kind}"]
        assert run >= 1 and correct == run, (route, kind, output)
    assert report["injected"] == report["reported"] > 0
    assert report["not_finished"] == []
    # Every handler ran exactly once per request id, whatever failed; each
    # way of writing took part, bursts of thousands of chunks per turn too.
    assert report["not_run_once"] == [], output
    assert report["handler_runs"] >= 500
    assert set(report["styles"]) == {"sync", "async", "asgi"}, report["styles"]
    assert report["max_burst"] >= 5_000, output
    assert report["bytes_checked"] > 10_000_000
    assert report["fds_after"] == report["fds_before"] and report["fds_leaked"] == []
    assert report["max_runtimes"] <= report["concurrency"]
    assert report["strays"] == report["left_after_stop"] == []
    assert report["server_exit"] == 0
    assert report["server_errors"] == []
    # The Function URL and the raw Invoke API client reused their connections.
    for opened, requests in report["connections"].values():
        assert opened < requests / 2, report["connections"]


@pytest.mark.timeout(300)
def test_soak_catches_each_planted_defect(tmp_path: Path) -> None:
    bugs = ["flip", "truncate", "swallow", "wrong-type", "orphan", "hold", "rerun"]
    code, report, output = run_soak(
        tmp_path,
        "--invocations", "30", "--in-flight", "8", "--no-cover", "--timeout", "8",
        "--max-size", "256K", *(a for bug in bugs for a in ("--inject-bug", bug)),
    )  # fmt: skip
    assert code == 1, output

    def flagged(name: str) -> list[str]:
        """The bugs behind the lines of ``report[name]`` (a line no bug explains, whole)."""
        return sorted(
            line.split(" bug ")[1].split()[0] if " bug " in line else line for line in report[name]
        )

    # Each planted defect is caught as what it is, and nothing else is flagged.
    assert flagged("corrupted") == ["flip", "truncate"], output
    assert flagged("misreported") == ["swallow", "wrong-type"], output
    assert flagged("not_run_once") == ["rerun"], output
    assert report["lost"] == [], output
    # The held connection: one more descriptor in the dev server than at start.
    assert report["fds_after"] == report["fds_before"] + 1, output
    assert len(report["fds_leaked"]) == 1 and "socket:" in report["fds_leaked"][0]
    # The orphan outlived its environment and the dev server; the soak ended it.
    assert len(report["strays"]) == 1, output
    assert report["left_after_stop"] == report["strays"]
    assert not os.path.exists(f"/proc/{report['strays'][0]}")
    assert report["server_errors"] == []


def _spec(kind: str, route: str = "stream", **kw: Any) -> Spec:
    return Spec(0, route, kind, seed=5, size=10, lo=1, hi=4, **kw)


def verdict(spec: Spec, body: bytes, status: int = 200, **seen: Any) -> str:
    """The verdict on an answer that carried ``body`` and ``seen`` (request r-1, --timeout 3)."""
    check = BodyCheck(content(spec.seed, spec.size)[: spec.expected_length])
    check.feed(body)
    observed = Observed(check, status=status, request_id="r-1", complete=True)
    for name, value in seen.items():
        setattr(observed, name, value)
    return judge(spec, observed, 3)[0]


WHOLE = content(5, 10)
RAISED = {"errorType": "SoakError", "errorMessage": "injected raise-after seed=5"}
TIMED_OUT = "RequestId: r-1 Error: Task timed out after 3.00 seconds"
EXITED = "RequestId: r-1 Error: Runtime exited with error: exit status 12"


@pytest.mark.parametrize(
    ("spec", "body", "seen", "expected"),
    [
        (_spec("ok"), WHOLE, {}, OK),
        # A stream that never ended is lost, whatever it carried.
        (_spec("ok"), WHOLE[:4], {"complete": False}, LOST),
        # A byte changed, one missing, one too many.
        (_spec("ok"), WHOLE[:3] + b"?" + WHOLE[4:], {}, CORRUPTED),
        (_spec("ok"), WHOLE[:-1], {}, CORRUPTED),
        (_spec("ok"), WHOLE + b"x", {}, CORRUPTED),
        # A success reported as a failure, and the other way round.
        (_spec("ok"), WHOLE, {"error_type": "SoakError", "error": RAISED}, MISREPORTED),
        (_spec("raise-after", at=4), WHOLE[:4], {}, MISREPORTED),
        (_spec("raise-after", at=4), WHOLE[:4], {"error_type": "SoakError", "error": RAISED}, OK),
        # The bytes before an error are checked too.
        (
            _spec("raise-after", at=4),
            WHOLE[:3],
            {"error_type": "SoakError", "error": RAISED},
            CORRUPTED,
        ),
        # Another invocation's error: its seed, its request id, its exit status.
        (
            _spec("raise-after", at=4),
            WHOLE[:4],
            {"error_type": "SoakError", "error": {**RAISED, "errorMessage": "injected seed=6"}},
            MISREPORTED,
        ),
        (
            _spec("timeout-after", at=4),
            WHOLE[:4],
            {
                "error_type": "Sandbox.Timeout",
                "error": {"errorType": "Sandbox.Timeout", "errorMessage": TIMED_OUT},
            },
            OK,
        ),
        (
            _spec("timeout-after", at=4),
            WHOLE[:4],
            {
                "error_type": "Sandbox.Timeout",
                "error": {"errorType": "Sandbox.Timeout", "errorMessage": TIMED_OUT},
                "request_id": "r-2",
            },
            MISREPORTED,
        ),
        (
            _spec("exit-before", code=12),
            b"",
            {
                "error_type": "Runtime.ExitError",
                "error": {"errorType": "Runtime.ExitError", "errorMessage": EXITED},
            },
            OK,
        ),
        (
            _spec("exit-before", code=1),
            b"",
            {
                "error_type": "Runtime.ExitError",
                "error": {"errorType": "Runtime.ExitError", "errorMessage": EXITED},
            },
            MISREPORTED,
        ),
        # Through the Function URL, a failure before the first byte is a 502, nothing else.
        (
            _spec("raise-before", route="url"),
            b"",
            {"other_body": b"Internal Server Error"},
            MISREPORTED,
        ),
        (
            _spec("raise-before", route="url"),
            b"",
            {"status": 502, "other_body": b"Internal Server Error"},
            OK,
        ),
        # A client that walked away needs only a correct first part.
        (_spec("disconnect", route="url"), WHOLE[:2], {}, OK),
        (_spec("disconnect", route="url"), b"", {}, CORRUPTED),
    ],
)
def test_judge_tells_each_wrong_answer_apart(
    spec: Spec, body: bytes, seen: dict[str, Any], expected: str
) -> None:
    assert verdict(spec, body, **seen) == expected
