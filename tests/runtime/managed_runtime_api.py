"""A Runtime API on a loopback socket that speaks as Lambda Managed Instances' does.

What it does differently from an on-demand environment's (see
``test_at_most_once.py``), as the runtime interface emulator's Managed
Instances code has it (``internal/lambda-managed-instances``: ``invoke/
invoke_router.go``, ``rapi/handler/invocationnext.go``, ``initerror.go``,
``core/states.go``):

- up to ``max_concurrency`` ``/next`` calls wait at once, each on its own
  connection; one more is refused with 500 (``ErrorRuntimeTooManyIdleRuntimes``);
- each invocation goes to one waiting ``/next`` (the one that waited longest)
  and is never handed out again: ``redeliver`` breaks that rule on purpose,
  to see that the runtime still runs a handler at most once;
- ``/response`` and ``/error`` are routed by request id, whatever the
  connection: an id not in flight gets 400 ``InvalidRequestID``;
- init is complete once one worker has asked ``/next``; the first
  ``/init/error`` before that is accepted (202), every later one gets 403
  (``InvalidStateTransition``), and so does ``/next`` after an init error.

Example::

    api = ManagedRuntimeApi(max_concurrency=4)
    proc = start_runtime(api, root, "app.handler", workers=4)
    api.wait_idle(4)
    api.add(Delivery("r1"), Delivery("r2"))
    api.wait_answered(["r1", "r2"])
    api.close()
    out, err = stop_runtime(proc)
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PREFIX = "/2018-06-01/runtime/"


@dataclass
class Delivery:
    """One invocation as ``/next`` hands it out."""

    request_id: str
    event: bytes = b"{}"
    trace_id: str | None = None
    deadline_ms: str = "4102444800000"
    invocation_id: str = ""

    def render(self) -> bytes:
        trace = f"Lambda-Runtime-Trace-Id: {self.trace_id}\r\n" if self.trace_id else ""
        return (
            "HTTP/1.1 200 OK\r\n"
            f"Lambda-Runtime-Aws-Request-Id: {self.request_id}\r\n"
            f"Lambda-Runtime-Deadline-Ms: {self.deadline_ms}\r\n"
            f"Lambda-Runtime-Invocation-Id: {self.invocation_id or self.request_id + '-1'}\r\n"
            "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:1:function:f\r\n"
            f"{trace}Content-Type: application/json\r\nContent-Length: {len(self.event)}\r\n\r\n"
        ).encode() + self.event


@dataclass
class Answer:
    """What the Runtime API accepted for one delivery: a response or an error."""

    kind: str  # "response" or "error"
    headers: dict[str, str]
    body: bytes  # chunked framing removed
    trailers: dict[str, str]
    first_byte_at: float  # time.monotonic()
    done_at: float
    connection: int  # which runtime connection sent it

    @property
    def error_type(self) -> str | None:
        return self.headers.get("lambda-runtime-function-error-type") or self.trailers.get(
            "lambda-runtime-function-error-type"
        )


@dataclass
class ManagedRuntimeApi:
    """The Runtime API of one Managed Instances execution environment."""

    max_concurrency: int
    fail_next: int = 0  # answer this many /next calls with 500 first
    redeliver: set[str] = field(default_factory=set)  # hand these out once more, answered
    log: list[str] = field(default_factory=list)
    answers: dict[str, list[Answer]] = field(default_factory=dict)
    init_errors: list[tuple[int, str | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.server.getsockname()[1]}"
        self.state = "started"  # -> "ready" (a worker asked /next) or "init-error"
        self.closed = False
        self._queue: deque[Delivery] = deque()
        self._waiting: list[int] = []  # connections waiting in /next, oldest first
        self._in_flight: dict[str, Delivery] = {}
        self._connections = 0
        self._changed = threading.Condition()
        threading.Thread(target=self._serve, daemon=True).start()

    # -- what a test does ---------------------------------------------------------------

    def add(self, *deliveries: Delivery) -> None:
        """Queue invocations; waiting workers get them at once."""
        with self._changed:
            self._queue.extend(deliveries)
            self._changed.notify_all()

    def wait_idle(self, count: int, timeout: float = 20) -> None:
        """Wait until ``count`` workers wait in ``/next``."""
        self._wait(lambda: len(self._waiting) >= count, timeout, f"{count} workers in /next")

    def wait_answered(self, request_ids: list[str], timeout: float = 20) -> None:
        """Wait until each of ``request_ids`` has been answered (a response or an error)."""
        self._wait(
            lambda: all(rid in self.answers for rid in request_ids),
            timeout,
            f"answers for {request_ids}",
        )

    def waiting(self) -> int:
        with self._changed:
            return len(self._waiting)

    def close(self) -> None:
        """The environment goes away: refuse new connections, and every ``/next``.

        What is under way (an answer being read or acknowledged) finishes;
        each ``/next``, waiting or to come, has its connection closed.
        """
        with self._changed:
            self.closed = True
            self._changed.notify_all()
        self.server.close()

    def _wait(self, ready, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        with self._changed:
            while not ready():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}: {self.log}")
                self._changed.wait(left)

    # -- the server ---------------------------------------------------------------------

    def _serve(self) -> None:
        try:
            while True:
                conn, _ = self.server.accept()
                with self._changed:
                    self._connections += 1
                    number = self._connections
                threading.Thread(target=self._connection, args=(conn, number), daemon=True).start()
        except OSError:
            return

    def _connection(self, conn: socket.socket, number: int) -> None:
        conn.settimeout(60)
        reader = _Reader(conn)
        try:
            while True:
                head = reader.head()
                if head is None:
                    return
                method, path, headers = head
                route = path.removeprefix(PREFIX)
                with self._changed:
                    self.log.append(f"{method} {route}")
                if route == "invocation/next":
                    answer = self._next(number)
                    if answer is None:
                        return
                    conn.sendall(answer)
                elif route == "init/error":
                    reader.body(headers)
                    conn.sendall(self._init_error(headers))
                elif route.startswith("invocation/"):
                    rid, _, kind = route.removeprefix("invocation/").rpartition("/")
                    first = time.monotonic()
                    body, trailers = reader.body(headers)
                    answer = Answer(kind, headers, body, trailers, first, time.monotonic(), number)
                    conn.sendall(self._reply(rid, answer))
                else:
                    conn.sendall(_status(404, "UnknownPath"))
        except OSError:
            return
        finally:
            with self._changed:
                if number in self._waiting:
                    self._waiting.remove(number)
                self._changed.notify_all()
            conn.close()

    def _next(self, number: int) -> bytes | None:
        with self._changed:
            if self.closed:
                return None
            if self.state == "init-error":
                return _status(403, "InvalidStateTransition")
            if self.fail_next > 0:
                self.fail_next -= 1
                return _status(500, "ServiceException")
            if len(self._waiting) >= self.max_concurrency:
                return _status(500, "ErrorRuntimeTooManyIdleRuntimes")
            self.state = "ready"
            self._waiting.append(number)
            self._changed.notify_all()
            while not self.closed and not (self._queue and self._waiting[0] == number):
                self._changed.wait()
            self._waiting.remove(number)
            self._changed.notify_all()
            if self.closed:
                return None
            delivery = self._queue.popleft()
            self._in_flight[delivery.request_id] = delivery
            self.log.append(f"delivered {delivery.request_id} on connection {number}")
            return delivery.render()

    def _reply(self, rid: str, answer: Answer) -> bytes:
        with self._changed:
            delivery = self._in_flight.pop(rid, None)
            if delivery is None:
                self.log.append(f"refused {answer.kind} for {rid}")
                return _status(400, "InvalidRequestID")
            self.answers.setdefault(rid, []).append(answer)
            self.log.append(f"{answer.kind} for {rid}: {answer.error_type}")
            if rid in self.redeliver:
                self.redeliver.discard(rid)
                self._queue.appendleft(delivery)  # the same delivery, to whoever waits
            self._changed.notify_all()
            return _status(202, "")

    def _init_error(self, headers: dict[str, str]) -> bytes:
        with self._changed:
            status = 202 if self.state == "started" else 403
            if status == 202:
                self.state = "init-error"
            self.init_errors.append((status, headers.get("lambda-runtime-function-error-type")))
            self._changed.notify_all()
            return _status(status, "" if status == 202 else "InvalidStateTransition")


class _Reader:
    """Requests from one connection: heads, and bodies by length or chunked, strictly."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.buffer = b""

    def _more(self) -> bool:
        data = self.conn.recv(65536)
        self.buffer += data
        return bool(data)

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            if not self._more():
                raise OSError("the runtime closed the connection mid-request")
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def head(self) -> tuple[str, str, dict[str, str]] | None:
        while b"\r\n\r\n" not in self.buffer:
            if not self._more():
                return None
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return method, path, headers

    def body(self, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
        if headers.get("transfer-encoding", "").lower() != "chunked":
            size = int(headers.get("content-length", "0"))
            while len(self.buffer) < size:
                if not self._more():
                    raise OSError("the runtime closed the connection mid-body")
            body, self.buffer = self.buffer[:size], self.buffer[size:]
            return body, {}
        parts = []
        while True:
            size = int(self._line().split(b";")[0], 16)
            if size == 0:
                break
            while len(self.buffer) < size + 2:
                if not self._more():
                    raise OSError("the runtime closed the connection mid-chunk")
            if self.buffer[size : size + 2] != b"\r\n":
                raise OSError("a chunk not ended by CRLF")
            parts.append(self.buffer[:size])
            self.buffer = self.buffer[size + 2 :]
        trailers = {}
        while line := self._line():
            name, _, value = line.decode("latin-1").partition(":")
            trailers[name.strip().lower()] = value.strip()
        return b"".join(parts), trailers


def _status(code: int, error_type: str) -> bytes:
    body = b'{"status":"OK"}' if code == 202 else b'{"errorType":"%s"}' % error_type.encode()
    return b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
        code,
        len(body),
        body,
    )


