"""The Runtime API (2018-06-01) as Lambda serves it to one environment.

One ``RuntimeApi`` listens on its own loopback port per environment, so a
runtime's ``GET /next`` needs no routing: it can only mean this environment.
What each call may do is decided here, from the environment's one state
table (:mod:`lambdastream.local.lifecycle`); reading the calls off the
socket, and relaying a streamed response into its ``Invocation``, is
:mod:`lambdastream.local.runtime_connection`'s.

Example (what a runtime does)::

    GET  /2018-06-01/runtime/invocation/next            -> 200, event, headers
    POST /2018-06-01/runtime/invocation/{id}/response   -> 202 (buffered or streamed)
    POST /2018-06-01/runtime/invocation/{id}/error      -> 202
    POST /2018-06-01/runtime/init/error                 -> 202
    GET  /2018-06-01/runtime/restore/next               -> 200 once "restored" (SnapStart)
    POST /2018-06-01/runtime/restore/error              -> 202
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Protocol

from lambdastream.httpserver import http_date
from lambdastream.local.invocation import FunctionError, Invocation
from lambdastream.local.lifecycle import (
    DEAD,
    ERROR_RESPONDING,
    INIT_ERROR,
    READY,
    RESPONDING,
    RESPONSE_SENT,
    RESTORE_READY,
    RUNNING,
    STARTED,
    IllegalTransition,
    Lifecycle,
)

__all__ = [
    "MAX_BUFFERED_RESPONSE",
    "MAX_STREAMED_RESPONSE",
    "RuntimeApi",
    "RuntimeApiListener",
]

# Lambda: 6 MiB for a buffered response (plus ~100 bytes of slack), 200 MB for
# a stream.
MAX_BUFFERED_RESPONSE = 6 * 1024 * 1024 + 100
MAX_STREAMED_RESPONSE = 200 * 1000 * 1000


class RuntimeApiListener(Protocol):
    """What the environment learns from its runtime."""

    def on_next(self) -> bool:
        """The runtime asked ``/next`` after init or an answer; False: it is being retired."""

    def on_ready(self) -> None:
        """The runtime waits in ``/next`` with nothing to run: the environment is free."""

    def on_delivered(self, inv: Invocation) -> None:
        """``inv`` was handed to the runtime."""

    def on_redelivered(self, inv: Invocation, delivery: int) -> None:
        """The runtime asked ``/next`` again without answering ``inv``: it got ``inv`` again."""

    def on_result(self, inv: Invocation, error: FunctionError | None) -> None:
        """The runtime finished ``inv`` (``error`` set when it failed)."""

    def on_init_error(self, error: FunctionError) -> None:
        """The runtime could not initialize."""

    def on_truncated(self, inv: Invocation) -> None:
        """The runtime's connection closed in the middle of ``inv``'s response."""

    def on_restore(self) -> None:
        """SnapStart: the runtime is initialized and waits to be restored."""

    def on_restore_error(self, error: FunctionError) -> None:
        """SnapStart: an after-restore hook failed."""


class RuntimeConnection(Protocol):
    """One connection from the runtime, as the Runtime API answers on it
    (``runtime_connection.RuntimeConnection``)."""

    def write(self, data: bytes) -> None: ...
    def abort(self) -> None: ...


def response(status: str, body: bytes, extra: str = "") -> bytes:
    """One answer to the runtime, whole."""
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nDate: {http_date()}"
        f"\r\n{extra}Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def error_response(status: str, error_type: str, message: str) -> bytes:
    """An error answer, in the Runtime API's JSON."""
    body = json.dumps({"errorMessage": message, "errorType": error_type}).encode()
    return response(status, body)


def refused_transition(state: str, target: str) -> bytes:
    """403 ``InvalidStateTransition``, in the words of Lambda's Runtime API."""
    message = (
        f"State transition from {state} to {target} failed for runtime."
        " Error: State transition is not allowed"
    )
    return error_response("403 Forbidden", "InvalidStateTransition", message)


