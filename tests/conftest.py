"""Fixtures: the real ``lambdastream dev``, started per test (see ``support.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import _API, _URL, REPO, DevServer


@pytest.fixture
def dev_server() -> Iterator[Callable[..., DevServer]]:
    """Factory: ``dev_server(handler, root, *extra_args, env=None) -> DevServer``.

    Starts ``python -m lambdastream dev HANDLER --root ROOT --port 0
    --api-port 0 *extra_args``, waits until it prints both addresses, and
    stops it (SIGINT, then kill) at teardown.
    """
    started: list[DevServer] = []

    def start(
        handler: str, root: Path, *extra_args: str, env: dict[str, str] | None = None
    ) -> DevServer:
        command = [
            sys.executable, "-m", "lambdastream", "dev", handler, "--root", str(root),
            "--port", "0", "--api-port", "0", *extra_args,
        ]  # fmt: skip
        environ = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=environ,
            cwd=str(REPO),
        )
        server = DevServer(proc)
        started.append(server)
        server.url = server.wait_for_log(_URL.pattern).group(1)
        server.api_url = server.wait_for_log(_API.pattern).group(1)
        return server

    yield start
    for server in started:
        server.stop()
