"""A Lambda Managed Instances environment: up to N invocations at once in one runtime.

``lambdastream dev --max-concurrency N`` serves each environment as Managed
Instances does (announced 2025-11-30): the runtime is told
``AWS_LAMBDA_MAX_CONCURRENCY=N`` and runs several workers, each of which asks
``/next`` on its own; the Runtime API takes up to N such calls at once and
hands each a different invocation. What differs from an on-demand
environment, as the runtime interface emulator's Managed Instances code has
it (``internal/lambda-managed-instances/invoke/invoke_router.go``,
``running_invoke.go``, ``timeout/timeout_cache.go``):

- each ``/next`` is one more idle worker: an invocation goes to one of them,
  and is never rendered again to another (more than N idle: 500);
- ``/response`` and ``/error`` are routed by request id: an unknown or
  finished id gets 400 ``InvalidRequestID``, a second ``/response`` for one
  id 400 too;
- an invocation that runs past its timeout fails with ``Sandbox.Timedout``
  and its worker is not stopped: the first late answer for it gets 410
  ``InvokeTimeout``, later ones 400;
- init is complete once one worker has asked ``/next``.

Each invocation keeps its own state from the one table
(:mod:`lambdastream.local.lifecycle`: Running, InvocationResponse,
ResponseSent); the environment's own goes Started, Ready, Dead.

Example::

    lambdastream dev app.handler --max-concurrency 4
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from lambdastream.local.environment import Environment, Owner
from lambdastream.local.invocation import FunctionError, Invocation
from lambdastream.local.lifecycle import (
    ERROR_RESPONDING,
    INIT_ERROR,
    READY,
    RESPONDING,
    RESPONSE_SENT,
    RESTORE_READY,
    RUNNING,
    STARTED,
    Lifecycle,
)
from lambdastream.local.runtime_api import (
    INVALID_REQUEST_ID,
    RuntimeApi,
    RuntimeConnection,
    error_response,
    refused_transition,
)

__all__ = ["ManagedEnvironment", "ManagedRuntimeApi"]

# The emulator remembers this many timed-out request ids (an LRU), each
# answered 410 once.
_TIMED_OUT_MEMORY = 1000


@dataclass
class _Slot:
    """One invocation in flight: its state, and what its worker's /next got."""

    inv: Invocation
    life: Lifecycle


