"""Error documents, differentially: the same handler module run under AWS's
own Python runtime client (``python -m awslambdaric``) and under ours, each
through the real ``lambdastream dev`` (``--bootstrap``), must post the same
error JSON, byte for byte, and log the same ``[ERROR]`` record; and ours
must name the error type in ``Lambda-Runtime-Function-Error-Type``.

Each runtime runs behind a recording proxy (``RECORDER``) that keeps every
byte it sends to the Runtime API and what it logs. Both run the same files
from the same directory, so paths agree; what legitimately differs, and is
normalised, is only:

- the request id (each runtime serves its own invocation);
- the frames in each runtime's own files (``awslambdaric/``,
  ``lambdastream/runtime/``), whose paths, lines and number differ: both
  leave out the leading ones, but awslambdaric shows its own where no user
  frame leads (a handler that is not callable, a client context it cannot
  read) or between the user's (``context.log``), and so does ours. Each run
  of them is compared as one placeholder;
- the ``timestamp`` of a JSON log record, the log stream in ``repr(context)``.

awslambdaric cannot run generators or ``async def`` handlers. Those run
under it through ``peer/bootstrap.py``: a sync handler that drives them the
way a runtime would, from a file named ``bootstrap.py``, whose leading
frames awslambdaric drops as it drops its own; so its document is the one
awslambdaric writes for the same user frames.

The ``[ERROR]`` record is compared as CloudWatch holds it: awslambdaric on
Lambda writes it as one frame to ``_LAMBDA_TELEMETRY_LOG_FD`` (lines joined
by LF), ours as one stdout line (lines joined by CR, which CloudWatch shows
as line breaks): both are compared with their line breaks made LF.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support import lambda_client, start_dev

pytest.importorskip("awslambdaric")

# Runs the runtime command after `--` behind a TCP proxy that records what
# it sends to the Runtime API (sent.N, one file per connection, in a
# directory per environment: lambdastream dev may start more than one), and
# keeps its stdout and, with `telemetry`, the log frames awslambdaric writes
# to _LAMBDA_TELEMETRY_LOG_FD as on Lambda.
# A client context {"deliver-as": TEXT} reaches the runtime as TEXT: Lambda
# (and lambdastream dev) refuse one that is not a JSON object at Invoke, so
# only this way can a test see what a runtime does if one gets through.
RECORDER = r"""
import json, os, socket, subprocess, sys, threading

record, mode = f"{sys.argv[1]}/{os.getpid()}", sys.argv[2]  # one per environment
os.mkdir(record)
command = sys.argv[sys.argv.index("--") + 1:]
upstream_host, upstream_port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
listener = socket.create_server(("127.0.0.1", 0))
HEADER = b"Lambda-Runtime-Client-Context: "

def deliver_as(line):
    try:
        value = json.loads(line[len(HEADER):])
        return HEADER + value["deliver-as"].encode()
    except (ValueError, TypeError, KeyError):
        return line

def record_and_forward(src, dst, path):
    with open(path, "ab") as out:
        while data := src.recv(65536):
            out.write(data)
            out.flush()  # recorded before it is forwarded
            dst.sendall(data)
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass

def rewrite_and_forward(src, dst):
    pending = b""
    while data := src.recv(65536):
        data = pending + data
        end = data.rfind(b"\r\n") + 2 if b"\r\n" in data else 0
        # A line cut short may be the header's: wait for the rest of it.
        held = data[end:] if HEADER.startswith(data[end:][:len(HEADER)]) else b""
        lines = data[: len(data) - len(held)].split(b"\r\n")
        dst.sendall(b"\r\n".join(deliver_as(x) if x.startswith(HEADER) else x for x in lines))
        pending = held
    dst.sendall(pending)
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass

def serve():
    n = 0
    while True:
        runtime, _ = listener.accept()
        n += 1
        api = socket.create_connection((upstream_host, int(upstream_port)))
        sent = (runtime, api, f"{record}/sent.{n}")
        threading.Thread(target=record_and_forward, args=sent, daemon=True).start()
        threading.Thread(target=rewrite_and_forward, args=(api, runtime), daemon=True).start()

