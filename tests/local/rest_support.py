"""Start the real ``lambdastream dev --entry rest`` (see ``support.py`` for the Function URL's)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support import REPO, DevServer

_REST = r"REST API:\s+(http://\S+?)/?\s"
_API = r"Invoke API:\s+(http://\S+)$"


def start_rest(handler: str, root: Path, *extra: str, env: dict[str, str] | None = None):
    """``lambdastream dev HANDLER --entry rest`` on free ports; ``url`` ends with the stage."""
    command = [
        sys.executable, "-m", "lambdastream", "dev", handler, "--root", str(root),
        "--port", "0", "--api-port", "0", "--entry", "rest", *extra,
    ]  # fmt: skip
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        cwd=str(REPO),
    )
    server = DevServer(proc)
    try:
        server.url = server.wait_for_log(_REST).group(1)
        server.api_url = server.wait_for_log(_API).group(1)
    except BaseException:
        server.stop()
        raise
    return server
