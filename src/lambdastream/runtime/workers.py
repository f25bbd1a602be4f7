"""Lambda Managed Instances: N worker processes, each with its own init and ``/next`` loop.

With ``AWS_LAMBDA_MAX_CONCURRENCY=N`` (N > 1) an environment gets up to N
invocations at once, and Lambda's Python runtime serves them with N
processes, one invocation each at a time, each performing "its own
initialization" (AWS, ``lambda-managed-instances-python-runtime``), as
awslambdaric 4.x's workers do (``lambda_multi_concurrent_utils.py``). The
rules, each with its source, are in docs/managed-instances.md:

- workers are forked before the function is loaded; each loads it, and polls
  ``/next`` on its own connection (no ``multiprocessing`` to import);
- logs are JSON, whole lines, to ``_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET``
  when Lambda names one (awslambdaric's ``_redirect_output``);
- a failed ``/next`` is tried again after 0.1, 0.2, 0.4, 0.8 s (awslambdaric);
- an init error is posted once; a 403 for it is ignored (init is complete
  once one worker waits in ``/next``: the emulator's ``initerror.go``);
- a lost answer does not end a worker: the :class:`Board` keeps any two from
  running one delivery;
- a worker that dies is not replaced: the environment carries on with the
  others (AWS, ``lambda-managed-instances-execution-environment``); its
  invocation fails at once (``Runtime.ExitError``); once none is left, the
  runtime exits.

Example::

    AWS_LAMBDA_MAX_CONCURRENCY=4 python -m lambdastream.runtime app.handler
"""

from __future__ import annotations

import _socket
import contextlib
import fcntl
import mmap
import os
import signal
import sys
import time

from lambdastream.runtime import logs
from lambdastream.runtime.api_client import Response, RuntimeAPIError, RuntimeClient

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable
    from typing import Any

    # bootstrap.serve for one worker: (its client, its deliveries) -> exit status.
    # Passed in, not imported: bootstrap imports this module.
    ServeWorker = Callable[[RuntimeClient, Any], int]

# awslambdaric's backoff: 5 attempts in all, the first retry after 0.1 s, doubling.
RETRY_DELAYS = (0.1, 0.2, 0.4, 0.8)
LOG_SOCKET = "_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET"
EXIT_ERROR = "Runtime.ExitError"