threading.Thread(target=serve, daemon=True).start()
env = {**os.environ, "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:%d" % listener.getsockname()[1]}
fds = ()
if mode == "telemetry":
    fd = os.open(f"{record}/telemetry", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    env["_LAMBDA_TELEMETRY_LOG_FD"] = str(fd)
    fds = (fd,)
# Straight to the file: on disk the moment the runtime writes it (before it
# posts the error), whenever lambdastream dev ends this process.
with open(f"{record}/stdout", "ab") as out:
    sys.exit(subprocess.call(command, env=env, stdout=out, pass_fds=fds))
"""

# The user's code: one failure per case, reached through `handler`.
APP = r'''
import asyncio
import json
import sys

from lambdastream import StreamingResponse


class PaymentDeclined(Exception):
    """A custom exception with a message of its own."""

    def __init__(self, code):
        super().__init__(f"card declined: {code}")
        self.code = code


class Quiet(Exception):
    def __str__(self):
        return "quiet \u2615"


class Service:
    def call(self, data):
        return self.lookup(data) + 1

    def lookup(self, data):
        return data["a"]["b"]


def helper(data):
    return data["a"]["b"]


def plain(event, context):
    raise ValueError("boom")


def nested(event, context):
    total = helper({"a": {}}) + 1
    return total


def divide(event, context):
    return 1 / event.get("zero", 0)


def method(event, context):
    return Service().call({"a": {}})


def cause(event, context):
    try:
        int("not a number")
    except ValueError as exc:
        raise RuntimeError("could not parse") from exc


def implicit_chain(event, context):
    try:
        {}["k"]
    except KeyError:
        raise TypeError("while handling another")


def suppressed(event, context):
    try:
        {}["k"]
    except KeyError:
        raise LookupError("context suppressed") from None


def multiline(event, context):
    raise ValueError(
        "first line\nsecond: caf\u00e9 \u2615 \U0001d11e\r\nthird\t\"q\" \\ \u2028 end"
    )


def no_message(event, context):
    raise RuntimeError


def empty_message(event, context):
    raise RuntimeError("")


def key_error(event, context):
    raise KeyError("missing")


def key_error_tuple(event, context):
    return {}[("a", 1)]


def key_error_int(event, context):
    return {}[42]


def custom(event, context):
    raise PaymentDeclined(402)


def custom_str(event, context):
    raise Quiet()


def args_tuple(event, context):
    raise ValueError(1, "two")


def recursion(event, context, depth=0):
    if depth == 6:
        raise RecursionError("deep enough")
    return recursion(event, context, depth + 1)


def stdlib(event, context):
    return json.loads("{not json")


def in_lambda(event, context):
    return list(map(lambda x: 1 // x, [1, 0]))


def unicode_source(event, context):
    café = None
    return café.upper()


def with_note(event, context):
    exc = ValueError("has a note")
    if hasattr(exc, "add_note"):
        exc.add_note("a note awslambdaric does not show")
    raise exc


def group(event, context):
    if sys.version_info < (3, 11):
        raise ValueError("no ExceptionGroup before 3.11")
    raise ExceptionGroup("several", [ValueError("one"), KeyError("two")])  # noqa: F821


class Unprintable:
    def __str__(self):
        raise ValueError("cannot print this")


def logs_badly(event, context):
    context.log(Unprintable())


def not_serializable(event, context):
    return {"s": {1, 2}}


def client_context(event, context):
    return {"repr": repr(context.client_context), "context": repr(context)}


client_context_null = client_context


def served(event, context):
    return "served"


client_context_list = client_context_string = client_context_number = served
client_context_true = client_context_bad_client = served


def gen_fails_first(event, context):
    raise LookupError("before any byte")
    yield "never"


def gen_fails_later(event, context):
    yield "partial "
    helper({"a": {}})


async def async_helper():
    await asyncio.sleep(0)
    raise ConnectionError("upstream closed")


async def async_fails(event, context):
    await asyncio.sleep(0)
    await async_helper()


async def agen_fails_first(event, context):
    await asyncio.sleep(0)
    raise KeyError("async gen failure")
    yield b""


async def agen_fails_later(event, context):
    yield b"partial "
    await asyncio.sleep(0)
    await async_helper()


def response_fails(event, context):
    def body():
        yield "partial "
        helper({"a": {}})

    return StreamingResponse(body(), status_code=201, media_type="text/plain")


def handler(event, context):
    return globals()[event["case"]](event, context)


NOT_CALLABLE = 42
'''

# awslambdaric cannot run generators, coroutines or StreamingResponse: this
# sync handler drives them as a runtime would, from a file named
# bootstrap.py, whose leading frames awslambdaric leaves out like its own.
DRIVER = """
import app


def _run(awaitable):
    # The cases only await asyncio.sleep(0): a bare yield, no loop needed.
    try:
        while True:
            awaitable.send(None)
    except StopIteration as done:
        return done.value


def handler(event, context):
    result = app.handler(event, context)
    result = getattr(result, "body", result)
    if hasattr(result, "__anext__"):
        chunks = []
        while True:
            try:
                chunks.append(_run(result.__anext__()))
            except StopAsyncIteration:
                return b"".join(chunks).decode()
    if hasattr(result, "__next__"):
        return "".join(result)
    if hasattr(result, "send"):
        return _run(result)
    return result
"""

MODULES = {
    "app.py": APP,
    "peer/bootstrap.py": DRIVER,
    "broken_syntax.py": "def handler(event, context):\n    return {'a': 1\n",
    "broken_indent.py": "def handler(event, context):\nreturn 1\n",
    "imports_missing.py": (
        "import not_a_module_anywhere\n\ndef handler(event, context):\n    return 1\n"
    ),
    "raises_at_import.py": (
        "def configure(settings):\n    return settings['region'] + '-x'\n\n"
        "REGION = configure({})\n\ndef handler(event, context):\n    return 1\n"
    ),
    "pkg/__init__.py": "",
    "pkg/sub.py": "def handler(event, context):\n    return 1\n",
}

# Each case and the error type it must fail with (so that no comparison
# passes on two identical failures of something else).
SYNC_CASES = {
    "plain": "ValueError",
    "nested": "KeyError",
    "divide": "ZeroDivisionError",
    "method": "KeyError",
    "cause": "RuntimeError",
    "implicit_chain": "TypeError",
    "suppressed": "LookupError",
    "multiline": "ValueError",
    "no_message": "RuntimeError",
    "empty_message": "RuntimeError",
    "key_error": "KeyError",
    "key_error_tuple": "KeyError",
    "key_error_int": "KeyError",
    "custom": "PaymentDeclined",
    "custom_str": "Quiet",
    "args_tuple": "ValueError",
    "recursion": "RecursionError",
    "stdlib": "JSONDecodeError",
    "in_lambda": "ZeroDivisionError",
    "unicode_source": "AttributeError",
    "with_note": "ValueError",
    "group": "ExceptionGroup" if sys.version_info >= (3, 11) else "ValueError",
    "logs_badly": "ValueError",
    "not_serializable": "Runtime.MarshalError",
}
# Generators and coroutines: awslambdaric runs them through peer/bootstrap.py.
DRIVEN_CASES = {
    "gen_fails_first": "LookupError",
    "gen_fails_later": "KeyError",
    "async_fails": "ConnectionError",
    "agen_fails_first": "KeyError",
    "agen_fails_later": "ConnectionError",
    "response_fails": "KeyError",
}
# Client contexts that are JSON but not an object (or whose client is not
# one): awslambdaric refuses them (its context reads them with .get) before
# the handler runs. The last two are read, and the handler shows them.
CLIENT_CONTEXTS: dict[str, object] = {
    "client_context_list": {"deliver-as": "[1, 2]"},
    "client_context_string": {"deliver-as": '"text"'},
    "client_context_number": {"deliver-as": "42"},
    "client_context_true": {"deliver-as": "true"},
    "client_context_bad_client": {"custom": {"k": "v"}, "client": "not an object"},
}
CLIENT_CONTEXTS["client_context"] = {
    "client": {
        "installation_id": "i-1",
        "app_title": "Caf\u00e9",
        "app_version_name": "1.0",
        "app_version_code": "7",
        "app_package_name": "com.example",
        "ignored": True,
    },
    "custom": {"k": "v", "n": [1, 2]},
    "env": {"platform": "Android", "locale": "fr_FR"},
    "w3c": {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
}
CLIENT_CONTEXTS["client_context_null"] = {"deliver-as": "null"}
SERVED = ("client_context", "client_context_null")
# Init failures: the handler each runtime is started with, the error type.
INIT_CASES = {
    "syntax": ("broken_syntax.handler", "Runtime.UserCodeSyntaxError"),
    "indent": ("broken_indent.handler", "Runtime.UserCodeSyntaxError"),
    "import_missing": ("imports_missing.handler", "Runtime.ImportModuleError"),
    "no_module": ("not_there.handler", "Runtime.ImportModuleError"),
    "handler_not_found": ("app.nothing", "Runtime.HandlerNotFound"),
    "package_path": ("pkg/sub.nothing", "Runtime.HandlerNotFound"),
    "raises_at_import": ("raises_at_import.handler", "KeyError"),
    "malformed": ("app", "Runtime.MalformedHandlerName"),
    "builtin": ("sys.handler", "Runtime.BuiltInModuleConflict"),
    # Loads, then every invocation fails in the runtime's own call.
    "not_callable": ("app.NOT_CALLABLE", "TypeError"),
}
# Frames in a runtime's own files: their paths and lines differ legitimately
# (awslambdaric shows its own where no user frame leads, or in the middle
# of the user's: a context.log). Each run of them is compared as one.
RUNTIME_FRAME = tuple(
    f'  File "{Path(module.__file__).parent}/'
    for module in (pytest.importorskip("awslambdaric"), pytest.importorskip("lambdastream.runtime"))
)
CONFIGS = {
    # Lambda's python3.10/3.11 environments: JSON with non-ASCII escaped, Text logs.
    "text": ("--log-format", "Text"),
    # python3.12+: awslambdaric writes non-ASCII as is; JSON logs.
    "json-3.12": ("--log-format", "JSON", "--env", "AWS_EXECUTION_ENV=AWS_Lambda_python3.12"),
}


@dataclass
class Post:
    """One request a runtime sent to the Runtime API."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    trailers: dict[str, str] = field(default_factory=dict)

    def error_document(self) -> bytes | None:
        """The error JSON it carries: an /error or /init/error body, or an Error-Body trailer."""
        if self.path.endswith(("/error", "/init/error")):
            return self.body
        if "Lambda-Runtime-Function-Error-Body" in self.trailers:
            return base64.b64decode(self.trailers["Lambda-Runtime-Function-Error-Body"])
        return None


@dataclass
class Invocation:
    """One invocation through boto3, and the error it got, if any."""

    case: str
    request_id: str
    payload: bytes
    post: Post | None = None  # the /response or /error post that answered it
    error_record: str | None = None  # the [ERROR] record logged for it


@dataclass
class Recording:
    """What one runtime sent and logged for a list of invocations."""

    invocations: list[Invocation]

    def invocation(self, case: str) -> Invocation:
        return next(i for i in self.invocations if i.case == case)

    def document(self, case: str) -> tuple[bytes, str]:
        """The error document of ``case`` and the request id it was served under."""
        inv = self.invocation(case)
        assert inv.post is not None, f"{case}: nothing was sent for {inv.request_id}"
        doc = inv.post.error_document()
        assert doc is not None, f"{case}: {inv.post.path} carries no error document"
        return doc, inv.request_id


def parse_requests(wire: bytes) -> list[Post]:
    """Split what a client sent on one connection into requests (length or chunked bodies)."""
    posts = []
    pos = 0
    while (end := wire.find(b"\r\n\r\n", pos)) != -1:
        lines = wire[pos:end].decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip()] = value.strip()
        lower = {k.lower(): v for k, v in headers.items()}
        pos = end + 4
        body = b""
        trailers: dict[str, str] = {}
        if lower.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                eol = wire.index(b"\r\n", pos)
                size = int(wire[pos:eol].split(b";")[0], 16)
                pos = eol + 2
                if size == 0:
                    while (eol := wire.index(b"\r\n", pos)) != pos:
                        name, _, value = wire[pos:eol].decode("latin-1").partition(":")
                        trailers[name.strip()] = value.strip()
                        pos = eol + 2
                    pos += 2
                    break
                parts.append(wire[pos : pos + size])
                pos += size + 2
            body = b"".join(parts)
        elif "content-length" in lower:
            size = int(lower["content-length"])
            body = wire[pos : pos + size]
            pos += size
        posts.append(Post(method, path, headers, body, trailers))
    return posts


