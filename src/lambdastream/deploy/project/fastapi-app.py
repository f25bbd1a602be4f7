"""{{name}}: a FastAPI app on AWS Lambda whose responses stream, made with lambdastream.

Three routes: ``/`` answers JSON, ``/stream`` streams plain text line by
line, ``/events`` streams Server-Sent Events. Each chunk reaches the client
when the app yields it, locally and through the deployed Function URL::

    lambdastream dev app.handler                # or: lambdastream dev app:app
    curl -N http://127.0.0.1:9000/stream
    curl -N http://127.0.0.1:9000/events
    uvicorn app:app                              # the same app, served by uvicorn
"""

import asyncio

from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from lambdastream import sse
from lambdastream.asgi import asgi

app = FastAPI(title="{{name}}")


@app.get("/")
async def hello() -> dict[str, str]:
    return {"hello": "world", "app": "{{name}}"}


@app.get("/stream")
async def stream(count: int = 5) -> StreamingResponse:
    async def lines():
        for i in range(count):
            if i:
                await asyncio.sleep(0.2)  # work that takes a while: each line leaves when ready
            yield f"line {i}\n"

    return StreamingResponse(lines(), media_type="text/plain; charset=utf-8")


@app.get("/events")
async def events(count: int = 5) -> StreamingResponse:
    async def ticks():
        for i in range(count):
            if i:
                await asyncio.sleep(0.2)
            yield {"event": "tick", "id": str(i), "data": {"n": i}}

    # sse() frames each item as one Server-Sent Event ("event: tick", "data: {...}").
    return StreamingResponse(
        sse(ticks()), media_type="text/event-stream", headers={"cache-control": "no-cache"}
    )


# Lambda's entry point: Function URL events in, the app's responses streamed out.
handler = asgi(app)
