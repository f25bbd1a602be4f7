"""Lambda Managed Instances: ``AWS_LAMBDA_MAX_CONCURRENCY=N`` runs N worker processes.

The real runtime process runs against a Runtime API that speaks as Managed
Instances' does (``managed_runtime_api.py``); its handlers record every run
(``runcount``). What AWS says a Python runtime does there (sources in
docs/managed-instances.md): one process per concurrent request, each with its
own init and its own ``/next`` loop; logs always JSON with the request id; a
failed ``/next`` retried with backoff; the first init error reported, a 403
for a later one ignored; a worker that crashes leaves the others serving.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
from managed_runtime_api import (
    Answer,
    Delivery,
    ManagedRuntimeApi,
    kill_runtime,
    start_runtime,
    stop_runtime,
)
from runcount import RECORD_RUN, runs

from lambdastream.wire.integration import PRELUDE_DELIMITER

HANDLERS = (
    RECORD_RUN
    + '''
import asyncio, json, logging, os, time

from lambdastream import StreamingResponse
from lambdastream.asgi import asgi
from lambdastream.wsgi import wsgi

log = logging.getLogger("app")


def seen(context):
    """What this invocation sees of itself, read once the others have begun theirs."""
    return json.dumps({
        "rid": context.aws_request_id,
        "trace": context.xray_trace_id,
        "env_trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "pid": os.getpid(),
        "ppid": os.getppid(),
    })


def begin(context):
    record_run(context.aws_request_id)
    log.info("handling %s", context.aws_request_id)


def generator(event, context):
    begin(context)
    yield "start;"
    time.sleep(event.get("seconds", 1))
    yield seen(context)


async def async_generator(event, context):
    begin(context)
    yield "start;"
    await asyncio.sleep(1)
    yield seen(context)


def streaming_response(event, context):
    begin(context)

    def body():
        yield "start;"
        time.sleep(1)
        yield seen(context)

    return StreamingResponse(body(), headers={"content-type": "text/plain"})


async def _asgi_app(scope, receive, send):
    context = scope["aws.context"]
    begin(context)
    headers = [(b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"start;", "more_body": True})
    await asyncio.sleep(1)
    await send({"type": "http.response.body", "body": seen(context).encode()})


_asgi = asgi(_asgi_app, lifespan="off")


def _wsgi_app(environ, start_response):
    context = environ["aws.context"]
    begin(context)
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"start;"
    time.sleep(1)
    yield seen(context).encode()


_wsgi = wsgi(_wsgi_app)


def buffered(event, context):
    begin(context)
    return json.loads(seen(context))


def die(event, context):
    begin(context)
    time.sleep(0.3)
    os.kill(os.getpid(), 9)


def handler(event, context):
    kind = event.get("kind") or event["rawPath"].strip("/")
    if kind == "asgi":
        return _asgi(event, context)
    if kind == "wsgi":
        return _wsgi(event, context)
    return globals()[kind](event, context)
'''
)

KINDS = ["generator", "async_generator", "streaming_response", "asgi", "wsgi"]
WEB = {"streaming_response", "asgi", "wsgi"}
LOGS = {"AWS_LAMBDA_LOG_LEVEL": "INFO"}


def event(kind: str, **fields: object) -> bytes:
    if kind in ("asgi", "wsgi"):
        host = "abc.lambda-url.us-east-1.on.aws"
        return json.dumps(
            {
                "version": "2.0",
                "rawPath": f"/{kind}",
                "rawQueryString": "",
                "headers": {"host": host},
                "requestContext": {
                    "http": {"method": "GET", "sourceIp": "1.2.3.4"},
                    "domainName": host,
                },
            }
        ).encode()
    return json.dumps({"kind": kind, **fields}).encode()


def trace(n: int) -> str:
    return f"Root=1-5f84c7a1-{n:024x};Parent={n:016x};Sampled=1"


def seen(answer: Answer, web: bool) -> dict:
    """The handler's report, from a streamed body: ``start;`` then its JSON."""
    body = answer.body
    if web:
        prelude, delimiter, body = body.partition(PRELUDE_DELIMITER)
        assert delimiter and json.loads(prelude)["statusCode"] == 200, answer.body
    first, _, rest = body.partition(b";")
    assert first == b"start", answer.body
    return json.loads(rest)


