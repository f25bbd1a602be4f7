"""Refusals and failures on the chat's protocol routes, over sockets under ``lambdastream dev``.

Malformed requests sent raw (httpx) to ``POST /v1/chat/completions`` and
``POST /api/chat`` get their protocol's error shape and status, never a
traceback, in the answer or in the function's log: OpenAI's ``{"error":
{"message", "type", "param", "code"}}``, the AI SDK route's ``{"error":
{"code", "message"}}``. The ``openai`` SDK raises its own typed exceptions
for them, and retries none. A model failure reaches each client in its own
protocol: before the first token as an HTTP status, mid-stream as OpenAI's
``data: {"error": ...}`` event (the SDK raises ``APIError`` while iterating)
or the UI stream's ``error`` part. Every request runs the handler once.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from support import DevServer, start_dev

REPO = Path(__file__).resolve().parents[2]
MODEL = "global.anthropic.claude-haiku-4-5-20251001-v1:0"
MAX_BODY = 64 * 1024  # CHAT_MAX_BODY_BYTES's default
TIMEOUT = 30.0
_START = re.compile(r"^START RequestId: (\S+)", re.M)
_REPORT = re.compile(r"^REPORT RequestId: (\S+)", re.M)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def chat() -> Iterator[DevServer]:
    server = start_dev(
        "examples.chat.app.handler", REPO, "--bedrock-local", "--name", "chat", "--timeout", "60"
    )
    yield server
    server.stop()


class Runs:
    """Invocations since the test began, from dev's log, matched with the answers' request ids."""

    def __init__(self, server: DevServer) -> None:
        self.server = server
        self.offset = len(server.logs())
        self.ids: list[str | None] = []
        self.sent = 0

    def note(self, response: httpx.Response) -> httpx.Response:
        self.ids.append(response.headers.get("x-amzn-requestid"))
        return response

    def http_client(self) -> httpx.Client:
        def sent(request: httpx.Request) -> None:
            self.sent += 1

        return httpx.Client(
            timeout=TIMEOUT, event_hooks={"request": [sent], "response": [self.note]}
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

    def chat_log(self, request_id: str) -> dict[str, Any]:
        """The function's own log line (one JSON object) for ``request_id``."""
        for line in self.new_logs().splitlines():
            if line.startswith("{") and f'"request_id": "{request_id}"' in line:
                return json.loads(line)
        raise AssertionError(f"no chat log line for {request_id}:\n{self.new_logs()}")


@pytest.fixture
def runs(chat: DevServer) -> Runs:
    return Runs(chat)


def no_traceback(runs: Runs, body: str = "") -> None:
    assert "Traceback" not in body and 'File "' not in body, body
    logs = runs.new_logs()
    assert "Traceback" not in logs and "[ERROR]" not in logs, logs


def openai_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The OpenAI error object of a refusal, checked for shape; returns body["error"]."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"], body
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"]
    assert error["type"] == ("server_error" if status >= 500 else "invalid_request_error")
    return error


def ui_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The /api/chat refusal, ``{"error": {"code", "message"}}``; returns body["error"]."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"] and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["message"], body
    return body["error"]


def ui_body(text: str) -> dict[str, Any]:
    return {
        "id": "chat-1",
        "trigger": "submit-message",
        "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": text}]}],
    }


def too_large_openai() -> bytes:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "x" * (MAX_BODY + 10)}]}
    return json.dumps(body).encode()


def too_large_ui() -> bytes:
    return json.dumps(ui_body("x" * (MAX_BODY + 10))).encode()


