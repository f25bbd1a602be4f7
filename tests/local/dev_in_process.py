"""The real Function URL and Invoke API, pool and runtime processes, served
from a thread of the test process: for tests that must make the dev server
itself fail (a configuration the command line refuses, an injected fault)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class InProcess:
    url: str  # the Function URL
    api_url: str  # the Invoke API
    log: io.StringIO  # what the dev server printed


@contextlib.contextmanager
def serve_in_process(root: Path, *, cors: Any = None) -> Iterator[InProcess]:
    """Serve ``app.handler`` from ``root`` on free loopback ports until the block ends."""
    from lambdastream.httpserver import serve
    from lambdastream.local.function import FunctionConfig
    from lambdastream.local.function_url import MAX_REQUEST, FunctionUrl
    from lambdastream.local.invoke_api import MAX_PAYLOAD, InvokeApi
    from lambdastream.local.logs import LogPrinter
    from lambdastream.local.pool import Pool

    log = io.StringIO()
    loop = asyncio.new_event_loop()
    started: dict[str, Any] = {}
    ready = threading.Event()

    async def main() -> None:
        printer = LogPrinter(log)
        pool = Pool(FunctionConfig(handler="app.handler", root=root, name="app"), printer)
        url_app = FunctionUrl(pool, printer, cors=cors)
        api_app = InvokeApi(pool, pool.config)
        servers = [
            await serve(app, "127.0.0.1", 0, max_body=limit, on_too_large=app.too_large)
            for app, limit in ((url_app, MAX_REQUEST), (api_app, MAX_PAYLOAD))
        ]
        stop = asyncio.Event()
        url_port, api_port = (s.sockets[0].getsockname()[1] for s in servers)
        started.update(url_port=url_port, api_port=api_port, stop=stop)
        ready.set()
        await stop.wait()
        for server in servers:
            server.close()
        await pool.close()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(10), "the in-process dev server did not start"
    try:
        yield InProcess(
            f"http://127.0.0.1:{started['url_port']}",
            f"http://127.0.0.1:{started['api_port']}",
            log,
        )
    finally:
        loop.call_soon_threadsafe(started["stop"].set)
        thread.join(10)
        loop.close()
