"""Count how many times a handler ran for each request id.

A handler (or an ASGI app, through :data:`COUNTED_ASGI`) appends its request
id to ``runs.log`` in its task root when it starts; the test reads the file.
One ``O_APPEND`` write per run: lines from concurrent environments never mix.

Example::

    root = write_handler(tmp_path, RECORD_RUN + '''
        def handler(event, context):
            record_run(context.aws_request_id)
            return "ok"
    ''')
    ...
    assert_ran_once(root)
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

__all__ = ["COUNTED_ASGI", "RECORD_RUN", "assert_ran_once", "runs"]

RUNS_FILE = "runs.log"

# Source for a handler module: record_run(request_id).
RECORD_RUN = """
import os as _os


def record_run(request_id):
    path = _os.path.join(_os.environ.get("LAMBDA_TASK_ROOT", "."), "runs.log")
    fd = _os.open(path, _os.O_WRONLY | _os.O_APPEND | _os.O_CREAT, 0o644)
    try:
        _os.write(fd, (request_id + "\\n").encode())
    finally:
        _os.close(fd)
"""

# Source for a module serving an ASGI app: counted(app) records every http
# request the app is given, with its Lambda request id.
COUNTED_ASGI = (
    RECORD_RUN
    + """

def counted(app):
    async def counted_app(scope, receive, send):
        if scope["type"] == "http":
            context = scope.get("aws.context")
            record_run(context.aws_request_id if context is not None else "no-context")
        await app(scope, receive, send)

    return counted_app
"""
)


def runs(root: Path) -> Counter[str]:
    """How many times each request id ran, from ``root/runs.log``."""
    path = root / RUNS_FILE
    if not path.exists():
        return Counter()
    return Counter(line for line in path.read_text().splitlines() if line)


def assert_ran_once(root: Path, expected: int | None = None) -> Counter[str]:
    """Every request id ran exactly once (and ``expected`` of them, if given)."""
    counted = runs(root)
    twice = {rid: n for rid, n in counted.items() if n != 1}
    assert not twice, f"handlers ran more than once: {twice}"
    if expected is not None:
        assert len(counted) == expected, f"{len(counted)} runs recorded, expected {expected}"
    return counted
