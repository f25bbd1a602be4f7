"""The HTTP server's timeouts, upload budget and interim answers, probed the
way a hostile client would, over raw sockets against the real
``lambdastream dev`` (its memory read from /proc)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time

import h11
import pytest
from h11client import request
from probes import Trickle, connect, median_latency, read_until_closed, rss_kib
from support import lambda_client, write_handler

HANDLER = """
import base64
import time

def handler(event, context):
    if event.get("rawPath") == "/slow":
        def body():
            yield "first "
            time.sleep(0.6)
            yield "second"
        return body()
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body)
    return {"statusCode": 200, "body": "got %d" % len(body)}
"""

MIB = 1024 * 1024
MAX_REQUEST = 6 * MIB  # Lambda's synchronous payload limit
# What lambdastream dev may hold, at most, through any of these probes.
RSS_LIMIT_KIB = 150 * 1024
# A normal request, answered while the probes run.
FAST = 0.050


def _start(dev_server, tmp_path, **env: str):
    server = dev_server("app.handler", write_handler(tmp_path, HANDLER), env=env)
    assert request(server.url + "/").status == 200  # the runtime is warm
    return server


def _assert_memory_bounded(server) -> None:
    memory = rss_kib(server.proc.pid)
    assert memory.hwm < RSS_LIMIT_KIB, memory


def _events(conn: h11.Connection, sock: socket.socket, until: type) -> list:
    """h11 events from ``sock`` up to and including the first of type ``until``."""
    events = []
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = sock.recv(65536)
            assert data, f"the server closed after {events!r}"
            conn.receive_data(data)
            continue
        events.append(event)
        if isinstance(event, until):
            return events


@pytest.mark.timeout(60)
def test_pipelined_100_continue_waits_for_its_turn(dev_server, tmp_path):
    """A pipelined POST that expects 100-continue, sent while a stream is on
    the wire, gets its 100 only after that stream ended: never inside it."""
    server = _start(dev_server, tmp_path)
    client = h11.Connection(h11.CLIENT)
    stream_request = client.send(h11.Request(method="GET", target="/slow", headers=[("Host", "x")]))
    assert stream_request is not None
    end = client.send(h11.EndOfMessage()) or b""
    post_head = (
        b"POST /upload HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
    )
    with connect(server.url) as sock:
        sock.sendall(stream_request + end + post_head)
        events = _events(client, sock, h11.EndOfMessage)  # h11 refuses a 100 inside a body
        assert isinstance(events[0], h11.Response) and events[0].status_code == 200
        assert b"".join(bytes(e.data) for e in events if isinstance(e, h11.Data)) == (
            b"first second"
        )
        client.start_next_cycle()
        client.send(
            h11.Request(
                method="POST",
                target="/upload",
                headers=[("Host", "x"), ("Expect", "100-continue"), ("Content-Length", "5")],
            )
        )
        (interim,) = _events(client, sock, h11.InformationalResponse)
        assert interim.status_code == 100
        sock.sendall(
            client.send(h11.Data(data=b"hello")) + (client.send(h11.EndOfMessage()) or b"")
        )
        events = _events(client, sock, h11.EndOfMessage)
        assert events[0].status_code == 200
        assert b"".join(bytes(e.data) for e in events if isinstance(e, h11.Data)) == b"got 5"
    _assert_memory_bounded(server)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("expect", [True, False], ids=["expect-100", "no-expect"])
@pytest.mark.parametrize("length", [MAX_REQUEST + 1, 10**12], ids=["6MiB+1", "10^12"])
def test_content_length_over_the_limit_is_413_at_once(dev_server, tmp_path, expect, length):
    server = _start(dev_server, tmp_path)
    head = f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n"
    if expect:
        head += "Expect: 100-continue\r\n"
    with connect(server.url) as sock:
        sock.sendall((head + "\r\n").encode())  # and no body
        started = time.monotonic()
        answer, closed = read_until_closed(sock, timeout=10)
    # Answered at once (no 100 Continue first), and the connection ends:
    # the body is not waited for.
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert closed and time.monotonic() - started < 8
    assert json.loads(answer.partition(b"\r\n\r\n")[2]) == {
        "Message": f"Request must be smaller than {MAX_REQUEST} bytes"
        " for the InvokeFunction operation"
    }
    assert server.logs().count("START RequestId") == 1  # only the warm-up ran
    _assert_memory_bounded(server)


@pytest.mark.timeout(60)
def test_invoke_api_content_length_over_the_limit_is_413_at_once(dev_server, tmp_path):
    server = _start(dev_server, tmp_path)
    head = (
        "POST /2015-03-31/functions/app/invocations HTTP/1.1\r\nHost: x\r\n"
        f"Content-Length: {10**12}\r\nExpect: 100-continue\r\n\r\n"
    )
    with connect(server.api_url) as sock:
        sock.sendall(head.encode())
        answer, closed = read_until_closed(sock, timeout=10)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"x-amzn-ErrorType: RequestTooLargeException" in answer
    assert closed
    _assert_memory_bounded(server)


@pytest.mark.timeout(60)
def test_chunked_body_over_the_limit_is_413_before_it_ends(dev_server, tmp_path):
    server = _start(dev_server, tmp_path)
    with connect(server.url) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        piece = b"%x\r\n%s\r\n" % (MIB, b"x" * MIB)
        try:
            for _ in range(7):  # 7 MiB, and never the last chunk
                sock.sendall(piece)
        except OSError:
            pass  # the server may stop reading once it has answered
        answer, closed = read_until_closed(sock, timeout=10)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert closed
    assert server.logs().count("START RequestId") == 1
    _assert_memory_bounded(server)


@pytest.mark.timeout(90)
def test_slowloris_heads_time_out_and_the_server_stays_fast(dev_server, tmp_path):
    """200 sockets each sending a head a byte at a time: closed after the
    header timeout; meanwhile a normal request is still answered at once."""
    server = _start(dev_server, tmp_path, LAMBDASTREAM_HTTP_HEADER_TIMEOUT="3")
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10_000
    with Trickle(server.url, 200, head, interval=0.1) as trickle:
        time.sleep(1.0)
        assert trickle.open_count() == 200  # still within their header time
        assert median_latency(server.url + "/") < FAST
        deadline = time.monotonic() + 15
        while trickle.open_count() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert trickle.open_count() == 0
        closed_after = [at for at in trickle.closed_at if at is not None]
        assert min(closed_after) > 2.0  # not before their time
    _assert_memory_bounded(server)
    assert request(server.url + "/").status == 200


@pytest.mark.timeout(60)
def test_idle_connections_are_closed_after_the_keep_alive_timeout(dev_server, tmp_path):
    server = _start(dev_server, tmp_path, LAMBDASTREAM_HTTP_IDLE_TIMEOUT="1")
    with connect(server.url) as silent, connect(server.url) as kept:
        kept.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        started = time.monotonic()
        answer, closed = read_until_closed(kept, timeout=10)
        assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"got 0")
        assert closed and 0.5 < time.monotonic() - started < 6
        assert read_until_closed(silent, timeout=5) == (b"", True)
    _assert_memory_bounded(server)


def _upload(url: str, length: int, send: int, results: list, index: int) -> None:
    """POST a body of ``length`` bytes but send only ``send`` of them; record
    (what came back, whether the server closed, seconds until it did)."""
    started = time.monotonic()
    try:
        with connect(url, timeout=30) as sock:
            sock.sendall(f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n".encode())
            with contextlib.suppress(OSError):  # refused: the server stopped reading
                sock.sendall(b"x" * send)
            answer, closed = read_until_closed(sock, timeout=20)
    except OSError as exc:
        answer, closed = repr(exc).encode(), True
    results[index] = (answer, closed, time.monotonic() - started)


@pytest.mark.timeout(120)
def test_stalled_uploads_are_bounded_throttled_and_timed_out(dev_server, tmp_path):
    """50 uploads of 6 MB that stop after 5 MB: the ones over the upload budget
    get Lambda's 429 at once, the others a 408 after the body timeout; memory
    stays bounded and a normal request stays fast."""
    server = _start(dev_server, tmp_path, LAMBDASTREAM_HTTP_BODY_TIMEOUT="4")
    results: list = [None] * 50
    threads = [
        threading.Thread(target=_upload, args=(server.url, 6_000_000, 5_000_000, results, i))
        for i in range(50)
    ]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    assert median_latency(server.url + "/") < FAST
    for thread in threads:
        thread.join(60)
    statuses = [
        answer.split(b" ", 2)[1] if answer.startswith(b"HTTP/") else answer
        for answer, _, _ in results
    ]
    assert set(statuses) == {b"429", b"408"}, statuses
    assert all(closed for _, closed, _ in results)
    for answer, _, seconds in results:
        if b" 429 " in answer[:13]:
            assert json.loads(answer.partition(b"\r\n\r\n")[2]) == {"Message": "Rate Exceeded."}
        else:
            assert seconds > 3.5  # held only until the body stopped for the timeout
    _assert_memory_bounded(server)
    # The budget came back: a whole 6 MB upload goes through.
    reply = request(server.url + "/", method="POST", body=b"y" * 6_000_000)
    assert (reply.status, reply.body) == (200, b"got 6000000")
    assert "START RequestId" in server.logs()


@pytest.mark.timeout(120)
def test_each_upload_is_freed_when_its_answer_ends(dev_server, tmp_path):
    """20 uploads of 6 MB one after another: memory does not grow with them
    (nothing waits for a garbage collection to free a body)."""
    server = _start(dev_server, tmp_path)
    for _ in range(20):
        reply = request(server.url + "/", method="POST", body=b"y" * 6_000_000)
        assert (reply.status, reply.body) == (200, b"got 6000000")
    _assert_memory_bounded(server)


@pytest.mark.timeout(60)
def test_upload_budget_throttles_the_invoke_api_as_lambda_does(dev_server, tmp_path):
    server = _start(
        dev_server,
        tmp_path,
        LAMBDASTREAM_HTTP_UPLOAD_BUDGET=str(MIB),
        LAMBDASTREAM_HTTP_BODY_TIMEOUT="30",
    )
    lam = lambda_client(server.api_url)
    payload = json.dumps({"pad": "p" * 300_000}).encode()
    with connect(server.api_url) as holder:
        # Holds 900 kB of the 1 MiB budget with a body that is still coming.
        holder.sendall(
            b"POST /2015-03-31/functions/app/invocations HTTP/1.1\r\nHost: x\r\n"
            b'Content-Length: 900000\r\n\r\n{"a": "'
        )
        time.sleep(0.3)
        with pytest.raises(lam.exceptions.TooManyRequestsException) as info:
            lam.invoke(FunctionName="app", Payload=payload)
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
        reply = request(server.url + "/", method="POST", body=payload)
        assert (reply.status, json.loads(reply.body)) == (429, {"Message": "Rate Exceeded."})
    # The holder went away: its share of the budget is back at once.
    deadline = time.monotonic() + 5
    while True:
        try:
            answer = lam.invoke(FunctionName="app", Payload=payload)
            break
        except lam.exceptions.TooManyRequestsException:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert answer["StatusCode"] == 200
    _assert_memory_bounded(server)
