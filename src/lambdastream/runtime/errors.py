"""The one place that turns exceptions into Lambda errors.

Lambda wants ``{"errorMessage", "errorType", "requestId", "stackTrace"}``
and an error type of the form ``Category.Reason`` for the runtime's own
failures; a handler's exception is reported under its class name, as the
managed Python runtime does. The document is the same, byte for byte, as
the one awslambdaric (the managed runtime's client) posts for the same
exception (tests/e2e/test_error_documents.py runs both). ``traceback`` is
imported only when an error happens: it is not free, and most invocations
never need it.
"""

from __future__ import annotations

__all__ = [
    "RuntimeFault",
    "error_from_exception",
    "error_json",
    "error_json_within",
    "log_error",
    "make_error",
    "user_stack_trace",
]

import json
import os
import sys

from lambdastream.runtime.fault import RuntimeFault
from lambdastream.runtime.marshal import _ENSURE_ASCII

# The frames a traceback starts with before it reaches the user's code are
# the runtime's: this package's, and for async handlers the event loop's
# that it runs them on. awslambdaric leaves its own leading frames (those of
# its bootstrap.py) out of the stack traces users read; these go likewise.
_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_ASYNCIO_DIR = os.path.join(os.path.dirname(os.path.abspath(os.__file__)), "asyncio") + os.sep
_RUNTIME_FRAMES = (_RUNTIME_DIR, _ASYNCIO_DIR)


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
    """Return the traceback of ``exc`` as awslambdaric formats it, from the user's first frame.

    As awslambdaric does, each frame is reduced to (file, line number,
    function, source line) before it is formatted: on Python 3.11+ a frame
    that keeps its column offsets is printed with ``^^^^`` markers under
    the failing expression, which awslambdaric's documents do not have.
    Only the leading frames are the runtime's to leave out: later ones are
    kept, a library's or ours (a user's ``context.log``), and a failure with
    no user frame at all (a handler that is not callable) keeps the
    runtime's, as awslambdaric keeps its own.

    >>> def handler():
    ...     return {}["key"]
    >>> try:
    ...     handler()
    ... except KeyError as exc:
    ...     print(user_stack_trace(exc)[-1], end="")
      File "<doctest lambdastream.runtime.errors.user_stack_trace[0]>", line 2, in handler
        return {}["key"]
    """
    import traceback

    frames = [
        (frame.filename, frame.lineno, frame.name, frame.line)
        for frame in traceback.extract_tb(exc.__traceback__)
    ]
    first = 0
    while first < len(frames) and frames[first][0].startswith(_RUNTIME_FRAMES):
        first += 1
    shown = frames[first:] if first < len(frames) else frames
    # A line number may be None (3.11+): awslambdaric's tuples pass it on as is.
    return traceback.format_list(shown)  # type: ignore[arg-type]


def error_json(error: dict) -> bytes:
    """Encode an error document as awslambdaric does; never fails, whatever it holds.

    Non-ASCII is escaped, except on Lambda's python3.12+ environments where
    awslambdaric writes it as is (``AWS_EXECUTION_ENV``), as results are.
    """
    # A lone surrogate, possible only unescaped, goes as its \uXXXX escape:
    # the same JSON string, where UTF-8 has no bytes for it.
    return _encode(error).encode("utf-8", "backslashreplace")


def _encode(document: dict) -> str:
    # default=str: a RuntimeFault may carry anything; the error must still go out.
    return json.dumps(document, ensure_ascii=_ENSURE_ASCII, default=str)


def error_json_within(error: dict, limit: int) -> bytes:
    """:func:`error_json` of ``error``, made to fit ``limit`` bytes.

    The message is cut to half the room at most, then the outermost stack
    frames go (the innermost say where it failed), with one line saying how
    many, then the message is cut further if it must.

    >>> error = make_error("x" * 100, "ValueError", ["  File 'a'\\n"] * 50)
    >>> body = json.loads(error_json_within(error, 400))
    >>> body["errorMessage"] == "x" * 100, body["stackTrace"][0]
    (True, '(39 outer frames left out)')
    """
    if len(error_json(error)) <= limit:
        return error_json(error)
    message = str(error.get("errorMessage") or "")
    if len(message) > limit // 2:
        error = {**error, "errorMessage": message[: limit // 2] + " [cut]"}
    frames = list(error.get("stackTrace") or [])
    kept = len(frames)
    body = error_json(error)
    while kept and len(body) > limit:
        kept -= 1
        note = [f"({len(frames) - kept} outer frames left out)"]
        error = {**error, "stackTrace": note + frames[len(frames) - kept :]}
        body = error_json(error)
    if len(body) > limit:
        error = {**error, "errorMessage": _cut(error, limit)}
    return error_json(error)


def _cut(error: dict, limit: int) -> str:
    """The longest head of ``error``'s message with which its JSON fits ``limit`` (marked cut)."""
    message = str(error.get("errorMessage") or "")
    if len(error_json(error)) <= limit:
        return message
    low, high = 0, len(message)
    while low < high:  # a binary search: escapes make the JSON's length uneven
        middle = (low + high + 1) // 2
        candidate = error_json({**error, "errorMessage": message[:middle] + " [cut]"})
        low, high = (middle, high) if len(candidate) <= limit else (low, middle - 1)
    return message[:low] + " [cut]"


def log_error(error: dict, log_format: str) -> None:
    """Print an error the way the managed runtime does, so log tooling matches.

    Text: ``[ERROR] Type: message`` and the traceback, lines joined by CR
    (one log event in CloudWatch); JSON: one object per line.
    """
    if log_format == "JSON":
        import time

        line = _encode(
            {
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "level": "ERROR",
                **error,
            }
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
