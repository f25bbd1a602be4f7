"""Run ``bedrock-local``: on a port of this event loop, or in a thread of its own.

Tests, ``lambdastream dev --bedrock-local`` and the README's examples start
it in the background; ``lambdastream bedrock-local`` serves it in the
foreground.

Example::

    >>> server = start_background(first_token_latency=0)
    >>> server.url.startswith("http://127.0.0.1:")
    True
    >>> server.stop()
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from lambdastream.bedrock.local import MAX_BODY, BedrockLocal, build_backend
from lambdastream.httpserver import async_app, serve

__all__ = ["BackgroundServer", "start_background", "start_server"]


async def start_server(
    host: str, port: int, handler: BedrockLocal, *, log: Callable[[str], None] | None = None
) -> asyncio.Server:
    """Serve ``handler`` on ``host:port`` (0: any free port) until the server is closed.

    ``log`` gets a line for each request the server refuses or times out.
    """
    return await serve(
        async_app(handler.handle),
        host,
        port,
        max_body=MAX_BODY,
        on_too_large=handler.too_large,
        on_throttled=handler.throttled,
        log=log,
    )


class BackgroundServer:
    """``bedrock-local`` running on its own event loop in a daemon thread."""

    def __init__(self, url: str, loop: asyncio.AbstractEventLoop, thread: threading.Thread):
        self.url = url
        self._loop = loop
        self._thread = thread

    def stop(self) -> None:
        """Stop serving and wait for the thread to end (idempotent)."""
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def __enter__(self) -> BackgroundServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_background(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    fault_specs: list[str] | None = None,
    **backend_options: Any,
) -> BackgroundServer:
    """Start ``bedrock-local`` in a background thread; returns once it accepts connections.

    ``backend_options`` go to :func:`build_backend` (``backend="scripted"``,
    ``first_token_latency``, ``tokens_per_second``, ``script="echo"``,
    ``openai_base_url``, ...);
    ``fault_specs`` are ``--fault`` specs applied to every request.

    >>> server = start_background(first_token_latency=0)
    >>> server.url.startswith("http://127.0.0.1:")
    True
    >>> server.stop()
    """
    handler = BedrockLocal(build_backend(**backend_options), fault_specs)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            server = loop.run_until_complete(start_server(host, port, handler))
        except BaseException as exc:
            holder["error"] = exc
            ready.set()
            return
        holder["port"] = server.sockets[0].getsockname()[1]
        ready.set()
        try:
            loop.run_forever()
        finally:
            server.close()
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    thread = threading.Thread(target=run, name="bedrock-local", daemon=True)
    thread.start()
    ready.wait()
    if "error" in holder:
        raise holder["error"]
    url_host = f"[{host}]" if ":" in host else host
    return BackgroundServer(f"http://{url_host}:{holder['port']}", loop, thread)
