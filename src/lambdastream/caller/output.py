"""Where ``lambdastream invoke`` writes: the answer to stdout, its own lines to stderr.

The answer's bytes go out as they arrive, untouched for a pipe. invoke's own
lines (an error, ``--timing``, ``--include``) must still start a line of
their own wherever a person reads both streams as one: a terminal, or one
file or pipe (``2>&1``). On a terminal the answer also ends its line, so
that the shell's prompt does not follow on from it.

Example: stdout and stderr as one stream, an answer with no final newline::

    >>> import io
    >>> both = io.BytesIO()
    >>> out = Output(both, io.TextIOWrapper(both, write_through=True), shared=True)
    >>> out.body(b"no newline at the end")
    >>> out.say("timing: status=200")
    >>> both.getvalue()
    b'no newline at the end\\ntiming: status=200\\n'
"""

from __future__ import annotations

import io
import os
from typing import BinaryIO, TextIO

__all__ = ["Output", "same_destination"]


class Output:
    """The answer's bytes on ``stdout``; invoke's own lines on ``stderr``, each on its own line.

    ``shared``: whether the two end up in one place a person reads (default:
    stdout is a terminal, or both are the same file or pipe).
    """

    def __init__(self, stdout: BinaryIO, stderr: TextIO, *, shared: bool | None = None) -> None:
        self.stdout = stdout
        self.stderr = stderr
        self.terminal = _isatty(stdout)
        self.shared = (
            self.terminal or same_destination(stdout, stderr) if shared is None else shared
        )
        self._line_open = False  # the answer's last byte so far was not a newline

    def body(self, data: bytes) -> None:
        """Pass on answer bytes as they arrived."""
        if not data:
            return
        self.stdout.write(data)
        self.stdout.flush()
        self._line_open = not data.endswith(b"\n")

    def say(self, line: str) -> None:
        """One line of invoke's own on stderr, never glued onto the answer's last line."""
        self._end_line(self.shared)
        print(line, file=self.stderr, flush=True)

    def finish(self) -> None:
        """The answer is over: on a terminal, end its line (a pipe gets the bytes as sent)."""
        self._end_line(self.terminal)

    def _end_line(self, needed: bool) -> None:
        if needed and self._line_open:
            self.stdout.write(b"\n")
            self._line_open = False
        # What came before goes out before what stderr says next.
        self.stdout.flush()


def same_destination(stdout: BinaryIO | TextIO, stderr: BinaryIO | TextIO) -> bool:
    """Whether both streams write to one file, pipe or terminal (``2>&1``).

    >>> import sys
    >>> same_destination(io.BytesIO(), sys.stderr)  # no file descriptor: cannot be
    False
    """
    try:
        ours, theirs = os.fstat(stdout.fileno()), os.fstat(stderr.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        return False
    return (ours.st_dev, ours.st_ino) == (theirs.st_dev, theirs.st_ino)


def _isatty(stream: BinaryIO) -> bool:
    try:
        return stream.isatty()
    except (OSError, ValueError):
        return False
