"""``Lambda-Runtime-Invocation-Id``: ``lambdastream dev`` hands one out with
each event, our runtime echoes it on every answer, and an answer carrying
another one (a stale response from an earlier run) is refused with 410."""

from __future__ import annotations

import json
import re
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from h11client import request
from support import write_handler

# Our runtime behind a recording TCP proxy: what it sends to the Runtime API
# and what it gets back are written to files, byte for byte.
PROXY = r"""
import os, socket, subprocess, sys, threading

upstream_host, upstream_port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
record = sys.argv[1]
listener = socket.create_server(("127.0.0.1", 0))

def pump(src, dst, path):
    with open(path, "ab") as out:
        while data := src.recv(65536):
            out.write(data)
            out.flush()  # recorded before it is forwarded
            dst.sendall(data)
    dst.shutdown(socket.SHUT_WR)

def serve():
    n = 0
    while True:
        runtime, _ = listener.accept()
        n += 1
        api = socket.create_connection((upstream_host, int(upstream_port)))
        for src, dst, name in ((runtime, api, "sent"), (api, runtime, "received")):
            args = (src, dst, f"{record}/{name}.{n}")
            threading.Thread(target=pump, args=args, daemon=True).start()

threading.Thread(target=serve, daemon=True).start()
env = {**os.environ, "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:%d" % listener.getsockname()[1]}
sys.exit(subprocess.call([sys.executable, "-m", "lambdastream.runtime"], env=env))
"""

HANDLERS = """
def handler(event, context):
    path = event["rawPath"]
    if path == "/fail":
        raise ValueError("boom")
    if path == "/stream":
        def body():
            yield "one "
            yield "two"
        return body()
    return {"statusCode": 200, "body": "buffered"}
"""


def _invocation_ids(record: Path, direction: str) -> list[tuple[str, str]]:
    """(request id, invocation id) of each /next answer or each /response, /error post."""
    wire = b"".join(p.read_bytes() for p in sorted(record.glob(f"{direction}.*"))).decode("latin-1")
    if direction == "received":
        heads = re.findall(r"HTTP/1.1 200 OK\r\n(?:.+\r\n)+\r\n", wire)
        out = []
        for head in heads:
            values = dict(re.findall(r"(?m)^([\w-]+): (.*)\r$", head))
            if "Lambda-Runtime-Aws-Request-Id" in values:
                out.append(
                    (
                        values["Lambda-Runtime-Aws-Request-Id"],
                        values["Lambda-Runtime-Invocation-Id"],
                    )
                )
        return out
    posts = re.findall(
        r"POST /2018-06-01/runtime/invocation/([^/]+)/\w+ HTTP/1.1\r\n((?:.+\r\n)+)", wire
    )
    return [
        (
            rid,
            dict(re.findall(r"(?m)^([\w-]+): (.*)\r$", head)).get(
                "Lambda-Runtime-Invocation-Id", ""
            ),
        )
        for rid, head in posts
    ]


@pytest.mark.timeout(30)
def test_our_runtime_echoes_the_invocation_id_on_every_answer(dev_server, tmp_path):
    root = write_handler(tmp_path / "fn", HANDLERS)
    write_handler(root, PROXY, name="proxy.py")
    record = tmp_path / "record"
    record.mkdir()
    server = dev_server("app.handler", root, "--bootstrap", f"{sys.executable} proxy.py {record}")
    assert request(server.url + "/buffered").body == b"buffered"
    assert request(server.url + "/stream").body == b"one two"
    assert request(server.url + "/fail").status == 502
    given = _invocation_ids(record, "received")
    echoed = _invocation_ids(record, "sent")
    assert len(given) >= 3 and len({inv for _, inv in given}) == len(given)
    # /response (buffered), /response (streamed), /error: each carries its event's id.
    assert echoed == given[:3]


WAITING = """
import os, pathlib, sys, time

def handler(event, context):
    print("api", os.environ["AWS_LAMBDA_RUNTIME_API"], "rid", context.aws_request_id, flush=True)
    go = pathlib.Path(__file__).with_name("go")
    for _ in range(200):
        if go.exists():
            break
        time.sleep(0.05)
    return {"statusCode": 200, "body": "from the function"}
"""


def _post_response(api: str, request_id: str, invocation_id: str | None) -> tuple[int, dict]:
    """POST a buffered /response to the Runtime API over a raw socket; return (status, JSON)."""
    host, port = api.rsplit(":", 1)
    body = b'{"statusCode": 200, "body": "stolen"}'
    extra = f"Lambda-Runtime-Invocation-Id: {invocation_id}\r\n" if invocation_id else ""
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"POST /2018-06-01/runtime/invocation/{request_id}/response HTTP/1.1\r\n"
            f"Host: {api}\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode()
            + body
        )
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, rest = data.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))
        while len(rest) < length:
            rest += sock.recv(65536)
    return int(head.split()[1]), json.loads(rest)


@pytest.mark.timeout(30)
def test_a_response_with_a_stale_invocation_id_is_410_and_changes_nothing(dev_server, tmp_path):
    root = write_handler(tmp_path, WAITING)
    server = dev_server("app.handler", root, "--timeout", "15")
    with ThreadPoolExecutor(1) as pool:
        reply = pool.submit(request, server.url + "/", timeout=20)
        found = server.wait_for_log(r"api (\S+) rid (\S+)")
        api, rid = found.group(1), found.group(2)
        # The right request id, the invocation id of some other (earlier) run.
        status, error = _post_response(api, rid, "00000000-0000-0000-0000-000000000000")
        assert (status, error["errorType"]) == (410, "InvalidRequestID")
        # A request id that is not the current invocation's.
        status, error = _post_response(api, "not-" + rid, None)
        assert (status, error["errorType"]) == (400, "InvalidRequestID")
        (root / "go").touch()
        answer = reply.result()
    assert answer.status == 200 and answer.body == b"from the function"
