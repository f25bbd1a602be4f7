"""bedrock-local under hostile requests: unknown models, bodies that are not
JSON as Bedrock reads it, huge heads and bodies, clients that stall. Real
boto3 and raw sockets; ``lambdastream bedrock-local`` as a process where its
memory is measured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from probes import Trickle, connect, read_until_closed, rss_kib

NOVA = "amazon.nova-micro-v1:0"
ANTHROPIC = "anthropic.claude-3-haiku-20240307-v1:0"
USER_HI = [{"role": "user", "content": [{"text": "hi"}]}]
MALFORMED = "Malformed input request, please reformat your input and retry."


def _signed(url: str, path: str, body: bytes) -> bytes:
    """A whole SigV4-signed POST, as raw bytes (botocore signs it)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(
        "POST", url + path, data=body, headers={"Content-Type": "application/json"}
    )
    SigV4Auth(Credentials("AKID", "secret"), "bedrock", "us-east-1").add_auth(request)
    head = "".join(f"{k}: {v}\r\n" for k, v in request.headers.items())
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\n{head}Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + body


def _exchange(url: str, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    with connect(url) as sock:
        sock.sendall(raw)
        answer, closed = read_until_closed(sock, timeout=10)
    assert closed, answer[:200]
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def _validation(status: int, headers: dict[str, str], body: bytes) -> str:
    """The message of a ValidationException answered as Bedrock answers it."""
    assert status == 400, (status, body[:200])
    assert headers["x-amzn-errortype"].split(":")[0] == "ValidationException"
    return json.loads(body)["message"]


def _client_error(call) -> ClientError:
    with pytest.raises(ClientError) as info:
        call()
    return info.value


# ------------------------------------------------------------------ wrong answers


@pytest.mark.parametrize("streaming", [False, True], ids=["converse", "converse-stream"])
@pytest.mark.parametrize("model", ["acme.unknown-model-v1:0", "m", "us.nobody.thing-v1:0"])
def test_converse_with_an_unknown_model_is_a_validation_error(client, streaming, model):
    call = client.converse_stream if streaming else client.converse
    error = _client_error(lambda: call(modelId=model, messages=USER_HI))
    assert error.response["Error"]["Code"] == "ValidationException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error.response["Error"]["Message"].startswith("The provided model identifier is invalid")


def test_known_models_still_converse(client):
    for model in (NOVA, "us." + ANTHROPIC, f"arn:aws:bedrock:us-east-1::foundation-model/{NOVA}"):
        answer = client.converse(modelId=model, messages=USER_HI)
        assert answer["output"]["message"]["content"] == [{"text": "You said: hi"}]


DEEP = b"[" * 100_000 + b"]" * 100_000


def test_deep_json_is_a_validation_error_not_a_500(server, client):
    error = _client_error(lambda: client.invoke_model(modelId=ANTHROPIC, body=DEEP))
    assert error.response["Error"]["Code"] == "ValidationException"
    assert error.response["Error"]["Message"] == MALFORMED
    deep_converse = b'{"messages": ' + DEEP + b"}"
    assert (
        _validation(
            *_exchange(server.url, _signed(server.url, f"/model/{NOVA}/converse", deep_converse))
        )
        == MALFORMED
    )
    assert client.converse(modelId=NOVA, messages=USER_HI)["stopReason"] == "end_turn"


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_json_number_literals_are_validation_errors(server, client, constant):
    """Python's json reads NaN and Infinity; JSON (and Bedrock) does not."""
    body = (
        '{"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10, "temperature": '
        + constant
        + ', "messages": [{"role": "user", "content": "hi"}]}'
    ).encode()
    error = _client_error(lambda: client.invoke_model(modelId=ANTHROPIC, body=body))
    assert (error.response["Error"]["Code"], error.response["Error"]["Message"]) == (
        "ValidationException",
        MALFORMED,
    )
    converse = (
        '{"messages": [{"role": "user", "content": [{"text": "hi"}]}],'
        ' "inferenceConfig": {"temperature": ' + constant + "}}"
    ).encode()
    path = f"/model/{NOVA}/converse-stream"
    assert _validation(*_exchange(server.url, _signed(server.url, path, converse))) == MALFORMED


def test_a_body_that_is_not_utf8_is_a_validation_error(client):
    body = b'{"messages": [{"role": "user", "content": [{"text": "\xff"}]}]}'
    error = _client_error(lambda: client.invoke_model(modelId=NOVA, body=body))
    assert (error.response["Error"]["Code"], error.response["Error"]["Message"]) == (
        "ValidationException",
        MALFORMED,
    )


# ------------------------------------------------------------------ the shared server's limits


@dataclass
class BedrockProcess:
    url: str
    pid: int
    log: Path  # its stderr

    def logs(self) -> str:
        return self.log.read_text()


@pytest.fixture
def bedrock_process(tmp_path) -> Iterator:
    """Factory: ``lambdastream bedrock-local --port 0`` as a process."""
    started: list[subprocess.Popen[str]] = []
    logs: list = []

    def start(**env: str) -> BedrockProcess:
        log = tmp_path / f"bedrock-local-{len(started)}.log"
        logs.append(log.open("w"))
        process = subprocess.Popen(
            [
                sys.executable, "-m", "lambdastream", "bedrock-local", "--port", "0",
                "--first-token-latency", "0", "--tokens-per-second", "0",
            ],
            stdout=subprocess.PIPE,
            stderr=logs[-1],
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        )  # fmt: skip
        started.append(process)
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, line
        return BedrockProcess(line.rsplit(" ", 1)[1].strip(), process.pid, log)

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)
    for file in logs:
        file.close()


