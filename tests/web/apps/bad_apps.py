"""A raw ASGI app that breaks the protocol on some paths, and answers well on ``/ok``.

Served as ``_HANDLER=bad_apps.app`` (the bare ``async def app(scope,
receive, send)``): each path below is one way an app can go wrong; ``/ok``
shows the environment that served it (its process id and how many
requests it served), so a test can tell the next request is clean and
served by the same process; ``/echo`` answers the request body.
"""

from __future__ import annotations

import os
from typing import Any

SERVED = {"count": 0}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
            await receive()  # shutdown
            await send({"type": "lifespan.shutdown.complete"})
        return
    SERVED["count"] += 1
    path = scope["path"]
    if path == "/never-start":
        await receive()
        return  # no http.response.start at all
    if path == "/start-twice":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.start", "status": 201, "headers": []})
        return
    if path == "/reject-header":
        # The app looks at the scope it was given, and refuses it by raising.
        for name, value in scope["headers"]:
            if name == b"x-reject":
                raise ValueError(f"rejected header x-reject: {value.decode('latin-1')}")
    if path == "/bad-status":
        await send({"type": "http.response.start", "status": 1000, "headers": []})
        return
    if path == "/body-first":
        await send({"type": "http.response.body", "body": b"too early"})
        return
    if path == "/echo":
        message = await receive()
        body = message.get("body", b"")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})
        return
    body = f"ok pid={os.getpid()} served={SERVED['count']} path={path}\n".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})
