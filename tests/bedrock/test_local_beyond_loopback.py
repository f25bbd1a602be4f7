"""``lambdastream bedrock-local --host`` beyond loopback checks signatures, as Bedrock does.

On loopback bedrock-local takes any signed-looking request (a developer's
boto3 with dummy keys); listening beyond it, anyone who can reach the
machine could call it (and spend an OpenAI key with ``--backend openai``),
so it then verifies SigV4 (service ``bedrock``) with the local credentials
and says so at startup. "Another host" is 127.0.0.2: the server sees a
different peer, and nothing leaves loopback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from h11client import request

KEYS = {"AWS_ACCESS_KEY_ID": "AKIDBEDROCKLOCAL", "AWS_SECRET_ACCESS_KEY": "bedrock-local-secret"}
MODEL = "amazon.nova-micro-v1:0"


@pytest.fixture
def exposed() -> Iterator[tuple[str, list[str]]]:
    process = subprocess.Popen(
        [
            sys.executable, "-m", "lambdastream", "bedrock-local", "--host", "0.0.0.0",
            "--port", "0", "--first-token-latency", "0", "--tokens-per-second", "0",
        ],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, **KEYS, "AWS_REGION": "us-east-1", "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert process.stdout is not None
    lines: list[str] = []
    while not lines or "export AWS_ENDPOINT_URL" not in lines[-1]:  # its last startup line
        line = process.stdout.readline()
        assert line, f"bedrock-local ended: {lines}"
        lines.append(line)
    port = next(line for line in lines if "listening on" in line).rsplit(":", 1)[1].strip()
    try:
        yield f"http://127.0.0.2:{port}", lines
    finally:
        process.terminate()
        process.wait(10)


def _client(url: str, secret: str):
    return boto3.client(
        "bedrock-runtime", endpoint_url=url, region_name="us-east-1",
        aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"], aws_secret_access_key=secret,
        config=Config(retries={"total_max_attempts": 1}),
    )  # fmt: skip


MESSAGES = [{"role": "user", "content": [{"text": "hello there"}]}]


@pytest.mark.timeout(60)
def test_beyond_loopback_only_signatures_of_the_local_credentials_pass(exposed):
    url, lines = exposed
    assert any("SigV4-signed requests only" in line for line in lines), lines
    answer = _client(url, KEYS["AWS_SECRET_ACCESS_KEY"]).converse(modelId=MODEL, messages=MESSAGES)
    assert answer["output"]["message"]["content"]
    with pytest.raises(ClientError) as refused:
        _client(url, "not-the-secret").converse(modelId=MODEL, messages=MESSAGES)
    assert refused.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # A header that only looks like a signature was enough before.
    forged = request(
        f"{url}/model/{MODEL}/converse", "POST",
        [("authorization", "AWS4-HMAC-SHA256 Credential=x"), ("content-type", "application/json")],
        body=json.dumps({"messages": MESSAGES}).encode(),
    )  # fmt: skip
    assert forged.status == 403
