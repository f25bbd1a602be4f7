"""A minimal loopback Runtime API for timing runtimes in isolation.

Benchmarks of the runtime alone must not measure the local Lambda too, so
this answers ``/next`` with a fixed event and accepts the response; every
runtime under test gets the same server. Not used by the tests, which run
the real local Lambda.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time

EVENT = b'{"n": 1}'


def read_request(conn: socket.socket, buf: bytes) -> tuple[bytes, bytes, bytes]:
    """One request from ``conn``: (head, body with any chunked framing
    removed, what came after it)."""
    while b"\r\n\r\n" not in buf:
        more = conn.recv(65536)
        if not more:
            raise ConnectionError("runtime closed the connection")
        buf += more
    head, _, rest = buf.partition(b"\r\n\r\n")
    lower = head.lower()
    if b"transfer-encoding: chunked" in lower:
        pos = 0
        parts: list[bytes] = []
        while True:  # walk the chunk sizes to the last chunk, then its trailers
            while (eol := rest.find(b"\r\n", pos)) == -1:
                rest += conn.recv(65536)
            size = int(rest[pos:eol].split(b";")[0], 16)
            if size == 0:
                while (end := rest.find(b"\r\n\r\n", eol)) == -1:
                    rest += conn.recv(65536)
                return head, b"".join(parts), rest[end + 4 :]
            pos = eol + 2 + size + 2
            while len(rest) < pos:
                rest += conn.recv(65536)
            parts.append(rest[eol + 2 : pos - 2])
    length = 0
    for line in lower.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(rest) < length:
        rest += conn.recv(65536)
    return head, rest[:length], rest[length:]


def _read_request(conn: socket.socket, buf: bytes) -> tuple[bytes, bytes]:
    head, _, rest = read_request(conn, buf)
    return head, rest


def answer_next(conn: socket.socket, request_id: str, event: bytes = EVENT) -> None:
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: %s\r\n"
        b"Lambda-Runtime-Deadline-Ms: 9999999999999\r\n"
        b"Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:f\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
        % (request_id.encode(), len(event), event)
    )


ACCEPTED = (
    b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
    b'Content-Length: 16\r\n\r\n{"status":"OK"}\n'
)


def time_to_first_response(
    command: list[str],
    env: dict[str, str],
    cwd: str,
    event: bytes = EVENT,
    first: list[tuple[bytes, bytes]] | None = None,
) -> tuple[float, float]:
    """Spawn ``command`` as a runtime; return (wall ms, CPU ms) to its first response.

    The CPU figure is the process's own user+system time up to that point
    (it is stopped right after): less disturbed by a busy machine than wall
    time. The runtime gets ``event``; its first request after that (head,
    body) is appended to ``first`` when given, for the caller to check that
    it was the answer and not an error. The runtime's whole process group
    is killed at the end (a runtime that started a server of its own).
    """
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{srv.getsockname()[1]}")
    start = time.perf_counter()
    proc = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, start_new_session=True
    )
    srv.settimeout(60)  # a runtime that never calls is an error, not a hang
    try:
        conn, _ = srv.accept()
        conn.settimeout(60)
        _, buf = _read_request(conn, b"")
        answer_next(conn, "r1", event)
        head, body, _ = read_request(conn, buf)
        elapsed = time.perf_counter() - start
        os.killpg(proc.pid, signal.SIGKILL)
        _, _, usage = os.wait4(proc.pid, 0)
        proc.returncode = -9
        conn.close()
        if first is not None:
            first.append((head, body))
        return elapsed * 1000, (usage.ru_utime + usage.ru_stime) * 1000
    finally:
        srv.close()
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def serve_invocations(command: list[str], env: dict[str, str], cwd: str, count: int) -> int:
    """Run ``count`` invocations through a runtime; returns its exit status."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{srv.getsockname()[1]}")
    # The runtime's complaint when this stub hangs up at the end is noise here.
    proc = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    conn, _ = srv.accept()
    buf = b""
    for i in range(count):
        _, buf = _read_request(conn, buf)
        answer_next(conn, f"r{i}")
        _, buf = _read_request(conn, buf)
        conn.sendall(ACCEPTED)
    _read_request(conn, buf)
    conn.close()
    srv.close()
    return proc.wait()


def base_env(task_root: str, handler: str) -> dict[str, str]:
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    return dict(
        os.environ,
        LAMBDA_TASK_ROOT=task_root,
        _HANDLER=handler,
        PYTHONPATH=os.pathsep.join([task_root, src]),
        AWS_LAMBDA_FUNCTION_NAME="bench",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128",
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
    )