def error_records(environment: Path) -> list[str]:
    """The ``[ERROR]`` records a runtime process logged, each as one CloudWatch event.

    Line breaks (LF in awslambdaric's frames, CR in our stdout line) are
    made LF; a JSON record's timestamp is blanked.
    """
    telemetry = environment / "telemetry"
    if telemetry.exists():
        data = telemetry.read_bytes()
        events = []
        while data:
            size = int.from_bytes(data[4:8], "big")
            events.append(data[16 : 16 + size].decode())
            data = data[16 + size :]
    else:
        events = (environment / "stdout").read_bytes().decode().split("\n")
    out = []
    for event in events:
        text = event.replace("\r\n", "\n").replace("\r", "\n")
        if text.startswith("[ERROR]"):
            out.append(text)
        elif re.match(r'\{"timestamp": "[^"]*", "level": "ERROR", "errorMessage": ', text):
            out.append(re.sub(r'^\{"timestamp": "[^"]*"', '{"timestamp": ""', text))
    return out


def record(
    tmp_path: Path,
    root: Path,
    runtime: str,
    handler: str,
    cases: list[tuple[str, dict]],
    extra: tuple[str, ...] = (),
) -> Recording:
    """Run ``handler`` under ``runtime`` ("ours" or "awslambdaric") in ``lambdastream dev``.

    ``cases`` are (case, Invoke keyword arguments): each is invoked once, in
    order, with ``{"case": case}`` as its event.
    """
    out = Path(tempfile.mkdtemp(prefix=f"{runtime}-{handler.replace('/', '.')}-", dir=tmp_path))
    if runtime == "ours":
        command = f"{sys.executable} -m lambdastream.runtime"
        mode = "stdout"
    else:
        command = f"{sys.executable} -m awslambdaric {handler}"
        mode = "telemetry"
    bootstrap = f"{sys.executable} {root / 'recorder.py'} {out} {mode} -- {command}"
    server = start_dev(handler, root, "--name", "app", "--bootstrap", bootstrap, *extra)
    invocations = []
    try:
        lam = lambda_client(server.api_url)
        for case, kwargs in cases:
            reply = lam.invoke(FunctionName="app", Payload=json.dumps({"case": case}), **kwargs)
            rid = reply["ResponseMetadata"]["RequestId"]
            invocations.append(Invocation(case, rid, reply["Payload"].read()))
    finally:
        server.stop()
    # A runtime process serves one invocation at a time, logging each error
    # before it sends it: its n-th [ERROR] record is its n-th error's.
    answers: dict[str, tuple[Post, str | None]] = {}
    for environment in sorted(out.iterdir()):
        sent = sorted(environment.glob("sent.*"), key=lambda p: int(p.suffix[1:]))
        posts = [
            post
            for wire in sent
            for post in parse_requests(wire.read_bytes())
            if post.method == "POST"
        ]
        records = iter(error_records(environment))
        for post in posts:
            error_record = None
            if post.error_document() is not None:
                error_record = next(records, None)
                assert error_record is not None, f"{post.path}: no [ERROR] record in {environment}"
            key = "init" if post.path.endswith("/init/error") else post.path.split("/")[-2]
            answers.setdefault(key, (post, error_record))
        assert next(records, None) is None, f"{environment}: an [ERROR] record of no error"
    nothing: tuple[Post | None, str | None] = (None, None)
    for inv in invocations:
        inv.post, inv.error_record = answers.get(inv.request_id) or answers.get("init", nothing)
    return Recording(invocations)


