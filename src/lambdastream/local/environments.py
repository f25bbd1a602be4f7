"""Execution environments: runtime processes, concurrency, timeouts, logs.

Each ``Environment`` is one runtime process with its own Runtime API and
serves one invocation at a time. The ``Pool`` reuses an idle environment
(warm), starts a new one when all are busy (cold), and refuses beyond
``concurrency`` with ``TooManyRequests``, as Lambda does. An environment
that times out or crashes is thrown away; the next invocation gets a fresh
one.

Example::

    pool = Pool(FunctionConfig(handler="app.handler", root=Path(".")), LogPrinter())
    inv = Invocation(b'{"x": 1}')
    inv.attach(sink)
    pool.invoke(inv)        # raises TooManyRequests when all are busy
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shlex
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from lambdastream.local.iam import ACCOUNT_ID
from lambdastream.local.invocation import FunctionError, Invocation
from lambdastream.local.logs import LogPrinter, report_line
from lambdastream.local.runtime_api import MAX_STREAMED_RESPONSE, RuntimeApi

__all__ = ["FunctionConfig", "Pool", "TooManyRequests"]

LOG_TAIL = 4096
# Asynchronous invokes waiting for an environment: at most this many, and
# this much payload (1 MB each at most); beyond, TooManyRequestsException.
MAX_QUEUED_EVENTS = 1000
MAX_QUEUED_BYTES = 32 * 1024 * 1024
# The directory holding the lambdastream package: the runtime's code.
_RUNTIME_DIR = str(Path(__file__).resolve().parents[2])
# How long the bytes a dead runtime left in its connections may take to
# reach the client (a slow one paces them) before the rest is cut.
_DRAIN_TIMEOUT = 10.0
# How often a busy environment's peak memory is read for its REPORT line:
# a process that dies mid-invocation can no longer be asked.
_MEMORY_SAMPLE = 0.1
# Lambda gives init 10 s of its own before an on-demand invocation's timeout.
INIT_TIMEOUT = 10.0
_PASSED_THROUGH = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TMPDIR",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "NODE_PATH",
)


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


@dataclass
class FunctionConfig:
    """How the function runs: what ``lambdastream dev``'s flags set."""

    handler: str
    root: Path
    name: str = ""
    bootstrap: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    timeout: float = 3.0
    memory: int = 128
    concurrency: int = 10
    region: str = "us-east-1"
    log_format: str = "Text"
    max_stream: int = MAX_STREAMED_RESPONSE
    emulate_bandwidth: bool = False
    snap_start: bool = False
    # Asynchronous invokes: Lambda retries a failed event twice, about a
    # minute and then two minutes later, and drops events older than the
    # maximum age (6 hours by default). Locally the delay is short.
    async_retries: int = 2
    async_retry_delay: float = 1.0
    max_event_age: float = 6 * 3600

    def __post_init__(self) -> None:
        if not self.name:
            self.name = default_name(self.handler)

    @property
    def arn(self) -> str:
        """The function's ARN as Lambda would give it."""
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.name}"

    def command(self) -> list[str]:
        """The runtime process's command line."""
        if self.bootstrap:
            return shlex.split(self.bootstrap)
        return [sys.executable, "-m", "lambdastream.runtime", self.handler]

    def environ(
        self, runtime_api: str, log_stream: str, *, provisioned: bool = False
    ) -> dict[str, str]:
        """The environment a runtime starts with (lambda-facts: "Execution environment")."""
        env = {k: os.environ[k] for k in _PASSED_THROUGH if k in os.environ}
        env.update({k: v for k, v in os.environ.items() if k.startswith("AWS_ENDPOINT_URL")})
        # Lambda sets no PYTHONPATH (the runtime puts the task root on
        # sys.path itself); one the developer set is theirs to pass on.
        if os.environ.get("PYTHONPATH"):
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        version = f"{sys.version_info[0]}.{sys.version_info[1]}"
        env.update(
            {
                "AWS_LAMBDA_RUNTIME_API": runtime_api,
                "_HANDLER": self.handler,
                "LAMBDA_TASK_ROOT": str(self.root.resolve()),
                # Where the runtime's own code lives, as /var/runtime on Lambda.
                "LAMBDA_RUNTIME_DIR": _RUNTIME_DIR,
                "AWS_LAMBDA_FUNCTION_NAME": self.name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
                "AWS_LAMBDA_INITIALIZATION_TYPE": (
                    "provisioned-concurrency"
                    if provisioned
                    else "snap-start"
                    if self.snap_start
                    else "on-demand"
                ),
                "AWS_LAMBDA_LOG_FORMAT": self.log_format,
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_python{version}",
                "TZ": ":UTC",
                # Lines reach the log as printed, in order with START/END.
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.env)
        return env


def default_name(handler: str) -> str:
    """A function name from a handler: ``app.handler`` -> ``app``.

    >>> default_name("pkg.mod.handler")
    'pkg-mod'
    """
    module = handler.rsplit(".", 1)[0] if "." in handler else handler
    name = "".join(c if c.isalnum() or c in "-_" else "-" for c in module)
    return name[:64] or "function"


class Environment:
    """One runtime process and its Runtime API."""

    def __init__(self, pool: Pool, index: int) -> None:
        self.pool = pool
        self.index = index
        self.config = pool.config
        self.printer = pool.printer
        self.api = RuntimeApi(
            self,
            function_arn=self.config.arn,
            timeout=self.config.timeout,
            max_stream=self.config.max_stream,
            emulate_bandwidth=self.config.emulate_bandwidth,
            snap_start=self.config.snap_start,
        )
        self.state = "starting"  # starting -> idle <-> busy -> dead
        self.stale = False
        self.proc: asyncio.subprocess.Process | None = None
        self.current: Invocation | None = None
        self._spawned_at = 0.0
        self._init_ms: float | None = None
        self._restore_started = 0.0
        self._restore_ms: float | None = None
        self._peak_mb = 0
        self._sampler: asyncio.TimerHandle | None = None
        self._init_reported = False
        self._delivered_at = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._log_fd = -1
        self._partial = b""
        self._tail = bytearray()
        self._init_error: FunctionError | None = None
        self._init_timer: asyncio.TimerHandle | None = None
        self._exit_task: asyncio.Future[None] | None = None
        self.start_task: asyncio.Future[None] | None = None
        # Provisioned: started and initialized before any request, like
        # Lambda's provisioned concurrency; ``initialized`` resolves then.
        self.provisioned = False
        self.initialized: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    async def start(self) -> None:
        """Start the Runtime API and spawn the runtime process."""
        address = await self.api.start()
        read_fd, write_fd = os.pipe()
        fcntl.fcntl(read_fd, fcntl.F_SETFL, fcntl.fcntl(read_fd, fcntl.F_GETFL) | os.O_NONBLOCK)
        self._log_fd = read_fd
        loop = asyncio.get_running_loop()
        loop.add_reader(read_fd, self._read_logs)
        stream = time.strftime("%Y/%m/%d") + f"/[$LATEST]{os.urandom(16).hex()}"
        self._spawned_at = time.monotonic()
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *self.config.command(),
                cwd=str(self.config.root),
                env=self.config.environ(address, stream, provisioned=self.provisioned),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=write_fd,
                stderr=write_fd,
                start_new_session=True,  # Ctrl-C reaches us, and we stop it in order
            )
        except OSError as exc:
            os.close(write_fd)
            self._exited(f"could not start the runtime {self.config.command()[0]!r}: {exc}")
            return
        os.close(write_fd)
        self._init_timer = loop.call_later(INIT_TIMEOUT, self._init_timed_out)
        self._exit_task = asyncio.ensure_future(self._wait_exit())

    def assign(self, inv: Invocation) -> None:
        """Run ``inv`` here (now if the runtime waits, else at its next ``/next``)."""
        self.state = "busy"
        self.current = inv
        self.api.deliver(inv)

    def kill(self) -> None:
        """Stop the runtime process at once."""
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    # RuntimeApiListener
    def on_ready(self) -> None:
        self._init_done()
        if not self.initialized.done():
            self.initialized.set_result(True)
        # The runtime asks for work: the invocation before (if any) is over
        # for the runtime too, so its deadline no longer applies.
        self._cancel_deadline()
        self._sample_memory_stop()
        if self.stale:
            self.state = "dead"
            self.kill()
            return
        self.state = "idle"
        self.current = None
        self.pool._idle(self)

    def on_delivered(self, inv: Invocation) -> None:
        self._init_done()
        self._read_logs()
        self._tail.clear()
        self._delivered_at = time.monotonic()
        self._platform(f"START RequestId: {inv.request_id} Version: $LATEST")
        # The deadline holds until the runtime asks for its next event, not
        # until the caller has its answer: a function whose response was cut
        # (the 200 MB cap) or that works on after answering still ends at its
        # timeout, as on Lambda.
        self._cancel_deadline()
        timeout = self.config.timeout
        self._timer = asyncio.get_running_loop().call_later(timeout, self._timed_out, inv)
        if self._sampler is None:
            self._sample_memory()

    def on_redelivered(self, inv: Invocation, delivery: int) -> None:
        # Lambda does this silently; a runtime that re-runs its handler for
        # each delivery would repeat its side effects unseen.
        self._read_logs()
        self.printer.warning(
            f"WARNING RequestId: {inv.request_id} the runtime asked /next again without"
            f" answering: the same invocation is delivered again (delivery {delivery})"
        )

    def on_result(self, inv: Invocation, error: FunctionError | None) -> None:
        self._complete(inv, error)

    def on_restore(self) -> None:
        # SnapStart: init ends where the snapshot would be taken; what the
        # runtime does after the restore (its after-restore hooks) until it
        # asks for work is the restore, reported on the first REPORT.
        self._init_done()
        self._restore_started = time.monotonic()
        self._platform("RESTORE_START Runtime Version: lambdastream-dev")

    def on_restore_error(self, error: FunctionError) -> None:
        self._restore_finished("error")
        self._failed(error)

    def _init_done(self) -> None:
        if self._init_ms is None:
            self._init_ms = (time.monotonic() - self._spawned_at) * 1000
            if self._init_timer is not None:
                self._init_timer.cancel()
        if self._restore_started and self._restore_ms is None:
            self._restore_finished("success")

    def _restore_finished(self, status: str) -> None:
        self._restore_ms = (time.monotonic() - self._restore_started) * 1000
        self._platform(
            f"RESTORE_REPORT Restore Duration: {self._restore_ms:.2f} ms\tStatus: {status}"
        )

    def on_init_error(self, error: FunctionError) -> None:
        self.printer.error(
            f"INIT_REPORT Init Duration: {self._elapsed_init():.2f} ms\tPhase: init\tStatus: error"
            f"\tError Type: {error.error_type}"
        )
        self._failed(error)

    def _failed(self, error: FunctionError) -> None:
        """The environment cannot serve: init (or a SnapStart restore) failed."""
        self._init_error = error
        if not self.initialized.done():
            self.initialized.set_result(False)
        if self._init_timer is not None:
            self._init_timer.cancel()
        if self.current is not None:
            self._complete(self.current, error)
        self.state = "dead"
        # Lambda expects the runtime to exit after /init/error; make sure it does.
        asyncio.get_running_loop().call_later(0.5, self.kill)

    def on_truncated(self, inv: Invocation) -> None:
        # Usually the process died: give its exit a moment to be seen, so the
        # caller learns Runtime.ExitError rather than a vaguer error.
        def later() -> None:
            if not inv.done:
                self._complete(
                    inv,
                    FunctionError.make(
                        "Runtime.TruncatedResponse",
                        f"RequestId: {inv.request_id} Error: the runtime closed the response early",
                    ),
                )

        asyncio.get_running_loop().call_later(0.3, later)

    # internals
    def _elapsed_init(self) -> float:
        return (time.monotonic() - self._spawned_at) * 1000

    def _cancel_deadline(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _complete(self, inv: Invocation, error: FunctionError | None) -> None:
        if inv.done:
            return
        self._read_logs()
        if error is not None:
            self.printer.error(f"{inv.request_id} {error.error_type}: {error.message}".rstrip())
            self._tail_add(f"{error.error_type}: {error.message}\n".encode())
        if self._delivered_at:
            duration = (time.monotonic() - self._delivered_at) * 1000
            self._platform(f"END RequestId: {inv.request_id}")
            init = restore = None
            if not self._init_reported:
                init, restore, self._init_reported = self._init_ms, self._restore_ms, True
            self._platform(
                report_line(
                    inv.request_id,
                    duration_ms=duration,
                    memory_mb=self.config.memory,
                    max_used_mb=self._max_memory_mb(),
                    init_ms=init,
                    restore_ms=restore,
                )
            )
        inv.log_tail = bytes(self._tail[-LOG_TAIL:])
        self._delivered_at = 0.0
        inv.finish(error)
        # The environment stays busy until its runtime asks for the next event.

    def _timed_out(self, inv: Invocation) -> None:
        self._timer = None
        if self.state == "dead":
            return
        seconds = self.config.timeout
        message = f"RequestId: {inv.request_id} Error: Task timed out after {seconds:.2f} seconds"
        self.state = "dead"
        self._read_peak_memory()
        self.kill()
        if inv.done:
            # The caller already has its answer (a cut stream, say); the
            # function ran on to its timeout, and its environment goes now.
            self.printer.error(message)
            self._tail_add(f"{message}\n".encode())
        else:
            self._complete(inv, FunctionError.make("Sandbox.Timeout", message))

    def _init_timed_out(self) -> None:
        if self._init_ms is None:
            self.printer.error(
                f"init did not finish within {INIT_TIMEOUT:.0f} s; stopping the runtime"
            )
            self.kill()

    async def _wait_exit(self) -> None:
        assert self.proc is not None
        code = await self.proc.wait()
        self._exited(f"Runtime exited with error: exit status {code}" if code else "Runtime exited")

    def _exited(self, reason: str) -> None:
        self._read_logs()
        was = self.state
        self.state = "dead"
        self._cancel_deadline()
        self._sample_memory_stop()
        # What the runtime wrote before it ended still sits in its
        # connections: pass it on before saying how the invocation ended.
        self.api.drain(lambda: self._after_exit(reason, was), _DRAIN_TIMEOUT)

    def _after_exit(self, reason: str, was: str) -> None:
        self._close_logs()
        if not self.initialized.done():
            self.initialized.set_result(False)
        inv = self.current
        if inv is not None and not inv.done:
            error = self._init_error or FunctionError.make(
                "Runtime.ExitError", f"RequestId: {inv.request_id} Error: {reason}"
            )
            self._complete(inv, error)
        elif (was != "dead" or self._init_error is not None) and not self.pool.closing:
            # After a failed init the exit status says how the runtime ended.
            self.printer.warning(f"environment {self.index}: {reason}")
        self.pool._gone(self)

    def _read_logs(self) -> None:
        if self._log_fd < 0:
            return
        while True:
            try:
                data = os.read(self._log_fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                if self._partial:
                    self._log_line(self._partial)
                    self._partial = b""
                self._close_logs()
                return
            lines = (self._partial + data).split(b"\n")
            self._partial = lines.pop()
            for line in lines:
                self._log_line(line)

    def _close_logs(self) -> None:
        if self._log_fd >= 0:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._log_fd)
            os.close(self._log_fd)
            self._log_fd = -1

    def _log_line(self, line: bytes) -> None:
        self._tail_add(line + b"\n")
        self.printer.function(line.decode("utf-8", "replace"))

    def _platform(self, line: str) -> None:
        self._tail_add(line.encode() + b"\n")
        self.printer.platform(line)

    def _tail_add(self, data: bytes) -> None:
        self._tail += data
        if len(self._tail) > 4 * LOG_TAIL:
            del self._tail[:-LOG_TAIL]

    def _max_memory_mb(self) -> int:
        """The runtime's peak RSS: read now if it still runs, else the last reading."""
        self._read_peak_memory()
        return self._peak_mb

    def _read_peak_memory(self) -> None:
        if self.proc is None:
            return
        try:
            with open(f"/proc/{self.proc.pid}/status", encoding="ascii") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        self._peak_mb = max(self._peak_mb, int(line.split()[1]) // 1024)
                        return
        except OSError:
            pass

    def _sample_memory(self) -> None:
        self._read_peak_memory()
        self._sampler = asyncio.get_running_loop().call_later(_MEMORY_SAMPLE, self._sample_memory)

    def _sample_memory_stop(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
            self._sampler = None


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

    def invoke(self, inv: Invocation) -> None:
        """Start ``inv`` on a warm environment, or a cold one; else raise."""
        while self._idle_envs:
            env = self._idle_envs.pop()  # most recently used first, as Lambda reuses
            if env.state == "idle" and not env.stale:
                env.assign(inv)
                return
        if len(self.environments) >= self.config.concurrency:
            raise TooManyRequests
        self._count += 1
        env = Environment(self, self._count)
        self.environments.append(env)
        env.current = inv
        env.state = "busy"
        env.api.deliver(inv)
        kind = "snap-start: init, snapshot, restore" if self.config.snap_start else "cold start"
        self.printer.platform(f"INIT_START environment {env.index} ({kind})")
        env.start_task = asyncio.ensure_future(env.start())

    async def provision(self, count: int) -> int:
        """Start ``count`` environments and wait until each is initialized.

        Like Lambda's provisioned concurrency: init runs before any request
        (``AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency``), so no
        request waits for it, and REPORT lines carry no Init Duration.
        Returns how many initialized; the others' errors are in the log.
        """
        started = []
        for _ in range(min(count, self.config.concurrency)):
            self._count += 1
            env = Environment(self, self._count)
            env.provisioned = True
            env._init_reported = True
            self.environments.append(env)
            self.printer.platform(f"INIT_START environment {env.index} (provisioned)")
            env.start_task = asyncio.ensure_future(env.start())
            started.append(env)
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
        while not self.closing:
            try:
                self.invoke(inv)
                return
            except TooManyRequests:
                fut = asyncio.get_running_loop().create_future()
                self._waiters.append(fut)
                await fut

    def reload(self) -> None:
        """Code changed: idle environments stop now, busy ones after their invocation."""
        for env in list(self.environments):
            env.stale = True
            if env.state == "idle":
                env.state = "dead"
                env.kill()

    async def close(self) -> None:
        """Stop every environment."""
        self.closing = True
        for env in list(self.environments):
            env.kill()
        for env in list(self.environments):
            if env.proc is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(env.proc.wait(), 2)
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(None)

    def _idle(self, env: Environment) -> None:
        self._idle_envs.append(env)
        self._wake()

    def _gone(self, env: Environment) -> None:
        if env in self.environments:
            self.environments.remove(env)
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return
