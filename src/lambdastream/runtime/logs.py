"""Function logs as the managed Python runtime writes them.

``logging`` costs ~7 ms to import, and many handlers never use it; so the
root logger is configured the moment the handler's code imports ``logging``
(an import hook), or at once if something imported it already. Every record
carries the current request id, in Text or JSON format
(``AWS_LAMBDA_LOG_FORMAT``), at ``AWS_LAMBDA_LOG_LEVEL``.
"""

import os
import sys

# The invocation being served; read by the log filter on every record.
request_id = ""
tenant_id: str | None = None

LOG_FORMAT = "JSON" if os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON" else "Text"
TEXT_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"


class Unbuffered:
    """A stream that flushes on every write, so logs leave in order, at once."""

    def __init__(self, stream) -> None:  # type: ignore[no-untyped-def]
        self.stream = stream

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.stream, name)

    def write(self, text: str) -> int:
        n = self.stream.write(text)
        self.stream.flush()
        return n

    def writelines(self, lines) -> None:  # type: ignore[no-untyped-def]
        self.stream.writelines(lines)
        self.stream.flush()


class Lines(Unbuffered):
    """A stream that writes whole lines, each in one write as soon as it ends.

    For the workers of a Managed Instances environment, which may share one
    output: ``print`` writes a line and its newline separately, and two
    workers writing at once would mix their halves. A line still leaves the
    moment it is complete (a log record is one).
    """

    def write(self, text: str) -> int:
        n = self.stream.write(text)
        if "\n" in text:
            self.stream.flush()
        return n


def install(*, lines: bool = False) -> None:
    """Make stdout/stderr unbuffered and arrange for logging to be configured.

    ``lines``: write whole lines rather than every piece at once (:class:`Lines`).
    """
    if not isinstance(sys.stdout, Unbuffered):
        stream = Lines if lines else Unbuffered
        sys.stdout = stream(sys.stdout)  # type: ignore[assignment]
        sys.stderr = stream(sys.stderr)  # type: ignore[assignment]
    if "logging" in sys.modules:
        configure_logging(sys.modules["logging"])
    else:
        sys.meta_path.insert(0, _LoggingImportHook())


def runtime_note(message: str, about: str = "") -> None:
    """Tell the log something of the runtime's own (not the function's), on stderr.

    One line, as the log format wants it: Text, ``lambdastream.runtime:
    message``; JSON, a WARNING record whose request id is ``about`` (the
    invocation it concerns, if any).
    """
    if LOG_FORMAT == "JSON":
        line = json_record("WARNING", message, "lambdastream.runtime", about)
    else:
        line = f"lambdastream.runtime: {message}\n"
    try:
        sys.stderr.write(line)
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr closed: nothing to tell
        pass


def json_record(level: str, message: str, logger: str, about: "str | None" = None) -> str:
    """One JSON log line, with the fields the managed runtime's JSON format has.

    ``about``: the request id it concerns (default: the invocation being served).

    >>> import json
    >>> record = json.loads(json_record("WARNING", "hello", "root", "r1"))
    >>> record["level"], record["message"], record["logger"], record["requestId"]
    ('WARNING', 'hello', 'root', 'r1')
    """
    import json
    import time

    record = {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "level": level,
        "message": message,
        "logger": logger,
        "requestId": request_id if about is None else about,
    }
    if about is None and tenant_id is not None:
        record["tenantId"] = tenant_id
    return json.dumps(record, ensure_ascii=False) + "\n"


class _LoggingImportHook:
    """Configures ``logging`` right after user code first imports it."""

    def find_spec(self, name, path=None, target=None):  # type: ignore[no-untyped-def]
        if name != "logging":
            return None
        sys.meta_path.remove(self)
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(name, path, target) if find else None
            if spec is not None and spec.loader is not None:
                break
        else:
            return None
        run_module = spec.loader.exec_module

        def exec_module(module):  # type: ignore[no-untyped-def]
            run_module(module)
            configure_logging(module)

        spec.loader.exec_module = exec_module
        return spec


def configure_logging(logging) -> None:  # type: ignore[no-untyped-def]
    """Attach the Lambda log handler to the root logger."""
    import time

    logging.Formatter.converter = time.gmtime

    class LambdaLogHandler(logging.Handler):
        def emit(self, record):  # type: ignore[no-untyped-def]
            try:
                sys.stdout.write(self.format(record))
            except Exception:
                self.handleError(record)

    class RequestIdFilter(logging.Filter):
        def filter(self, record):  # type: ignore[no-untyped-def]
            record.aws_request_id = request_id
            record.tenant_id = tenant_id
            return True

    handler = LambdaLogHandler()
    if LOG_FORMAT == "JSON":
        handler.setFormatter(_json_formatter(logging))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT, "%Y-%m-%dT%H:%M:%S"))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    level = {"TRACE": "DEBUG"}.get(os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper())
    level = level or os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    if level in logging._nameToLevel:
        root.setLevel(level)
    root.addHandler(handler)


_RESERVED = {
    "name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module",
    "exc_info", "exc_text", "stack_info", "lineno", "funcName", "created", "msecs",
    "relativeCreated", "thread", "threadName", "processName", "process", "taskName",
    "aws_request_id", "tenant_id", "message", "asctime",
}  # fmt: skip


def _json_formatter(logging):  # type: ignore[no-untyped-def]
    import json
    import traceback

    class JsonFormatter(logging.Formatter):
        def format(self, record):  # type: ignore[no-untyped-def]
            level = min(50, max(0, record.levelno)) // 10 * 10
            exc = record.exc_info
            doc = {
                "timestamp": self.formatTime(record, "%Y-%m-%dT%H:%M:%SZ"),
                "level": logging.getLevelName(level),
                "message": record.msg
                if isinstance(record.msg, dict) and not record.args
                else record.getMessage(),
                "logger": record.name,
                "stackTrace": traceback.format_tb(exc[2]) if exc else None,
                "errorType": exc[0].__name__ if exc else None,
                "errorMessage": str(exc[1]) if exc else None,
                "requestId": getattr(record, "aws_request_id", None),
                "location": f"{record.pathname}:{record.funcName}:{record.lineno}" if exc else None,
            }
            if getattr(record, "tenant_id", None) is not None:
                doc["tenantId"] = record.tenant_id
            for key, value in record.__dict__.items():
                if key not in _RESERVED and key not in doc:
                    doc[key] = value
            doc = {k: v for k, v in doc.items() if v is not None}
            return json.dumps(doc, ensure_ascii=False, default=str) + "\n"

    return JsonFormatter()
