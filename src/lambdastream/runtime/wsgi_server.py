"""Serve a WSGI app (Flask, Django) in the runtime process, streaming.

The event becomes a PEP 3333 ``environ`` (the body as ``wsgi.input``); the
status and headers leave with the first non-empty block of the app's
iterable, and each block leaves the moment the app yields it, so
``Response(generate())`` and ``stream_with_context`` stream as they do
under a real server. The iterable's ``close()`` is always called. At an
entry point that does not stream (an HTTP API, a load balancer) the same
app is answered buffered.

An exception before anything was sent gives a plain ``500 Internal Server
Error`` (logged); after the first block, the stream ends with Lambda's
error trailers.

Its public name is ``lambdastream.wsgi``, whose docstring has a Flask
example; this module, like the whole runtime, imports the standard library
only.
"""

import sys

from lambdastream.runtime.answer import Reply
from lambdastream.runtime.api_client import RuntimeAPIError
from lambdastream.runtime.web_answer import (
    answer_internal_error,
    answer_whole,
    log_exception,
    open_stream,
)
from lambdastream.runtime.web_event import RESPONSE_MODES, WebRequest, parse_event

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable, Iterable
    from typing import Any

    WSGIApp = Callable[..., Iterable[bytes]]

__all__ = ["WSGIError", "WSGIHandler", "wsgi"]

# Request headers with environ keys of their own (no HTTP_ prefix).
_CGI_HEADERS = {b"content-type": "CONTENT_TYPE", b"content-length": "CONTENT_LENGTH"}


class WSGIError(RuntimeError):
    """The app broke the WSGI protocol (no start_response, a bad status)."""


def wsgi(app: "WSGIApp", *, response_mode: "str | None" = None) -> "WSGIHandler":
    """Return a Lambda handler that serves the WSGI ``app``.

    ``response_mode`` is "stream" or "buffered" for Function URLs and REST
    APIs (default ``$LAMBDASTREAM_RESPONSE_MODE``, else "stream"); HTTP
    APIs and load balancers are always answered buffered.

    Example, ``app`` being the WSGI app (``_HANDLER=main.handler``)::

        handler = wsgi(app)
    """
    return WSGIHandler(app, response_mode=response_mode)


class WSGIHandler:
    """A Lambda handler for one WSGI app; see :func:`wsgi`."""

    def __init__(self, app: "WSGIApp", *, response_mode: "str | None" = None) -> None:
        if response_mode is not None and response_mode not in RESPONSE_MODES:
            raise ValueError(f"response_mode must be 'stream' or 'buffered', not {response_mode!r}")
        self.app = app
        self.response_mode = response_mode

    def __call__(self, event: "Any", context: "Any") -> "WSGIExchange":
        """Turn ``event`` into the request the runtime will answer."""
        return WSGIExchange(self.app, parse_event(event, self.response_mode), event, context)


def build_environ(
    request: WebRequest, event: "Any" = None, context: "Any" = None
) -> "dict[str, Any]":
    """The PEP 3333 ``environ`` of ``request``.

    >>> from lambdastream.runtime.web_event import parse_event
    >>> e = build_environ(parse_event({"version": "2.0", "rawPath": "/a", "rawQueryString": "x=1",
    ...     "headers": {"host": "h.example", "x-a": "1"},
    ...     "requestContext": {"http": {"method": "GET", "sourceIp": "1.2.3.4"}}}))
    >>> e["PATH_INFO"], e["QUERY_STRING"], e["HTTP_X_A"], e["SERVER_NAME"], e["SERVER_PORT"]
    ('/a', 'x=1', '1', 'h.example', '443')
    """
    import io

    path = request.path
    if request.root_path and path.startswith(request.root_path):
        path = path[len(request.root_path) :]
    server_name, server_port = request.server or ("localhost", 443)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        # WSGI strings: the bytes of the decoded path, as Latin-1.
        "SCRIPT_NAME": request.root_path.encode("utf-8").decode("latin-1"),
        "PATH_INFO": path.encode("utf-8").decode("latin-1"),
        "QUERY_STRING": request.query_string.decode("latin-1"),
        "SERVER_NAME": server_name,
        "SERVER_PORT": str(server_port),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": request.client[0] if request.client else "",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": request.scheme,
        "wsgi.input": io.BytesIO(request.body),
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "aws.event": event,
        "aws.context": context,
    }
    for name, value in request.headers:
        key = _CGI_HEADERS.get(name) or "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
        text = value.decode("latin-1")
        if key in environ:
            text = environ[key] + ("; " if key == "HTTP_COOKIE" else ",") + text
        environ[key] = text
    if request.body:
        environ["CONTENT_LENGTH"] = str(len(request.body))
    return environ


class WSGIExchange:
    """One request through the app, answered by the runtime (``__lambda_answer__``)."""

    __slots__ = (
        "_body",
        "_reply",
        "app",
        "context",
        "event",
        "headers",
        "request",
        "sent",
        "status",
    )

    def __init__(self, app: "WSGIApp", request: WebRequest, event: "Any", context: "Any"):
        self.app = app
        self.request = request
        self.event = event
        self.context = context
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.sent = False  # whether the status and headers have left
        self._reply: Reply | None = None  # set while the runtime answers
        self._body: list[bytes] = []  # a buffered answer's blocks

    def start_response(
        self, status: str, headers: "list[tuple[str, str]]", exc_info: "Any" = None
    ) -> "Callable[[bytes], None]":
        if exc_info is not None:
            try:
                if self.sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status:
            raise WSGIError("start_response called twice without exc_info")
        code = status.split(" ", 1)[0]
        if not (len(code) == 3 and code.isdigit() and 100 <= int(code) <= 599):
            raise WSGIError(f"start_response with an invalid status: {status!r}")
        self.status = int(code)
        self.headers = [(_latin1(k), _latin1(v)) for k, v in headers]
        # The legacy write() sends as each block does: at once.
        return self._emit

    def _emit(self, data: bytes) -> None:
        """Send one block of the body (the status and headers with the first)."""
        if not data:
            return
        if not self.status:
            raise WSGIError("the WSGI app sent a body before calling start_response")
        if not self.request.streams:
            self._body.append(bytes(data))
            return
        reply = self._reply
        assert reply is not None, "a block outside the runtime's answer"
        if not self.sent:
            open_stream(reply, self.request, self.status, self.headers)
            self.sent = True
        reply.send([bytes(data)])

    def __lambda_answer__(self, reply: Reply) -> None:
        self._reply = reply
        result: Any = None
        try:
            result = self.app(
                build_environ(self.request, self.event, self.context), self.start_response
            )
            for block in result:
                self._emit(block)
            if not self.status:
                raise WSGIError("the WSGI app returned without calling start_response")
        except RuntimeAPIError:
            # The answer cannot get through; the app's close() still runs (PEP 3333).
            self._close(result, reply.request_id)
            raise
        except Exception as exc:
            self._close(result, reply.request_id)
            if self.sent:
                raise  # the stream ends with Lambda's error trailers
            answer_internal_error(reply, self.request, exc)
            return
        self._close(result, reply.request_id)
        if self.sent:
            reply.finish()
        else:
            answer_whole(reply, self.request, self.status, self.headers, self._body)

    def _close(self, result: "Any", request_id: str) -> None:
        close = getattr(result, "close", None)
        if close is not None:
            try:
                close()
            except Exception as exc:
                log_exception(exc, request_id)


def _latin1(text: "str | bytes") -> bytes:
    return text if isinstance(text, bytes) else str(text).encode("latin-1")
