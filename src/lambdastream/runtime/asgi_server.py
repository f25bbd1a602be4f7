"""Serve an ASGI app (FastAPI, Starlette, ...) in the runtime process, streaming.

No proxy, no second server: the event becomes an ASGI ``http`` scope and
its body the first ``receive()``; ``http.response.start`` becomes the HTTP
integration prelude (every Set-Cookie into ``cookies``) and each
``http.response.body`` leaves when the app next yields to the event loop,
together with whatever else it sent in that turn. At an entry point that
does not stream (an HTTP API, a load balancer) the same app is answered
buffered.

What happens when the app fails, as uvicorn does it where Lambda allows:

- before ``http.response.start`` (or returning without it): a plain
  ``500 Internal Server Error``, the exception logged, nothing of it sent;
- after it: the stream ends with Lambda's error trailers, once (the
  status and headers, if not yet sent, go first, as uvicorn has sent them);
- after the response is complete (a background task, Starlette's error
  middleware re-raising): logged only.

The lifespan protocol runs once per execution environment, at init (the
runtime calls ``__lambda_init__`` on the handler it loaded): a failing
startup is an init error, and ``state`` is shared (shallow-copied)
into every request's scope. One event loop serves every invocation.

Its public name is ``lambdastream.asgi``, whose docstring has a FastAPI
example; this module, like the whole runtime, imports the standard library
only.
"""

from lambdastream.runtime.answer import Reply, TurnWriter, run_coroutine
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
    from collections.abc import Awaitable, Callable, MutableMapping
    from typing import Any

    Message = MutableMapping[str, Any]
    ASGIApp = Callable[..., Awaitable[None]]

__all__ = ["ASGIHandler", "asgi"]

# Starlette skips listening for a disconnect on 2.4 and later, and reads
# receive() itself on earlier ones; receive() here blocks until the
# response is complete either way, so both are safe. 2.3 is what uvicorn
# reports.
ASGI_INFO = {"version": "3.0", "spec_version": "2.3"}
LIFESPAN_MODES = ("auto", "on", "off")


class ASGIError(RuntimeError):
    """The app broke the ASGI protocol (a message out of order, a bad status)."""


class LifespanError(RuntimeError):
    """The app's lifespan startup failed: the environment cannot serve."""


def asgi(
    app: "ASGIApp", *, response_mode: "str | None" = None, lifespan: str = "auto"
) -> "ASGIHandler":
    """Return a Lambda handler that serves the ASGI ``app``.

    ``response_mode`` is "stream" or "buffered" for Function URLs and REST
    APIs (default ``$LAMBDASTREAM_RESPONSE_MODE``, else "stream"); HTTP
    APIs and load balancers are always answered buffered. ``lifespan`` is
    "auto" (run it if the app speaks it), "on" (it must) or "off".

    Example, ``app`` being the ASGI app (``_HANDLER=main.handler``)::

        handler = asgi(app)
        handler = asgi(app, response_mode="buffered")  # a BUFFERED Function URL
    """
    return ASGIHandler(app, response_mode=response_mode, lifespan=lifespan)


class ASGIHandler:
    """A Lambda handler for one ASGI app; see :func:`asgi`."""

    def __init__(
        self, app: "ASGIApp", *, response_mode: "str | None" = None, lifespan: str = "auto"
    ) -> None:
        if response_mode is not None and response_mode not in RESPONSE_MODES:
            raise ValueError(f"response_mode must be 'stream' or 'buffered', not {response_mode!r}")
        if lifespan not in LIFESPAN_MODES:
            raise ValueError(f"lifespan must be 'auto', 'on' or 'off', not {lifespan!r}")
        self.app = app
        self.response_mode = response_mode
        self.state: dict[str, Any] = {}
        # The lifespan task waits in receive() for a shutdown that Lambda does
        # not announce: it stays on the loop for the environment's life.
        self._lifespan_inbox: Any = None
        self._lifespan_task: Any = None
        self.lifespan = lifespan
        # Nothing runs when the module is imported: uvicorn may import the
        # same module (main:app) and run the lifespan itself.
        self.initialized = False

    def __lambda_init__(self) -> None:
        """Run the app's lifespan startup; the runtime calls this during init.

        A handler the runtime did not initialize (called from another
        handler) starts it on its first request instead.
        """
        if self.initialized:
            return
        self.initialized = True
        if self.lifespan != "off":
            run_coroutine(self._start_lifespan(required=self.lifespan == "on"))

    def __call__(self, event: "Any", context: "Any") -> "Exchange":
        """Turn ``event`` into the request the runtime will answer."""
        return Exchange(self, parse_event(event, self.response_mode), event, context)

    async def _start_lifespan(self, required: bool) -> None:
        import asyncio

        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[Message] = asyncio.Queue()
        inbox.put_nowait({"type": "lifespan.startup"})
        outcome: asyncio.Future[Message] = loop.create_future()

        async def send(message: "Message") -> None:
            if not outcome.done():
                outcome.set_result(message)

        scope = {"type": "lifespan", "asgi": ASGI_INFO, "state": self.state}
        task: asyncio.Future[None] = asyncio.ensure_future(self.app(scope, inbox.get, send))
        await asyncio.wait((task, outcome), return_when=asyncio.FIRST_COMPLETED)  # type: ignore[type-var]
        if outcome.done():
            message = outcome.result()
            if message.get("type") == "lifespan.startup.failed":
                raise LifespanError(
                    f"the app's lifespan startup failed: {message.get('message') or 'no message'}"
                )
            self._lifespan_inbox = inbox
            self._lifespan_task = task
            return
        error = task.exception()
        if required and error is not None:
            raise LifespanError(
                f"the app's lifespan failed before startup completed: {type(error).__name__}:"
                f" {error}"
            ) from error
        # It returned, or raised on a scope type it does not know: as under
        # uvicorn, the app has no lifespan, and serves without one.


