"""One execution environment: a runtime process, its Runtime API, its logs and its clock.

An ``Environment`` serves one invocation at a time. Its state is the one
table of :mod:`lambdastream.local.lifecycle` (Started, Ready, Running,
InvocationResponse, ResponseSent, Dead...), which its Runtime API moves as
the runtime calls it and the pool (:mod:`lambdastream.local.pool`) reads
to choose where an invocation runs. It prints what Lambda prints (START,
the function's lines, END, REPORT with init duration and peak memory),
kills its process at the invocation's deadline (``Sandbox.Timeout``), and
reports a process that ended mid-invocation as ``Runtime.ExitError``.

Example::

    env = Environment(pool, 1)
    env.start_task = asyncio.ensure_future(env.start())
    env.assign(Invocation(b"{}"))     # delivered at the runtime's /next
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from lambdastream.local.invocation import FunctionError, Invocation
from lambdastream.local.lifecycle import BUSY, DEAD, READY, RESPONSE_SENT, Lifecycle
from lambdastream.local.logs import report_line
from lambdastream.local.runtime_api import RuntimeApi
from lambdastream.local.runtime_connection import RuntimeConnection

if TYPE_CHECKING:
    from lambdastream.local.function import FunctionConfig
    from lambdastream.local.logs import LogPrinter

__all__ = ["INIT_TIMEOUT", "LOG_TAIL", "Environment", "Owner"]

LOG_TAIL = 4096
# How long the bytes a dead runtime left in its connections may take to
# reach the client (a slow one paces them) before the rest is cut.
_DRAIN_TIMEOUT = 10.0
# How often a busy environment's peak memory is read for its REPORT line:
# a process that dies mid-invocation can no longer be asked.
_MEMORY_SAMPLE = 0.1
# Lambda gives init 10 s of its own before an on-demand invocation's timeout.
INIT_TIMEOUT = 10.0


# Lambda's quota: 1,024 file descriptors per execution environment ("Lambda
# quotas"). dev itself may run with more (its connection cap wants them).
FILE_DESCRIPTORS = 1024


def _lambda_file_limit(pid: int) -> None:
    """Give the runtime process Lambda's file limit, whatever dev's own is.

    Set from outside, just after the process starts (a ``preexec_fn``
    would run in a forked copy of a threaded process, which may deadlock):
    the new interpreter has opened a handful of files by then.
    """
    try:
        import resource

        resource.prlimit(pid, resource.RLIMIT_NOFILE, (FILE_DESCRIPTORS, FILE_DESCRIPTORS))
    except (ImportError, AttributeError, OSError, ValueError):  # not Linux, or gone already
        pass


class Owner(Protocol):
    """What an environment needs of the pool that owns it (``pool.Pool``)."""

    config: FunctionConfig
    printer: LogPrinter
    closing: bool

    def invoke(self, inv: Invocation, throttled: Callable[[], None] | None = None) -> None: ...
    def _idle(self, env: Environment) -> None: ...
    def _gone(self, env: Environment) -> None: ...


class Environment:
    """One runtime process and its Runtime API."""

    def __init__(self, pool: Owner, index: int) -> None:
        self.pool = pool
        self.index = index
        self.config = pool.config
        self.printer = pool.printer
        # The one state of this environment (lifecycle.py): its Runtime API
        # moves it as the runtime calls; the pool reads it.
        self.life = Lifecycle(f"environment {index}")
        self.api = self._runtime_api()
        # Code changed (--watch): retired when its invocation is over.
        self.stale = False
        # An invocation handed to this environment while its runtime was on
        # its way back to /next, with how to throttle it.
        self.handoff: tuple[Invocation, Callable[[], None]] | None = None
        self.proc: asyncio.subprocess.Process | None = None
        self.current: Invocation | None = None
        self._spawned_at = 0.0
        self._init_ms: float | None = None
        self._restore_started = 0.0
        self._restore_ms: float | None = None
        self._peak_mb = 0
        self._sampler: asyncio.Handle | None = None
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

    def _runtime_api(self) -> RuntimeApi:
        """This environment's Runtime API (Managed Instances serve theirs otherwise)."""
        return RuntimeApi(self, self.life, **self._runtime_api_options())

    def _runtime_api_options(self) -> dict[str, Any]:
        """What every Runtime API takes from the function's configuration."""
        return {
            "function_arn": self.config.arn,
            "timeout": self.config.timeout,
            "max_stream": self.config.max_stream,
            "emulate_bandwidth": self.config.emulate_bandwidth,
            "snap_start": self.config.snap_start,
        }

    async def start(self) -> None:
        """Start the Runtime API and spawn the runtime process."""
        address = await self.api.start(RuntimeConnection)
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
        _lambda_file_limit(self.proc.pid)
        self._init_timer = loop.call_later(INIT_TIMEOUT, self._init_timed_out)
        self._exit_task = asyncio.ensure_future(self._wait_exit())

    @property
    def free(self) -> bool:
        """Whether an invocation may be assigned here now (its runtime waits in ``/next``)."""
        return self.life.state == READY and not self.stale and self.api.pending is None

    @property
    def dead(self) -> bool:
        return self.life.state == DEAD

    @property
    def busy(self) -> bool:
        """Holding an invocation: delivered, being answered, or waiting for its runtime."""
        return self.life.state in BUSY or self.api.pending is not None

    @property
    def answered(self) -> bool:
        """Its invocation is answered and its runtime not yet back at ``/next`` (a handoff)."""
        return self.life.state == RESPONSE_SENT and not self.stale and self.api.pending is None

    def assign(self, inv: Invocation, throttled: Callable[[], None] | None = None) -> None:
        """Run ``inv`` here (now if the runtime waits, else at its next ``/next``).

        ``throttled``: a handoff (see ``answered``), which the pool withdraws
        if the runtime is late, and moves elsewhere if the process dies first.
        """
        if throttled is not None:
            self.handoff = (inv, throttled)
        else:
            self.current = inv  # delivered now, or the cold start's (init errors reach it)
        self.api.deliver(inv)

    def withdraw(self) -> Invocation | None:
        """Take back the invocation waiting for the runtime's ``/next``, if any."""
        self.handoff = None
        return self.api.withdraw()

    def retire(self) -> None:
        """Code changed: stop now if free, else once its invocation is over."""
        self.stale = True
        if self.life.state == READY:
            self._die()
            self.kill()

    def kill(self) -> None:
        """Stop the runtime process at once."""
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    # RuntimeApiListener
    def on_next(self) -> bool:
        self._init_done()
        if not self.initialized.done():
            self.initialized.set_result(True)
        # The runtime asks for work: the invocation before (if any) is over
        # for the runtime too, so its deadline no longer applies.
        self._cancel_deadline()
        self._sample_memory_stop()
        self.current = None
        if self.stale:
            self._die()
            self.kill()
            return False
        return True

    def on_ready(self) -> None:
        self.pool._idle(self)

    def on_delivered(self, inv: Invocation) -> None:
        self.current = inv
        self.handoff = None
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
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.config.timeout, self._timed_out, inv)
        if self._sampler is None:
            # Reading /proc costs a few system calls: after the event has
            # left for the runtime, not before it (the first byte waits).
            self._sampler = loop.call_soon(self._sample_memory)

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
        for inv in self._in_flight():
            self._complete(inv, error)
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
        delivered_at = self._delivered_time(inv)
        if delivered_at:
            duration = (time.monotonic() - delivered_at) * 1000
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
        self._forget(inv)
        inv.finish(error)
        # The environment stays busy until its runtime asks for the next event.

    def _delivered_time(self, inv: Invocation) -> float:
        """When ``inv`` reached the runtime (0: it never did)."""
        return self._delivered_at

    def _forget(self, inv: Invocation) -> None:
        """``inv`` is over for the log."""
        self._delivered_at = 0.0

    def _in_flight(self) -> list[Invocation]:
        """The invocations this environment holds, unanswered or not."""
        return [self.current] if self.current is not None else []

    def _timed_out(self, inv: Invocation) -> None:
        self._timer = None
        if self.dead:
            return
        seconds = self.config.timeout
        message = f"RequestId: {inv.request_id} Error: Task timed out after {seconds:.2f} seconds"
        self._die()
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

    def _die(self) -> None:
        """Nothing more runs here: the process ended, or is being killed."""
        self.api.died()

    def _exited(self, reason: str) -> None:
        self._read_logs()
        was = self.life.state
        self._die()
        self._cancel_deadline()
        self._sample_memory_stop()
        # What the runtime wrote before it ended still sits in its
        # connections: pass it on before saying how the invocation ended.
        self.api.drain(lambda: self._after_exit(reason, was), _DRAIN_TIMEOUT)

    def _after_exit(self, reason: str, was: str) -> None:
        handoff, self.handoff = self.handoff, None
        if handoff is not None:
            # Never delivered here: it runs elsewhere (or is throttled).
            self.api.withdraw()
            asyncio.get_running_loop().call_soon(self.pool.invoke, *handoff)
        self._close_logs()
        if not self.initialized.done():
            self.initialized.set_result(False)
        unanswered = [inv for inv in self._in_flight() if not inv.done]
        for inv in unanswered:
            error = self._init_error or FunctionError.make(
                "Runtime.ExitError", f"RequestId: {inv.request_id} Error: {reason}"
            )
            self._complete(inv, error)
        if (
            not unanswered
            and (was != DEAD or self._init_error is not None)
            and not self.pool.closing
        ):
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
