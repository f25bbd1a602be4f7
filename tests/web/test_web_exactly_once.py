"""FastAPI and sse-starlette through ``lambdastream dev``: whole streams, one run each.

Two findings of issue 20, with the frameworks themselves (tests/e2e has the
runtime's side): ``await request.is_disconnected()`` cancelled the ASGI
adapter's shared future, so a ``StreamingResponse`` ended after its first
part and sse-starlette after its first event; and a ``StreamingResponse``
of 20,000 one-byte chunks from an async generator (one loop turn) lost the
whole answer and re-ran the app until the timeout.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from h11client import Reply, request
from runcount import COUNTED_ASGI, runs
from support import DevServer, start_dev, write_handler


def _call(server: DevServer, path: str) -> tuple[Reply, str]:
    reply = request(server.url + path, timeout=60)
    assert reply.complete, "the response did not end properly"
    return reply, reply.header("x-amzn-requestid") or ""


def _ran_once(root: Path, request_id: str) -> None:
    assert request_id
    assert runs(root)[request_id] == 1, f"{request_id} ran {runs(root)[request_id]} times"


FASTAPI_APP = (
    COUNTED_ASGI
    + """
import asyncio

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from sse_starlette.sse import EventSourceResponse

api = FastAPI()


@api.get("/tokens")
async def tokens(request: Request):
    async def generate():
        for i in range(5):
            if await request.is_disconnected():
                return
            yield f"token {i}\\n"
            await asyncio.sleep(0.01)

    return StreamingResponse(generate(), media_type="text/plain")


@api.get("/events")
async def events(request: Request):
    async def generate():
        for i in range(5):
            if await request.is_disconnected():
                return
            yield {"event": "token", "data": str(i)}
            await asyncio.sleep(0.01)

    return EventSourceResponse(generate(), ping=1)


@api.get("/bytes")
async def many_bytes(n: int):
    async def generate():
        for _ in range(n):
            yield b"x"

    return StreamingResponse(generate(), media_type="application/octet-stream")


app = counted(api)
"""
)


@pytest.fixture(scope="module")
def fastapi_dev(tmp_path_factory) -> Iterator[tuple[DevServer, Path]]:
    root = write_handler(tmp_path_factory.mktemp("once-fastapi"), FASTAPI_APP, name="main.py")
    server = start_dev("main.app", root, "--name", "main", "--timeout", "30")
    yield server, root
    server.stop()


@pytest.mark.timeout(60)
def test_a_fastapi_stream_that_checks_is_disconnected_streams_every_part(fastapi_dev):
    server, root = fastapi_dev
    reply, request_id = _call(server, "/tokens")
    assert reply.status == 200
    assert reply.body == b"".join(b"token %d\n" % i for i in range(5))
    _ran_once(root, request_id)


@pytest.mark.timeout(60)
def test_an_sse_starlette_stream_that_checks_is_disconnected_sends_every_event(fastapi_dev):
    server, root = fastapi_dev
    reply, request_id = _call(server, "/events")
    assert reply.status == 200
    events = [line for line in reply.body.decode().splitlines() if line.startswith("data:")]
    assert events == [f"data: {i}" for i in range(5)]
    _ran_once(root, request_id)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("count", [10_000, 20_000, 200_000])
def test_a_fastapi_stream_of_one_byte_chunks_arrives_whole_once(fastapi_dev, count):
    server, root = fastapi_dev
    reply, request_id = _call(server, f"/bytes?n={count}")
    assert reply.status == 200
    assert reply.body == b"x" * count
    _ran_once(root, request_id)
