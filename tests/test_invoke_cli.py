"""``lambdastream invoke``: pure pieces on bytes, then the real CLI against ``lambdastream dev``.

The end-to-end tests run the CLI as a subprocess against the real local
Lambda (real runtime, real sockets) and read what a user reads: stdout,
stderr and the exit code.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import write_handler

from lambdastream.caller.transport import (
    PreludeSplitter,
    SseErrorWatcher,
    StreamError,
    parse_function_error,
    region_from_url,
    stream_url,
)
from lambdastream.runtime.http import StreamingResponse

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------ pure pieces
def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def _feed_all(chunks: list[bytes]) -> tuple[bytes, PreludeSplitter]:
    splitter = PreludeSplitter()
    out = b"".join(splitter.feed(c) for c in chunks) + splitter.finish()
    return out, splitter


@given(
    status=st.integers(100, 599),
    body=st.binary(max_size=300),
    cuts=st.lists(st.integers(0, 10_000), max_size=8),
)
def test_prelude_is_split_off_however_the_payload_is_chunked(status, body, cuts):
    # The runtime's own prelude, so the two sides cannot drift apart.
    prelude = StreamingResponse((), status_code=status, headers={"x-a": "b"}).prelude()
    out, splitter = _feed_all(_split(prelude + body, cuts))
    assert out == body
    assert splitter.prelude == {"statusCode": status, "headers": {"x-a": "b"}}


@given(body=st.binary(max_size=300), cuts=st.lists(st.integers(0, 10_000), max_size=8))
def test_payload_without_prelude_passes_through_unchanged(body, cuts):
    out, splitter = _feed_all(_split(body, cuts))
    assert out == body
    if not body.startswith(b"{") or b"\0" * 8 not in body:
        assert splitter.prelude is None


def test_plain_payload_is_released_at_once_not_held_back():
    splitter = PreludeSplitter()
    assert splitter.feed(b"Hello") == b"Hello"
    assert splitter.feed(b", world") == b", world"


def test_json_payload_without_delimiter_is_released_at_the_end():
    splitter = PreludeSplitter()
    assert splitter.feed(b'{"answer": 42}') == b""  # could still be a prelude
    assert splitter.finish() == b'{"answer": 42}'
    assert splitter.prelude is None


def test_a_long_json_start_stops_being_held_after_16_kib():
    splitter = PreludeSplitter()
    assert splitter.feed(b"{" + b" " * 20_000) == b"{" + b" " * 20_000
    assert splitter.prelude is None


@given(cuts=st.lists(st.integers(0, 10_000), max_size=10))
def test_sse_error_event_is_found_across_any_chunking(cuts):
    stream = (
        b"event: text\ndata: Hello\n\n"
        b"event: text\r\ndata: wor\r\ndata: ld\r\n\r\n"
        b'event: error\ndata: {"code": "model_stream_error"}\n\n'
    )
    watcher = SseErrorWatcher()
    for chunk in _split(stream, cuts):
        watcher.feed(chunk)
    assert watcher.error == '{"code": "model_stream_error"}'


def test_sse_without_error_event_reports_none():
    watcher = SseErrorWatcher()
    watcher.feed(b"event: text\ndata: error\n\nevent: done\ndata: {}\n\n")
    assert watcher.error is None


def test_function_error_from_trailers():
    body = base64.b64encode(json.dumps({"errorType": "X", "errorMessage": "bad thing"}).encode())
    error = parse_function_error("Function.X", body.decode())
    assert (error.error_type, error.message) == ("Function.X", "bad thing")
    # A type-less, garbled body still yields an error, never an exception.
    assert parse_function_error("", "%%%").error_type == "Function.Error"


@pytest.mark.parametrize(
    ("url", "region"),
    [
        ("https://abcdefgh.lambda-url.eu-west-1.on.aws/", "eu-west-1"),
        ("https://abcdefgh.lambda-url.us-gov-west-1.on.aws/path?q=1", "us-gov-west-1"),
        ("http://127.0.0.1:9000/", None),
        ("https://example.com/", None),
    ],
)
def test_region_from_url(url, region):
    assert region_from_url(url) == region


@pytest.mark.parametrize("url", ["http://[::1", "http://127.0.0.1:99999/", "ftp://h/"])
def test_stream_url_refuses_a_bad_url_as_a_stream_error(url):
    with pytest.raises(StreamError, match="URL"):
        next(stream_url(url))


# ------------------------------------------------------------ end to end
CHAT = "examples.chat.app.handler"
TIMING = re.compile(
    r"timing: status=(\d+) ttfb_ms=([\d.]+) total_ms=([\d.]+) bytes=(\d+) chunks=(\d+)"
)


def cli_env(**extra: str) -> dict[str, str]:
    """The CLI's environment: dummy AWS credentials, no profile, no real AWS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="AKIDLOCALTEST",
        AWS_SECRET_ACCESS_KEY="local-secret",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    env.update(extra)
    return env


