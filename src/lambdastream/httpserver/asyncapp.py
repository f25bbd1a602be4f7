"""Coroutine handlers on the server, with ``await``-able writes.

``bedrock-local`` answers from coroutines that write while a model
"streams". :func:`async_app` runs each request's handler as a task with an
:class:`AsyncResponse`: every write is followed by :meth:`AsyncResponse.drain`,
which waits while the client reads slower than we write (the transport paused
us) and raises ``ConnectionResetError`` once the client is gone. A client that
goes away also cancels its handler, so that nothing is generated for nobody.

Example::

    async def hello(request: HttpRequest, response: AsyncResponse) -> None:
        await response.start(200, [("content-type", "text/plain")])
        for word in ("Hello ", "world"):
            await response.write(word.encode())  # one chunk, sent before the next
        await response.end()

    server = await serve(async_app(hello), "127.0.0.1", 0, max_body=1024)
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Awaitable, Callable

from lambdastream.httpserver.writer import ResponseWriter
from lambdastream.wire.request import HttpRequest

__all__ = ["AsyncHandler", "AsyncResponse", "async_app"]


class AsyncResponse:
    """One response, written from a coroutine."""

    def __init__(self, writer: ResponseWriter) -> None:
        self._writer = writer
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None
        writer.on_pause = self._pause
        writer.on_resume = self._resume

    @property
    def started(self) -> bool:
        """The head has been sent: an error can no longer be a status."""
        return self._writer.started

    async def send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """A whole response."""
        self._writer.send(status, headers, body)
        await self.drain()

    async def start(self, status: int, headers: list[tuple[str, str]]) -> None:
        """The head of a chunked response."""
        self._writer.start(status, headers)
        await self.drain()

    async def write(self, data: bytes) -> None:
        """``data`` as one chunk, sent now: the client sees it before the next."""
        if data:
            self._writer.write([data])
            await self.drain()

    async def end(self) -> None:
        """The end of a chunked response."""
        self._writer.end()
        await self.drain()

    async def drain(self) -> None:
        """Wait until the client can take more; raise if it went away."""
        if self._writer.closed:
            raise ConnectionResetError("the client closed the connection")
        if self._paused:
            if self._waiter is None:
                self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter

    def _pause(self) -> None:
        self._paused = True

    def _resume(self) -> None:
        self._paused = False
        self._wake(None)

    def closed(self) -> None:
        """The client went away: a write waiting for room fails."""
        self._wake(ConnectionResetError("the client closed the connection"))

    def _wake(self, error: Exception | None) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is None or waiter.done():
            return
        if error is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(error)


AsyncHandler = Callable[[HttpRequest, AsyncResponse], Awaitable[None]]


def async_app(handler: AsyncHandler) -> Callable[[HttpRequest, ResponseWriter], None]:
    """An app for :func:`serve` that runs ``handler`` as a task per request."""
    running: set[asyncio.Task[None]] = set()  # tasks are only weakly held by the loop

    def app(request: HttpRequest, writer: ResponseWriter) -> None:
        response = AsyncResponse(writer)
        task = asyncio.ensure_future(handler(request, response))
        running.add(task)

        def client_gone() -> None:
            response.closed()
            task.cancel()

        writer.on_close = client_gone
        task.add_done_callback(lambda done: _finished(done, writer, running))

    return app


def _finished(task: asyncio.Task[None], writer: ResponseWriter, running: set) -> None:
    running.discard(task)
    if not task.cancelled():
        error = task.exception()
        if error is not None and not isinstance(error, ConnectionError):
            traceback.print_exception(error)  # a bug of ours: this client alone pays
    if not writer.finished:
        writer.abort(500)  # a 500, or the end of a stream the handler left open