def json_lines(text: str) -> list[dict]:
    """Every line the runtime wrote, each of which must be one JSON object."""
    lines = [line for line in text.splitlines() if line]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON log line: {line!r}") from None
    return records


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(HANDLERS)
    return tmp_path


@pytest.mark.timeout(60)
@pytest.mark.parametrize("workers", [4, 16])
def test_n_streamed_invocations_run_at_once_each_in_its_own_worker(root, workers):
    api = ManagedRuntimeApi(max_concurrency=workers)
    stale = "Root=1-00000000-000000000000000000000000;Parent=0;Sampled=0"
    proc = start_runtime(api, root, "app.handler", workers, env={**LOGS, "_X_AMZN_TRACE_ID": stale})
    try:
        api.wait_idle(workers)
        kinds = {f"r{i}": KINDS[i % len(KINDS)] for i in range(workers)}
        traces = {rid: trace(i) for i, rid in enumerate(kinds)}
        deliveries = [Delivery(rid, event(kind), traces[rid]) for rid, kind in kinds.items()]
        started = time.monotonic()
        api.add(*deliveries)
        api.wait_answered(list(kinds), timeout=15)
        answers = {rid: api.answers[rid] for rid in kinds}
    finally:
        api.close()
        out, err = stop_runtime(proc)

    # One second each, all at once: together, not one after the other.
    finished = max(a[0].done_at for a in answers.values()) - started
    assert 1.0 <= finished < 1.5, (finished, api.log)
    reports = {}
    for rid, (answer, *again) in answers.items():
        assert not again and answer.kind == "response", (rid, answers[rid], err)
        # Streamed: the first chunk left before the handler's second was over.
        assert answer.first_byte_at - started < 0.9, (rid, answer.first_byte_at - started)
        reports[rid] = seen(answer, kinds[rid] in WEB)
    assert runs(root) == {rid: 1 for rid in kinds}, (api.log, err)
    # Each ran in a worker of its own, every worker a child of the runtime process.
    assert len({r["pid"] for r in reports.values()}) == workers, reports
    assert {r["ppid"] for r in reports.values()} == {proc.pid}, reports
    # Each saw its own trace id, a second after every other invocation began.
    for rid, report in reports.items():
        assert report["rid"] == rid
        assert report["trace"] == traces[rid] == report["env_trace"], report
    # Logs are JSON lines, each carrying the request id of the invocation it belongs to.
    handling = [r for r in json_lines(out) if str(r.get("message", "")).startswith("handling ")]
    assert sorted(r["message"] for r in handling) == sorted(f"handling {rid}" for rid in kinds)
    assert all(r["message"] == f"handling {r['requestId']}" for r in handling), handling


@pytest.mark.timeout(60)
@pytest.mark.parametrize("workers", [4, 16])
def test_an_init_error_is_reported_once_and_the_runtime_exits(tmp_path, workers):
    (tmp_path / "app.py").write_text("raise RuntimeError('no database')\n")
    api = ManagedRuntimeApi(max_concurrency=workers)
    proc = start_runtime(api, tmp_path, "app.handler", workers)
    try:
        out, err = stop_runtime(proc)
    finally:
        api.close()
    assert proc.returncode == 1, (out, err)
    assert api.init_errors == [(202, "RuntimeError")], (api.init_errors, api.log)
    errors = [r for r in json_lines(out) if r.get("level") == "ERROR"]
    assert errors and {r["errorMessage"] for r in errors} == {"no database"}, out
    assert "GET invocation/next" not in api.log
    assert "could not report" not in err, err