# -------------------------------------------------------- raw: /v1/chat/completions
OPENAI_REFUSALS = [
    # (name, method, path, body, status, code, param)
    ("bad JSON", "POST", "/v1/chat/completions", b'{"model": ', 400, None, None),
    ("empty body", "POST", "/v1/chat/completions", b"", 400, None, None),
    ("not UTF-8", "POST", "/v1/chat/completions", b'{"model": "\xff"}', 400, None, None),
    ("body an array", "POST", "/v1/chat/completions", b"[1, 2]", 400, "invalid_type", None),
    ("body a string", "POST", "/v1/chat/completions", b'"hi"', 400, "invalid_type", None),
    ("unknown model", "POST", "/v1/chat/completions",
     b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}',
     404, "model_not_found", None),
    ("missing messages", "POST", "/v1/chat/completions", b'{"model": "' + MODEL.encode() + b'"}',
     400, "missing_required_parameter", "messages"),
    ("empty messages", "POST", "/v1/chat/completions", b'{"messages": []}',
     400, "empty_array", "messages"),
    ("GET completions", "GET", "/v1/chat/completions", b"", 405, None, None),
    ("PUT completions", "PUT", "/v1/chat/completions", b"{}", 405, None, None),
    ("POST models", "POST", "/v1/models", b"{}", 405, None, None),
    ("too large", "POST", "/v1/chat/completions", too_large_openai(), 413, None, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code", "param"),
    [case[1:] for case in OPENAI_REFUSALS],
    ids=[case[0] for case in OPENAI_REFUSALS],
)
def test_openai_route_refuses_in_openais_error_shape(
    chat, runs, method, path, body, status, code, param
):
    with runs.http_client() as http:
        response = http.request(
            method, chat.url + path, content=body, headers={"content-type": "application/json"}
        )
    error = openai_error(response, status)
    assert (error["code"], error["param"]) == (code, param), error
    if status == 405:  # RFC 9110: a 405 says which methods the resource takes
        assert response.headers["allow"] == ("GET" if path == "/v1/models" else "POST")
    no_traceback(runs, response.text)
    runs.assert_each_ran_once(1)
    log = runs.chat_log(response.headers["x-amzn-requestid"])
    assert log["status"] == status


UI_REFUSALS = [
    ("bad JSON", "POST", b'{"messages": [', 400, "bad_json"),
    ("empty body", "POST", b"", 400, "bad_json"),
    ("not UTF-8", "POST", b'{"messages": "\xff"}', 400, "bad_json"),
    ("body an array", "POST", b"[1, 2]", 400, "bad_request"),
    ("missing messages", "POST", b'{"id": "chat-1", "trigger": "submit-message"}',
     400, "missing_messages"),
    ("empty messages", "POST", b'{"messages": []}', 400, "missing_messages"),
    ("GET", "GET", b"", 405, "method_not_allowed"),
    ("DELETE", "DELETE", b"", 405, "method_not_allowed"),
    ("too large", "POST", too_large_ui(), 413, "body_too_large"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "body", "status", "code"),
    [case[1:] for case in UI_REFUSALS],
    ids=[case[0] for case in UI_REFUSALS],
)
def test_ui_route_refuses_in_its_error_shape(chat, runs, method, body, status, code):
    with runs.http_client() as http:
        response = http.request(
            method,
            chat.url + "/api/chat",
            content=body,
            headers={"content-type": "application/json"},
        )
    assert ui_error(response, status)["code"] == code
    if status == 405:
        assert response.headers["allow"] == "POST"
    no_traceback(runs, response.text)
    runs.assert_each_ran_once(1)


# ------------------------------------------------------------- the openai SDK's view
def sdk(chat: DevServer, runs: Runs, **options: Any) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{chat.url}/v1", api_key="unused", http_client=runs.http_client(), **options
    )


