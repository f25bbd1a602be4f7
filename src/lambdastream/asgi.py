"""Run an ASGI app (FastAPI, Starlette) on Lambda, streaming: ``handler = asgi(app)``.

The adapter lives in the runtime (``lambdastream.runtime.asgi_server``,
standard library only), so the layer carries it and ``_HANDLER=main.app``
can name the app itself; this is its public name.

Example (``main.py``, with ``_HANDLER=main.handler``, or ``main.app``)::

    from fastapi import FastAPI
    from fastapi.responses import StreamingResponse
    from lambdastream.asgi import asgi

    app = FastAPI()

    @app.get("/")
    async def hello():
        return {"hello": "world"}

    @app.get("/count")
    async def count():
        async def numbers():
            for i in range(3):
                yield f"{i}\\n"
        return StreamingResponse(numbers(), media_type="text/plain")

    handler = asgi(app)
"""

from lambdastream.runtime.asgi_server import ASGIError, ASGIHandler, LifespanError, asgi
from lambdastream.runtime.web_event import InvalidEvent

__all__ = ["ASGIError", "ASGIHandler", "InvalidEvent", "LifespanError", "asgi"]
