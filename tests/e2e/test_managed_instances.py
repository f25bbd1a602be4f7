"""Lambda Managed Instances end to end: our runtime's workers under the real ``lambdastream dev``.

``lambdastream dev --max-concurrency N`` serves one execution environment
as Managed Instances do: it sets ``AWS_LAMBDA_MAX_CONCURRENCY=N`` for the
runtime and takes up to N ``/next`` calls at once. The runtime then runs N
worker processes (src/lambdastream/runtime/workers.py), so N slow streamed
invocations sent to one environment (``--concurrency 1``) run side by side,
each in a worker of its own, each handler once. With a plain generator and
with an ASGI app, read over the Function URL with a raw HTTP/1.1 client.

tests/runtime/test_workers.py checks the runtime's side against a
Runtime API speaking as Managed Instances' does; tests/local checks dev's side.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from h11client import Reply, request
from runcount import COUNTED_ASGI, RECORD_RUN, runs
from support import DevServer, write_handler

WORKERS = 4

STREAMED = (
    RECORD_RUN
    + """
import os, time


def handler(event, context):
    record_run(context.aws_request_id)
    yield f"{context.aws_request_id} {os.getpid()} {os.getppid()};"
    if event.get("rawQueryString") != "warm":
        time.sleep(1)
    yield "done"
"""
)

ASGI = (
    COUNTED_ASGI
    + """
import asyncio, os


async def _app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                with open("starts.log", "a") as starts:
                    starts.write(f"{os.getpid()}\\n")
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    headers = [(b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    context = scope["aws.context"]
    first = f"{context.aws_request_id} {os.getpid()} {os.getppid()};"
    await send({"type": "http.response.body", "body": first.encode(), "more_body": True})
    if scope["query_string"] != b"warm":
        await asyncio.sleep(1)
    await send({"type": "http.response.body", "body": b"done"})


app = counted(_app)
"""
)


def _start(dev_server, root: Path, handler: str) -> DevServer:
    server = dev_server(
        handler, root, "--max-concurrency", str(WORKERS), "--concurrency", "1",
        "--timeout", "10",
    )  # fmt: skip
    warm = request(server.url + "/?warm", timeout=30)  # the environment's cold start
    assert warm.status == 200 and warm.body.endswith(b"done"), (warm, server.logs())
    return server


def _at_once(url: str, count: int) -> tuple[list[Reply], float]:
    replies: list[Reply | None] = [None] * count

    def call(i: int) -> None:
        replies[i] = request(url, timeout=30)

    started = time.monotonic()
    threads = [threading.Thread(target=call, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    elapsed = time.monotonic() - started
    assert all(reply is not None for reply in replies), replies
    return replies, elapsed  # type: ignore[return-value]


def _workers_seen(replies: list[Reply]) -> dict[str, tuple[int, int]]:
    """request id -> (pid, parent pid), from each body's first chunk."""
    seen = {}
    for reply in replies:
        assert reply.status == 200 and reply.complete, reply
        first, _, rest = reply.body.partition(b";")
        assert rest == b"done", reply.body
        rid, pid, ppid = first.decode().split()
        seen[rid] = (int(pid), int(ppid))
    return seen


@pytest.mark.timeout(120)
def test_four_streamed_invocations_to_one_environment_run_at_once(dev_server, tmp_path):
    root = write_handler(tmp_path, STREAMED)
    server = _start(dev_server, root, "app.handler")
    replies, elapsed = _at_once(server.url + "/", WORKERS)
    seen = _workers_seen(replies)
    assert elapsed < 1.5, (elapsed, server.logs())
    # Each in a worker of its own, all of one runtime process: one environment.
    assert len({pid for pid, _ in seen.values()}) == WORKERS, seen
    assert len({ppid for _, ppid in seen.values()}) == 1, seen
    counted = runs(root)
    assert all(counted[rid] == 1 for rid in seen), counted
    assert sum(counted.values()) == WORKERS + 1, counted  # and the warm-up


@pytest.mark.timeout(120)
def test_four_streamed_requests_to_one_asgi_environment_run_at_once(dev_server, tmp_path):
    root = write_handler(tmp_path, ASGI)
    server = _start(dev_server, root, "app.app")
    replies, elapsed = _at_once(server.url + "/", WORKERS)
    seen = _workers_seen(replies)
    assert elapsed < 1.5, (elapsed, server.logs())
    pids = {pid for pid, _ in seen.values()}
    assert len(pids) == WORKERS and len({ppid for _, ppid in seen.values()}) == 1, seen
    # Each worker ran the app's lifespan startup itself: its own init.
    starts = (root / "starts.log").read_text().split()
    assert {str(pid) for pid in pids} <= set(starts), (pids, starts)
    assert len(starts) == len(set(starts)), starts
    counted = runs(root)
    assert all(counted[rid] == 1 for rid in seen), counted
    assert sum(counted.values()) == WORKERS + 1, counted
