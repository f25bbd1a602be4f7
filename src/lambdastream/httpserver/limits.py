"""What one client may cost the server: time (three timeouts), memory (the
head limits, and an upload budget shared by every connection), and file
descriptors (a cap on the connections of each listening server).

Defaults follow AWS's own front end where it documents one: an Application
Load Balancer closes a connection on which no data was sent or received for
60 s (its default idle timeout), and answers 408 when the client did not send
data in that time; a client keeps a long upload alive by sending at least a
byte per period. For Function URLs and Bedrock, AWS documents no figure.

- ``header_timeout`` (60 s): from the first byte of a request to the end of its
  head, in all. Total rather than idle, so that a head sent a byte every 59 s
  cannot hold a connection forever; 60 s is also nginx's
  ``client_header_timeout`` and Node's ``headersTimeout``. A real client sends
  its head in one write.
- ``idle_timeout`` (60 s): a connection with no request under way (a new one, or
  kept alive after an answer) is closed quietly: ALB's default.
- ``body_timeout`` (60 s): a body that stops arriving for this long gets 408:
  ALB's idle timeout applied to an upload, as ALB applies it.

- ``max_connections`` (1024): connections one listening server holds at
  once (see ``capacity.py`` for what happens at the cap). AWS documents no
  such figure for its front ends; 1024 is well above what a developer's
  clients open, and an idle connection costs ~10 KB here. The cap is also
  held within a quarter of the process's open-file limit.

Tests set them lower through the environment (``LAMBDASTREAM_HTTP_*``, read
when a server starts).

Example::

    >>> Limits.from_env({"LAMBDASTREAM_HTTP_HEADER_TIMEOUT": "2.5"}).header_timeout
    2.5
    >>> Limits.from_env({"LAMBDASTREAM_HTTP_MAX_CONNECTIONS": "100"}).max_connections
    100
    >>> budget = UploadBudget(100)
    >>> budget.reserve(60), budget.reserve(60), budget.held
    (True, False, 60)
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "MAX_HEAD",
    "MAX_HEADERS",
    "Limits",
    "UploadBudget",
    "process_budget",
]

# A request head (request line and headers) is bounded like the body is:
# over 64 KiB or over 100 header fields, the answer is 431. AWS documents no
# figure for Function URLs that we could find; 64 KiB is the whole-head limit
# of AWS's Application Load Balancer (its troubleshooting guide: 16 KiB a
# line or header, 64 KiB in all, else 400), above nginx's default (4 x 8 KiB
# buffers) and any real browser's cookies, and 100 fields is Apache's
# LimitRequestFields default, so a request that production accepts is not
# refused here, while a client cannot make us hold an unbounded head.
MAX_HEAD = 64 * 1024
MAX_HEADERS = 100

# Request bodies held at once by the whole process, all connections and
# ports together: 64 MiB is the default concurrency of ``lambdastream dev``
# (10) times Lambda's 6 MiB payload limit, rounded up, so that every
# execution environment can be sent a full payload at once, while 50 stalled
# uploads cannot take hundreds of MB. A request that would go over it is
# refused with the frontend's throttling error (429).
DEFAULT_UPLOAD_BUDGET = 64 * 1024 * 1024

DEFAULT_MAX_CONNECTIONS = 1024

_ENV_PREFIX = "LAMBDASTREAM_HTTP_"


@dataclass(frozen=True)
class Limits:
    """The timeouts of every connection, in seconds, and the connection cap
    of a listening server (see the module's docstring)."""

    header_timeout: float = 60.0
    idle_timeout: float = 60.0
    body_timeout: float = 60.0
    max_connections: int = DEFAULT_MAX_CONNECTIONS

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Limits:
        """The defaults, with ``LAMBDASTREAM_HTTP_<NAME>`` overrides (seconds, or a count).

        A value that is not a positive number is reported on stderr and
        ignored: a typo must not stop the server, nor silently disable a
        limit.
        """
        values: dict[str, Any] = {}
        for item in fields(cls):
            raw = environ.get(_ENV_PREFIX + item.name.upper())
            if raw is None:
                continue
            if item.name == "max_connections":
                value, wanted = _positive(raw, int), "a positive whole number"
            else:
                value, wanted = _positive(raw, float), "a positive number of seconds"
            if value is None:
                _warn(item.name, raw, wanted)
            else:
                values[item.name] = value
        return cls(**values)


class UploadBudget:
    """The bytes of request bodies the process holds, against a limit.

    Thread-safe: ``lambdastream dev`` runs ``bedrock-local`` on a thread of
    its own, and both serve from the one budget.
    """

    def __init__(self, limit: int = DEFAULT_UPLOAD_BUDGET) -> None:
        self.limit = limit
        self.held = 0
        self._lock = threading.Lock()

    def reserve(self, size: int) -> bool:
        """Take ``size`` bytes if they fit; False (and nothing taken) if not."""
        with self._lock:
            if self.held + size > self.limit:
                return False
            self.held += size
            return True

    def release(self, size: int) -> None:
        """Give back bytes taken by :meth:`reserve`."""
        if size:
            with self._lock:
                self.held -= size

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> UploadBudget:
        """A budget of ``LAMBDASTREAM_HTTP_UPLOAD_BUDGET`` bytes, or the default."""
        raw = environ.get(_ENV_PREFIX + "UPLOAD_BUDGET")
        if raw is None:
            return cls()
        limit = _positive(raw, int)
        if limit is None:
            _warn("upload_budget", raw, "a positive number of bytes")
            return cls()
        return cls(int(limit))


_process_budget: UploadBudget | None = None
_process_lock = threading.Lock()


def process_budget(environ: Mapping[str, str]) -> UploadBudget:
    """The budget every server of this process shares (made on first use)."""
    global _process_budget
    with _process_lock:
        if _process_budget is None:
            _process_budget = UploadBudget.from_env(environ)
        return _process_budget


def _positive(raw: str, kind: type[float] | type[int]) -> float | int | None:
    try:
        value = kind(raw)
    except ValueError:
        return None
    # inf would switch the limit off, nan would never compare: neither is a limit.
    return value if value > 0 and math.isfinite(value) else None


def _warn(name: str, raw: str, wanted: str) -> None:
    print(
        f"lambdastream: ignoring {_ENV_PREFIX}{name.upper()}={raw!r}: not {wanted}",
        file=sys.stderr,
    )
