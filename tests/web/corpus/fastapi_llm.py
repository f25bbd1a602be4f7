"""FastAPI streaming an answer word by word, stopping early if the client left.

The usual shape of LLM streaming code: a ``StreamingResponse`` over an async
generator that checks ``await request.is_disconnected()`` before each part.
"""

import asyncio

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

app = FastAPI()


class Prompt(BaseModel):
    prompt: str
    delay: float = 0.01


@app.post("/chat")
async def chat(body: Prompt, request: Request) -> StreamingResponse:
    async def words():
        for word in body.prompt.split():
            if await request.is_disconnected():
                break
            yield word + " "
            await asyncio.sleep(body.delay)
        yield "\n"

    return StreamingResponse(words(), media_type="text/plain; charset=utf-8")


@app.get("/tokens")
async def tokens(request: Request, n: int = 20) -> StreamingResponse:
    async def generate():
        for i in range(n):
            if await request.is_disconnected():
                return
            yield f"data: token {i}\n\n"
            await asyncio.sleep(0)

    return StreamingResponse(generate(), media_type="text/event-stream")
