"""The function ``bench/soak.py`` runs under ``lambdastream dev``.

Everything it writes is derived from its request, so the client can
recompute every byte: ``content(seed, size)``, cut into chunks whose sizes
come from the same seed. The request (a Function URL query string, or the
Invoke API payload: the same keys, all strings) also says which failure to
inject and where:

    seed, size, lo, hi   the bytes, and the range of chunk sizes they are cut into
    kind                 ok | disconnect | raise-before | raise-after | timeout-before
                         | timeout-after | exit-before | exit-after | linger
    at                   for the *-after kinds: how many bytes go out before the failure
    code                 for exit-*: the exit status
    http                 "1": answer with a StreamingResponse (a prelude: status, headers)
    style                sync (a generator, the default) | async (an async generator
                         writing ``burst`` chunks per event-loop turn) | asgi (an ASGI
                         app, Function URL only, sending ``burst`` body messages per
                         turn and checking for a disconnect between turns as
                         Starlette's ``request.is_disconnected()`` does)
    burst                async and asgi: chunks per loop turn (1 to 100,000)
    bug                  a deliberate defect, so that the soak's own checks can be
                         seen to catch it (see ``soak.py --inject-bug``)

Every run of the handler appends its request id to the file named by
``$LAMBDASTREAM_SOAK_RUNS`` (one ``O_APPEND`` write): the soak counts the
runs of each request id, which must be exactly one.

Example (what the Function URL client sends)::

    GET /?seed=7&size=100&lo=1&hi=16&kind=raise-after&at=40 HTTP/1.1
    -> 200, the first 40 bytes of content(7, 100), then the error trailers
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

# Written when a function the client walked away from ran to its end.
FINISHED = "soak-finished seed="


class SoakError(Exception):
    """What an injected exception is; Lambda reports it under this class name."""


def content(seed: int, size: int) -> bytes:
    """The ``size`` bytes an invocation with ``seed`` writes.

    >>> content(1, 4) == content(1, 4) != content(2, 4)
    True
    """
    return random.Random(seed).randbytes(size)


def chunk_sizes(seed: int, size: int, lo: int, hi: int) -> Iterator[int]:
    """The sizes of the chunks ``content(seed, size)`` is written in (the last one cut short).

    >>> sum(chunk_sizes(3, 100, 1, 16))
    100
    """
    rng = random.Random(~seed)  # not `seed`: chunk sizes independent of the bytes
    left = size
    while left > 0:
        n = min(left, rng.randint(lo, hi))
        yield n
        left -= n


def record_run(request_id: str, times: int = 1) -> None:
    """Append ``request_id`` to ``$LAMBDASTREAM_SOAK_RUNS``, if set."""
    path = os.environ.get("LAMBDASTREAM_SOAK_RUNS")
    if not path:
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{request_id}\n".encode() * times)
    finally:
        os.close(fd)


def handler(event: dict[str, Any], context: Any) -> Any:
    spec = event.get("queryStringParameters") or event
    seed, size = int(spec["seed"]), int(spec["size"])
    kind, bug = spec["kind"], spec.get("bug", "")
    record_run(context.aws_request_id, 2 if bug == "rerun" else 1)
    if kind == "raise-before" and bug != "swallow":
        if bug == "wrong-type":
            raise ValueError(f"injected {kind} seed={seed}")
        raise SoakError(f"injected {kind} seed={seed}")
    if kind == "timeout-before":
        _sleep_past_deadline(context)
    if kind == "exit-before":
        os._exit(int(spec["code"]))
    if bug == "orphan":
        _leave_orphan()
    style = spec.get("style", "sync")
    if style == "asgi":
        return _asgi_handler()(event, context)
    body: Any
    if style == "async":
        body = _in_bursts(spec, context, seed, size, kind, bug)
    else:
        body = _body(spec, context, seed, size, kind, bug)
    if spec.get("http") == "1":
        from lambdastream import StreamingResponse

        # The seed in a header: headers that reach the wrong client show.
        return StreamingResponse(body, headers={"x-soak-seed": str(seed)})
    return body


def _body(
    spec: dict[str, str], context: Any, seed: int, size: int, kind: str, bug: str
) -> Iterator[bytes]:
    yield from _chunks(spec, context, seed, size, kind, bug)
    _fail_after(spec, context, seed, kind, bug)


def _chunks(
    spec: dict[str, str], context: Any, seed: int, size: int, kind: str, bug: str
) -> Iterator[bytes]:
    """The chunks the function writes, up to where an injected failure comes."""
    data = content(seed, size)
    if bug == "flip":  # one byte wrong in the middle
        data = data[: size // 2] + bytes([data[size // 2] ^ 0xFF]) + data[size // 2 + 1 :]
    elif bug == "truncate":  # the last byte never written
        data = data[:-1]
    stop = int(spec["at"]) if kind.endswith("-after") else len(data)
    pos = 0
    for n in chunk_sizes(seed, size, int(spec["lo"]), int(spec["hi"])):
        n = min(n, stop - pos)
        if n <= 0:
            break
        yield data[pos : pos + n]
        pos += n
        if kind == "disconnect" and pos == n:
            # Give the client time to go away while the function still runs.
            time.sleep(0.05)
        elif kind == "linger":
            _sleep_past_deadline(context)  # until the dev server stops or times it out


def _fail_after(spec: dict[str, str], context: Any, seed: int, kind: str, bug: str) -> None:
    """The injected failure after the first byte, or the end of a disconnected run."""
    if kind == "raise-after" and bug != "swallow":
        raise SoakError(f"injected {kind} seed={seed}")
    if kind == "timeout-after":
        _sleep_past_deadline(context)
    if kind == "exit-after":
        os._exit(int(spec["code"]))
    if kind == "disconnect":
        print(f"{FINISHED}{seed}")


async def _in_bursts(
    spec: dict[str, str], context: Any, seed: int, size: int, kind: str, bug: str
) -> AsyncIterator[bytes]:
    """The body as an async generator: ``burst`` chunks, then a turn of the loop.

    An async function's chunks leave when it next lets the event loop run
    (as in Node.js): before an injected exit or a blocking sleep, it does.
    """
    import asyncio

    burst = int(spec.get("burst", "1"))
    for i, chunk in enumerate(_chunks(spec, context, seed, size, kind, bug), 1):
        yield chunk
        if i % burst == 0:
            await asyncio.sleep(0)
    await asyncio.sleep(0)
    _fail_after(spec, context, seed, kind, bug)


async def _asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The same bytes from an ASGI app, with the disconnect checks LLM streams make."""
    import asyncio
    from urllib.parse import parse_qsl

    if scope["type"] != "http":
        return
    spec = dict(parse_qsl(scope["query_string"].decode()))
    seed, size, kind = int(spec["seed"]), int(spec["size"]), spec["kind"]
    burst = int(spec.get("burst", "1"))
    assert (await receive())["type"] == "http.request"
    headers = [(b"content-type", b"application/octet-stream"), (b"x-soak-seed", str(seed).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    context, bug = scope["aws.context"], spec.get("bug", "")
    for i, chunk in enumerate(_chunks(spec, context, seed, size, kind, bug), 1):
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if i % burst == 0:
            # Starlette's is_disconnected(): receive() cancelled while it waits.
            pending = asyncio.ensure_future(receive())
            await asyncio.sleep(0)
            if pending.done() and pending.result()["type"] == "http.disconnect":
                raise RuntimeError("told of a disconnect before the response was complete")
            pending.cancel()
    await asyncio.sleep(0)  # what was sent leaves before a failure that stops the loop
    _fail_after(spec, context, seed, kind, bug)
    await send({"type": "http.response.body", "body": b""})


_served: Any = None


def _asgi_handler() -> Any:
    global _served
    if _served is None:
        from lambdastream.asgi import asgi

        _served = asgi(_asgi_app, lifespan="off")
    return _served


def _sleep_past_deadline(context: Any) -> None:
    # The dev server kills the environment at the deadline; sleeping 10 s
    # beyond it means a timeout that is not enforced still ends, and shows.
    time.sleep(context.get_remaining_time_in_millis() / 1000 + 10)


def _leave_orphan() -> None:
    """A deliberate defect: a process that escapes the environment and outlives it.

    It keeps the environment's variables (so the soak can find it) but no
    descriptor of the runtime's, and ends by itself after 60 s.
    """
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)
        return
    os.setsid()  # out of the runtime's process group: killing that misses it
    if os.fork():
        os._exit(0)
    os.closerange(0, 1024)
    time.sleep(60)
    os._exit(0)
