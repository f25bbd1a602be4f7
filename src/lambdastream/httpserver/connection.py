"""One client connection: bytes in through the reader, answers out in order.

A connection answers one request at a time, in the order they came;
reading pauses while more than one waits. It is the only place that knows
the time: while it waits on the client (no answer under way, none queued)
one timer holds it to the phase's timeout (``Limits``); while an answer is
under way, no client timeout runs. The bytes of each body are held in the
upload budget until its answer ends or the client goes away.

A request refused from its head (too large, over the budget) or bytes that
are no request get their answer when their turn comes, then the connection
ends with a lingering close: what the client still sends is read and
dropped for a moment, so that closing does not reset the connection and
destroy the answer before the client reads it.

Each connection tells its server's ``Capacity`` when it has no request under
way (it may then be closed to make room for a new client) and when it has
one; a connection the cap has no room for is answered 503.
"""

from __future__ import annotations

import asyncio
import os
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from lambdastream.httpserver.capacity import Capacity
from lambdastream.httpserver.limits import Limits, UploadBudget
from lambdastream.httpserver.reader import (
    BODY,
    HEAD,
    IDLE,
    TOO_LARGE,
    Failed,
    Item,
    Received,
    RequestReader,
)
from lambdastream.httpserver.writer import REASONS, ResponseWriter
from lambdastream.wire.request import HttpRequest

__all__ = ["App", "Connection", "Site", "refused_answer"]

App = Callable[[HttpRequest, ResponseWriter], None]

_WRITE_HIGH_WATER = 256 * 1024
# Pieces below this are joined into one write; larger ones are written as
# they are.
_JOIN_LIMIT = 16 * 1024
_LINGER = 2.0  # seconds a refused connection drains the client's bytes before closing
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
# The most buffers one writev takes (more fail with EMSGSIZE): the batch then
# goes through the transport, piece by piece.
_IOV_MAX = max(16, os.sysconf("SC_IOV_MAX")) if hasattr(os, "sysconf") else 16
_UNAVAILABLE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 19\r\nConnection: close\r\n\r\nService Unavailable"
)


@dataclass(frozen=True)
class Site:
    """What every connection of one listening socket shares."""

    app: App
    on_too_large: App
    on_throttled: App
    max_body: int
    limits: Limits
    budget: UploadBudget
    capacity: Capacity
    log: Callable[[str], None] | None = None  # refusals and timeouts, one line each


