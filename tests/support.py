"""Shared test helpers: start the real ``lambdastream dev`` and talk to it.

Imported by tests as ``from support import ...`` (``tests/`` is on the
pytest path); fixtures built on these live in ``conftest.py``.

Example::

    def test_hello(dev_server, tmp_path):
        root = write_handler(tmp_path, '''
            def handler(event, context):
                return {"statusCode": 200, "body": "hi"}
        ''')
        server = dev_server("app.handler", root)
        assert urllib.request.urlopen(server.url).read() == b"hi"
        lam = lambda_client(server.api_url)
        lam.invoke(FunctionName="app")
"""

from __future__ import annotations

import re
import signal
import subprocess
import textwrap
import threading
import time
from pathlib import Path
from typing import Any, NoReturn

__all__ = [
    "DevServer",
    "bedrock_client",
    "find_chromium",
    "lambda_client",
    "missing",
    "start_dev",
    "write_handler",
]

REPO = Path(__file__).resolve().parent.parent
_URL = re.compile(r"Function URL: (http://\S+?)/?$", re.M)
_API = re.compile(r"Invoke API:\s+(http://\S+)$", re.M)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class DevServer:
    """A running ``lambdastream dev`` process.

    ``url`` is the Function URL base (no trailing slash), ``api_url`` the
    Invoke API endpoint for boto3, ``logs()`` everything it printed so far.
    """

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.url = ""
        self.api_url = ""
        self._out: list[str] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in iter(self.proc.stdout.readline, b""):
            line = _ANSI.sub("", raw.decode("utf-8", "replace"))
            with self._changed:
                self._out.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def logs(self) -> str:
        """Everything the server (and the function) printed so far."""
        with self._lock:
            return "".join(self._out)

    def wait_for_log(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        """Wait until the output matches the regex ``pattern``; return the match."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = re.search(pattern, "".join(self._out), re.M)
                if found:
                    return found
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(
                        f"{pattern!r} not in the dev server's output:\n{''.join(self._out)}"
                    )
                self._changed.wait(min(left, 0.2))

    def stop(self) -> int:
        """Ctrl-C the server, then kill it if it lingers; return its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        return self.proc.returncode


def missing(what: str, how: str) -> NoReturn:
    """A tool the test drives is not installed: fail under ``CI=true``, else skip.

    CI installs every tool the tests drive (make test's system-deps, node-ric,
    sam-cli ...): there, a missing one is a broken run, never a pass.
    """
    import os

    import pytest

    message = f"{what} is missing ({how})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {message}")
    pytest.skip(message)


def find_chromium() -> str | None:
    """Debian's chromium: its launcher on PATH, or where the package puts the binary."""
    import shutil

    for candidate in ("chromium", "chromium-browser"):
        if found := shutil.which(candidate):
            return found
    binary = Path("/usr/lib/chromium/chromium")
    return str(binary) if binary.is_file() else None


def start_dev(
    handler: str, root: Path, *extra_args: str, env: dict[str, str] | None = None
) -> DevServer:
    """Start ``python -m lambdastream dev HANDLER --root ROOT`` on free ports.

    Waits until it prints both addresses; the caller stops it.
    """
    import os
    import sys

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
    try:
        server.url = server.wait_for_log(_URL.pattern).group(1)
        server.api_url = server.wait_for_log(_API.pattern).group(1)
    except BaseException:
        server.stop()
        raise
    return server


def write_handler(tmp_path: Path, source: str, name: str = "app.py") -> Path:
    """Write a handler module into ``tmp_path`` (the root); return the root."""
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip())
    return tmp_path


def lambda_client(api_url: str, **config: Any) -> Any:
    """A boto3 Lambda client for the local Invoke API (dummy credentials, no retries)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "lambda",
        endpoint_url=api_url,
        region_name="us-east-1",
        aws_access_key_id="AKIDLOCAL",
        aws_secret_access_key="local-secret",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=120, **config),
    )


def bedrock_client(url: str, *, botocore_retries: int = 1) -> Any:
    """A real boto3 bedrock-runtime client with dummy credentials.

    ``botocore_retries=1`` turns botocore's own retries off, so a test sees
    what lambdastream's retry policy does on its own.
    """
    import boto3
    from botocore.config import Config

    return boto3.client(
        "bedrock-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(retries={"total_max_attempts": botocore_retries}, read_timeout=10),
    )
