"""The chat's API-key mode, end to end: the key in Secrets Manager, checked by the function.

``CHAT_API_KEY_SECRET_ARN`` names the secret; the function reads it once, at
init, with its real boto3 code, from a stand-in that answers Secrets
Manager's ``GetSecretValue`` at the wire (``tests/secrets_standin.py``;
``lambdastream dev`` passes ``AWS_ENDPOINT_URL_SECRETS_MANAGER`` through to
the function as it does every ``AWS_ENDPOINT_URL*``). The ``openai`` SDK with
the right key streams; with a wrong one it raises ``AuthenticationError``, and
``/api/chat`` and ``POST /`` answer 401 in their own shapes. A secret that
cannot be read, or a key too short to be a key, fails the function's init:
no request is ever served without the check.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from secrets_standin import secrets_manager
from support import DevServer, start_dev

REPO = Path(__file__).resolve().parents[2]
MODEL = "global.anthropic.claude-haiku-4-5-20251001-v1:0"
KEY = "lsk-chat-0123456789abcdef-key"
WRONG_KEY = "lsk-chat-0123456789abcdef-kez"  # the same length, one character off
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:chat-api-key-AbCdEf"
SHORT_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:chat-short-key-GhIjKl"
SHORT_KEY = "tiny-key-15char"  # 15 characters: one short of the minimum
MISSING_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nobody-made-this-MnOpQr"
TIMEOUT = 30.0
_START = re.compile(r"^START RequestId: (\S+)", re.M)
_REPORT = re.compile(r"^REPORT RequestId: (\S+)", re.M)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def secrets() -> Iterator[tuple[str, list[str]]]:
    stored = {ARN: json.dumps({"api_key": KEY}), SHORT_ARN: SHORT_KEY}
    with secrets_manager(stored) as served:
        yield served


def dev(arn: str, endpoint: str, *flags: str) -> DevServer:
    return start_dev(
        "examples.chat.app.handler", REPO, "--bedrock-local", "--name", "chat",
        "--timeout", "60", "--env", f"CHAT_API_KEY_SECRET_ARN={arn}", *flags,
        env={"AWS_ENDPOINT_URL_SECRETS_MANAGER": endpoint},
    )  # fmt: skip


@pytest.fixture(scope="module")
def chat(secrets) -> Iterator[DevServer]:
    server = dev(ARN, secrets[0])
    yield server
    server.stop()


class Runs:
    """Requests sent and the invocations dev logged for them since the test began."""

    def __init__(self, server: DevServer) -> None:
        self.server = server
        self.offset = len(server.logs())
        self.sent = 0
        self.ids: list[str | None] = []

    def http_client(self) -> httpx.Client:
        def sent(request: httpx.Request) -> None:
            self.sent += 1

        def answered(response: httpx.Response) -> None:
            self.ids.append(response.headers.get("x-amzn-requestid"))

        return httpx.Client(
            timeout=TIMEOUT, event_hooks={"request": [sent], "response": [answered]}
        )

    def new_logs(self) -> str:
        return self.server.logs()[self.offset :]

    def assert_each_ran_once(self, requests: int) -> None:
        assert self.sent == requests, f"{self.sent} requests sent, not {requests}"
        assert len(self.ids) == requests and None not in self.ids, self.ids
        expected = Counter(self.ids)
        deadline = time.monotonic() + 10
        while Counter(_REPORT.findall(self.new_logs())) != expected:
            assert time.monotonic() < deadline, (expected, self.new_logs())
            time.sleep(0.05)
        assert Counter(_START.findall(self.new_logs())) == expected, self.new_logs()


@pytest.fixture
def runs(chat: DevServer) -> Runs:
    return Runs(chat)


def sdk(chat: DevServer, runs: Runs, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{chat.url}/v1", api_key=key, http_client=runs.http_client())


def ui_body(text: str) -> dict[str, Any]:
    return {
        "id": "chat-1",
        "trigger": "submit-message",
        "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": text}]}],
    }


# ----------------------------------------------------------------- the right key
def test_the_right_key_streams_and_lists_models(chat, runs):
    client = sdk(chat, runs, KEY)
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "[[echo]] behind a key"}], stream=True
    )
    pieces = [
        c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content
    ]
    assert "".join(pieces) == "You said: behind a key"
    assert len(pieces) >= 3
    assert [m.id for m in client.models.list()] == [MODEL]

    headers = {"authorization": f"Bearer {KEY}"}
    with runs.http_client() as http:
        ui = http.post(chat.url + "/api/chat", json=ui_body("[[echo]] hi"), headers=headers)
        page_chat = http.post(chat.url + "/", json={"prompt": "[[echo]] hi"}, headers=headers)
    assert ui.status_code == 200 and ui.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert '"delta":"' in ui.text and ui.text.endswith("data: [DONE]\n\n")
    assert (page_chat.status_code, page_chat.text) == (200, "You said: hi")
    runs.assert_each_ran_once(4)


# ----------------------------------------------------------------- a wrong key
@pytest.mark.parametrize("call", ["stream", "create", "models"])
def test_a_wrong_key_is_an_authentication_error_never_retried(chat, runs, call):
    client = sdk(chat, runs, WRONG_KEY)
    messages = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.AuthenticationError) as raised:
        if call == "models":
            client.models.list()
        else:
            client.chat.completions.create(model=MODEL, messages=messages, stream=call == "stream")
    error = raised.value
    assert error.status_code == 401
    assert error.code == "invalid_api_key" and error.type == "invalid_request_error"
    # OpenAI's words, showing only the key's ends: never the key itself.
    assert error.body["message"] == "Incorrect API key provided: lsk****-kez."
    runs.assert_each_ran_once(1)


def test_no_key_is_openais_401_without_a_code(chat, runs):
    with runs.http_client() as http:
        response = http.post(
            chat.url + "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "hi"}]},
        )
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] is None and error["type"] == "invalid_request_error"
    assert response.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in error["message"]
    runs.assert_each_ran_once(1)


@pytest.mark.parametrize(
    "authorization", [None, f"Bearer {WRONG_KEY}", f"Basic {KEY}", f"Bearer {KEY[:-1]}", "Bearer"]
)
def test_the_ui_route_and_the_page_route_answer_401_json(chat, runs, authorization):
    headers = {} if authorization is None else {"authorization": authorization}
    with runs.http_client() as http:
        ui = http.post(chat.url + "/api/chat", json=ui_body("hi"), headers=headers)
        page_chat = http.post(chat.url + "/", json={"prompt": "hi"}, headers=headers)
    assert ui.status_code == 401 and ui.headers["content-type"] == "application/json"
    assert ui.headers["www-authenticate"] == "Bearer"  # RFC 9110: a 401 names its scheme
    assert ui.json() == {
        "error": {
            "code": "unauthorized",
            "message": "send the API key as Authorization: Bearer <key>",
        }
    }
    assert page_chat.status_code == 401
    assert page_chat.headers["www-authenticate"] == "Bearer"
    body = page_chat.json()
    assert body["error"]["code"] == "unauthorized"
    assert body["request_id"] == page_chat.headers["x-amzn-requestid"]
    runs.assert_each_ran_once(2)


def test_the_key_is_read_once_at_init_and_never_logged(chat, runs, secrets):
    _, asked = secrets
    client = sdk(chat, runs, KEY)
    for _ in range(3):
        answer = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "[[echo]] again"}]
        )
        assert answer.choices[0].message.content == "You said: again"
    with pytest.raises(openai.AuthenticationError):
        sdk(chat, runs, WRONG_KEY).models.list()
    runs.assert_each_ran_once(4)
    # Read once per environment, at its init, never per request: one read in all when
    # one environment served the module (a request that comes while the last one's
    # runtime is still on its way back to /next starts another, as on Lambda).
    logs = chat.logs()
    environments = logs.count("INIT_START")
    assert asked.count(ARN) == environments >= 1, (asked, logs)
    assert environments < logs.count("REPORT RequestId"), logs  # fewer reads than requests
    assert KEY not in logs and WRONG_KEY not in logs


# ------------------------------------------------------------- init failures
def test_a_secret_that_cannot_be_read_fails_the_init_and_every_request(secrets):
    endpoint, asked = secrets
    server = dev(MISSING_ARN, endpoint)
    try:
        for _ in range(2):
            response = httpx.post(
                server.url + "/v1/chat/completions",
                json={"messages": [{"role": "user", "content": "hi"}]},
                headers={"authorization": f"Bearer {KEY}"},
                timeout=TIMEOUT,
            )
            # What a Function URL answers when the function cannot start.
            assert (response.status_code, response.text) == (502, "Internal Server Error")
        server.wait_for_log(
            r"^\[ERROR\] AuthConfigError: cannot read the API-key secret "
            + re.escape(MISSING_ARN)
            + r": ResourceNotFoundException$"
        )
        server.wait_for_log(r"^INIT_REPORT .*Status: error\tError Type: AuthConfigError$")
        logs = server.logs()
        assert "START RequestId" not in logs  # the handler never ran
        assert asked.count(MISSING_ARN) >= 1
    finally:
        server.stop()


def test_a_key_shorter_than_16_characters_fails_the_init(secrets):
    endpoint, asked = secrets
    # Provisioned, so the init runs before serving: dev stops with the init error.
    done = subprocess.run(
        [sys.executable, "-m", "lambdastream", "dev", "examples.chat.app.handler",
         "--root", str(REPO), "--bedrock-local", "--port", "0", "--api-port", "0",
         "--provisioned", "1", "--env", f"CHAT_API_KEY_SECRET_ARN={SHORT_ARN}"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, cwd=REPO,
        env={**os.environ, "AWS_ENDPOINT_URL_SECRETS_MANAGER": endpoint},
    )  # fmt: skip
    assert done.returncode == 1, done
    assert (
        "[ERROR] AuthConfigError: the API key in CHAT_API_KEY_SECRET_ARN is shorter than"
        " 16 characters"
    ) in done.stdout, done.stdout
    assert "Function URL" not in done.stdout
    assert done.stderr.startswith(
        "lambdastream dev: 1 of 1 provisioned environments failed to initialize"
    ), done.stderr
    assert SHORT_KEY not in done.stdout + done.stderr
    assert asked.count(SHORT_ARN) == 1