def start_runtime(
    api: ManagedRuntimeApi,
    root: Path,
    handler: str,
    workers: int | None,
    env: dict[str, str] | None = None,
    python_args: tuple[str, ...] = ("-m", "lambdastream.runtime"),
) -> subprocess.Popen[str]:
    """Start the runtime (``python -m lambdastream.runtime``) as Lambda would.

    ``workers`` is ``AWS_LAMBDA_MAX_CONCURRENCY`` (None: unset); ``python_args``
    the interpreter's arguments.
    """
    environ = {
        "PATH": os.environ["PATH"],
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": str(root),
        "PYTHONPATH": str(REPO / "src"),
        **(env or {}),
    }
    if workers is not None:
        environ["AWS_LAMBDA_MAX_CONCURRENCY"] = str(workers)
    return subprocess.Popen(
        [sys.executable, *python_args],
        env=environ,
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its workers too are stopped at the end, whatever happens
    )


def stop_runtime(proc: subprocess.Popen[str], timeout: float = 15) -> tuple[str, str]:
    """Wait for the runtime to exit (after ``api.close()``); its stdout and stderr."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_runtime(proc)
        out, err = proc.communicate()
        raise AssertionError(f"the runtime did not exit:\n{out}\n{err}") from None


def kill_runtime(proc: subprocess.Popen[str]) -> None:
    """Kill the runtime and every process it started (its session's group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
