"""At most once: when its answer cannot get through, the runtime never runs a handler again.

Lambda's Runtime API hands an unanswered invocation out again on the next
``/next`` (the same request id, deadline and invocation id: the emulator's
``RuntimeReadyState``). So a runtime that loses its connection while
answering, and then simply asks ``/next``, runs the same handler again; the
runtime did that ~1,000 times a second. Here a Runtime API that speaks as
Lambda's does, on a loopback socket, breaks the answer in each way it can
break; the real runtime process runs a handler that records every run.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from runcount import RECORD_RUN, runs

REPO = Path(__file__).resolve().parents[2]

HANDLERS = (
    RECORD_RUN
    + """
import time


def streamed(event, context):
    record_run(context.aws_request_id)
    for i in range(20):
        yield b"chunk %d;" % i
        time.sleep(0.02)


def buffered(event, context):
    record_run(context.aws_request_id)
    return {"ok": True}
"""
)


@dataclass
class Invocation:
    request_id: str
    deadline_ms: str = "4102444800000"
    invocation_id: str = ""
    answered: bool = False  # a response or error the Runtime API accepted

    def next_answer(self) -> bytes:
        body = b"{}"
        return (
            "HTTP/1.1 200 OK\r\n"
            f"Lambda-Runtime-Aws-Request-Id: {self.request_id}\r\n"
            f"Lambda-Runtime-Deadline-Ms: {self.deadline_ms}\r\n"
            f"Lambda-Runtime-Invocation-Id: {self.invocation_id or self.request_id + '-1'}\r\n"
            "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:1:function:f\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body


@dataclass
class LambdaRuntimeApi:
    """The Runtime API's side, as Lambda serves it, with the faults a test asks for.

    ``cut_response``: close the connection after this many bytes of a
    ``/response`` body (``0``: right after its head); the invocation is then
    over for Lambda (a truncated response) if any body byte came, else still
    unanswered. ``error_status``: the status ``/error`` gets.
    ``redeliver``: hand the last invocation out again even if answered.
    """

    queue: list[Invocation]
    cut_response: int | None = None
    error_status: int = 202
    redeliver: bool = False
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.server.getsockname()[1]}"
        self.current: Invocation | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.server.settimeout(30)
        try:
            while True:
                conn, _ = self.server.accept()
                threading.Thread(target=self._connection, args=(conn,), daemon=True).start()
        except OSError:
            return

    def _connection(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        rest = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in rest:
                    data = conn.recv(65536)
                    if not data:
                        return
                    rest += data
                head, _, rest = rest.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ")
                headers = {k.lower(): v for k, _, v in (h.partition(": ") for h in lines[1:])}
                self.log.append(f"{method} {path.removeprefix('/2018-06-01/runtime/')}")
                if path.endswith("/next"):
                    answer = self._next()
                    if answer is None:  # nothing left: the environment is shut down
                        return
                    conn.sendall(answer)
                elif path.endswith("/response"):
                    body, rest, whole = self._body(conn, headers, rest)
                    if not whole:
                        if self.current is not None and body:
                            self.current.answered = True  # Runtime.TruncatedResponse
                        conn.close()
                        return
                    self.current.answered = True  # type: ignore[union-attr]
                    conn.sendall(_status(202))
                elif path.endswith("/error"):
                    _, rest, _ = self._body(conn, headers, rest)
                    self.log.append(
                        f"error type {headers.get('lambda-runtime-function-error-type')}"
                    )
                    if self.error_status == 202 and self.current is not None:
                        self.current.answered = True
                    conn.sendall(_status(self.error_status))

    def _next(self) -> bytes | None:
        if self.current is not None and (not self.current.answered or self.redeliver):
            self.redeliver = False
            return self.current.next_answer()  # the same invocation again
        if not self.queue:
            return None
        self.current = self.queue.pop(0)
        return self.current.next_answer()

    def _body(
        self, conn: socket.socket, headers: dict[str, str], rest: bytes
    ) -> tuple[bytes, bytes, bool]:
        """Read a body (Content-Length or chunked, kept raw); cut it if asked."""
        limit = self.cut_response if "response" in self.log[-1] else None
        if "content-length" in headers:
            size = int(headers["content-length"])
            end_of = lambda data: len(data) >= size  # noqa: E731
        else:
            end_of = lambda data: data.endswith(b"0\r\n\r\n")  # noqa: E731
        body = rest
        while not end_of(body):
            if limit is not None and len(body) >= limit:
                return body[:limit], b"", False
            data = conn.recv(65536)
            if not data:
                return body, b"", False
            body += data
        if limit is not None:
            return body[:limit], b"", False
        return body, b"", True

    def close(self) -> None:
        self.server.close()


def _status(code: int) -> bytes:
    body = b'{"status":"OK"}' if code == 202 else b'{"errorType":"InvalidStateTransition"}'
    return b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n%s" % (code, len(body), body)


def run_runtime(
    api: LambdaRuntimeApi, root: Path, handler: str
) -> subprocess.CompletedProcess[str]:
    (root / "app.py").write_text(HANDLERS)
    env = {
        "PATH": os.environ["PATH"],
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": str(root),
        "PYTHONPATH": str(REPO / "src"),
    }
    try:
        return subprocess.run(
            [sys.executable, "-m", "lambdastream.runtime"],
            env=env,
            cwd=root,
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        api.close()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("handler", ["app.streamed", "app.buffered"])
def test_an_answer_cut_before_its_body_is_reported_as_an_error_and_the_runtime_goes_on(
    tmp_path, handler
):
    # The Runtime API closes the connection once it has the answer's head:
    # for Lambda the invocation is still unanswered. The runtime posts an
    # error for it on a fresh connection, then serves the next invocation.
    api = LambdaRuntimeApi([Invocation("r1"), Invocation("r2")], cut_response=0)
    done = run_runtime(api, tmp_path, handler)
    assert runs(tmp_path) == {"r1": 1, "r2": 1}, (api.log, done.stderr)
    assert "POST invocation/r1/error" in api.log
    assert "error type Runtime.ResponseInterrupted" in api.log
    assert "r1: The connection to the Runtime API failed while answering" in done.stderr


@pytest.mark.timeout(60)
@pytest.mark.parametrize("handler", ["app.streamed", "app.buffered"])
def test_an_answer_cut_midway_that_lambda_refuses_to_fail_makes_the_runtime_exit(tmp_path, handler):
    # Cut after part of the body: Lambda has a (truncated) answer and
    # refuses the error; the only safe move left is to exit (Lambda records
    # Runtime.ExitError and starts a fresh environment), never /next.
    api = LambdaRuntimeApi([Invocation("r1"), Invocation("r2")], cut_response=12, error_status=403)
    done = run_runtime(api, tmp_path, handler)
    assert done.returncode == 1
    assert runs(tmp_path) == {"r1": 1}, (api.log, done.stderr)
    assert api.log.count("GET invocation/next") == 1, api.log
    assert done.stderr.strip().endswith("exiting"), done.stderr


@pytest.mark.timeout(60)
def test_an_invocation_handed_out_again_after_its_answer_is_never_run_twice(tmp_path):
    # A Runtime API that delivers the same invocation (same request id,
    # deadline and invocation id) after it was answered: the runtime
    # reports it and does not run the handler again.
    api = LambdaRuntimeApi([Invocation("r1"), Invocation("r2")], redeliver=True)
    done = run_runtime(api, tmp_path, "app.buffered")
    assert runs(tmp_path) == {"r1": 1, "r2": 1}, (api.log, done.stderr)
    assert "error type Runtime.DuplicateInvocation" in api.log
    assert "delivered again after its handler ran" in done.stderr


@pytest.mark.timeout(60)
def test_a_retried_event_is_a_new_delivery_and_runs_again(tmp_path):
    # Lambda retries a failed asynchronous event with the same request id,
    # as a new delivery (a new deadline): that is Lambda's retry, not a
    # re-delivery, and the handler runs for it.
    first = Invocation("r1", deadline_ms="4102444800000", invocation_id="a")
    retry = Invocation("r1", deadline_ms="4102444900000", invocation_id="b")
    api = LambdaRuntimeApi([first, retry])
    done = run_runtime(api, tmp_path, "app.buffered")
    assert runs(tmp_path) == {"r1": 2}, (api.log, done.stderr)