@pytest.mark.timeout(60)
def test_a_worker_failing_init_after_another_is_ready_leaves_the_others_serving(tmp_path):
    # The first worker to import the module succeeds; the others fail once
    # it waits in /next: init is then complete (Lambda answers their
    # /init/error with 403, which is no one's to report), and the
    # environment serves on with the one healthy worker.
    (tmp_path / "app.py").write_text(
        RECORD_RUN
        + """
import os, time

try:
    os.close(os.open("first", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
except FileExistsError:
    time.sleep(0.5)
    raise RuntimeError("this worker cannot start")


def handler(event, context):
    record_run(context.aws_request_id)
    return {"pid": os.getpid()}
"""
    )
    api = ManagedRuntimeApi(max_concurrency=3)
    proc = start_runtime(api, tmp_path, "app.handler", 3)
    try:
        api.wait_idle(1)
        deadline = time.monotonic() + 10
        while len(api.init_errors) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        assert proc.poll() is None, "the runtime exited with a healthy worker left"
        api.add(Delivery("r1"), Delivery("r2"))
        api.wait_answered(["r1", "r2"])
    finally:
        api.close()
        _out, err = stop_runtime(proc)
    assert [status for status, _ in api.init_errors] == [403], (api.init_errors, api.log)
    assert [a.kind for rid in ("r1", "r2") for a in api.answers[rid]] == ["response"] * 2
    assert runs(tmp_path) == {"r1": 1, "r2": 1}
    assert "could not report" not in err and "403" not in err, err


@pytest.mark.timeout(60)
def test_a_worker_that_dies_fails_its_invocation_and_the_others_serve_on(root):
    # AWS: when a runtime worker crashes, the environment carries on with the
    # remaining healthy workers. Its invocation is reported failed
    # (Runtime.ExitError) at once rather than left to time out.
    api = ManagedRuntimeApi(max_concurrency=4)
    proc = start_runtime(api, root, "app.handler", 4)
    try:
        api.wait_idle(4)
        api.add(
            Delivery("dies", event("die")),
            *(Delivery(f"a{i}", event("generator")) for i in range(3)),
        )
        api.wait_answered(["dies", "a0", "a1", "a2"])
        api.wait_idle(3)
        time.sleep(0.5)
        assert api.waiting() == 3, "a worker was started again"
        started = time.monotonic()
        api.add(*(Delivery(f"b{i}", event("generator")) for i in range(3)))
        api.wait_answered(["b0", "b1", "b2"])
        finished = max(api.answers[f"b{i}"][0].done_at for i in range(3)) - started
        assert proc.poll() is None
    finally:
        api.close()
        _out, err = stop_runtime(proc)
    [died] = api.answers["dies"]
    assert died.kind == "error" and died.error_type == "Runtime.ExitError", died
    assert json.loads(died.body)["requestId"] == "dies"
    assert finished < 1.5, finished
    others = [rid for rid in api.answers if rid != "dies"]
    assert all(api.answers[rid][0].kind == "response" for rid in others), api.log
    assert runs(root) == {rid: 1 for rid in ["dies", *others]}
    pids = {seen(api.answers[rid][0], False)["pid"] for rid in others}
    assert len(pids) == 3, pids
    assert "signal 9" in err and "dies" in err, err


@pytest.mark.timeout(60)
def test_the_runtime_exits_once_its_last_worker_died(root):
    api = ManagedRuntimeApi(max_concurrency=2)
    proc = start_runtime(api, root, "app.handler", 2)
    try:
        api.wait_idle(2)
        api.add(Delivery("d1", event("die")), Delivery("d2", event("die")))
        _out, _err = stop_runtime(proc)
    finally:
        api.close()
    assert proc.returncode != 0
    assert [api.answers[rid][0].error_type for rid in ("d1", "d2")] == ["Runtime.ExitError"] * 2


@pytest.mark.timeout(60)
def test_two_workers_never_run_one_delivery(root):
    # A Runtime API that hands an answered invocation out once more, to the
    # worker that has waited longest: another one. It must refuse it, as the
    # one-process runtime refuses a re-delivery. Lambda's retry of an event
    # (same request id, a new deadline) is a new delivery and runs again.
    api = ManagedRuntimeApi(max_concurrency=4, redeliver={"r1"})
    proc = start_runtime(api, root, "app.handler", 4)
    try:
        api.wait_idle(4)
        api.add(Delivery("r1", event("buffered")))
        api.wait_answered(["r1"])
        deadline = time.monotonic() + 10
        while len(api.answers["r1"]) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        retry = Delivery("r2", event("buffered"), deadline_ms="4102444900000", invocation_id="b")
        api.add(Delivery("r2", event("buffered"), invocation_id="a"))
        api.wait_answered(["r2"])
        api.add(retry)
        deadline = time.monotonic() + 10
        while len(api.answers["r2"]) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        api.close()
        _out, err = stop_runtime(proc)
    first, again = api.answers["r1"]
    assert first.kind == "response" and again.error_type == "Runtime.DuplicateInvocation"
    assert first.connection != again.connection, api.log  # another worker's
    assert [a.kind for a in api.answers["r2"]] == ["response", "response"]
    assert runs(root) == {"r1": 1, "r2": 2}, (api.log, err)


