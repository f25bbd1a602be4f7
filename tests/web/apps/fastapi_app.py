"""The FastAPI app of tests/web: served by uvicorn and by ``lambdastream dev``.

``_HANDLER=fastapi_app.app`` (the app itself) and ``fastapi_handler.handler``
(``asgi(app)``, in a module of its own) both serve it. Every route answers
the same bytes wherever it runs, except where a route says it reports timing.

Shared state that outlives a request goes to ``$WEB_TEST_STATE_DIR`` (a
background task's effect) or lives in the process (the lifespan's count).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import BackgroundTasks, FastAPI, Query, Request, Response
from fastapi.responses import PlainTextResponse, RedirectResponse, StreamingResponse
from sse_starlette import EventSourceResponse, ServerSentEvent

STARTUPS: list[float] = []


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    STARTUPS.append(time.time())
    yield {"greeting": "set at startup", "startups": len(STARTUPS)}


app = FastAPI(lifespan=lifespan)


def state_dir() -> Path:
    return Path(os.environ["WEB_TEST_STATE_DIR"])


@app.get("/items/{item_id}", name="read_item")
def read_item(
    item_id: int,
    q: str | None = None,
    tag: list[str] = Query(default=[]),  # noqa: B008 (FastAPI's idiom)
) -> dict[str, Any]:
    return {"item_id": item_id, "q": q, "tags": tag}


@app.get("/json")
def json_route() -> dict[str, Any]:
    return {"nested": {"list": [1, 2.5, None, True], "text": "ünïcode ✓"}, "empty": {}}


@app.get("/lifespan")
def lifespan_state(request: Request) -> dict[str, Any]:
    # startups: how many times this process ran the lifespan (once, not per request).
    return {
        "greeting": request.state.greeting,
        "startups_in_state": request.state.startups,
        "startups": len(STARTUPS),
    }


@app.get("/cookies")
def cookies(request: Request, response: Response) -> dict[str, Any]:
    response.set_cookie("flavour", "oatmeal", path="/")
    response.set_cookie("session", "abc123", httponly=True, samesite="strict")
    response.set_cookie("gone", "", max_age=0)
    return {"got": dict(sorted(request.cookies.items()))}


@app.post("/binary")
async def binary(request: Request) -> Response:
    data = await request.body()
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"x-sha256": hashlib.sha256(data).hexdigest(), "x-length": str(len(data))},
    )


@app.get("/large")
def large(size: int = 1 << 20) -> Response:
    block = bytes(range(256))
    return Response((block * (size // 256 + 1))[:size], media_type="application/octet-stream")


@app.get("/redirect")
def redirect(request: Request) -> RedirectResponse:
    target = request.url_for("read_item", item_id=7).include_query_params(q="moved")
    return RedirectResponse(str(target), status_code=303)


@app.get("/fail")
def fail() -> None:
    raise RuntimeError("boom before the first byte")


@app.api_route("/head", methods=["GET", "HEAD"])
def head() -> PlainTextResponse:
    return PlainTextResponse("a body HEAD must not carry\n", headers={"x-head": "yes"})


@app.post("/background")
def background(key: str, tasks: BackgroundTasks) -> dict[str, str]:
    async def record() -> None:
        # After the response: a client has it before this ends.
        await asyncio.sleep(0.2)
        (state_dir() / f"bg-{key}").write_text(
            json.dumps({"effect": f"done {key}", "at": time.time()})
        )

    tasks.add_task(record)
    return {"scheduled": key}


@app.get("/background/{key}")
def background_result(key: str) -> dict[str, Any]:
    path = state_dir() / f"bg-{key}"
    return {"key": key, **(json.loads(path.read_text()) if path.exists() else {"effect": None})}


# Streams: each chunk carries the time it was produced, so that a client can
# tell whether it arrived before the next one was made.


@app.get("/stream/async")
async def stream_async(n: int = 4, delay: float = 0.3) -> StreamingResponse:
    async def chunks() -> AsyncIterator[str]:
        for i in range(n):
            yield f"async chunk {i} produced {time.time():.6f}\n"
            await asyncio.sleep(delay)
        yield "end\n"

    return StreamingResponse(chunks(), media_type="text/plain", headers={"x-stream": "async"})


@app.get("/stream/sync")
def stream_sync(n: int = 4, delay: float = 0.3) -> StreamingResponse:
    def chunks() -> Iterator[bytes]:
        for i in range(n):
            yield f"sync chunk {i} produced {time.time():.6f}\n".encode()
            time.sleep(delay)
        yield b"end\n"

    return StreamingResponse(chunks(), media_type="text/plain", headers={"x-stream": "sync"})


@app.get("/stream/cut")
async def stream_cut() -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"first part\n"
        await asyncio.sleep(0.1)
        yield b"second part\n"
        await asyncio.sleep(0.1)
        raise RuntimeError("boom after the first byte")

    return StreamingResponse(chunks(), media_type="text/plain")


@app.get("/sse")
async def sse(n: int = 4, delay: float = 0.5) -> EventSourceResponse:
    async def events() -> AsyncIterator[ServerSentEvent | dict[str, Any]]:
        for i in range(n):
            yield ServerSentEvent(data=f"tick {i}", event="tick", id=str(i))
            await asyncio.sleep(delay)
        yield {"event": "done", "data": "bye\nsecond line"}

    return EventSourceResponse(events(), ping=0.2)


@app.get("/multi-header")
def multi_header() -> Response:
    response = PlainTextResponse("two of a kind\n")
    response.headers.append("x-multi", "first")
    response.headers.append("x-multi", "second")
    response.headers.append("vary", "accept-encoding")
    response.headers.append("vary", "cookie")
    return response


@app.delete("/items/{item_id}", status_code=204)
def delete_item(item_id: int) -> Response:
    return Response(status_code=204, headers={"x-deleted": str(item_id)})


@app.get("/not-modified")
def not_modified() -> Response:
    return Response(status_code=304, headers={"etag": '"v1"'})
