"""Log lines as Lambda writes them: START, function output, END, REPORT.

Colored on a terminal, plain when piped (or when ``NO_COLOR`` is set).

Example::

    >>> print(report_line("r1", duration_ms=12.3, memory_mb=128, max_used_mb=40, init_ms=None))
    ... # doctest: +NORMALIZE_WHITESPACE
    REPORT RequestId: r1 Duration: 12.30 ms Billed Duration: 13 ms Memory Size: 128 MB
    Max Memory Used: 40 MB
"""

from __future__ import annotations

import asyncio
import math
import os
import sys
from typing import TextIO

__all__ = ["LogPrinter", "report_line"]

_DIM, _BOLD, _RED, _YELLOW, _CYAN, _RESET = (
    "\x1b[2m",
    "\x1b[1m",
    "\x1b[31m",
    "\x1b[33m",
    "\x1b[36m",
    "\x1b[0m",
)


def report_line(
    request_id: str,
    *,
    duration_ms: float,
    memory_mb: int,
    max_used_mb: int,
    init_ms: float | None,
    restore_ms: float | None = None,
) -> str:
    """The REPORT line Lambda prints after an invocation.

    The first invocation of an environment reports its ``Init Duration``, or,
    restored from a SnapStart snapshot, its ``Restore Duration``.
    """
    line = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {max(1, math.ceil(duration_ms))} ms\tMemory Size: {memory_mb} MB\t"
        f"Max Memory Used: {max_used_mb} MB"
    )
    if restore_ms is not None:
        line += (
            f"\tRestore Duration: {restore_ms:.2f} ms"
            f"\tBilled Restore Duration: {max(1, math.ceil(restore_ms))} ms"
        )
    elif init_ms is not None:
        line += f"\tInit Duration: {init_ms:.2f} ms"
    return line


class LogPrinter:
    """Writes the dev server's and the functions' log lines to one stream."""

    def __init__(self, stream: TextIO | None = None, color: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        if color is None:
            color = self.stream.isatty() and not os.environ.get("NO_COLOR")
        self.color = color
        self._flush_pending = False

    def _write(self, text: str, style: str = "") -> None:
        if self.color and style:
            text = f"{style}{text}{_RESET}"
        self.stream.write(text + "\n")
        if self._flush_pending:
            return
        # Inside the server, lines are flushed once the current event is
        # handled: a START line then costs no write before the event reaches
        # the runtime, and START/END/REPORT leave in one write. Lines keep
        # their order (one stream); they are out before the loop waits again.
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.stream.flush()
            return
        self._flush_pending = True
        loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        self.stream.flush()

    def platform(self, line: str) -> None:
        """A START/END/REPORT/INIT line."""
        self._write(line, _DIM)

    def function(self, line: str) -> None:
        """A line the function printed.

        Python runtimes join the lines of one error record with CR so that
        CloudWatch keeps it as one event; a terminal would print them over
        each other, so they are shown as lines here.
        """
        self._write(line.replace("\r", "\n"))

    def info(self, line: str) -> None:
        """A message of the dev server itself."""
        self._write(line, _CYAN)

    def warning(self, line: str) -> None:
        """Something the user should notice."""
        self._write(line, _YELLOW + _BOLD)

    def error(self, line: str) -> None:
        """An invocation error or a failure of the dev server."""
        self._write(line, _RED)
