"""The one HTTP/1.1 server of the local tools: ``lambdastream dev``'s Function
URL and Invoke API, and ``bedrock-local``.

httptools parses requests; an app gets a whole request (bodies are bounded,
as Lambda bounds payloads) and answers through a ``ResponseWriter`` that can
stream: chunked framing, trailers, and flow control hooks that fire when the
client reads slower than we write. Coroutine handlers run through
``async_app``. Requests on one connection are answered in order.

Every port gets the same limits: a bounded head and trailers (431), heads
Go's net/http refuses refused too (400, 505), a body bounded by
``max_body`` and refused from its ``Content-Length`` (413, before it is
sent), an upload budget shared by the whole process (429), header, idle and
body timeouts (408, or a quiet close), and a cap on connections that makes
room by closing the longest-idle one (else 503). See ``limits.py`` for the
values.

Modules: ``reader.py`` (bytes -> requests, sans-I/O), ``writer.py`` (one
response on the wire), ``connection.py`` (the asyncio protocol: order,
timers, budget), ``capacity.py`` (the connection cap), ``asyncapp.py``
(coroutine handlers), ``limits.py``.

Example::

    def app(request: HttpRequest, writer: ResponseWriter) -> None:
        writer.send(200, [("content-type", "text/plain")], b"hi")

    server = await serve(app, "127.0.0.1", 9000, max_body=6 * 1024 * 1024)
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
from collections.abc import Callable, Iterator

from lambdastream.httpserver.asyncapp import AsyncHandler, AsyncResponse, async_app
from lambdastream.httpserver.capacity import Capacity, connection_cap, quiet_accept_errors
from lambdastream.httpserver.connection import App, Connection, Site, refused_answer
from lambdastream.httpserver.limits import Limits, UploadBudget, process_budget
from lambdastream.httpserver.writer import ResponseWriter, http_date

__all__ = [
    "App",
    "AsyncHandler",
    "AsyncResponse",
    "Limits",
    "ResponseWriter",
    "UploadBudget",
    "async_app",
    "http_date",
    "is_loopback",
    "port_named",
    "serve",
]

# Connections the kernel queues for us to accept (also asyncio's accept batch):
# a burst of new clients waits there rather than being dropped (a dropped SYN
# is retried after a second). nginx's and Redis's default.
_BACKLOG = 511


async def serve(
    app: App,
    host: str,
    port: int,
    *,
    max_body: int,
    on_too_large: App | None = None,
    on_throttled: App | None = None,
    limits: Limits | None = None,
    budget: UploadBudget | None = None,
    log: Callable[[str], None] | None = None,
) -> asyncio.base_events.Server:
    """Serve ``app`` on ``host:port`` until the returned server is closed.

    A request is refused from its head, its body never read, with
    ``on_too_large`` when its body is over ``max_body`` (413) and with
    ``on_throttled`` when the upload budget cannot hold it (429). Either
    defaults to the app's own ``too_large``/``throttled`` method when it has
    one (the frontends answer in their AWS error format), else plain text.
    ``limits`` defaults to ``Limits.from_env(os.environ)``, ``budget`` to the
    process's shared one. ``log`` gets one line per refusal, malformed
    request or timeout (none by default), and one when the connection cap
    is reached or ``accept()`` fails (not one per connection).

    The process's soft open-file limit may be raised (see ``capacity.py``),
    and the running loop's exception handler is wrapped, so that asyncio's
    log of each failed ``accept()`` on this server becomes one line.
    """
    limits = limits or Limits.from_env(os.environ)
    capacity = Capacity(connection_cap(limits.max_connections), log)
    site = Site(
        app=app,
        on_too_large=on_too_large or getattr(app, "too_large", None) or refused_answer(413),
        on_throttled=on_throttled or getattr(app, "throttled", None) or refused_answer(429),
        max_body=max_body,
        limits=limits,
        budget=budget or process_budget(os.environ),
        capacity=capacity,
        log=log,
    )
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Connection(site), host, port, reuse_address=True, backlog=_BACKLOG
    )
    bound = server.sockets[0].getsockname()
    capacity.where = f"[{bound[0]}]:{bound[1]}" if ":" in bound[0] else f"{bound[0]}:{bound[1]}"
    quiet_accept_errors(loop, server.sockets, capacity)
    return server


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` names is a loopback one (127.0.0.0/8, ::1).

    An address is read as it is; a name is resolved (as the server will
    resolve it to listen). ``""`` (every interface) and a name that does not
    resolve count as beyond loopback.
    """
    import ipaddress
    import socket

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host or None, 0, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    return all(
        ipaddress.ip_address(str(info[4][0]).partition("%")[0]).is_loopback for info in infos
    )


@contextlib.contextmanager
def port_named(port: int, flag: str) -> Iterator[None]:
    """Turn "address already in use" into a line naming the flag that changes the port."""
    try:
        yield
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise OSError(
                exc.errno, f"port {port} is already in use: choose another with {flag}"
            ) from None
        raise