def invoke(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``lambdastream invoke ARGS`` the way a user does."""
    return subprocess.run(
        [sys.executable, "-m", "lambdastream", "invoke", *args],
        capture_output=True,
        text=True,
        env=env or cli_env(),
        timeout=timeout,
        check=False,
    )


def timing(stderr: str) -> dict[str, float]:
    match = TIMING.search(stderr)
    assert match, f"no timing line in {stderr!r}"
    keys = ("status", "ttfb_ms", "total_ms", "bytes", "chunks")
    return dict(zip(keys, map(float, match.groups()), strict=True))


# The local Lambda's credentials: signatures are checked against these, and
# the CLI signs with the same ones (cli_env) unless a test says otherwise.
SERVER_ENV = {"AWS_ACCESS_KEY_ID": "AKIDLOCALTEST", "AWS_SECRET_ACCESS_KEY": "local-secret"}
# bedrock-local answers "You said: <prompt>", so the tests can assert exact text.
ECHO = {"LAMBDASTREAM_BEDROCK_SCRIPT": "echo"}


@pytest.fixture
def chat(dev_server):
    """The chat function under ``lambdastream dev`` with the local Bedrock endpoint."""
    return dev_server(
        CHAT,
        ROOT,
        "--bedrock-local",
        "--name",
        "chat",
        "--timeout",
        "60",
        "--env",
        "CHAT_MAX_TOKENS_CAP=800",
        "--env",
        "CHAT_MAX_BODY_BYTES=4096",
        "--env",
        "CHAT_MAX_PROMPT_CHARS=2000",
        env={**SERVER_ENV, **ECHO},
    )


@pytest.mark.timeout(60)
def test_streams_answer_to_stdout_with_timing(chat):
    result = invoke(chat.url, "--prompt", "Tell me about streaming.", "--timing")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    figures = timing(result.stderr)
    assert figures["status"] == 200
    assert 0 < figures["ttfb_ms"] <= figures["total_ms"]
    assert figures["bytes"] == len(result.stdout.encode())
    # It streamed: the answer came in several pieces, not one.
    assert figures["chunks"] > 1


@pytest.mark.timeout(90)
def test_streamed_and_buffered_answers_are_the_same_text(chat):
    streamed = invoke(chat.url, "--prompt", "Say something deterministic.")
    buffered = invoke(chat.url + "/?mode=buffered", "--prompt", "Say something deterministic.")
    assert streamed.returncode == buffered.returncode == 0, streamed.stderr + buffered.stderr
    assert streamed.stdout == buffered.stdout != ""


@pytest.mark.timeout(60)
def test_sse_mode_frames_text_and_ends_with_done(chat):
    result = invoke(chat.url, "--prompt", "hello", "--sse", "--include")
    assert result.returncode == 0, result.stderr
    assert "content-type: text/event-stream" in result.stderr
    events = [block for block in result.stdout.split("\n\n") if block.strip()]
    assert events[0].startswith("event: text\ndata: ")
    assert events[-1].startswith("event: done\ndata: ")
    done = json.loads(events[-1].split("data: ", 1)[1])
    assert done["output_tokens"] > 0


@pytest.mark.timeout(60)
def test_invoke_api_mode_strips_the_prelude_and_streams(chat):
    via_url = invoke(chat.url, "--prompt", "Same answer either way?")
    result = invoke(
        "--function",
        "chat",
        "--endpoint",
        chat.api_url,
        "--prompt",
        "Same answer either way?",
        "--timing",
        "--include",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == via_url.stdout != ""
    assert "\0" not in result.stdout  # the prelude's delimiter never reaches the user
    assert result.stderr.startswith("HTTP 200")
    assert timing(result.stderr)["chunks"] > 1


@pytest.mark.timeout(60)
def test_invoke_api_mode_input_error_exits_1(chat):
    result = invoke("--function", "chat", "--endpoint", chat.api_url, "--data", "{}")
    assert result.returncode == 1
    assert "HTTP 400" in result.stderr and "missing_prompt" in result.stderr
    assert result.stdout == ""


@pytest.mark.timeout(60)
def test_invoke_api_unknown_function_exits_1(chat):
    result = invoke("--function", "no-such-function", "--endpoint", chat.api_url, "--prompt", "x")
    assert result.returncode == 1
    assert "ResourceNotFoundException" in result.stderr


INPUT_ERRORS = [
    (["-X", "PUT", "--data", '{"prompt": "hi"}'], 405, "method_not_allowed"),
    (["-X", "DELETE"], 405, "method_not_allowed"),
    (["--data", "{not json"], 400, "bad_json"),
    (["--data", "[1, 2]"], 400, "bad_request"),
    (["--data", "{}"], 400, "missing_prompt"),
    (["--data", '{"prompt": "   "}'], 400, "missing_prompt"),
    (["--data", '{"prompt": "hi", "max_tokens": 801}'], 400, "max_tokens_too_large"),
    (["--data", '{"prompt": "hi", "max_tokens": "lots"}'], 400, "bad_max_tokens"),
    (["--data", json.dumps({"prompt": "x" * 5000})], 413, "body_too_large"),
    (["--data", json.dumps({"prompt": "y" * 2001})], 413, "prompt_too_long"),
    (["--data", '{"prompt": "hi", "temprature": 1}'], 400, "unknown_field"),
    (["--data", '{"messages": [{"role": "assistant", "content": "hi"}]}'], 400, "bad_message"),
    (["--data", '{"prompt": "hi", "messages": []}'], 400, "bad_request"),
    (["--data", '{"prompt": "hi", "temperature": 3}'], 400, "bad_temperature"),
]  # fmt: skip


@pytest.mark.timeout(180)
def test_input_errors_are_4xx_json_and_exit_1(chat):
    # One server for all cases: each is a request, not a new function.
    for args, status, code in INPUT_ERRORS:
        result = invoke(chat.url + "/", *args, "--timing")
        context = f"{args}: {result.stderr}"
        assert result.returncode == 1, context
        assert result.stdout == "", context  # an error answer is not output
        assert f"HTTP {status}:" in result.stderr, context
        body = json.loads(result.stderr.split(f"HTTP {status}: ", 1)[1].splitlines()[0])
        assert body["error"]["code"] == code, context
        assert body["error"]["message"] and body["request_id"], context
        assert "Traceback" not in result.stderr, context
        assert timing(result.stderr)["status"] == status, context


@pytest.mark.timeout(60)
def test_bad_mode_is_400(chat):
    result = invoke(chat.url + "/?mode=fast", "--prompt", "hi")
    assert result.returncode == 1
    assert "bad_mode" in result.stderr


@pytest.mark.timeout(60)
def test_input_errors_never_reach_the_model(chat):
    # The function logs one JSON line per request; a refused one has no
    # first-token time, because the model was never called.
    invoke(chat.url, "--data", '{"prompt": "hi", "max_tokens": 99999}')
    lines = [json.loads(x) for x in _json_lines(chat.logs()) if '"chat request"' in x]
    refused = [x for x in lines if x.get("error_code") is None and x["status"] == 400]
    assert refused, lines
    assert all("first_token_ms" not in x and "input_tokens" not in x for x in refused)


def _json_lines(logs: str) -> list[str]:
    return [line[line.index("{") :] for line in logs.splitlines() if "{" in line]


@pytest.mark.timeout(60)
def test_one_structured_log_line_per_chat_with_usage_and_latency(chat):
    result = invoke(chat.url, "--prompt", "log me", "--include")
    assert result.returncode == 0, result.stderr
    request_id = re.search(r"x-amzn-requestid: (\S+)", result.stderr).group(1)
    records = [
        json.loads(x) for x in _json_lines(chat.logs()) if request_id in x and "chat request" in x
    ]
    assert len(records) == 1, records
    record = records[0]
    assert record["status"] == 200 and record["mode"] == "stream"
    assert record["input_tokens"] > 0 and record["output_tokens"] > 0
    assert record["duration_ms"] >= record["first_token_ms"] > 0
    assert "log me" not in json.dumps(record)  # never the prompt


@pytest.mark.timeout(30)
def test_connection_refused_exits_4():
    result = invoke("http://127.0.0.1:9/", "--prompt", "hi", "--timing")
    assert result.returncode == 4
    assert "cannot connect" in result.stderr


def test_usage_errors_exit_2():
    assert invoke().returncode == 2  # no URL, no --function
    result = invoke("http://127.0.0.1:9/", "--function", "f")
    assert result.returncode == 2 and "not both" in result.stderr


# ------------------------------------------------------------ SigV4
@pytest.fixture
def iam_chat(dev_server):
    return dev_server(
        CHAT, ROOT, "--bedrock-local", "--name", "chat", "--timeout", "60", "--auth", "AWS_IAM",
        env=SERVER_ENV,
    )  # fmt: skip


@pytest.mark.timeout(60)
def test_sigv4_signed_request_streams_from_aws_iam_url(iam_chat):
    result = invoke(iam_chat.url, "--prompt", "signed hello", "--sigv4", "--timing")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    assert timing(result.stderr)["status"] == 200


@pytest.mark.timeout(60)
def test_unsigned_request_to_aws_iam_url_is_403(iam_chat):
    result = invoke(iam_chat.url, "--prompt", "unsigned hello")
    assert result.returncode == 1
    assert "HTTP 403" in result.stderr
    assert result.stdout == ""


@pytest.mark.timeout(60)
def test_sigv4_with_wrong_secret_is_403(iam_chat):
    env = cli_env(AWS_SECRET_ACCESS_KEY="not-the-right-secret")
    result = invoke(iam_chat.url, "--prompt", "hi", "--sigv4", env=env)
    # The local Lambda checks signatures with the caller's key id; a forged
    # signature must not pass.
    assert result.returncode == 1
    assert "HTTP 403" in result.stderr


def test_sigv4_without_credentials_exits_2():
    env = cli_env()
    del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    result = invoke("http://127.0.0.1:9/", "--prompt", "hi", "--sigv4", env=env)
    assert result.returncode == 2
    assert "no AWS credentials" in result.stderr


# ------------------------------------------------------------ model failures
# bedrock-local obeys [[directives]] in the prompt (lambdastream.bedrock.faults).


@pytest.mark.timeout(60)
def test_mid_stream_model_error_exits_3_after_partial_output(chat):
    result = invoke(
        chat.url, "--prompt", "one two three four five six [[stream-error:3]]", "--timing"
    )
    assert result.returncode == 3, result.stderr
    # What came before the failure was shown as it arrived...
    assert result.stdout.startswith("You said:")
    assert "six" not in result.stdout
    # ...then the error, as Lambda's trailers reported it, without internals.
    assert "failed mid-stream: ModelStreamError" in result.stderr
    assert "modelStreamErrorException" in result.stderr
    assert "Traceback" not in result.stderr
    assert timing(result.stderr)["status"] == 200


@pytest.mark.timeout(60)
def test_mid_stream_model_error_in_sse_mode_is_an_error_event_and_exit_3(chat):
    result = invoke(chat.url, "--prompt", "alpha beta gamma delta [[stream-error:2]]", "--sse")
    assert result.returncode == 3, result.stderr
    assert "event: text\n" in result.stdout
    assert "event: error\n" in result.stdout
    assert "event: done" not in result.stdout
    error = json.loads(result.stdout.split("event: error\ndata: ", 1)[1].split("\n", 1)[0])
    assert error["code"] == "model_stream_error"


@pytest.mark.timeout(60)
def test_mid_stream_error_through_invoke_api_exits_3(chat):
    result = invoke(
        "--function", "chat", "--endpoint", chat.api_url,
        "--prompt", "one two three four five [[stream-error:2]]",
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert result.stdout.startswith("You said:")
    assert "failed mid-stream" in result.stderr


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("directive", "status", "code"),
    [
        ("[[error:AccessDeniedException]]", 502, "model_error"),
        ("[[error:ValidationException]]", 400, "model_rejected"),
    ],
)
def test_model_refusal_before_the_stream_is_a_clean_json_status(chat, directive, status, code):
    result = invoke(chat.url, "--prompt", f"hello {directive}")
    assert result.returncode == 1, result.stderr
    body = json.loads(result.stderr.split(f"HTTP {status}: ", 1)[1].splitlines()[0])
    assert body["error"]["code"] == code
    # AWS's own message stays in the function's log, not in the answer.
    assert "Exception" not in body["error"]["message"]


@pytest.mark.timeout(60)
def test_throttling_before_the_first_token_is_retried_and_succeeds(chat):
    result = invoke(chat.url, "--prompt", "busy model [[throttle:1]]")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "You said: busy model"


@pytest.mark.timeout(60)
def test_no_byte_within_timeout_exits_4(chat):
    # The local model waits 5 s before its first token; the CLI gives up after 1 s.
    result = invoke(chat.url, "--prompt", "slow [[latency:5]]", "--timeout", "1")
    assert result.returncode == 4, result.stderr
    assert "timed out" in result.stderr


@pytest.mark.timeout(60)
def test_data_from_file_and_stdin(chat, tmp_path):
    request = tmp_path / "request.json"
    request.write_text('{"prompt": "from a file"}')
    assert invoke(chat.url, "--data", f"@{request}").stdout == "You said: from a file"
    piped = subprocess.run(
        [sys.executable, "-m", "lambdastream", "invoke", chat.url, "--data", "@-"],
        input='{"prompt": "from stdin"}', capture_output=True, text=True, env=cli_env(),
        timeout=60, check=False,
    )  # fmt: skip
    assert (piped.returncode, piped.stdout) == (0, "You said: from stdin")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["http://127.0.0.1:9/", "--data", "@/no/such/file"], "No such file"),
        (["http://127.0.0.1:9/", "--header", "no-colon"], "expected 'Name: value'"),
        (["--function", "f", "--sigv4"], "apply to URLs"),
        (["http://127.0.0.1:9/", "--endpoint", "http://127.0.0.1:9"], "goes with --function"),
        (["ftp://127.0.0.1/"], "not an http(s) URL"),
        (["http://[::1", "-p", "hi"], "argument url: not a valid URL: 'http://[::1'"),
        (["http://127.0.0.1:99999/", "-p", "hi"], "Port out of range"),
        (["http:///path", "-p", "hi"], "not an http(s) URL"),
        (["--function", "f", "--endpoint", "http://[::1"], "argument --endpoint: not a valid URL"),
        *(
            (["http://127.0.0.1:9/", "-p", "hi", "--timeout", t], "argument --timeout: must be")
            for t in ("0", "-1", "nan", "inf", "soon")
        ),
    ],
)
def test_bad_arguments_exit_2_with_a_reason(args, message):
    result = invoke(*args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr  # one line, no traceback
    assert result.stdout == ""


NO_NEWLINE = """
def handler(event, context):
    yield "an answer without a final newline"
    if "fail" in event.get("rawQueryString", ""):
        raise ValueError("after the answer began")
"""


def _invoke_on_a_terminal(url: str) -> tuple[int, bytes]:
    """Run ``lambdastream invoke URL`` with stdout and stderr on a pseudo-terminal."""
    import pty

    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lambdastream", "invoke", url],
        stdout=follower, stderr=follower, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    os.close(follower)
    out = b""
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the process closed its end
            break
        if not data:
            break
        out += data
    os.close(leader)
    return proc.wait(30), out


@pytest.mark.timeout(60)
def test_on_a_terminal_the_answer_ends_its_line_and_a_pipe_gets_the_bytes_as_sent(
    dev_server, tmp_path
):
    server = dev_server("app.handler", write_handler(tmp_path, NO_NEWLINE))
    code, out = _invoke_on_a_terminal(server.url + "/")
    assert code == 0
    assert out == b"an answer without a final newline\r\n"  # the pty writes \n as \r\n
    piped = subprocess.run(
        [sys.executable, "-m", "lambdastream", "invoke", server.url + "/"],
        capture_output=True, timeout=30,
    )  # fmt: skip
    assert piped.stdout == b"an answer without a final newline"
    # A failure after the answer began: its message starts on a line of its own.
    code, out = _invoke_on_a_terminal(server.url + "/?fail")
    assert code == 3
    assert out.startswith(b"an answer without a final newline\r\nlambdastream invoke: error:")


# ------------------------------------------------ invoke's own lines, a cut stream
CUT = """
import time

def handler(event, context):
    yield "the first words"
    time.sleep(30)  # past any --timeout below: the stream is cut, not finished
    yield "never sent"
"""


def _invoke_one_stream(*args: str) -> subprocess.CompletedProcess[bytes]:
    """``lambdastream invoke ARGS`` with stdout and stderr into one pipe (``2>&1``)."""
    return subprocess.run(
        [sys.executable, "-m", "lambdastream", "invoke", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env=cli_env(), timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.timeout(60)
@pytest.mark.parametrize("door", ["url", "function"])
def test_a_stream_cut_by_the_timeout_says_why_on_a_line_of_its_own_and_exits_3(
    dev_server, tmp_path, door
):
    server = dev_server("app.handler", write_handler(tmp_path, CUT), "--timeout", "1")
    where = (
        [server.url + "/"] if door == "url" else ["--function", "app", "--endpoint", server.api_url]
    )
    result = _invoke_one_stream(*where)
    assert result.returncode == 3, result.stdout
    answer, _, said = result.stdout.decode().partition("\n")
    assert answer == "the first words", result.stdout
    assert said.startswith(
        "lambdastream invoke: error: the stream was cut after 15 bytes: the function timed out: "
        "Sandbox.Time"
    ), said
    assert said.rstrip("\n").endswith("Task timed out after 1.00 seconds"), said
    assert said.count("\n") == 1, said  # one line


@pytest.mark.timeout(60)
def test_invokes_own_lines_start_a_line_when_stdout_and_stderr_are_one_stream(dev_server, tmp_path):
    server = dev_server("app.handler", write_handler(tmp_path, NO_NEWLINE))
    timed = _invoke_one_stream(server.url + "/", "--timing")
    assert timed.returncode == 0, timed.stdout
    assert re.fullmatch(
        rb"an answer without a final newline\ntiming: status=200 [^\n]*\n", timed.stdout
    ), timed.stdout
    failed = _invoke_one_stream(server.url + "/?fail")
    assert failed.returncode == 3, failed.stdout
    assert failed.stdout.startswith(
        b"an answer without a final newline\nlambdastream invoke: error: the stream was cut"
        b" after 33 bytes: the function failed mid-stream: ValueError: after the answer began\n"
    ), failed.stdout