class Connection(asyncio.Protocol):
    def __init__(self, site: Site) -> None:
        self.site = site
        self.reader = RequestReader(site.max_body, site.budget)
        self.queue: deque[Item] = deque()
        self.transport: asyncio.Transport | None = None
        self._fd = -1  # the socket's, for writev (only while the transport is open)
        self.closed = False
        self.peer = "127.0.0.1"
        self._writer: ResponseWriter | None = None
        self._held = 0  # budget bytes of the request being answered
        self._eof = False
        self._discard = False  # lingering: what the client still sends is dropped
        self._linger_after = False  # the answer under way is a refusal: linger after it
        self._loop = asyncio.get_running_loop()
        now = self._loop.time()
        self._idle_since = now  # no request under way since
        self._head_since = now  # the head being read began
        self._last_data = now  # bytes last arrived
        self._heads_seen = 0
        self._unsent = 0  # bytes of our answers not yet taken by the client, at the last look
        self._timer: asyncio.TimerHandle | None = None
        self._idle = False  # told the capacity we have no request under way

    # ------------------------------------------------------------ asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        self._fd = sock.fileno() if sock is not None else -1
        transport.set_write_buffer_limits(high=_WRITE_HIGH_WATER)  # type: ignore[attr-defined]
        peer = transport.get_extra_info("peername")
        if peer:
            self.peer = peer[0]
        capacity = self.site.capacity
        if not capacity.admit(self):
            # Every connection has a request under way: no room. Said once
            # by the capacity, not per socket (a flood would flood the log).
            self.write(_UNAVAILABLE)
            if capacity.linger(self):
                self._linger()
            else:
                self.close()
            return
        self._arm()
        self._note_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.site.capacity.gone(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._drop_requests()
        self.site.budget.release(self._held)
        self._held = 0
        writer, self._writer = self._writer, None
        if writer is not None and not writer.finished:
            writer.on_close()

    def pause_writing(self) -> None:
        if self._writer is not None:
            self._writer.on_pause()

    def resume_writing(self) -> None:
        if self._writer is not None:
            self._writer.on_resume()

    def data_received(self, data: bytes) -> None:
        if self._discard:
            return
        now = self._loop.time()
        self._last_data = now
        reader = self.reader
        items = reader.feed(data)
        if reader.heads != self._heads_seen:
            self._heads_seen = reader.heads
            self._head_since = now
        if items:
            self.queue.extend(items)
            last = items[-1]
            if not isinstance(last, Received) and self.transport is not None:
                self.transport.pause_reading()  # nothing more is read until it is answered
        if len(self.queue) > 1 and self.transport is not None:
            self.transport.pause_reading()  # a pipelining client waits its turn
        self._next()
        self._arm()
        self._note_idle()

    def eof_received(self) -> bool:
        # A client may half-close (shutdown(SHUT_WR)) once its request is
        # sent: keep our side open until the requests it sent are answered.
        self._eof = True
        return not self._discard and (self._writer is not None or bool(self.queue))

    # ------------------------------------------------------------ answering in order

    def _next(self) -> None:
        if self._writer is not None or self.closed or self._discard:
            return
        if not self.queue:
            # 100 Continue only to the request whose turn it is, never while
            # another answer is on the wire (it would land inside that answer).
            if self.reader.wants_continue:
                self.write(_CONTINUE)
                self.reader.continue_sent()
            return
        item = self.queue.popleft()
        if isinstance(item, Failed):
            self._log(f"{item.status} {REASONS[item.status]}: {item.detail}")
            self._fail(item.status, item.message)
            return
        site = self.site
        if isinstance(item, Received):
            app, request, keep_alive = site.app, item.request, item.keep_alive
            self._held = item.held
        else:
            too_large = item.reason == TOO_LARGE
            app = site.on_too_large if too_large else site.on_throttled
            request, keep_alive = item.request, False
            self._linger_after = True
            why = "too large" if too_large else "over the upload budget"
            self._log(f"{request.method} {request.target} refused, {why}: {item.detail}")
        self._writer = writer = ResponseWriter(self, request, keep_alive)
        try:
            app(request, writer)
        except Exception as exc:  # a bug of ours must not kill the server
            traceback.print_exception(exc)
            writer.abort(500)

    def response_done(self, keep_alive: bool) -> None:
        self._writer = None
        if self.closed:  # a late end of an answer whose client went away
            return
        self.site.budget.release(self._held)
        self._held = 0
        if self._linger_after:
            self._linger()
            return
        if not keep_alive or (self._eof and not self.queue):
            self.close()
            return
        # The client's clock restarts now: it may have waited on us.
        now = self._loop.time()
        self._idle_since = self._head_since = self._last_data = now
        if self.transport is not None:
            self.transport.resume_reading()
        self._loop.call_soon(self._next)
        self._arm()
        self._note_idle()

    def _fail(self, status: int, message: bytes) -> None:
        """The server's own final answer (400, 408, 431), then a lingering close."""
        if self.transport is not None and not self.closed:
            self.transport.write(
                f"HTTP/1.1 {status} {REASONS[status]}\r\nContent-Type: text/plain\r\n"
                f"Content-Length: {len(message)}\r\nConnection: close\r\n\r\n".encode()
                + message
            )
        self._linger()

    def _linger(self) -> None:
        # Closing with the client's bytes still unread would reset the
        # connection, and a reset can destroy our answer before the client
        # reads it (a 413 while it still sends its body). End our side, drop
        # what still arrives, close when the client does or after a moment.
        self._discard = True
        self._note_idle()
        self._drop_requests()
        transport = self.transport
        if transport is None or self.closed or self._eof:
            self.close()
            return
        transport.resume_reading()
        if transport.can_write_eof():
            transport.write_eof()
        self._loop.call_later(_LINGER, self._give_up)

    def _drop_requests(self) -> None:
        """Forget what was read and not answered, and give its bytes back."""
        self.reader.close()
        budget = self.site.budget
        for item in self.queue:
            if isinstance(item, Received):
                budget.release(item.held)
        self.queue.clear()

    # ------------------------------------------------------------ timeouts

    def _deadline(self) -> float | None:
        """When the client runs out of time, if we are waiting on it."""
        if self._writer is not None or self.queue or self._discard or self.closed:
            return None
        limits = self.site.limits
        phase = self.reader.phase
        if phase == IDLE:
            return self._idle_since + limits.idle_timeout
        if phase == HEAD:
            return self._head_since + limits.header_timeout
        if phase == BODY:
            return self._last_data + limits.body_timeout
        return None

    def _arm(self) -> None:
        # One timer per connection, moved only when a deadline comes nearer:
        # a later deadline (a body's progress) is found when it fires.
        deadline = self._deadline()
        if deadline is None:
            return
        timer = self._timer
        if timer is not None:
            if timer.when() <= deadline:
                return
            timer.cancel()
        self._timer = self._loop.call_at(deadline, self._expire)

    def _expire(self) -> None:
        self._timer = None
        deadline = self._deadline()
        if deadline is None:
            return
        if self._loop.time() < deadline:
            self._timer = self._loop.call_at(deadline, self._expire)
            return
        if self.reader.phase == IDLE:
            # No request since the last answer. If that answer is still
            # leaving (less of it is left than at the last look), the client
            # is reading it: that is not idle (ALB counts data sent too).
            unsent = self.transport.get_write_buffer_size() if self.transport else 0
            if unsent and unsent != self._unsent:
                self._unsent = unsent
                self._idle_since = self._loop.time()
                self._arm()
                return
            self._give_up()  # a kept-alive or new connection that sent nothing: no answer owed
        else:  # as ALB answers a client that stopped sending
            limits = self.site.limits
            if self.reader.phase == HEAD:
                why = f"no whole request head in {limits.header_timeout:g} s"
            else:
                why = f"no byte of the body for {limits.body_timeout:g} s"
            self._log(f"408 Request Timeout: {why}")
            self._fail(408, b"Request Timeout")

    def _log(self, message: str) -> None:
        if self.site.log is not None:
            self.site.log(f"HTTP {self.peer}: {message}")

    # ------------------------------------------------------------ the connection cap

    def _note_idle(self) -> None:
        """Tell the capacity when this connection starts or stops having a request under way."""
        idle = (
            self._writer is None
            and not self.queue
            and not self._discard
            and not self.closed
            and self.reader.phase == IDLE
        )
        if idle != self._idle:
            self._idle = idle
            if idle:
                self.site.capacity.idle(self)
            else:
                self.site.capacity.busy(self)

    def close_idle(self) -> bool:
        """Close to make room for a new client, as the idle timeout would:
        quietly. Not while an answer is still leaving (closing would wait for
        the client to read it)."""
        if self.transport is not None and self.transport.get_write_buffer_size():
            return False
        self._give_up()
        return True

    # ------------------------------------------------------------ writing

    def write(self, data: bytes) -> None:
        if not self.closed and self.transport is not None:
            self.transport.write(data)

    def writelines(self, pieces: list[bytes | memoryview]) -> None:
        """Send ``pieces`` in order: one system call for the batch when it can.

        Small batches are joined into one write. A large one (a read of a
        streamed response: the runtime's framed chunks, partly re-framed)
        goes out in one ``writev`` straight from the pieces, without a copy,
        when nothing of ours is waiting to be sent; what the kernel does not
        take is left to the transport. asyncio 3.11's own ``writelines``
        joins everything into a fresh object instead, and a write per piece
        costs a system call each.
        """
        transport = self.transport
        if self.closed or transport is None:
            return
        total = sum(map(len, pieces))
        if total <= _JOIN_LIMIT:
            transport.write(b"".join(pieces))
            return
        if (
            self._fd >= 0
            and not transport.is_closing()  # its descriptor may be closed, or another's
            and not transport.get_write_buffer_size()
            and len(pieces) <= _IOV_MAX
        ):
            try:
                sent = os.writev(self._fd, pieces)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                sent = 0  # the transport's own write sees the error and closes
            if sent == total:
                return
            pieces = _after(pieces, sent)
        for piece in pieces:
            transport.write(piece)

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.close()
        self.closed = True

    def _give_up(self) -> None:
        """Close now, even with bytes the client never read: ``close`` would
        wait for them to leave, and a client that does not read would keep
        the connection, and our buffered answer, forever."""
        if self.transport is not None and not self.closed:
            if self.transport.get_write_buffer_size():
                self.transport.abort()
            else:
                self.transport.close()
        self.closed = True


def _after(pieces: list[bytes | memoryview], sent: int) -> list[bytes | memoryview]:
    """What of ``pieces`` is left once ``sent`` bytes of them left."""
    for i, piece in enumerate(pieces):
        if sent < len(piece):
            return [memoryview(piece)[sent:], *pieces[i + 1 :]]
        sent -= len(piece)
    return []


def refused_answer(status: int) -> App:
    """A plain-text answer for a refused request, for an app that has none of its own."""
    body = REASONS[status].encode()

    def answer(request: HttpRequest, writer: ResponseWriter) -> None:
        writer.send(status, [("content-type", "text/plain")], body)

    return answer