ACCEPTED = response("202 Accepted", b'{"status":"OK"}\n')
INVALID_REQUEST_ID = error_response("400 Bad Request", "InvalidRequestID", "Invalid request ID")


class RuntimeApi:
    """The Runtime API of one environment.

    Example::

        api = RuntimeApi(listener, life, function_arn="arn:...", timeout=3.0)
        address = await api.start()          # "127.0.0.1:41234" for AWS_LAMBDA_RUNTIME_API
        api.deliver(Invocation(b"{}"))       # answers the runtime's /next
    """

    def __init__(
        self,
        listener: RuntimeApiListener,
        life: Lifecycle,
        *,
        function_arn: str,
        timeout: float,
        max_stream: int = MAX_STREAMED_RESPONSE,
        emulate_bandwidth: bool = False,
        snap_start: bool = False,
    ) -> None:
        self.listener = listener
        self.life = life
        self.snap_start = snap_start
        self.function_arn = function_arn
        self.timeout = timeout
        self.max_stream = max_stream
        self.emulate_bandwidth = emulate_bandwidth
        # The invocation delivered last (Running until answered), one waiting
        # for the runtime's next /next, and the /next that waits (Ready).
        self.current: Invocation | None = None
        self._pending: Invocation | None = None
        self._waiting: RuntimeConnection | None = None
        # The /next answer that delivered ``current``, rendered again on a
        # repeated /next, and how many times it was.
        self._delivered = b""
        self._deliveries = 0
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[RuntimeConnection] = set()
        self._drained: Callable[[], None] | None = None
        self._drain_timer: asyncio.TimerHandle | None = None

    async def start(
        self, connection: Callable[[RuntimeApi], asyncio.Protocol], host: str = "127.0.0.1"
    ) -> str:
        """Listen on a free port, each connection ``connection(self)``; return ``host:port``."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: connection(self), host, 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"{host}:{port}"

    # -- connections -------------------------------------------------------------------

    def connection_made(self, conn: RuntimeConnection) -> None:
        self._connections.add(conn)

    def connection_gone(self, conn: RuntimeConnection) -> None:
        self._connections.discard(conn)
        if self._waiting is conn:
            self._waiting = None
        if self._drained is not None and not self._connections:
            self._drain_done()

    def close(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections):
            conn.abort()
        self._drain_done()

    def drain(self, done: Callable[[], None], timeout: float) -> None:
        """The runtime is gone: read what its connections still hold, then ``done()``.

        A runtime that exits mid-stream has sent bytes that still sit in its
        connection's buffers; closing at once would drop them. Each
        connection is read to its end (at the client's pace) and ``done``
        runs once all are closed, or after ``timeout`` with the rest cut.
        """
        if self._server is not None:
            self._server.close()
        self._drained = done
        if not self._connections:
            self._drain_done()
            return
        self._drain_timer = asyncio.get_running_loop().call_later(timeout, self.close)

    def _drain_done(self) -> None:
        if self._drain_timer is not None:
            self._drain_timer.cancel()
            self._drain_timer = None
        done, self._drained = self._drained, None
        if done is not None:
            done()

    # -- the environment's side --------------------------------------------------------

    def deliver(self, inv: Invocation) -> None:
        """Give ``inv`` to the runtime now if it waits in ``/next``, else at its next one."""
        if self._pending is not None:
            raise IllegalTransition(
                f"lambdastream dev bug: {self.life.name}: a second invocation for one runtime"
            )
        self._pending = inv
        if self.life.state == READY and self._waiting is not None:
            conn, self._waiting = self._waiting, None
            self._answer_next(conn)

    @property
    def pending(self) -> Invocation | None:
        """The invocation waiting for the runtime's next ``/next``, if any."""
        return self._pending

    def withdraw(self) -> Invocation | None:
        """Take back the invocation waiting for the runtime's next ``/next``."""
        inv, self._pending = self._pending, None
        return inv

    # -- the runtime's calls -----------------------------------------------------------

    def next_requested(self, conn: RuntimeConnection) -> bytes | None:
        """``GET /next``: deliver, wait, render again, or refuse (returned)."""
        # Lambda's Runtime API (the emulator's core/states.go): /next while
        # Running renders the invocation in flight again; /next while a
        # response is being read is an invalid transition. A second /next
        # while one already waits is refused here (the emulator queues it,
        # and it would take an invocation its caller may never read).
        state = self.life.state
        if state == RUNNING:
            self._deliveries += 1
            assert self.current is not None
            self.listener.on_redelivered(self.current, self._deliveries)
            return self._delivered
        if state not in (STARTED, RESTORE_READY, RESPONSE_SENT):
            return refused_transition(state, READY)
        if not self.listener.on_next():
            return None  # the environment is being retired: its process is killed
        if self._pending is not None:
            self._answer_next(conn)
            return None
        self.life.to(READY)
        self._waiting = conn
        self.listener.on_ready()
        return None

    def _answer_next(self, conn: RuntimeConnection) -> None:
        inv, self._pending = self._pending, None
        assert inv is not None
        self.life.to(RUNNING)
        self.current = inv
        self._delivered = self.render(inv)
        self._deliveries = 1
        # START must be logged before the runtime can print anything for it.
        self.listener.on_delivered(inv)
        conn.write(self._delivered)

    def render(self, inv: Invocation) -> bytes:
        """The ``/next`` answer that delivers ``inv``: its event and headers."""
        deadline_ms = int((time.time() + self.timeout) * 1000)
        headers = [
            ("Lambda-Runtime-Aws-Request-Id", inv.request_id),
            ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
            ("Lambda-Runtime-Invoked-Function-Arn", self.function_arn),
            ("Lambda-Runtime-Trace-Id", inv.trace_id),
            ("Lambda-Runtime-Invocation-Id", inv.invocation_id),
        ]
        if inv.client_context:
            headers.append(("Lambda-Runtime-Client-Context", inv.client_context))
        if inv.cognito_identity:
            headers.append(("Lambda-Runtime-Cognito-Identity", inv.cognito_identity))
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers)
        return response("200 OK", inv.payload, extra)

    def begin_reply(
        self, request_id: str, headers: dict[str, str], error: bool
    ) -> tuple[Invocation | None, bytes]:
        """A reply (``/response``, or ``/error``) for ``request_id`` begins; or its refusal.

        As Lambda checks: the request id first (400 ``InvalidRequestID``),
        then an echoed invocation id (410 for a stale one), then the state.
        """
        inv = self.current
        if inv is None or inv.request_id != request_id:
            return None, INVALID_REQUEST_ID
        echoed = headers.get("lambda-runtime-invocation-id")
        if echoed is not None and echoed != inv.invocation_id:
            return None, error_response("410 Gone", "InvalidRequestID", "stale invocation")
        target = ERROR_RESPONDING if error else RESPONDING
        if not self.life.allows(target) or inv.done:
            return None, refused_transition(self.life.state, target)
        self.life.to(target)
        return inv, b""

    def reply_over(self, inv: Invocation) -> None:
        """The runtime's reply to ``inv`` ended (whole, cut short, or refused as too large)."""
        if self.life.state in (RESPONDING, ERROR_RESPONDING):
            self.life.to(RESPONSE_SENT)

    def init_failed(self, error: FunctionError) -> None:
        """``/init/error`` (or ``/restore/error``): the environment cannot serve."""
        if self.life.allows(INIT_ERROR):
            self.life.to(INIT_ERROR)

    def restore_requested(self) -> bytes | None:
        """``GET /restore/next``: SnapStart's init is done; None to answer it, else the refusal."""
        if not self.snap_start:
            return error_response(
                "403 Forbidden",
                "InvalidStateTransition",
                "restore is served only to SnapStart functions (lambdastream dev --snap-start)",
            )
        if not self.life.allows(RESTORE_READY):
            return refused_transition(self.life.state, RESTORE_READY)
        self.life.to(RESTORE_READY)
        self.listener.on_restore()
        return None

    def died(self) -> None:
        """The process ended or was killed: every call from now on is refused."""
        if self.life.state != DEAD:
            self.life.to(DEAD)