def _runtime_frames_collapsed(frames: list[str]) -> list[str]:
    out: list[str] = []
    for frame in frames:
        if frame.startswith(RUNTIME_FRAME):
            frame = "<the runtime's frames>"
            if out and out[-1] == frame:
                continue
        out.append(frame)
    return out


def runtime_frames_collapsed(document: str, ensure_ascii: bool) -> str:
    """``document`` (an error JSON or a JSON log record) with each run of the
    runtime's own frames made one placeholder; re-encoded only if it had one."""
    doc = json.loads(document)
    frames = _runtime_frames_collapsed(doc["stackTrace"])
    if frames == doc["stackTrace"]:
        return document
    return json.dumps({**doc, "stackTrace": frames}, ensure_ascii=ensure_ascii)


def text_record_frames_collapsed(record: str) -> str:
    """A Text ``[ERROR]`` record, its runs of the runtime's frames made one placeholder."""
    head, _, trace = record.partition("\nTraceback (most recent call last):")
    # Each entry is a line indented by two NBSP (a File line, or "[Previous
    # line repeated...]") and the lines indented deeper under it.
    frames = re.findall(r"\n\u00a0\u00a0(?!\u00a0)[^\n]*(?:\n\u00a0{4}[^\n]*)*", trace)
    assert "".join(frames) == trace, trace
    plain = ["  " + f[3:].replace("\u00a0", " ") for f in frames]
    collapsed = _runtime_frames_collapsed(plain)
    if collapsed == plain:
        return record
    return head + "\nTraceback (most recent call last):" + "".join("\n" + f for f in collapsed)


