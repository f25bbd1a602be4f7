"""Many streams at once, and a slow client: nothing mixed, nothing lost,
nothing buffered without bound."""

from __future__ import annotations

import threading
import time

import pytest
from h11client import request
from support import write_handler

CONCURRENT = 50

MANY = """
import os, time

BUSY = os.environ["BUSY_DIR"]
ARRIVED = os.environ["ARRIVED_DIR"]

def handler(event, context):
    me = event["rawPath"].strip("/")
    # A second invocation in this process while one runs would find the mark.
    mark = os.path.join(BUSY, str(os.getpid()))
    os.close(os.open(mark, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    try:
        yield f"{me}:start\\n"
        # Nobody finishes before all have started: all are in flight at once.
        open(os.path.join(ARRIVED, me), "w").close()
        deadline = time.time() + 40
        while len(os.listdir(ARRIVED)) < int(os.environ["EXPECTED"]) and time.time() < deadline:
            time.sleep(0.05)
        yield f"{me}:in-flight={len(os.listdir(ARRIVED))}\\n"
        for i in range(200):
            yield f"{me}:{i}:" + me * 20 + "\\n"
    finally:
        os.unlink(mark)
"""


@pytest.mark.timeout(120)
def test_fifty_concurrent_streams_each_get_their_own_bytes(dev_server, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (tmp_path / "arrived").mkdir()
    root = write_handler(tmp_path / "code", MANY)
    server = dev_server(
        "app.handler", root, "--concurrency", str(CONCURRENT), "--timeout", "60",
        "--env", f"BUSY_DIR={busy}", "--env", f"ARRIVED_DIR={tmp_path / 'arrived'}",
        "--env", f"EXPECTED={CONCURRENT}",
    )  # fmt: skip
    replies: dict[str, object] = {}

    def one(name: str) -> None:
        replies[name] = request(f"{server.url}/{name}", timeout=90)

    names = [f"s{i:02d}" for i in range(CONCURRENT)]
    threads = [threading.Thread(target=one, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = {
        n: (replies[n].status, replies[n].body[:60]) for n in names if replies[n].status != 200
    }
    assert not statuses, (statuses, server.logs()[-3000:])
    for name in names:
        reply = replies[name]
        assert reply.status == 200 and reply.complete, name
        expected = f"{name}:start\n{name}:in-flight={CONCURRENT}\n" + "".join(
            f"{name}:{i}:" + name * 20 + "\n" for i in range(200)
        )
        assert reply.body.decode() == expected
    assert server.logs().count("INIT_START") == CONCURRENT
    assert "Error" not in server.logs()


BIG = """
import os

def handler(event, context):
    block = b"z" * (1024 * 1024)
    for i in range(150):
        with open(os.environ["PROGRESS"], "w") as f:
            f.write(str(i))
        yield block
"""


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.timeout(120)
def test_slow_client_backs_up_the_runtime_instead_of_buffering(dev_server, tmp_path):
    import socket

    progress = tmp_path / "progress"
    root = write_handler(tmp_path / "code", BIG)
    server = dev_server("app.handler", root, "--timeout", "60", "--env", f"PROGRESS={progress}")
    baseline = rss_mb(server.proc.pid)
    host, port = server.url.split("//")[1].split(":")
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    # Read nothing for a while: the stream must stall, not pile up in the dev server.
    time.sleep(3)
    written = int(progress.read_text())
    grown = rss_mb(server.proc.pid) - baseline
    assert written < 60, f"the function wrote {written} MiB while the client read nothing"
    assert grown < 40, f"the dev server grew by {grown:.0f} MB"
    total = 0
    while True:
        data = sock.recv(1 << 20)
        if not data:
            break
        total += len(data)
        if data.endswith(b"0\r\n\r\n"):
            break
    sock.close()
    assert total > 150 * 1024 * 1024
    assert int(progress.read_text()) == 149


TEN_MB = """
def handler(event, context):
    block = b"b" * 1_000_000
    for _ in range(10):
        yield block
"""


def read_all(url: str) -> tuple[float, int, bytes]:
    """GET ``url`` over a raw socket; return (seconds, bytes received, last 4 KB)."""
    import socket

    host, port = url.split("//")[1].split(":")
    sock = socket.create_connection((host, int(port.rstrip("/"))))
    start = time.monotonic()
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    total, tail = 0, b""
    while data := sock.recv(1 << 20):
        total += len(data)
        tail = (tail + data)[-4096:]
    sock.close()
    return time.monotonic() - start, total, tail


@pytest.mark.timeout(60)
def test_emulate_bandwidth_caps_after_6_mb(dev_server, tmp_path):
    root = write_handler(tmp_path, TEN_MB)
    fast = dev_server("app.handler", root, "--timeout", "30")
    seconds, total, _ = read_all(fast.url)
    assert total > 10_000_000 and seconds < 1.5
    slow = dev_server("app.handler", root, "--timeout", "30", "--emulate-bandwidth")
    seconds, total, tail = read_all(slow.url)
    # 4 MB beyond the free 6 MB at 2 MB/s: about 2 s.
    assert total > 10_000_000 and tail.endswith(b"0\r\n\r\n")
    assert 1.5 < seconds < 6


OVER_LIMIT = """
def handler(event, context):
    block = b"o" * (1024 * 1024)
    for _ in range(200):
        yield block
    print("FINISHED")
"""


@pytest.mark.timeout(120)
def test_stream_over_200_mb_is_cut_with_an_error(dev_server, tmp_path):
    server = dev_server("app.handler", write_handler(tmp_path, OVER_LIMIT), "--timeout", "60")
    _, total, tail = read_all(server.url)
    assert 200_000_000 - 2_000_000 < total < 200 * 1024 * 1024
    assert b"Lambda-Runtime-Function-Error-Type: Function.ResponseSizeTooLarge\r\n" in tail
    assert tail.endswith(b"\r\n\r\n")
    server.wait_for_log("FINISHED")  # the function ran to its end; only the stream was cut