@pytest.mark.timeout(60)
def test_a_failed_next_is_retried_with_backoff(root):
    # Each worker's first two /next calls fail (500): it tries again, later
    # each time, and serves; no worker gives up.
    api = ManagedRuntimeApi(max_concurrency=2, fail_next=4)
    proc = start_runtime(api, root, "app.handler", 2)
    try:
        api.wait_idle(2)
        assert api.log.count("GET invocation/next") == 6, api.log
        api.add(Delivery("r1", event("buffered")), Delivery("r2", event("buffered")))
        api.wait_answered(["r1", "r2"])
        pids = {json.loads(api.answers[rid][0].body)["pid"] for rid in ("r1", "r2")}
    finally:
        api.close()
        started = time.monotonic()
        _out, err = stop_runtime(proc)
    assert len(pids) == 2
    assert err.count("retrying /next in") >= 4, err
    # Once the Runtime API is gone for good, each worker gives up after its retries.
    assert time.monotonic() - started < 5
    assert proc.returncode != 0


@pytest.mark.timeout(60)
@pytest.mark.parametrize("value", [None, "1"])
def test_without_managed_instances_the_runtime_is_one_process(root, value):
    api = ManagedRuntimeApi(max_concurrency=1)
    proc = start_runtime(api, root, "app.handler", None if value is None else int(value))
    try:
        api.wait_idle(1)
        api.add(Delivery("r1", event("buffered")))
        api.wait_answered(["r1"])
    finally:
        api.close()
        stop_runtime(proc)
    assert json.loads(api.answers["r1"][0].body)["pid"] == proc.pid


@pytest.mark.timeout(60)
def test_sigterm_stops_every_worker(root):
    api = ManagedRuntimeApi(max_concurrency=4)
    proc = start_runtime(api, root, "app.handler", 4)
    try:
        api.wait_idle(4)
        os.kill(proc.pid, signal.SIGTERM)
        # communicate() returns once every process holding its pipes is gone.
        stop_runtime(proc, timeout=5)
        with pytest.raises(ProcessLookupError):  # no one left in its process group
            os.killpg(proc.pid, 0)
    finally:
        kill_runtime(proc)
        api.close()
    assert proc.returncode == 128 + signal.SIGTERM


@pytest.mark.timeout(60)
def test_each_worker_logs_to_the_socket_lambda_names(root, tmp_path_factory):
    # _LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET: each worker connects its
    # stdout and its stderr to it (awslambdaric's _redirect_output).
    path = str(tmp_path_factory.mktemp("sock") / "logs.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(16)
    received: list[bytearray] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            data = bytearray()
            received.append(data)
            threading.Thread(target=_drain, args=(conn, data), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    api = ManagedRuntimeApi(max_concurrency=2)
    proc = start_runtime(
        api, root, "app.handler", 2, env={**LOGS, "_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET": path}
    )
    try:
        api.wait_idle(2)
        api.add(Delivery("r1", event("buffered")), Delivery("r2", event("buffered")))
        api.wait_answered(["r1", "r2"])
        api.wait_idle(2)
    finally:
        api.close()
        out, _ = stop_runtime(proc)
        server.close()
    assert len(received) == 4, received  # stdout and stderr of each worker
    logged = b"".join(received).decode()
    assert "handling r1" in logged and "handling r2" in logged, logged
    assert "handling" not in out, out


def _drain(conn: socket.socket, data: bytearray) -> None:
    with conn:
        while chunk := conn.recv(65536):
            data.extend(chunk)
