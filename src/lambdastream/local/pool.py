"""The pool of execution environments: where each invocation runs, and the async queue.

The ``Pool`` reuses a free environment (warm, the most recently used first,
as Lambda does), starts a new one when all are busy (cold), and refuses
beyond ``concurrency`` with ``TooManyRequests``, as Lambda does. An
environment that times out or crashes is thrown away; the next invocation
gets a fresh one, and a provisioned one is started again at once.
Asynchronous (``Event``) invokes wait in a bounded queue for a free
environment and are retried as Lambda retries them.

Example::

    pool = Pool(FunctionConfig(handler="app.handler", root=Path(".")), LogPrinter())
    inv = Invocation(b'{"x": 1}')
    inv.attach(sink)
    pool.invoke(inv)        # raises TooManyRequests when all are busy
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable

from lambdastream.local.environment import Environment
from lambdastream.local.function import FunctionConfig
from lambdastream.local.invocation import FunctionError, Invocation
from lambdastream.local.logs import LogPrinter
from lambdastream.local.managed import ManagedEnvironment

__all__ = ["MAX_QUEUED_BYTES", "MAX_QUEUED_EVENTS", "Pool", "TooManyRequests"]

# Asynchronous invokes waiting for an environment: at most this many, and
# this much payload (1 MB each at most); beyond, TooManyRequestsException.
MAX_QUEUED_EVENTS = 1000
MAX_QUEUED_BYTES = 32 * 1024 * 1024
# How long an invocation may wait for an environment that has answered and
# whose runtime is on its way back to /next, rather than being throttled.
# On Lambda a sequential caller's next request crosses the network while
# the runtime asks /next (the environment is busy until then); on loopback
# it can arrive first. Longer work after the answer (a web app's background
# task) still holds the environment, and the caller is throttled as on
# Lambda.
HANDOFF_WAIT = 0.2
# At shutdown, how long the killed runtimes together get to be reaped.
_STOP_WAIT = 2.0


class TooManyRequests(Exception):
    """Every environment is busy and no new one may start."""


class _Completion:
    """A sink that only learns how an asynchronous invocation ended."""

    def __init__(self, inv: Invocation) -> None:
        self._ended: asyncio.Future[FunctionError | None] = (
            asyncio.get_running_loop().create_future()
        )
        inv.attach(self)

    async def wait(self) -> FunctionError | None:
        return await self._ended

    def on_start(self, inv: Invocation) -> None:
        pass

    def on_body(self, inv: Invocation, pieces: list[memoryview] | list[bytes]) -> None:
        pass

    def on_end(self, inv: Invocation, error: FunctionError | None) -> None:
        if not self._ended.done():
            self._ended.set_result(error)

    def on_failure(self, inv: Invocation, exc: Exception) -> None:
        pass


class Pool:
    """Up to ``concurrency`` environments; one invocation each at a time."""

    def __init__(self, config: FunctionConfig, printer: LogPrinter) -> None:
        self.config = config
        self.printer = printer
        self.environments: list[Environment] = []
        self.closing = False
        self._idle_envs: deque[Environment] = deque()
        self._count = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._queued: set[asyncio.Future[None]] = set()
        self.queued_bytes = 0
        # Environments kept initialized (--provisioned): one that dies is replaced.
        self.provisioned = 0
        # Asynchronous events waiting for an environment (not yet running).
        self._waiting_events: set[Invocation] = set()

    def invoke(self, inv: Invocation, throttled: Callable[[], None] | None = None) -> None:
        """Start ``inv`` on a free environment, or a new one; else throttle it.

        Every environment busy and none may start: with ``throttled``, an
        environment that has answered and whose runtime is on its way back to
        ``/next`` may take ``inv`` within ``HANDOFF_WAIT``, else
        ``throttled()`` is called then; without, or with no such
        environment, ``TooManyRequests`` is raised at once.
        """
        if self.closing:
            raise TooManyRequests  # nothing starts while dev stops
        while self._idle_envs:
            env = self._idle_envs.pop()  # most recently used first, as Lambda reuses
            if env.free:
                env.assign(inv)
                if env.free:  # a Managed Instances environment with room for more
                    self._idle_envs.append(env)
                return
        if len(self.environments) < self.config.concurrency:
            env = self._start(inv)
            if env.free:  # a Managed Instances environment with room for more
                self._idle_envs.append(env)
            return
        handoff = next((env for env in self.environments if env.answered), None)
        if throttled is None or handoff is None:
            raise TooManyRequests
        handoff.assign(inv, throttled)
        asyncio.get_running_loop().call_later(
            HANDOFF_WAIT, self._handoff_expired, handoff, inv, throttled
        )

    def _handoff_expired(
        self, env: Environment, inv: Invocation, throttled: Callable[[], None]
    ) -> None:
        if env.api.pending is inv:  # its runtime did not ask /next in time
            env.withdraw()
            throttled()

    def _start(self, inv: Invocation | None, *, provisioned: bool = False) -> Environment:
        """A new environment (``inv`` waits for its first ``/next``)."""
        self._count += 1
        # --max-concurrency N: Managed Instances, N invocations at once in each.
        kind_of = (
            ManagedEnvironment if getattr(self.config, "max_concurrency", 1) > 1 else Environment
        )
        env = kind_of(self, self._count)
        env.provisioned = provisioned
        env._init_reported = provisioned
        self.environments.append(env)
        if inv is not None:
            env.assign(inv)
        if provisioned:
            kind = "provisioned"
        elif self.config.snap_start:
            kind = "snap-start: init, snapshot, restore"
        else:
            kind = "cold start"
        self.printer.platform(f"INIT_START environment {env.index} ({kind})")
        env.start_task = asyncio.ensure_future(env.start())
        return env

    async def provision(self, count: int) -> int:
        """Start ``count`` environments and wait until each is initialized.

        Like Lambda's provisioned concurrency: init runs before any request
        (``AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency``), so no
        request waits for it, and REPORT lines carry no Init Duration.
        Returns how many initialized; the others' errors are in the log.
        """
        self.provisioned = min(count, self.config.concurrency)
        started = [self._start(None, provisioned=True) for _ in range(self.provisioned)]
        results = await asyncio.gather(*(env.initialized for env in started))
        return sum(results)

    def enqueue(self, inv: Invocation) -> None:
        """Run ``inv`` once an environment is free (an asynchronous invoke).

        Raises ``TooManyRequests`` when the queue already holds
        ``MAX_QUEUED_EVENTS`` events or ``MAX_QUEUED_BYTES`` of payload:
        Lambda's own queue is practically unbounded, but a local one must
        not grow the dev server without limit.
        """
        size = len(inv.payload)
        if len(self._queued) >= MAX_QUEUED_EVENTS or self.queued_bytes + size > MAX_QUEUED_BYTES:
            raise TooManyRequests
        self.queued_bytes += size
        task = asyncio.ensure_future(self._run_queued(inv, size))
        self._queued.add(task)
        task.add_done_callback(self._queued.discard)

    async def _run_queued(self, inv: Invocation, size: int) -> None:
        config = self.config
        queued_at = time.monotonic()
        try:
            for attempt in range(config.async_retries + 1):
                if attempt:
                    # As Lambda does, each retry waits longer than the last.
                    await asyncio.sleep(config.async_retry_delay * attempt)
                    inv = Invocation(
                        inv.payload,
                        request_id=inv.request_id,
                        client_context=inv.client_context,
                        trace_header=inv.trace_header,  # a retry continues the caller's trace
                    )
                done = _Completion(inv)
                age_left = config.max_event_age - (time.monotonic() - queued_at)
                try:
                    await asyncio.wait_for(self.invoke_queued(inv), max(age_left, 0.0))
                except asyncio.TimeoutError:
                    self.printer.warning(
                        f"async invocation {inv.request_id} dropped: older than the maximum"
                        f" event age ({config.max_event_age:g} s)"
                    )
                    return
                error = await done.wait()
                if error is None or self.closing:
                    return
                if attempt < config.async_retries:
                    self.printer.warning(
                        f"async invocation {inv.request_id} failed ({error.error_type});"
                        f" retry {attempt + 1} of {config.async_retries}"
                    )
                else:
                    self.printer.warning(
                        f"async invocation {inv.request_id} failed ({error.error_type})"
                        f" after {config.async_retries} retries"
                    )
        finally:
            # The payload no longer waits in the queue.
            self.queued_bytes -= size

    async def invoke_queued(self, inv: Invocation) -> None:
        """Like ``invoke``, but wait for a free environment (asynchronous invokes)."""
        self._waiting_events.add(inv)
        try:
            while not self.closing:
                try:
                    self.invoke(inv)
                    return
                except TooManyRequests:
                    fut = asyncio.get_running_loop().create_future()
                    self._waiters.append(fut)
                    await fut
            raise asyncio.CancelledError  # stopping: the event is dropped
        finally:
            self._waiting_events.discard(inv)

    def reload(self) -> None:
        """Code changed: free environments stop now, busy ones after their invocation."""
        for env in list(self.environments):
            env.retire()

    async def close(self) -> None:
        """Stop every environment, and drop the asynchronous events still queued.

        AWS documents nothing for the queue of a function that is deleted;
        its retries, destinations and dead-letter queue go with it, so what
        waits is dropped (said once, with the count). Bounded: the
        processes get ``_STOP_WAIT`` seconds in all to be reaped.
        """
        self.closing = True
        waiting = len(self._waiting_events)
        for task in self._queued:
            task.cancel()
        if waiting:
            self.printer.warning(
                f"{waiting} queued asynchronous invocations dropped: the function is stopping"
                " (as AWS drops a deleted function's queued events)"
            )
        for env in list(self.environments):
            env.kill()
        exits = [env.proc.wait() for env in self.environments if env.proc is not None]
        if exits:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.gather(*exits, return_exceptions=True), _STOP_WAIT)
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(None)

    def _idle(self, env: Environment) -> None:
        self._idle_envs.append(env)
        self._wake()

    def _gone(self, env: Environment) -> None:
        if env in self.environments:
            self.environments.remove(env)
        if env.provisioned and not self.closing and env.initialized.result():
            # As Lambda keeps provisioned concurrency: a provisioned
            # environment that crashed (or was retired) is replaced, initialized
            # before it serves.
            alive = sum(e.provisioned for e in self.environments)
            if alive < self.provisioned:
                self.printer.warning(
                    f"environment {env.index} (provisioned) is gone: starting a replacement"
                )
                replacement = self._start(None, provisioned=True)

                def initialized(done: asyncio.Future[bool]) -> None:
                    if done.result():
                        self.printer.info(
                            f"environment {replacement.index} (provisioned) is initialized"
                        )

                replacement.initialized.add_done_callback(initialized)
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return