class ManagedRuntimeApi(RuntimeApi):
    """The Runtime API of a Managed Instances environment (see the module)."""

    def __init__(self, *args: object, max_concurrency: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.max_concurrency = max_concurrency
        self._idle: deque[RuntimeConnection] = deque()
        self._queue: deque[Invocation] = deque()
        self._running: dict[str, _Slot] = {}
        self._timed_out: OrderedDict[str, None] = OrderedDict()

    @property
    def pending(self) -> Invocation | None:
        return self._queue[0] if self._queue else None

    @property
    def in_flight(self) -> int:
        """Invocations delivered and not yet answered, and those waiting for a worker."""
        return len(self._running) + len(self._queue)

    def running(self) -> list[Invocation]:
        return [slot.inv for slot in self._running.values()] + list(self._queue)

    def withdraw(self) -> Invocation | None:
        return self._queue.popleft() if self._queue else None

    def connection_gone(self, conn: RuntimeConnection) -> None:
        if conn in self._idle:
            self._idle.remove(conn)
        super().connection_gone(conn)

    def deliver(self, inv: Invocation) -> None:
        if self._idle:
            self._start(self._idle.popleft(), inv)
        else:
            self._queue.append(inv)

    def next_requested(self, conn: RuntimeConnection) -> bytes | None:
        state = self.life.state
        if state in (STARTED, RESTORE_READY):
            if not self.listener.on_next():
                return None
            self.life.to(READY)
        elif state != READY:
            return refused_transition(state, READY)
        if self._queue:
            self._start(conn, self._queue.popleft())
            return None
        if len(self._idle) >= self.max_concurrency:
            return error_response(
                "500 Internal Server Error",
                "ErrorRuntimeTooManyIdleRuntimes",
                f"more than {self.max_concurrency} workers wait in /next",
            )
        self._idle.append(conn)
        self.listener.on_ready()
        return None

    def _start(self, conn: RuntimeConnection, inv: Invocation) -> None:
        life = Lifecycle(f"{self.life.name}, invocation {inv.request_id}")
        life.to(RUNNING)
        self._running[inv.request_id] = _Slot(inv, life)
        self.listener.on_delivered(inv)
        conn.write(self.render(inv))

    def begin_reply(
        self, request_id: str, headers: dict[str, str], error: bool
    ) -> tuple[Invocation | None, bytes]:
        slot = self._running.get(request_id)
        if slot is None:
            if self._timed_out.pop(request_id, False) is None:
                return None, error_response("410 Gone", "InvokeTimeout", "Invoke timeout")
            return None, INVALID_REQUEST_ID
        echoed = headers.get("lambda-runtime-invocation-id")
        if echoed is not None and echoed != slot.inv.invocation_id:
            return None, error_response("410 Gone", "InvalidRequestID", "stale invocation")
        target = ERROR_RESPONDING if error else RESPONDING
        if not slot.life.allows(target) or slot.inv.done:
            return None, INVALID_REQUEST_ID  # a second reply: 400 here, not 403
        slot.life.to(target)
        return slot.inv, b""

    def reply_over(self, inv: Invocation) -> None:
        slot = self._running.get(inv.request_id)
        if slot is not None and slot.life.state in (RESPONDING, ERROR_RESPONDING):
            slot.life.to(RESPONSE_SENT)
            del self._running[inv.request_id]

    def timed_out(self, inv: Invocation) -> None:
        """``inv`` ran past its timeout: its worker runs on; its late answer gets 410 once."""
        self._running.pop(inv.request_id, None)
        self._timed_out[inv.request_id] = None
        while len(self._timed_out) > _TIMED_OUT_MEMORY:
            self._timed_out.popitem(last=False)

    def init_failed(self, error: FunctionError) -> None:
        # Every worker reports the init error it met; the first one counts.
        if self.life.allows(INIT_ERROR):
            self.life.to(INIT_ERROR)


class ManagedEnvironment(Environment):
    """One Managed Instances environment: several invocations at once, each logged on its own."""

    def __init__(self, pool: Owner, index: int) -> None:
        super().__init__(pool, index)
        # request id -> when it reached its worker, and its deadline's timer
        self._flights: dict[str, tuple[float, asyncio.TimerHandle]] = {}

    def _runtime_api(self) -> ManagedRuntimeApi:
        return ManagedRuntimeApi(
            self,
            self.life,
            max_concurrency=self.config.max_concurrency,
            **self._runtime_api_options(),
        )

    @property
    def managed_api(self) -> ManagedRuntimeApi:
        assert isinstance(self.api, ManagedRuntimeApi)
        return self.api

    @property
    def free(self) -> bool:
        """Room for one more invocation: a worker waits, or will soon (below N in flight)."""
        # Starting too: its workers take what waits once they ask /next.
        return (
            self.life.state in (STARTED, RESTORE_READY, READY)
            and not self.stale
            and self.managed_api.in_flight < self.config.max_concurrency
        )

    @property
    def busy(self) -> bool:
        return self.managed_api.in_flight > 0

    @property
    def answered(self) -> bool:
        return False  # workers are many: no handoff to wait for

    def assign(self, inv: Invocation, throttled: Callable[[], None] | None = None) -> None:
        self.api.deliver(inv)

    def retire(self) -> None:
        self.stale = True
        if not self.busy and self.life.state == READY:
            self._die()
            self.kill()

    # RuntimeApiListener
    def on_next(self) -> bool:
        self._init_done()
        if not self.initialized.done():
            self.initialized.set_result(True)
        return True

    def on_ready(self) -> None:
        if self.free:
            self.pool._idle(self)

    def on_delivered(self, inv: Invocation) -> None:
        self._init_done()
        self._read_logs()
        self._platform(f"START RequestId: {inv.request_id} Version: $LATEST")
        loop = asyncio.get_running_loop()
        timer = loop.call_later(self.config.timeout, self._flight_timed_out, inv)
        self._flights[inv.request_id] = (time.monotonic(), timer)
        if self._sampler is None:
            self._sampler = loop.call_soon(self._sample_memory)

    def on_result(self, inv: Invocation, error: FunctionError | None) -> None:
        self._complete(inv, error)
        if self.stale and not self.busy:
            self._die()
            self.kill()
        elif self.free:
            self.pool._idle(self)

    def _flight_timed_out(self, inv: Invocation) -> None:
        seconds = self.config.timeout
        message = f"RequestId: {inv.request_id} Error: Task timed out after {seconds:.2f} seconds"
        self.managed_api.timed_out(inv)
        if inv.done:
            self.printer.error(message)
        else:
            # Managed Instances' name for it; the worker is not stopped.
            self._complete(inv, FunctionError.make("Sandbox.Timedout", message))
        if self.free:
            self.pool._idle(self)

    # per-invocation bookkeeping (Environment's hooks)
    def _delivered_time(self, inv: Invocation) -> float:
        flight = self._flights.get(inv.request_id)
        return flight[0] if flight else 0.0

    def _forget(self, inv: Invocation) -> None:
        flight = self._flights.pop(inv.request_id, None)
        if flight is not None:
            flight[1].cancel()
        if not self._flights:
            self._sample_memory_stop()

    def _in_flight(self) -> list[Invocation]:
        return self.managed_api.running()

    def _cancel_deadline(self) -> None:
        for _, timer in self._flights.values():
            timer.cancel()
        super()._cancel_deadline()

    def _timed_out(self, inv: Invocation) -> None:  # pragma: no cover - per flight instead
        self._flight_timed_out(inv)