def run_workers(count: int, address: str, serve_worker: ServeWorker) -> int:
    """Fork ``count`` workers, each running ``serve_worker`` against ``address``; wait for them.

    ``serve_worker(client, deliveries)`` loads the function and answers
    invocations until there are none (:func:`lambdastream.runtime.bootstrap.serve`).
    Returns the exit status of the last worker to end (128 + the signal
    that killed it).
    """
    # The format every worker logs in, and that the function sees: JSON, as
    # on Managed Instances (and the emulator's default there).
    logs.LOG_FORMAT = "JSON"
    os.environ["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
    board = Board(count)
    sys.stdout.flush()
    sys.stderr.flush()
    workers: dict[int, int] = {}

    def pass_on(signum: int, frame: object) -> None:
        # Lambda (or `lambdastream dev`) stops the runtime process: its workers too.
        for pid in list(workers):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    signal.signal(signal.SIGTERM, pass_on)
    signal.signal(signal.SIGINT, pass_on)
    for index in range(count):
        try:
            pid = os.fork()
        except OSError as exc:  # out of processes or memory: serve with those started
            logs.runtime_note(f"could not start worker {index} of {count}: {exc}")
            break
        if pid == 0:
            _worker_process(index, board, address, serve_worker)  # never returns
        workers[pid] = index
    if not workers:
        return 1
    return supervise(workers, board, address)


def _worker_process(index: int, board: Board, address: str, serve_worker: ServeWorker) -> None:
    status = 1
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        status = run_worker(index, board, address, serve_worker)
    except SystemExit as exc:  # the function's own sys.exit()
        code = exc.code
        status = code if isinstance(code, int) else (0 if code is None else 1)
        if not isinstance(code, (int, type(None))):
            sys.stderr.write(f"{code}\n")
    except KeyboardInterrupt:
        status = 130
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        # Never back into the parent's code: this process is a worker only.
        os._exit(status)


def run_worker(index: int, board: Board, address: str, serve_worker: ServeWorker) -> int:
    """One worker: its output, its own connection, init, then the loop; its exit status."""
    socket_path = os.environ.get(LOG_SOCKET)
    if socket_path:
        redirect_output(socket_path)
    logs.install(lines=True)
    return serve_worker(RuntimeClient(address), SharedDeliveries(board, index))


def redirect_output(path: str) -> None:
    """Send this process's stdout and stderr to the log socket at ``path``, one connection each."""
    for fd in (1, 2):
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.connect(path)
            os.dup2(sock.fileno(), fd)
        except OSError as exc:
            # The output the runtime was started with still reaches the log.
            logs.runtime_note(f"could not connect to the log socket {path}: {exc}")
            return
        finally:
            sock.close()


class SharedDeliveries:
    """What the workers of one environment remember of their deliveries, together.

    A worker's :class:`lambdastream.runtime.bootstrap.Deliveries`, with the
    same methods. Lambda's Managed Instances never hand one invocation to
    two workers, but a Runtime API that re-delivers (as an on-demand
    environment's does, to whoever asks ``/next`` next) must not have one
    run twice either.
    """

    # Another worker's /next would be handed a re-delivery: the board refuses it.
    lost_is_fatal = False

    def __init__(self, board: Board, index: int) -> None:
        self.board = board
        self.index = index

    def next(self, client: RuntimeClient) -> Response:
        for delay in RETRY_DELAYS:
            try:
                return client.next_invocation()
            except RuntimeAPIError as exc:
                self.note(f"{exc}; retrying /next in {delay} s")
                time.sleep(delay)
        return client.next_invocation()

    def claim(self, delivery: tuple[str | None, ...]) -> bool:
        return self.board.claim(self.index, delivery)

    def finished(self) -> None:
        self.board.finished(self.index)

    def reports_init_error(self) -> bool:
        return self.board.first_init_error()

    def note(self, message: str) -> None:
        logs.runtime_note(f"worker {self.index}: {message}")


# The board: one slot of SLOT bytes per worker, after one for the environment.
# A worker's slot holds the delivery it ran last: a state byte, then
# "\n" + request id, deadline and invocation id (NUL between) + "\n".
SLOT = 256
RUNNING = ord("R")
DONE = ord("D")


class Board:
    """Shared memory where the workers record what they run, under one lock.

    A file in memory (``memfd``), mapped by every worker (they inherit it
    across ``fork``); a POSIX record lock on it (``lockf``) makes a claim
    atomic, and is released by the kernel if its holder dies. A claim costs
    two lock calls and one search of the board, a few microseconds.
    """

    def __init__(self, workers: int) -> None:
        self.fd = _memory_file()
        self.size = (workers + 1) * SLOT
        os.ftruncate(self.fd, self.size)
        self.table = mmap.mmap(self.fd, self.size)

    def claim(self, worker: int, delivery: tuple[str | None, ...]) -> bool:
        """Record that ``worker`` runs ``delivery``; False if a worker ran it already."""
        record = _record(delivery)
        start = (worker + 1) * SLOT
        fcntl.lockf(self.fd, fcntl.LOCK_EX)
        try:
            at = self.table.find(record, SLOT)
            while at != -1 and at % SLOT != 1:  # only a record's own start counts
                at = self.table.find(record, at + 1)
            if at != -1:
                return False
            self.table[start : start + SLOT] = (bytes((RUNNING,)) + record).ljust(SLOT, b"\0")
            return True
        finally:
            fcntl.lockf(self.fd, fcntl.LOCK_UN)

    def finished(self, worker: int) -> None:
        """``worker``'s delivery is over (it stays on the board, refused if delivered again)."""
        self.table[(worker + 1) * SLOT] = DONE

    def running(self, worker: int) -> tuple[str, str, str] | None:
        """The (request id, deadline, invocation id) ``worker`` was running, if any."""
        slot = self.table[(worker + 1) * SLOT : (worker + 2) * SLOT]
        if slot[0] != RUNNING or slot[2:3] == b"#":
            return None
        fields = slot[2 : slot.index(b"\n", 2)].decode("latin-1").split("\0")
        return (fields[0], fields[1], fields[2]) if len(fields) == 3 else None

    def first_init_error(self) -> bool:
        """True for the first worker to ask: it reports the init error; the others do not."""
        fcntl.lockf(self.fd, fcntl.LOCK_EX)
        try:
            first = self.table[0] == 0
            self.table[0] = 1
            return first
        finally:
            fcntl.lockf(self.fd, fcntl.LOCK_UN)


def _record(delivery: tuple[str | None, ...]) -> bytes:
    key = "\0".join(field or "" for field in delivery).encode("latin-1", "replace")
    if len(key) > SLOT - 3:
        # Longer than Lambda's ids (UUIDs, a 13-digit deadline): the workers
        # share one hash seed (forked), so a hash names it for all of them.
        key = b"#%x" % (hash(key) & 0xFFFFFFFFFFFFFFFF)
    return b"\n" + key + b"\n"


def _memory_file() -> int:
    try:
        return os.memfd_create("lambdastream-workers")
    except (AttributeError, OSError):  # not Linux: a file no one else can open
        path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f".lambdastream-{os.getpid()}")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.unlink(path)
        return fd


def supervise(workers: dict[int, int], board: Board, address: str) -> int:
    """Wait for the workers (pid -> index) to end; report the invocation each one dies in.

    Returns the last worker's exit status.
    """
    client: RuntimeClient | None = None
    status = 0
    while workers:
        try:
            pid, wait_status = os.wait()
        except ChildProcessError:
            break
        index = workers.pop(pid, None)
        if index is None:
            continue
        code = os.waitstatus_to_exitcode(wait_status)
        status = code if code >= 0 else 128 - code
        how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
        running = board.running(index)
        about = ""
        if running is not None:
            client = client or RuntimeClient(address)
            about = running[0]
            how += f" while running invocation {about}: {report_exit(client, running, how)}"
        left = f"{len(workers)} worker{'' if len(workers) == 1 else 's'} left"
        logs.runtime_note(f"worker {index} (pid {pid}) {how}; {left}", about)
    return status


def report_exit(client: RuntimeClient, running: tuple[str, str, str], how: str) -> str:
    """Fail the invocation whose worker died (``Runtime.ExitError``); what became of the report."""
    from lambdastream.runtime.errors import error_json, make_error

    request_id, _, invocation_id = running
    message = f"RequestId: {request_id} Error: Runtime worker {how}"
    body = error_json(make_error(message, EXIT_ERROR, [], request_id))
    try:
        reply = client.post_error(
            f"invocation/{request_id}/error", body, EXIT_ERROR, invocation_id or None
        )
    except RuntimeAPIError as exc:
        client.reset()
        return f"could not report it ({exc})"
    if reply.status >= 300:  # it was answered before the worker died
        return f"reported, refused ({reply.status})"
    return f"reported as {EXIT_ERROR}"
