"""sse-starlette: events with pings, stopping when the client disconnects."""

import asyncio

from sse_starlette.sse import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route


async def events(request: Request) -> EventSourceResponse:
    count = int(request.query_params.get("n", "8"))
    delay = float(request.query_params.get("delay", "0.05"))

    async def generate():
        for i in range(count):
            if await request.is_disconnected():
                break
            yield ServerSentEvent(data=f"token {i}", event="token", id=str(i))
            await asyncio.sleep(delay)
        yield {"event": "done", "data": "[DONE]"}

    return EventSourceResponse(generate(), ping=0.1)


app = Starlette(routes=[Route("/events", events)])
