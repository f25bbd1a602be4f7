"""How many connections one listening server holds, and what happens at the cap.

Every connection holds a file descriptor. Without a cap, a client that opens
thousands of idle connections takes all of the process's descriptors:
``accept()`` then fails (EMFILE), asyncio logs every failed attempt with a
traceback (up to 100 a second), and a real client waits in the listening
queue. So each listening server holds at most ``Limits.max_connections``,
and at most a quarter of the process's open-file limit (``dev`` listens on
up to three ports; its runtimes' pipes and the files it reads need the rest).

At the cap, room is made as nginx makes it when it runs out of connections:
the connection idle the longest (no request under way: new and silent, or
kept alive after its answer) is closed quietly, as the idle timeout would
close it, and the new client is served. Only when every connection has a
request under way is the new one answered ``503`` and closed. The cap being
reached is logged once, and again only once the count has gone back under
it (below 90% of it: a count that hovers at the cap would log each time it
dips); a failing ``accept()`` is logged once until one succeeds again.

Example::

    >>> class Client:
    ...     def __init__(self):
    ...         self.open = True
    ...     def close_idle(self):
    ...         self.open = False
    ...         return True
    >>> capacity = Capacity(limit=2)
    >>> old, new = Client(), Client()
    >>> capacity.admit(old), capacity.admit(new)
    (True, True)
    >>> capacity.idle(old); capacity.idle(new)  # both answered, kept alive
    >>> capacity.admit(Client()), old.open  # the longest idle made room
    (True, False)
    >>> capacity.busy(new)  # a request under way on it
    >>> capacity.admit(Client())  # none is idle: refused (503)
    False
"""

from __future__ import annotations

import asyncio
import socket
import sys
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from lambdastream.httpserver.limits import DEFAULT_MAX_CONNECTIONS

__all__ = ["Capacity", "Member", "connection_cap", "quiet_accept_errors"]

# A listening server holds at most this share of the open-file limit.
_FD_SHARE = 4
# Back under the cap means under this fraction of it (see the module's docstring).
_REARM = 0.9
# Refused connections linger (their 503 must not be destroyed by a reset)
# at most this many at once; beyond, they are closed right after their 503.
_MAX_LINGERING = 64
_ACCEPT_FAILED = "socket.accept() out of system resource"  # asyncio's own message


class Member(Protocol):
    """What the cap needs of a connection."""

    def close_idle(self) -> bool:
        """Close, as an idle connection is closed; False if it cannot be closed quietly."""
        ...


