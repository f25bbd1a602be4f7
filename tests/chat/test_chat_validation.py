"""The chat handler's request validation and routing, called in-process.

Everything here is refused before any model call, so no Bedrock is needed:
the handler would fail loudly if it tried one (no endpoint, no credentials).
The same errors are checked over real sockets in ``tests/test_invoke_cli.py``.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

# examples/ sits beside src/, outside the installed package: import the
# handler the way `lambdastream dev --root .` does, from the repository root.
REPO = str(Path(__file__).resolve().parents[2])
if REPO not in sys.path:
    sys.path.insert(0, REPO)
# Lambda always sets AWS_REGION and AWS_DEFAULT_REGION, and the app builds
# its Bedrock client at init.
os.environ.setdefault("AWS_REGION", "us-east-1")
os.environ.setdefault("AWS_DEFAULT_REGION", os.environ["AWS_REGION"])

from examples.chat.app import (  # noqa: E402
    Config,
    ConfigError,
    RequestError,
    handler,
    parse_chat_request,
)

CONTEXT = SimpleNamespace(aws_request_id="req-1")
LIMITS = Config(max_tokens_cap=100, default_max_tokens=50, max_body_bytes=300,
                max_prompt_chars=40, max_messages=3)  # fmt: skip


def refused(body: bytes | str, config: Config = LIMITS) -> RequestError:
    raw = body.encode() if isinstance(body, str) else body
    with pytest.raises(RequestError) as info:
        parse_chat_request(raw, config)
    return info.value


def url_event(method: str, path: str = "/", body: str = "", **extra):
    return {
        "version": "2.0",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {"http": {"method": method, "path": path}},
        "body": body,
        "isBase64Encoded": False,
        **extra,
    }


def test_prompt_becomes_one_user_message_with_defaults():
    request = parse_chat_request(b'{"prompt": "Hello"}', LIMITS)
    assert request.messages == [{"role": "user", "content": [{"text": "Hello"}]}]
    assert request.max_tokens == 50
    assert request.system == LIMITS.system_prompt
    assert request.prompt_chars == 5


def test_messages_accept_text_and_converse_blocks():
    body = {
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": [{"text": "Hello!"}]},
            {"role": "user", "content": "More"},
        ],
        "system": "Be brief.",
        "max_tokens": 100,
        "temperature": 0.2,
    }
    request = parse_chat_request(json.dumps(body).encode(), LIMITS)
    assert [m["content"][0]["text"] for m in request.messages] == ["Hi", "Hello!", "More"]
    assert (request.system, request.max_tokens, request.temperature) == ("Be brief.", 100, 0.2)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("", 400, "missing_body"),
        ("{oops", 400, "bad_json"),
        (b'{"prompt": "\xff"}', 400, "bad_json"),
        ('"just a string"', 400, "bad_request"),
        ("{}", 400, "missing_prompt"),
        ('{"prompt": ""}', 400, "missing_prompt"),
        ('{"prompt": 7}', 400, "missing_prompt"),
        ('{"messages": []}', 400, "missing_prompt"),
        ('{"prompt": "a", "messages": [{"role": "user", "content": "b"}]}', 400, "bad_request"),
        ('{"messages": [{"role": "user", "content": ""}]}', 400, "bad_message"),
        ('{"messages": ["hi"]}', 400, "bad_message"),
        ('{"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}',
         400, "bad_message"),
        ('{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}',
         400, "bad_message"),
        ('{"messages": [{"role": "user", "content": [{"image": {}}]}]}', 400, "bad_message"),
        ('{"messages": [' + ",".join(['{"role": "user", "content": "a"}'] * 4) + "]}",
         413, "too_many_messages"),
        ('{"prompt": "hi", "max_tokens": 101}', 400, "max_tokens_too_large"),
        ('{"prompt": "hi", "max_tokens": 0}', 400, "bad_max_tokens"),
        ('{"prompt": "hi", "max_tokens": true}', 400, "bad_max_tokens"),
        ('{"prompt": "hi", "max_tokens": 1.5}', 400, "bad_max_tokens"),
        ('{"prompt": "hi", "temperature": -0.1}', 400, "bad_temperature"),
        ('{"prompt": "hi", "system": ["x"]}', 400, "bad_request"),
        ('{"prompt": "hi", "stream": true}', 400, "unknown_field"),
        ('{"prompt": "' + "p" * 41 + '"}', 413, "prompt_too_long"),
        ('{"prompt": "hi", "system": "' + "s" * 39 + '"}', 413, "prompt_too_long"),
        ('{"prompt": "' + "b" * 400 + '"}', 413, "body_too_large"),
    ],
)  # fmt: skip
def test_bad_requests_are_refused_with_a_status_and_code(body, status, code):
    error = refused(body)
    assert (error.status, error.code) == (status, code)
    assert error.message


def test_cap_message_names_the_limit():
    assert "at most 100" in refused('{"prompt": "hi", "max_tokens": 500}').message


def test_config_from_env_reads_limits_and_refuses_nonsense():
    config = Config.from_env(
        {
            "CHAT_MODEL_ID": "amazon.nova-lite-v1:0",
            "CHAT_MAX_TOKENS_CAP": "256",
            "CHAT_API": "invoke",
        }
    )
    assert (config.model_id, config.max_tokens_cap, config.api) == (
        "amazon.nova-lite-v1:0",
        256,
        "invoke",
    )
    assert config.default_max_tokens == 256  # the default never exceeds the cap
    assert Config.from_env({}).model_id.startswith(("global.", "us.", "anthropic.", "amazon."))
    for bad in (
        {"CHAT_MAX_TOKENS_CAP": "many"},
        {"CHAT_MAX_BODY_BYTES": "0"},
        {"CHAT_API": "chat"},
    ):
        with pytest.raises(ConfigError):
            Config.from_env(bad)


def test_handler_answers_refusals_as_json_with_request_id(capsys):
    answer = handler(url_event("POST", body='{"prompt": "hi", "max_tokens": 999999}'), CONTEXT)
    assert answer["statusCode"] == 400
    assert answer["headers"]["content-type"] == "application/json"
    assert json.loads(answer["body"]) == {
        "error": {
            "code": "max_tokens_too_large",
            "message": "max_tokens is 999999; this function allows at most 4096",
        },
        "request_id": "req-1",
    }
    log = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert log["status"] == 400 and log["request_id"] == "req-1"


@pytest.mark.parametrize(
    ("event", "status", "code"),
    [
        (url_event("PUT"), 405, "method_not_allowed"),
        (url_event("DELETE"), 405, "method_not_allowed"),
        (url_event("POST", "/other", '{"prompt": "hi"}'), 404, "not_found"),
        (url_event("GET", "/../app.py"), 404, "not_found"),
        (url_event("GET", "/static/app.js"), 404, "not_found"),
        (url_event("POST", body='{"prompt": "hi"}', queryStringParameters={"mode": "x"}),
         400, "bad_mode"),
        (url_event("POST", body="!!!", isBase64Encoded=True), 400, "bad_body"),
        (url_event("POST", body="A" * 200_000, isBase64Encoded=True), 413, "body_too_large"),
    ],
)  # fmt: skip
def test_routing_errors(event, status, code):
    answer = handler(event, CONTEXT)
    assert answer["statusCode"] == status
    assert json.loads(answer["body"])["error"]["code"] == code
    if status == 405:
        assert answer["headers"]["allow"] == "GET, HEAD, POST"


def test_base64_body_is_decoded_before_validation():
    body = base64.b64encode(b'{"prompt": "hi", "max_tokens": 0}').decode()
    answer = handler(url_event("POST", body=body, isBase64Encoded=True), CONTEXT)
    assert json.loads(answer["body"])["error"]["code"] == "bad_max_tokens"


@pytest.mark.parametrize(
    ("path", "media_type", "needle"),
    [
        ("/", "text/html", '<textarea id="prompt"'),
        ("/app.js", "text/javascript", "getReader()"),
        ("/markdown.js", "text/javascript", "renderMarkdown"),
        ("/style.css", "text/css", ".pane"),
    ],
)
def test_page_and_assets_are_served(path, media_type, needle):
    answer = handler(url_event("GET", path), CONTEXT)
    assert answer["statusCode"] == 200
    assert answer["headers"]["content-type"].startswith(media_type)
    assert needle in answer["body"]


def test_api_gateway_rest_event_is_routed_like_a_function_url():
    event = {
        "httpMethod": "PUT",
        "path": "/",
        "headers": {"Accept": "text/event-stream"},
        "requestContext": {"stage": "prod"},
        "body": "{}",
    }
    answer = handler(event, CONTEXT)
    assert answer["statusCode"] == 405
    page = handler({**event, "httpMethod": "GET"}, CONTEXT)
    assert page["headers"]["content-type"].startswith("text/html")


def test_direct_invocation_validates_the_event_as_the_request():
    answer = handler({"prompt": "hi", "max_tokens": -1}, CONTEXT)
    assert json.loads(answer["body"])["error"]["code"] == "bad_max_tokens"
    assert handler(["not", "an", "object"], CONTEXT)["statusCode"] == 400


def test_unexpected_failure_is_a_500_without_internals(capsys):
    # No caller Lambda knows sends headers as a list: an unforeseen failure.
    answer = handler(url_event("GET", headers=["secret-looking-value"]), CONTEXT)
    assert answer["statusCode"] == 500
    assert json.loads(answer["body"]) == {
        "error": {"code": "internal_error", "message": "the function failed; see its logs"},
        "request_id": "req-1",
    }
    captured = capsys.readouterr()
    assert "AttributeError" in captured.out and "Traceback" in captured.err  # in the log only