@pytest.mark.timeout(60)
def test_a_100_mb_header_is_431_and_costs_no_memory(bedrock_process):
    bedrock = bedrock_process()
    url, pid = bedrock.url, bedrock.pid
    before = rss_kib(pid)
    sent = 0
    with connect(url) as sock:
        sock.sendall(b"POST /model/m/converse HTTP/1.1\r\nHost: x\r\nX-Big: ")
        piece = b"a" * (1024 * 1024)
        try:
            while sent < 100 * 1024 * 1024:
                sock.sendall(piece)
                sent += len(piece)
        except OSError:
            pass  # the server answered and stopped reading
        answer, _ = read_until_closed(sock, timeout=10)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    after = rss_kib(pid)
    assert after.hwm - before.rss < 20 * 1024, (before, after, sent)
    assert "431 Request Header Fields Too Large: a request head over 65536 bytes" in bedrock.logs()


@pytest.mark.timeout(60)
def test_bedrock_local_refuses_an_oversized_body_from_its_content_length(bedrock_process):
    bedrock = bedrock_process()
    with connect(bedrock.url) as sock:
        sock.sendall(
            b"POST /model/amazon.nova-micro-v1:0/invoke HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: AWS4-HMAC-SHA256 x\r\nContent-Length: 25000001\r\n\r\n"
        )
        answer, closed = read_until_closed(sock, timeout=10)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ") and b"ValidationException" in head, head
    assert "25000000" in json.loads(body)["message"]
    assert closed
    assert (
        "POST /model/amazon.nova-micro-v1:0/invoke refused, too large:"
        " Content-Length 25000001 is over 25000000"
    ) in bedrock.logs()


@pytest.mark.timeout(60)
def test_bedrock_local_times_out_slow_heads_and_idle_connections(bedrock_process):
    bedrock = bedrock_process(
        LAMBDASTREAM_HTTP_HEADER_TIMEOUT="2", LAMBDASTREAM_HTTP_IDLE_TIMEOUT="2"
    )
    url = bedrock.url
    head = b"POST /model/m/converse HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10_000
    with connect(url) as idle, Trickle(url, 20, head, interval=0.1) as trickle:
        time.sleep(1.0)
        assert trickle.open_count() == 20
        deadline = time.monotonic() + 10
        while trickle.open_count() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert trickle.open_count() == 0
        assert read_until_closed(idle, timeout=5) == (b"", True)
    assert bedrock.logs().count("408 Request Timeout: no whole request head in 2 s") == 20
