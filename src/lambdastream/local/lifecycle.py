"""One environment's life as Lambda's Runtime API keeps it: one table of states.

Lambda's Runtime API holds a single state machine per execution environment
(the runtime interface emulator's ``internal/lambda/core/states.go``); the
Runtime API, the environment and the pool of environments all consult this
one. A call of the runtime that the table does not allow is the runtime's
mistake, answered as Lambda answers it (403 ``InvalidStateTransition``, in
the emulator's words); a transition our own code attempts that the table
does not allow is a bug of ``lambdastream dev``, raised as
:class:`IllegalTransition`, never a silent state.

The states, named as the emulator names them where it has them:

- ``Started``: the process runs its init; no ``/next`` yet (an invocation
  may already wait for it, the cold start's);
- ``RestoreReady``: SnapStart: init done, the runtime waits in
  ``/restore/next`` for the environment to be restored;
- ``Ready``: the runtime waits in ``/next`` with nothing to run: the
  environment is free;
- ``Running``: an invocation is delivered and not answered (``/next`` again
  renders it again);
- ``InvocationResponse`` / ``InvocationErrorResponse``: its ``/response``
  or ``/error`` is being read;
- ``ResponseSent``: it is answered; the runtime has not asked ``/next`` yet
  (the environment is still busy, as on Lambda);
- ``InitError``: init failed (``/init/error``); the process is to exit;
- ``Dead``: the process ended, was killed, or timed out.

Example::

    >>> life = Lifecycle("environment 1")
    >>> life.to(RUNNING); life.to(RESPONDING); life.to(RESPONSE_SENT); life.state
    'ResponseSent'
    >>> life.allows(RESPONDING)
    False
    >>> try:
    ...     life.to(RESPONDING)
    ... except IllegalTransition as bug:
    ...     print(str(bug).split(": ", 1)[1])
    environment 1: ResponseSent -> InvocationResponse is not a transition of Lambda's Runtime API
"""

from __future__ import annotations

__all__ = [
    "ALLOWED",
    "BUSY",
    "DEAD",
    "ERROR_RESPONDING",
    "INIT_ERROR",
    "READY",
    "RESPONDING",
    "RESPONSE_SENT",
    "RESTORE_READY",
    "RUNNING",
    "STARTED",
    "IllegalTransition",
    "Lifecycle",
]

STARTED = "Started"
RESTORE_READY = "RestoreReady"
READY = "Ready"
RUNNING = "Running"
RESPONDING = "InvocationResponse"
ERROR_RESPONDING = "InvocationErrorResponse"
RESPONSE_SENT = "ResponseSent"
INIT_ERROR = "InitError"
DEAD = "Dead"

# state -> the states it may move to. Any state may end in Dead (the process
# can die, or be killed at a timeout, at any moment).
ALLOWED: dict[str, frozenset[str]] = {
    # The first /next: Ready, or Running when the cold start's invocation waits.
    STARTED: frozenset({READY, RUNNING, RESTORE_READY, INIT_ERROR, DEAD}),
    RESTORE_READY: frozenset({READY, RUNNING, INIT_ERROR, DEAD}),
    READY: frozenset({RUNNING, DEAD}),
    # Running -> Running: /next again without answering renders the invocation again.
    RUNNING: frozenset({RUNNING, RESPONDING, ERROR_RESPONDING, DEAD}),
    RESPONDING: frozenset({RESPONSE_SENT, DEAD}),
    ERROR_RESPONDING: frozenset({RESPONSE_SENT, DEAD}),
    # The runtime asks /next: free (Ready), or straight to the next invocation.
    RESPONSE_SENT: frozenset({READY, RUNNING, DEAD}),
    INIT_ERROR: frozenset({DEAD}),
    DEAD: frozenset(),
}
# States in which the environment holds an invocation (it takes no other).
BUSY = frozenset({RUNNING, RESPONDING, ERROR_RESPONDING, RESPONSE_SENT})


class IllegalTransition(RuntimeError):
    """Our own code moved an environment where Lambda's state table does not go: a bug."""


class Lifecycle:
    """The state of one environment; every change goes through :meth:`to`."""

    __slots__ = ("name", "state")

    def __init__(self, name: str) -> None:
        self.name = name
        self.state = STARTED

    def allows(self, new: str) -> bool:
        """Whether the table allows moving to ``new`` now."""
        return new in ALLOWED[self.state]

    def to(self, new: str) -> None:
        """Move to ``new``; :class:`IllegalTransition` if the table does not allow it."""
        if new not in ALLOWED[self.state]:
            raise IllegalTransition(
                f"lambdastream dev bug: {self.name}: {self.state} -> {new} is not a transition"
                " of Lambda's Runtime API"
            )
        self.state = new

    def __repr__(self) -> str:
        return f"Lifecycle({self.name!r}, {self.state})"