def assert_same_document(
    ours: Recording, theirs: Recording, case: str, error_type: str, ensure_ascii: bool
) -> None:
    our_doc, our_rid = ours.document(case)
    assert json.loads(our_doc)["errorType"] == error_type, our_doc
    their_doc, their_rid = theirs.document(case)
    their_doc = their_doc.replace(their_rid.encode(), our_rid.encode())
    assert runtime_frames_collapsed(our_doc.decode(), ensure_ascii) == runtime_frames_collapsed(
        their_doc.decode(), ensure_ascii
    )


def assert_same_record(ours: Recording, theirs: Recording, case: str, ensure_ascii: bool) -> None:
    our, their = ours.invocation(case), theirs.invocation(case)
    assert our.error_record is not None and their.error_record is not None
    records = [our.error_record, their.error_record.replace(their.request_id, our.request_id)]
    if records[0].startswith("{"):
        records = [runtime_frames_collapsed(r, ensure_ascii) for r in records]
    else:
        records = [text_record_frames_collapsed(r) for r in records]
    assert records[0] == records[1]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fn")
    for name, source in {**MODULES, "recorder.py": RECORDER}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source.lstrip(), encoding="utf-8")
    return root


@dataclass
class Runs:
    """Both runtimes' recordings under one configuration."""

    ensure_ascii: bool
    ours_sync: Recording
    theirs_sync: Recording
    ours_driven: Recording
    theirs_driven: Recording

    def pair(self, case: str) -> tuple[Recording, Recording]:
        if case in DRIVEN_CASES:
            return self.ours_driven, self.theirs_driven
        return self.ours_sync, self.theirs_sync


