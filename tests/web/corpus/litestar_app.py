"""Litestar: JSON, a Stream response, path parameters, a 404."""

import asyncio
from collections.abc import AsyncIterator

from litestar import Litestar, get, post
from litestar.response import Stream


@get("/items/{item_id:int}")
async def item(item_id: int, q: str | None = None) -> dict:
    return {"item_id": item_id, "q": q}


@post("/items")
async def create(data: dict) -> dict:
    return {"created": data}


@get("/stream")
async def stream(n: int = 10) -> Stream:
    async def generate() -> AsyncIterator[bytes]:
        for i in range(n):
            yield f"part {i}\n".encode()
            await asyncio.sleep(0.01)

    return Stream(generate(), media_type="text/plain")


app = Litestar(route_handlers=[item, create, stream])
