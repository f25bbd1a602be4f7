"""A raw ASGI app that calls receive() in every order the ASGI spec allows.

Each path is one order; what each receive() returned is written to
``$CORPUS_STATE_DIR/observed.log`` (one line per request, when the request
is over) and, where the response is still open, into the body too. Run under
uvicorn and in lambdastream's runtime, the two logs must be the same.
"""

import asyncio
import json
import os

import anyio


def _observe(path: str, seen: list[str]) -> None:
    with open(os.path.join(os.environ["CORPUS_STATE_DIR"], "observed.log"), "a") as log:
        log.write(json.dumps({"path": path, "seen": seen}) + "\n")


def _kind(message: dict) -> str:
    if message["type"] == "http.request":
        return f"http.request {len(message.get('body', b''))} more={message.get('more_body')}"
    return message["type"]


async def _start(send, status=200):
    headers = [(b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": status, "headers": headers})


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    path, seen = scope["path"], []
    if path == "/receive-first":
        seen.append(_kind(await receive()))
        await _start(send)
        await send({"type": "http.response.body", "body": repr(seen).encode()})
        seen.append(_kind(await receive()))  # after the response: the client is gone
    elif path == "/start-first":
        await _start(send)
        seen.append(_kind(await receive()))
        await send({"type": "http.response.body", "body": repr(seen).encode()})
    elif path == "/waiting":
        seen.append(_kind(await receive()))
        waiting = asyncio.ensure_future(receive())
        await _start(send)
        for i in range(3):
            await send({"type": "http.response.body", "body": b"part %d\n" % i, "more_body": True})
            await asyncio.sleep(0.01)
            seen.append(f"waiting done={waiting.done()}")
        await send({"type": "http.response.body", "body": b"end\n"})
        seen.append(_kind(await waiting))
    elif path == "/cancelled":
        seen.append(_kind(await receive()))
        await _start(send)
        for i in range(3):
            pending = asyncio.ensure_future(receive())
            await asyncio.sleep(0)
            pending.cancel()
            seen.append(f"cancelled={pending.cancelled()}")
            await send({"type": "http.response.body", "body": b"part %d\n" % i, "more_body": True})
        await send({"type": "http.response.body", "body": b"end\n"})
        seen.append(_kind(await receive()))
    elif path == "/never-read":
        await _start(send)
        await send({"type": "http.response.body", "body": b"answered without reading\n"})
        seen.append(_kind(await receive()))  # the body was never read: the client is gone
    elif path == "/task-group":
        # sse-starlette's shape: a task listens for the disconnect and
        # cancels the stream when it comes.
        seen.append(_kind(await receive()))
        await _start(send)

        async def listen(scope):
            message = await receive()
            seen.append(f"listener {_kind(message)}")
            scope.cancel()

        async with anyio.create_task_group() as group:
            group.start_soon(listen, group.cancel_scope)
            for i in range(3):
                part = b"part %d\n" % i
                await send({"type": "http.response.body", "body": part, "more_body": True})
                await asyncio.sleep(0.01)
            await send({"type": "http.response.body", "body": b"end\n"})
    elif path == "/post":
        first = await receive()
        seen.append(_kind(first))
        await _start(send, 201)
        await send({"type": "http.response.body", "body": first.get("body", b"")[::-1]})
        seen.append(_kind(await receive()))
    else:
        await _start(send, 404)
        await send({"type": "http.response.body", "body": b"no such order\n"})
    _observe(path, seen)
