"""The runtime against a Runtime API that answers badly: one line, never a traceback.

A hostile Runtime API on a loopback socket answers ``/next`` with what no
Runtime API sends; the real runtime process must exit with one line that
names what was wrong, holding no more than a bounded amount of it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NEXT_OK_HEAD = b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r1\r\n"


def run_runtime_against(answer: bytes, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Start the runtime against a server that sends ``answer`` to every request."""
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return 'ok'\n")
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        server.settimeout(20)
        try:
            while True:
                conn, _ = server.accept()
                with conn:
                    conn.settimeout(20)
                    conn.recv(65536)
                    try:
                        conn.sendall(answer)
                        conn.shutdown(socket.SHUT_WR)
                        while conn.recv(65536):
                            pass
                    except OSError:
                        pass
        except OSError:
            return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    env = {
        "PATH": os.environ["PATH"],
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "_HANDLER": "app.handler",
        "LAMBDA_TASK_ROOT": str(tmp_path),
        "PYTHONPATH": str(REPO / "src"),
    }
    try:
        return subprocess.run(
            [sys.executable, "-m", "lambdastream.runtime"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        server.close()


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        (NEXT_OK_HEAD + b"Content-Length: abc\r\n\r\n{}", "Content-Length"),
        (NEXT_OK_HEAD + b"Content-Length: -5\r\n\r\n{}", "Content-Length"),
        (NEXT_OK_HEAD + b"Content-Length: 1000000000000\r\n\r\n{}", "Content-Length"),
        (NEXT_OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", "chunk"),
        (NEXT_OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"1" * 200_000, "chunk"),
        (NEXT_OK_HEAD + b"X-Endless: " + b"a" * 1_000_000, "head"),
        (b"garbage\r\n\r\n", "status line"),
        (NEXT_OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX: "
         + b"t" * 200_000, "trailers"),
    ],
    ids=["length-not-a-number", "negative-length", "huge-length", "bad-chunk-size",
         "endless-chunk-size", "endless-head", "no-status-line", "endless-trailers"],
)  # fmt: skip
def test_a_malformed_answer_ends_the_runtime_with_one_line(answer, named, tmp_path):
    result = run_runtime_against(answer, tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("lambdastream.runtime: ")
    assert named in lines[0]