@pytest.mark.parametrize(
    ("kwargs", "exception", "status", "code", "param"),
    [
        ({"model": "gpt-4o"}, openai.NotFoundError, 404, "model_not_found", None),
        ({"messages": []}, openai.BadRequestError, 400, "empty_array", "messages"),
        ({"n": 2}, openai.BadRequestError, 400, "unsupported_value", "n"),
        ({"temperature": 1.5}, openai.BadRequestError, 400, "unsupported_value", "temperature"),
        ({"logit_bias": {"50256": -100}}, openai.BadRequestError, 400,
         "unsupported_parameter", "logit_bias"),
        ({"stream": True, "model": "gpt-4o"}, openai.NotFoundError, 404, "model_not_found", None),
        ({"stream": True, "messages": [{"role": "robot", "content": "hi"}]},
         openai.BadRequestError, 400, None, "messages[0].role"),
    ],
    ids=["unknown model", "no messages", "n", "temperature", "logit_bias", "stream unknown model",
         "stream bad role"],
)  # fmt: skip
def test_openai_sdk_raises_its_typed_exceptions_and_retries_none(
    chat, runs, kwargs, exception, status, code, param
):
    request: dict[str, Any] = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hi"}],
        **kwargs,
    }
    with pytest.raises(exception) as raised:
        sdk(chat, runs).chat.completions.create(**request)
    error = raised.value
    assert error.status_code == status
    assert error.type == "invalid_request_error"
    assert error.param == param
    if code is not None:
        assert error.code == code
    assert isinstance(error.body, dict) and error.body["message"] in error.message
    no_traceback(runs, json.dumps(error.body))
    runs.assert_each_ran_once(1)  # a 4xx is the client's to fix: never retried


def test_openai_sdk_too_large_body_is_a_413_status_error(chat, runs):
    with pytest.raises(openai.APIStatusError) as raised:
        sdk(chat, runs).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "x" * (MAX_BODY + 10)}]
        )
    assert raised.value.status_code == 413
    assert raised.value.type == "invalid_request_error"
    no_traceback(runs)
    runs.assert_each_ran_once(1)


# ------------------------------------------------------------------ model failures
def test_model_failure_before_the_first_token_is_an_http_status(chat, runs):
    failing = "Hello [[error:ServiceUnavailableException]]"
    with pytest.raises(openai.InternalServerError) as raised:
        sdk(chat, runs, max_retries=0).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": failing}], stream=True
        )
    assert raised.value.status_code == 503
    with runs.http_client() as http:
        response = http.post(chat.url + "/api/chat", json=ui_body(failing))
    assert ui_error(response, 503)["code"] == "model_error"
    assert "ServiceUnavailable" not in response.text  # Bedrock's words stay in the log
    no_traceback(runs, response.text)
    runs.assert_each_ran_once(2)


def test_mid_stream_failure_raises_apierror_while_the_openai_sdk_iterates(chat, runs):
    stream = sdk(chat, runs).chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Tell me about streaming [[stream-error:3]]"}],
        stream=True,
    )
    pieces: list[str] = []
    with pytest.raises(openai.APIError) as raised:
        for chunk in stream:
            pieces.extend(c.delta.content for c in chunk.choices if c.delta.content)
    # Raised from the stream's data: {"error": ...} event, after the text before it.
    assert not isinstance(raised.value, openai.APIStatusError)
    assert len(pieces) == 3, pieces
    assert "modelStreamErrorException" in raised.value.message
    assert raised.value.type == "server_error"
    runs.assert_each_ran_once(1)
    log = runs.chat_log(runs.ids[0] or "")
    assert log["error_code"] == "model_stream_error"


def test_mid_stream_failure_is_an_error_part_in_the_ui_stream(chat, runs):
    body = ui_body("Tell me about streaming [[stream-error:3]]")
    with (
        runs.http_client() as http,
        http.stream("POST", chat.url + "/api/chat", json=body) as response,
    ):
        assert response.status_code == 200
        assert response.headers["x-vercel-ai-ui-message-stream"] == "v1"
        events = [
            line[len("data: ") :] for line in response.iter_lines() if line.startswith("data: ")
        ]
    assert events[-1] == "[DONE]"
    parts = [json.loads(event) for event in events[:-1]]
    deltas = [p["delta"] for p in parts if p["type"] == "text-delta"]
    assert len(deltas) == 3, parts
    assert parts[-1]["type"] == "error", parts
    assert "modelStreamErrorException" in parts[-1]["errorText"]
    assert "finish" not in [p["type"] for p in parts]
    assert "Traceback" not in "".join(events)
    runs.assert_each_ran_once(1)
    # The operator's log says the answer failed, as it does for the OpenAI route.
    log = runs.chat_log(runs.ids[0] or "")
    assert log["error_code"] == "model_stream_error", log