class Capacity:
    """The connections of one listening server, against its cap."""

    def __init__(self, limit: int, log: Callable[[str], None] | None = None) -> None:
        self.limit = limit
        self.where = ""  # "host:port", once listening: says which server a line is about
        self._log = log
        self._open: set[Member] = set()
        # Idle connections, the longest idle first; a connection is moved to
        # the end when it becomes idle. An OrderedDict, not a dict: taking a
        # dict's first key scans the slots its deleted keys left, so a dict
        # used as a queue slows down as connections come and go.
        self._idle: OrderedDict[Member, None] = OrderedDict()
        self._lingering: set[Member] = set()
        self._said_at_cap = False
        self._accept_failing = False

    @property
    def count(self) -> int:
        """Connections held now (refused ones still lingering not counted)."""
        return len(self._open)

    def admit(self, conn: Member) -> bool:
        """Count a new connection in, making room if at the cap; False: refuse it (503)."""
        self._accept_failing = False  # an accept worked: a new failure is news again
        if len(self._open) < self.limit:
            if len(self._open) < self.limit * _REARM:
                self._said_at_cap = False
            self._open.add(conn)
            return True
        if not self._said_at_cap:
            self._said_at_cap = True
            self._say(
                f"{len(self._open)} connections open, the most allowed"
                " (LAMBDASTREAM_HTTP_MAX_CONNECTIONS): each new one closes the longest-idle"
                " one, or is answered 503 while none is idle"
            )
        if not self._make_room():
            return False
        self._open.add(conn)
        return True

    def _make_room(self) -> bool:
        for _ in range(len(self._idle)):
            oldest, _ = self._idle.popitem(last=False)
            if oldest.close_idle():
                self._open.discard(oldest)
                return True
            self._idle[oldest] = None  # its last answer is still leaving: the next one
        return False

    def linger(self, conn: Member) -> bool:
        """Whether a refused connection may linger after its 503 (else: close at once)."""
        if len(self._lingering) >= _MAX_LINGERING:
            return False
        self._lingering.add(conn)
        return True

    def idle(self, conn: Member) -> None:
        """``conn`` has no request under way any more: it may make room, last in line."""
        self._idle[conn] = None
        self._idle.move_to_end(conn)

    def busy(self, conn: Member) -> None:
        """``conn`` has a request under way: it never makes room."""
        self._idle.pop(conn, None)

    def gone(self, conn: Member) -> None:
        """``conn`` is closed (idempotent)."""
        self._open.discard(conn)
        self._idle.pop(conn, None)
        self._lingering.discard(conn)

    def accept_failed(self, error: BaseException | None) -> None:
        """``accept()`` failed for want of descriptors (asyncio retries every second)."""
        if self._accept_failing:
            return
        self._accept_failing = True
        why = getattr(error, "strerror", None) or repr(error)
        self._say(
            f"cannot accept connections: {why} ({len(self._open)} open here,"
            f" open-file limit {_open_file_limit()}); retrying"
        )

    def _say(self, line: str) -> None:
        if self._log is not None:
            self._log(f"HTTP {self.where}: {line}")


def connection_cap(wanted: int) -> int:
    """The cap for one listening server: ``wanted``, within a quarter of the open-file limit.

    The soft limit is raised to the hard one first when it is lower than
    the cap needs (as Go does at start since 1.19): a soft limit of 1024 is
    a default from the days of ``select()``, not a decision.
    """
    limit = _raise_open_file_limit(wanted * _FD_SHARE)
    cap = max(1, min(wanted, limit // _FD_SHARE))
    if cap < wanted and wanted != DEFAULT_MAX_CONNECTIONS:  # a value someone chose
        print(
            f"lambdastream: at most {cap} connections per port, not {wanted}:"
            f" the open-file limit is {limit} (ulimit -n)",
            file=sys.stderr,
        )
    return cap


def _open_file_limit() -> int:
    try:
        import resource
    except ImportError:  # not Unix: no such limit to read
        return sys.maxsize
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return sys.maxsize if soft == resource.RLIM_INFINITY else soft


def _raise_open_file_limit(needed: int) -> int:
    """The soft RLIMIT_NOFILE, raised towards the hard limit when under ``needed``."""
    try:
        import resource
    except ImportError:
        return sys.maxsize
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return _open_file_limit()
    # An unlimited hard limit is not a value macOS accepts for the soft one.
    for target in (hard, needed) if hard != resource.RLIM_INFINITY else (needed,):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, target), hard))
            break
        except (ValueError, OSError):
            continue
    return _open_file_limit()


def quiet_accept_errors(
    loop: asyncio.AbstractEventLoop, sockets: Iterable[socket.socket], capacity: Capacity
) -> None:
    """Turn asyncio's log of each failed ``accept()`` on ``sockets`` into one line.

    Out of descriptors, asyncio's accept loop calls the loop's exception
    handler once per attempt, up to the listening backlog each time the
    socket is ready (the default handler logs a traceback each time). Other
    errors, and other sockets, go to the handler that was there before.
    """
    ours = {sock.fileno() for sock in sockets}
    before = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        sock = context.get("socket")
        if context.get("message") == _ACCEPT_FAILED and sock is not None and sock.fileno() in ours:
            capacity.accept_failed(context.get("exception"))
        elif before is not None:
            before(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
