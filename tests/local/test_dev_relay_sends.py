"""The relay's wire cost, counted (not timed): what the runtime sends in one
write leaves to the client in one send, on the Function URL and on the
Invoke API's event stream alike, under ``strace -c`` of the real dev server.

A runtime on raw sockets writes many chunks per send (as Node's client does
when writes queue up); the dev server must not turn them back into one send
per chunk (nor into several sends per read: a chunk's framing, then its
bytes, then the next framing). Each read is still sent as soon as it is
read: nothing waits for a later chunk.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from h11client import request
from support import lambda_client, missing, write_handler

from lambdastream.local.invoke_api import frame_payload_chunks
from lambdastream.wire.eventstream import EventStreamDecoder, encode_event

RAW_RUNTIME = Path(__file__).resolve().parents[1] / "raw_runtime.py"
SENDS = ("sendto", "sendmsg", "sendmmsg", "writev")

# Per invocation: `batches` sends of `per` chunks of `size` bytes, a pause
# between sends so that each one is its own read on the dev server's side.
BATCHING_RUNTIME = """
import json, time
from raw_runtime import PREFIX, Connection

api = Connection()
while True:
    rid, body = api.next_invocation()
    event = json.loads(body)
    spec = event.get("queryStringParameters") or event
    batches, per, size = (int(spec[k]) for k in ("batches", "per", "size"))
    api.send(
        f"POST {PREFIX}/invocation/{rid}/response HTTP/1.1\\r\\nHost: x\\r\\n"
        "Lambda-Runtime-Function-Response-Mode: streaming\\r\\n"
        "Content-Type: application/octet-stream\\r\\n"
        "Transfer-Encoding: chunked\\r\\n\\r\\n".encode()
    )
    frame = b"%x\\r\\n%s\\r\\n" % (size, b"x" * size)
    for _ in range(batches):
        api.send(frame * per)
        time.sleep(0.03)
    api.send(b"0\\r\\n\\r\\n")
    api.answer()
"""


@pytest.fixture(autouse=True)
def strace() -> None:
    if shutil.which("strace") is None:
        missing("strace", "make system-deps installs it")


def _start(dev_server, tmp_path: Path):
    shutil.copy(RAW_RUNTIME, tmp_path / "raw_runtime.py")
    root = write_handler(tmp_path, BATCHING_RUNTIME, name="runtime.py")
    # One environment: no runtime process starts while strace counts.
    return dev_server(
        "app.handler", root, "--bootstrap", f"{sys.executable} runtime.py",
        "--concurrency", "1", "--timeout", "60",
    )  # fmt: skip


def _counted(pid: int, out: Path, call) -> dict[str, int]:
    """Syscalls of process ``pid`` (all its threads) while ``call()`` runs."""
    tracer = subprocess.Popen(
        ["strace", "-f", "-c", "-e", "trace=network,write", "-o", str(out), "-p", str(pid)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert tracer.stderr is not None
    line = tracer.stderr.readline()  # "strace: Process N attached"
    assert "attached" in line, line
    time.sleep(0.3)  # every thread attached
    try:
        call()
        time.sleep(0.3)  # the runtime's 202 and the client's last bytes are sent
    finally:
        tracer.send_signal(signal.SIGINT)
        tracer.wait(30)
    counts: dict[str, int] = {}
    for calls, name in re.findall(
        r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$", out.read_text(), re.M
    ):
        counts[name] = int(calls)
    return counts


def _sends(counts: dict[str, int]) -> int:
    return sum(counts.get(name, 0) for name in SENDS)


@pytest.mark.timeout(60)
def test_function_url_sends_each_read_of_small_chunks_in_one_send(dev_server, tmp_path):
    server = _start(dev_server, tmp_path)
    query = "/?batches=4&per=500&size=16"
    assert request(server.url + query).body == b"x" * 16 * 2000  # warm
    replies = []
    counts = _counted(
        server.proc.pid,
        tmp_path / "strace.txt",
        lambda: replies.append(request(server.url + query)),
    )
    assert replies[0].status == 200 and replies[0].body == b"x" * 16 * 2000
    # 2000 chunks in 4 runtime sends: about one send per read, plus the
    # event to the runtime and its 202, never one per chunk.
    assert _sends(counts) <= counts.get("recvfrom", 0) + 3, counts
    assert _sends(counts) / 2000 < 0.01, counts


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("per", "size"), [(500, 16), (4, 20_000)])
def test_invoke_stream_sends_each_read_in_one_send(dev_server, tmp_path, per, size):
    server = _start(dev_server, tmp_path)
    lam = lambda_client(server.api_url)
    payload = {"batches": 6, "per": per, "size": size}

    def invoke() -> bytes:
        reply = lam.invoke_with_response_stream(FunctionName="app", Payload=json.dumps(payload))
        chunks = [e["PayloadChunk"]["Payload"] for e in reply["EventStream"] if "PayloadChunk" in e]
        # Each runtime chunk is still a PayloadChunk of its own (a large one
        # split across reads may be more than one).
        assert len(chunks) >= 6 * per
        return b"".join(chunks)

    assert invoke() == b"x" * size * per * 6  # warm
    bodies = []
    counts = _counted(server.proc.pid, tmp_path / "strace.txt", lambda: bodies.append(invoke()))
    assert bodies[0] == b"x" * size * per * 6
    # Before one buffer per read, each event of 16 KiB or more left in
    # sends of its own (chunk framing, event, framing of the next).
    assert _sends(counts) <= counts.get("recvfrom", 0) + 3, counts
    assert _sends(counts) / (6 * per) < 0.6, counts


@pytest.mark.parametrize(
    "pieces",
    [[b"a"], [b"hi", b"", b"there"], [memoryview(b"x" * 70_000), b"tail"], [b"\0" * 3]],
)
def test_payload_chunk_framing_is_encode_event_byte_for_byte(pieces):
    out = frame_payload_chunks(pieces)
    assert out is not None
    events = b"".join(
        encode_event("PayloadChunk", bytes(p), "application/octet-stream") for p in pieces if p
    )
    assert bytes(out[0]) == events
    assert bytes(out.frames[2]) == b"%x\r\n%s\r\n" % (len(events), events)
    decoded = EventStreamDecoder().feed(bytes(out[0]))
    assert [m.payload for m in decoded] == [bytes(p) for p in pieces if p]


def test_no_payload_no_event():
    assert frame_payload_chunks([b"", memoryview(b"")]) is None
    assert frame_payload_chunks([]) is None
