"""The one place that turns exceptions into Lambda errors.

Lambda wants ``{"errorMessage", "errorType", "requestId", "stackTrace"}``
and an error type of the form ``Category.Reason`` for the runtime's own
failures; a handler's exception is reported under its class name, as the
managed Python runtime does. ``traceback`` is imported only when an error
happens: it is not free, and most invocations never need it.
"""

from __future__ import annotations

import json
import os
import sys

# Frames of this package are the runtime's, not the user's: keep them out of
# the stack traces users read (awslambdaric drops its bootstrap.py likewise),
# and so are the event loop's frames that lead to an async handler.
_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_ASYNCIO_DIR = os.path.join(os.path.dirname(os.path.abspath(os.__file__)), "asyncio") + os.sep


class RuntimeFault(Exception):
    """A failure the runtime reports under a ``Runtime.*`` error type."""

    def __init__(self, error_type: str, message: str, stack_trace: list[str] | None = None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack_trace = stack_trace or []


def error_from_exception(exc: BaseException, request_id: str = "") -> dict:
    """Return the Lambda error document for ``exc``.

    >>> error_from_exception(ValueError("bad"))["errorType"]
    'ValueError'
    """
    if isinstance(exc, RuntimeFault):
        return make_error(exc.message, exc.error_type, exc.stack_trace, request_id)
    return make_error(str(exc), type(exc).__name__, user_stack_trace(exc), request_id)


def make_error(message: str, error_type: str, stack_trace: list[str], request_id: str = "") -> dict:
    """Return an error document in the shape Lambda and its SDKs expect."""
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id or "",
        "stackTrace": stack_trace or [],
    }


def user_stack_trace(exc: BaseException) -> list[str]:
    """Return the traceback of ``exc`` as awslambdaric formats it, minus our frames."""
    import traceback

    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if not frame.filename.startswith(_RUNTIME_DIR)
    ]
    while frames and frames[0].filename.startswith(_ASYNCIO_DIR):
        frames.pop(0)
    return traceback.format_list(frames)


def error_json(error: dict) -> bytes:
    """Encode an error document; never fails, whatever the message holds."""
    return json.dumps(error, default=str).encode()


def log_error(error: dict, log_format: str) -> None:
    """Print an error the way the managed runtime does, so log tooling matches.

    Text: ``[ERROR] Type: message`` and the traceback, lines joined by CR
    (one log event in CloudWatch); JSON: one object per line.
    """
    if log_format == "JSON":
        import time

        line = json.dumps(
            {
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "level": "ERROR",
                **error,
            },
            default=str,
        )
        _write_stdout(line + "\n")
        return
    head = "[ERROR]"
    if error.get("errorType"):
        head += " " + error["errorType"]
    if error.get("errorMessage"):
        head += (":" if error.get("errorType") else "") + " " + error["errorMessage"]
    lines = [head]
    if error.get("stackTrace") is not None:
        lines.append("Traceback (most recent call last):")
        for entry in error["stackTrace"]:
            for line in entry.splitlines() or [""]:
                stripped = line.lstrip(" ")
                lines.append("\u00a0" * (len(line) - len(stripped)) + stripped)
    # One record, one line: CR inside it keeps CloudWatch from splitting it,
    # including at newlines in the message itself.
    text = "\r".join(lines).replace("\r\n", "\r").replace("\n", "\r")
    _write_stdout(text + "\n")


def _write_stdout(text: str) -> None:
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except (OSError, ValueError):  # stdout closed by the user: nothing to tell
        pass