@pytest.fixture(scope="module", params=list(CONFIGS))
def runs(request, root, tmp_path_factory) -> Runs:
    """Every invocation case under both runtimes, in one configuration."""
    extra = CONFIGS[request.param]
    tmp = tmp_path_factory.mktemp(f"run-{request.param}")
    sync = [(case, {}) for case in SYNC_CASES]
    sync += [(case, {"ClientContext": _b64(value)}) for case, value in CLIENT_CONTEXTS.items()]
    driven = [(case, {}) for case in DRIVEN_CASES]
    jobs = [
        ("ours", "app.handler", sync),
        ("awslambdaric", "app.handler", sync),
        ("ours", "app.handler", driven),
        ("awslambdaric", "peer.bootstrap.handler", driven),
    ]
    with ThreadPoolExecutor(len(jobs)) as pool:
        done = [pool.submit(record, tmp, root, *job, extra) for job in jobs]
        return Runs("AWS_EXECUTION_ENV" not in " ".join(extra), *(d.result() for d in done))


def _b64(value: object) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


ERROR_CASES = {
    **SYNC_CASES,
    **DRIVEN_CASES,
    **{case: "AttributeError" for case in CLIENT_CONTEXTS if case not in SERVED},
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", ERROR_CASES)
def test_invocation_error_document_is_awslambdarics(runs, case):
    assert_same_document(*runs.pair(case), case, ERROR_CASES[case], runs.ensure_ascii)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", ERROR_CASES)
def test_invocation_error_log_record_is_awslambdarics(runs, case):
    assert_same_record(*runs.pair(case), case, runs.ensure_ascii)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", SERVED)
def test_client_context_reads_as_under_awslambdaric(runs, case):
    our, their = (r.invocation(case) for r in runs.pair(case))
    assert our.post is not None and our.post.path.endswith("/response")  # served
    assert their.post is not None and their.post.path.endswith("/response")
    our_view, their_view = json.loads(our.payload), json.loads(their.payload)
    assert our_view["repr"] == their_view["repr"]
    if case == "client_context":
        for shown in ("client=Client([installation_id=i-1,", "custom={'k': 'v',", "env={'pl"):
            assert shown in our_view["repr"]
    else:
        assert our_view["repr"] == "None"
    # Each environment has a log stream of its own.
    their_view["context"] = their_view["context"].replace(their.request_id, our.request_id)
    stream = re.compile(r"log_stream_name=[^,]*,")
    assert stream.sub("", our_view["context"]) == stream.sub("", their_view["context"])


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", ERROR_CASES)
def test_error_post_carries_the_error_type_header(runs, case):
    """Lambda reads the error type from the header (from the trailer once streaming began)."""
    post = runs.pair(case)[0].invocation(case).post
    assert post is not None
    error_type = ERROR_CASES[case]
    assert json.loads(post.error_document() or b"{}")["errorType"] == error_type
    if post.path.endswith("/error"):
        assert post.headers.get("Lambda-Runtime-Function-Error-Type") == error_type
    else:
        assert post.trailers["Lambda-Runtime-Function-Error-Type"] == error_type


@pytest.fixture(scope="module")
def init_runs(root, tmp_path_factory) -> dict[str, tuple[Recording, Recording]]:
    """Each init case under both runtimes (Text logs)."""
    tmp = tmp_path_factory.mktemp("init")
    with ThreadPoolExecutor(8) as pool:
        done = {
            (case, runtime): pool.submit(record, tmp, root, runtime, handler, [(case, {})])
            for case, (handler, _) in INIT_CASES.items()
            for runtime in ("ours", "awslambdaric")
        }
        return {
            case: (done[case, "ours"].result(), done[case, "awslambdaric"].result())
            for case in INIT_CASES
        }


# Differences made by bootstrap.py's load_handler, not by the error document.
NOT_YET = {
    # awslambdaric imports with importlib.import_module, whose frames (and
    # <frozen importlib._bootstrap>'s) lead its trace; __import__ leaves them
    # out, deliberately: importing importlib costs ~0.7 ms of every cold start,
    # and those frames are not the user's.
    "raises_at_import": "awslambdaric's trace starts with importlib's frames",
}
INIT_PARAMS = [
    pytest.param(case, marks=pytest.mark.xfail(reason=NOT_YET[case], strict=True))
    if case in NOT_YET
    else case
    for case in INIT_CASES
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", INIT_PARAMS)
def test_init_error_document_is_awslambdarics(init_runs, case):
    assert_same_document(*init_runs[case], case, INIT_CASES[case][1], ensure_ascii=True)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", INIT_PARAMS)
def test_init_error_log_record_is_awslambdarics(init_runs, case):
    assert_same_record(*init_runs[case], case, ensure_ascii=True)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", [c for c in INIT_CASES if c != "not_callable"])
def test_init_error_post_carries_the_error_type_header(init_runs, case):
    post = init_runs[case][0].invocation(case).post
    assert post is not None and post.path == "/2018-06-01/runtime/init/error"
    error_type = INIT_CASES[case][1]
    assert json.loads(post.body)["errorType"] == error_type
    assert post.headers.get("Lambda-Runtime-Function-Error-Type") == error_type
