"""Quart: JSON, a streamed async generator, a redirect, a 404."""

import asyncio

from quart import Quart, redirect, request, stream_with_context

app = Quart(__name__)


@app.get("/json")
async def json_route():
    return {"framework": "quart", "args": dict(request.args)}


@app.post("/echo")
async def echo():
    data = await request.get_json()
    return {"got": data}, 201, {"x-quart": "1"}


@app.get("/stream")
async def stream():
    @stream_with_context
    async def generate():
        for i in range(int(request.args.get("n", "10"))):
            yield f"chunk {i}\n".encode()
            await asyncio.sleep(0.01)

    return generate(), 200, {"content-type": "text/plain"}


@app.get("/old")
async def old():
    return redirect("/json")
