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
    bug                  a deliberate defect, so that the soak's own checks can be
                         seen to catch it (see ``soak.py --inject-bug``)

Example (what the Function URL client sends)::

    GET /?seed=7&size=100&lo=1&hi=16&kind=raise-after&at=40 HTTP/1.1
    -> 200, the first 40 bytes of content(7, 100), then the error trailers
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
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


def handler(event: dict[str, Any], context: Any) -> Any:
    spec = event.get("queryStringParameters") or event
    seed, size = int(spec["seed"]), int(spec["size"])
    kind, bug = spec["kind"], spec.get("bug", "")
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
    body = _body(spec, context, seed, size, kind, bug)
    if spec.get("http") == "1":
        from lambdastream import StreamingResponse

        # The seed in a header: headers that reach the wrong client show.
        return StreamingResponse(body, headers={"x-soak-seed": str(seed)})
    return body


def _body(
    spec: dict[str, str], context: Any, seed: int, size: int, kind: str, bug: str
) -> Iterator[bytes]:
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
    if kind == "raise-after" and bug != "swallow":
        raise SoakError(f"injected {kind} seed={seed}")
    if kind == "timeout-after":
        _sleep_past_deadline(context)
    if kind == "exit-after":
        os._exit(int(spec["code"]))
    if kind == "disconnect":
        print(f"{FINISHED}{seed}")


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