class Exchange:
    """One request through the app, answered by the runtime (``__lambda_answer__``)."""

    __slots__ = ("context", "event", "handler", "request")

    def __init__(self, handler: ASGIHandler, request: WebRequest, event: "Any", context: "Any"):
        self.handler = handler
        self.request = request
        self.event = event
        self.context = context

    def scope(self) -> "dict[str, Any]":
        """The ASGI ``http`` scope of this request."""
        request = self.request
        return {
            "type": "http",
            "asgi": ASGI_INFO,
            "http_version": "1.1",
            "method": request.method,
            "scheme": request.scheme,
            "path": request.path,
            "raw_path": request.raw_path,
            "root_path": request.root_path,
            "query_string": request.query_string,
            "headers": request.headers,
            "client": request.client,
            "server": request.server,
            "state": dict(self.handler.state),
            # As Mangum does: apps read requestContext and the Lambda context here.
            "aws.event": self.event,
            "aws.context": self.context,
        }

    def __lambda_answer__(self, reply: Reply) -> None:
        if not self.handler.initialized:
            self.handler.__lambda_init__()
        run_coroutine(_Serve(self, reply).run())


class _Serve:
    """The state of one request: what the app has sent, and what has left."""

    __slots__ = (
        "buffered",
        "complete",
        "exchange",
        "finished",
        "headers",
        "received",
        "reply",
        "started",
        "status",
        "turn",
    )

    def __init__(self, exchange: Exchange, reply: Reply) -> None:
        self.exchange = exchange
        self.reply = reply
        self.received = False
        self.started = False
        self.complete = False
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.buffered: list[bytes] = []
        self.turn: TurnWriter | None = None
        # Set once the response is complete (or the app has returned): what
        # a receive() waiting for the client's disconnect waits for. An
        # Event, not a shared future, so that a receive() cancelled while it
        # waits (Starlette's is_disconnected(), anyio task groups) cancels
        # only its own wait.
        self.finished: Any = None

    async def run(self) -> None:
        import asyncio

        self.finished = asyncio.Event()
        try:
            await self.exchange.handler.app(self.exchange.scope(), self.receive, self.send)
        except Exception as exc:
            self.failed(exc)
            return
        finally:
            self.finished.set()
        if not self.started:
            self.failed(ASGIError("the ASGI app returned without sending http.response.start"))
        elif not self.complete:
            self.failed(ASGIError("the ASGI app returned without completing its response"))

    async def receive(self) -> "Message":
        """The request body, then ``http.disconnect`` once the response is complete.

        As uvicorn does: after the body, receive() waits, and the client
        counts as gone only when the response is complete (Lambda does not
        tell a function that its client left). A disconnect any earlier
        would cancel streams that listen for it (sse-starlette).
        """
        if not self.complete:
            if not self.received:
                self.received = True
                request = self.exchange.request
                return {"type": "http.request", "body": request.body, "more_body": False}
            await self.finished.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: "Message") -> None:
        kind = message.get("type")
        if kind == "http.response.body":
            if not self.started:
                raise ASGIError("http.response.body sent before http.response.start")
            if self.complete:
                raise ASGIError("http.response.body sent after the response was complete")
            body = message.get("body", b"")
            more = message.get("more_body", False)
            if self.exchange.request.streams:
                if self.turn is None:
                    self.open()
                turn = self.turn
                if more:
                    if body:
                        turn.write(body if type(body) is bytes else bytes(body))  # type: ignore[union-attr]
                else:
                    # The last body leaves with the stream's end, in one write;
                    # the response is complete once it has left.
                    body = bytes(body)
                    last = turn.take()  # type: ignore[union-attr]
                    if body:
                        last.append(body)
                    self.reply.finish(last)
                    self.complete = True
            else:
                if body:
                    self.buffered.append(bytes(body))
                if not more:
                    answer_whole(
                        self.reply, self.exchange.request, self.status, self.headers, self.buffered
                    )
                    self.complete = True
            if self.complete:
                self.finished.set()
        elif kind == "http.response.start":
            if self.started:
                raise ASGIError("http.response.start sent twice")
            status = message.get("status")
            if type(status) is not int or not 100 <= status <= 599:
                raise ASGIError(f"http.response.start with an invalid status: {status!r}")
            self.status = status
            self.headers = list(message.get("headers") or ())
            self.started = True
        else:
            raise ASGIError(f"unexpected ASGI message {kind!r} in an http exchange")

    def reply_started(self) -> bool:
        stream = self.reply.stream_
        return bool(stream is not None and stream.started) or bool(self.turn and self.turn.pending)

    def open(self) -> None:
        request = self.exchange.request
        open_stream(self.reply, request, self.status, self.headers)
        self.turn = TurnWriter(self.reply)

    def failed(self, exc: Exception) -> None:
        """Answer for an app that raised (or broke the protocol)."""
        if isinstance(exc, RuntimeAPIError):
            raise exc  # the connection to Lambda broke: the runtime starts afresh
        if self.complete:
            log_exception(exc, self.reply.request_id)
            return
        # A breach of the protocol found before any byte left (a second
        # http.response.start) is answered as a failure before the start.
        if isinstance(exc, ASGIError) and not self.reply_started():
            self.started = False
        if not self.started:
            self.complete = True
            answer_internal_error(self.reply, self.exchange.request, exc)
            return
        if not self.exchange.request.streams:
            raise exc  # buffered: nothing has left, but the app chose its status
        # Streaming, started: what the app sent leaves, then the trailers.
        if self.turn is None:
            self.open()
        self.turn.flush()  # type: ignore[union-attr]
        self.reply.commit()
        self.complete = True
        raise exc
