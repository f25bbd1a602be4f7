"""An app and ``handler = asgi(app)`` in one module, as ``lambdastream.asgi``'s example has it.

Its lifespan counts how often it ran in this process: served by uvicorn
(``app_and_handler:app``) or as ``_HANDLER=app_and_handler.app``, the
process should run it once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request

from lambdastream.asgi import asgi

STARTUPS: list[str] = []


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    STARTUPS.append("startup")
    yield {"startups_at_start": len(STARTUPS)}


app = FastAPI(lifespan=lifespan)


@app.get("/lifespan")
def lifespan_count(request: Request) -> dict[str, int]:
    return {"startups": len(STARTUPS), "startups_in_state": request.state.startups_at_start}


handler = asgi(app)
