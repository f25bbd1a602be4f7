"""stream_text through real boto3 against a real bedrock-local, for every family and path."""

from __future__ import annotations

import base64
import http.client
import json
import socket
from urllib.parse import urlsplit

import pytest
from bedrock_models import MODEL_IDS
from botocore.exceptions import ClientError

from lambdastream.bedrock import (
    BedrockStreamError,
    ReasoningDelta,
    RetryPolicy,
    StreamEnd,
    TextDelta,
    ToolUseDelta,
    ToolUseStart,
    Usage,
    stream_text,
)
from lambdastream.wire.eventstream import EventStreamDecoder

FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.01)
pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize("name", sorted(MODEL_IDS))
def test_every_family_streams_the_scripted_answer_over_invoke(client, name):
    stream = stream_text(
        client, MODEL_IDS[name], prompt=f"Tell me about {name} please", api="invoke"
    )
    pieces = list(stream.text())
    assert "".join(pieces) == f"You said: Tell me about {name} please"
    assert len(pieces) == 7  # one word per token: the stream really arrived in pieces
    assert stream.end.stop_reason == "end_turn"
    assert stream.end.usage == Usage(input_tokens=5, output_tokens=7)


@pytest.mark.parametrize("name", sorted(MODEL_IDS))
def test_every_family_over_converse_stream(client, name):
    stream = stream_text(
        client,
        MODEL_IDS[name],
        messages=[
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": [{"text": "ok"}]},
            {"role": "user", "content": [{"text": "second question"}]},
        ],
        system="Be brief.",
    )
    assert "".join(stream.text()) == "You said: second question"
    assert stream.end == StreamEnd("end_turn", Usage(6, 4), "end_turn", stream.end.latency_ms)


@pytest.mark.parametrize("api", ["converse", "invoke"])
def test_max_tokens_truncates_with_stop_reason(client, api):
    stream = stream_text(
        client,
        "us.anthropic.claude-3-5-haiku-20241022-v1:0",
        prompt="one two three four five",
        max_tokens=3,
        api=api,
    )
    assert "".join(stream.text()) == "You said: one"
    assert stream.end.stop_reason == "max_tokens"
    assert stream.end.usage.output_tokens == 3


def test_multi_turn_and_system_reach_invoke_families(client):
    for name in ("meta", "mistral", "deepseek", "titan-text", "cohere-command", "anthropic-text"):
        stream = stream_text(
            client,
            MODEL_IDS[name],
            api="invoke",
            system="Be brief.",
            messages=[
                {"role": "user", "content": "a b"},
                {"role": "assistant", "content": "c"},
                {"role": "user", "content": "last one"},
            ],
        )
        assert "".join(stream.text()) == "You said: last one", name
        assert stream.end.usage.input_tokens == 7, name


@pytest.mark.parametrize(
    ("api", "model"), [("converse", "amazon.nova-pro-v1:0"), ("invoke", MODEL_IDS["anthropic"])]
)
def test_reasoning_and_tool_use_are_typed_events(client, api, model):
    events = list(
        stream_text(client, model, prompt="weather [[think]] [[tool:get_weather]]", api=api)
    )
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    starts = [e for e in events if isinstance(e, ToolUseStart)]
    tool_input = "".join(e.input for e in events if isinstance(e, ToolUseDelta))
    assert reasoning == "Let me think about that."
    assert text == "You said: weather"
    assert starts == [ToolUseStart("tooluse_local_1", "get_weather", 2)]
    assert json.loads(tool_input) == {"text": "weather"}
    assert events[-1].stop_reason == "tool_use"


REASONING_FAMILIES = {"anthropic", "nova", "deepseek", "openai-gpt-oss"}


@pytest.mark.parametrize("name", sorted(MODEL_IDS))
def test_usage_counts_the_tokens_each_family_streams(client, name):
    events = list(stream_text(client, MODEL_IDS[name], prompt="hi [[think]]", api="invoke"))
    reasoning = [e for e in events if isinstance(e, ReasoningDelta) and e.text]
    text = [e for e in events if isinstance(e, TextDelta)]
    assert "".join(e.text for e in text) == "You said: hi"
    thought = "Let me think about that." if name in REASONING_FAMILIES else ""
    assert "".join(e.text for e in reasoning) == thought
    # One token per word: 3 of answer, plus 5 of reasoning where the family carries it.
    expected = 3 + (5 if thought else 0)
    assert events[-1].usage == Usage(input_tokens=1, output_tokens=expected)


@pytest.mark.parametrize("name", ["deepseek", "openai-gpt-oss"])
def test_inline_reasoning_families_separate_reasoning(client, name):
    events = list(stream_text(client, MODEL_IDS[name], prompt="hmm [[think]]", api="invoke"))
    assert (
        "".join(e.text for e in events if isinstance(e, ReasoningDelta))
        == "Let me think about that."
    )
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "You said: hmm"


# ------------------------------------------------------------------ faults


@pytest.mark.parametrize("api", ["converse", "invoke"])
def test_throttle_before_the_stream_is_retried_and_succeeds(client, api):
    stream = stream_text(
        client,
        MODEL_IDS["nova"],
        prompt=f"retry me {api} [[throttle:2]]",
        api=api,
        retry=FAST_RETRY,
    )
    assert "".join(stream.text()) == f"You said: retry me {api}"
    assert stream.attempts == 3


def test_throttle_beyond_the_policy_raises_typed_error(client):
    stream = stream_text(
        client,
        MODEL_IDS["meta"],
        prompt="always [[throttle:9]]",
        api="invoke",
        retry=RetryPolicy(max_attempts=2, base_delay=0.001),
    )
    with pytest.raises(BedrockStreamError) as info:
        list(stream)
    assert info.value.code == "ThrottlingException"
    assert info.value.after_first_token is False
    assert info.value.attempts == 2


@pytest.mark.parametrize("api", ["converse", "invoke"])
def test_mid_stream_exception_surfaces_as_typed_error(client, api):
    got = []
    stream = stream_text(
        client,
        MODEL_IDS["anthropic"],
        prompt="a b c d [[stream-error:3]]",
        api=api,
        retry=FAST_RETRY,
    )
    with pytest.raises(BedrockStreamError) as info:
        for piece in stream.text():
            got.append(piece)
    assert got == ["You", " said:", " a"]
    assert info.value.code == "modelStreamErrorException"
    assert info.value.after_first_token is True
    assert info.value.attempts == 1  # never retried after the first token


def test_in_stream_throttle_before_first_token_is_retried(client):
    stream = stream_text(
        client,
        MODEL_IDS["mistral"],
        prompt="x [[stream-error:0:throttlingException]]",
        api="invoke",
        retry=RetryPolicy(max_attempts=3, base_delay=0.001),
    )
    with pytest.raises(BedrockStreamError) as info:
        list(stream)
    assert info.value.code == "throttlingException"
    assert (info.value.after_first_token, info.value.attempts) == (False, 3)


def test_non_retryable_http_error_is_not_retried(client):
    stream = stream_text(
        client,
        "amazon.nova-micro-v1:0",
        prompt="x [[error:AccessDeniedException]]",
        retry=FAST_RETRY,
    )
    with pytest.raises(BedrockStreamError) as info:
        list(stream)
    assert (info.value.code, info.value.attempts) == ("AccessDeniedException", 1)


def test_5xx_is_retried(client):
    stream = stream_text(
        client,
        "amazon.nova-micro-v1:0",
        prompt="x [[error:ServiceUnavailableException]]",
        retry=RetryPolicy(max_attempts=2, base_delay=0.001),
    )
    with pytest.raises(BedrockStreamError) as info:
        list(stream)
    assert (info.value.code, info.value.attempts) == ("ServiceUnavailableException", 2)


# ------------------------------------------------------------------ malformed requests


def _validation_message(call) -> str:
    with pytest.raises(ClientError) as info:
        call()
    error = info.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Message"]
    return error["Message"]


def test_malformed_requests_get_validation_exception(client):
    anthropic = MODEL_IDS["anthropic"]
    assert "Malformed input request" in _validation_message(
        lambda: client.invoke_model(modelId=anthropic, body=b"{not json")
    )
    assert "max_tokens" in _validation_message(
        lambda: client.invoke_model_with_response_stream(
            modelId=anthropic,
            body=json.dumps(
                {
                    "anthropic_version": "bedrock-2023-05-31",
                    "messages": [{"role": "user", "content": "hi"}],
                }
            ),
        )
    )
    assert "model identifier is invalid" in _validation_message(
        lambda: client.invoke_model(modelId="acme.unknown-v1", body=b"{}")
    )
    assert "unknown directive" in _validation_message(
        lambda: client.converse(
            modelId="amazon.nova-micro-v1:0",
            messages=[{"role": "user", "content": [{"text": "[[nope]]"}]}],
        )
    )
    assert "start with a user message" in _validation_message(
        lambda: client.converse_stream(
            modelId="amazon.nova-micro-v1:0",
            messages=[{"role": "assistant", "content": [{"text": "hi"}]}],
        )
    )


# One malformed body per family, each as Bedrock refuses it: the field named, the reason.
USER_HI = {"role": "user", "content": "hi"}
MALFORMED_INVOKE = {
    "anthropic": (
        {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 0, "messages": [USER_HI]},
        "#/max_tokens: 0 is not greater or equal to 1",
    ),
    "anthropic-text": (
        {"prompt": "\n\nHuman: hi\n\nAssistant:", "max_tokens_to_sample": "10"},
        "#/max_tokens_to_sample: expected type: Integer, found: String",
    ),
    "cohere-command": (
        {"prompt": "hi", "max_tokens": 99999999999},
        "#/max_tokens: 99999999999 is not less or equal to 2147483647",
    ),
    "cohere-command-r": (
        {"message": "hi", "chat_history": [{"role": "USER"}]},
        "#/chat_history/0: required key [message] not found",
    ),
    "meta": ({"prompt": "hi", "temperature": "hot"}, "#/temperature: expected type: Number"),
    "titan-text": (
        {"inputText": "hi", "textGenerationConfig": {"temperature": 1.5}},
        "#/textGenerationConfig/temperature: 1.5 is not less or equal to 1",
    ),
    "nova": (
        {"messages": [{"role": "user", "content": [{"text": 5}]}]},
        "#/messages/0/content/0/text: expected type: String, found: Integer",
    ),
    "mistral": (
        {"prompt": "<s>[INST] hi [/INST]", "max_tokens": None},
        "#/max_tokens: expected type: Integer, found: Null",
    ),
    "ai21-jamba": (
        {"messages": [{"role": "user"}]},
        "#/messages/0: required key [content] not found",
    ),
    "deepseek": ({"prompt": ["hi"]}, "#/prompt: expected type: String, found: JSONArray"),
    "openai-gpt-oss": (
        {"messages": [USER_HI], "max_completion_tokens": True},
        "#/max_completion_tokens: expected type: Integer, found: Boolean",
    ),
}


def test_every_family_has_a_malformed_case():
    assert sorted(MALFORMED_INVOKE) == sorted(MODEL_IDS)


@pytest.mark.parametrize("streaming", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("name", sorted(MALFORMED_INVOKE))
def test_each_family_refuses_its_malformed_body(client, name, streaming):
    body, expected = MALFORMED_INVOKE[name]
    call = client.invoke_model_with_response_stream if streaming else client.invoke_model
    message = _validation_message(lambda: call(modelId=MODEL_IDS[name], body=json.dumps(body)))
    assert expected in message


@pytest.mark.parametrize("streaming", [True, False], ids=["converse-stream", "converse"])
@pytest.mark.parametrize(
    ("request_fields", "expected"),
    [
        ({"inferenceConfig": {"maxTokens": 99999999999}}, "inferenceConfig.maxTokens: 99999999999"),
        ({"inferenceConfig": {"temperature": 1.5}}, "inferenceConfig.temperature: 1.5"),
        ({"system": [{"text": "a"}, {"text": "b"}]}, None),  # well formed: answered
    ],
)
def test_converse_range_checks_inference_config(client, streaming, request_fields, expected):
    call = client.converse_stream if streaming else client.converse
    messages = [{"role": "user", "content": [{"text": "hi"}]}]
    if expected is None:
        answer = call(modelId="amazon.nova-micro-v1:0", messages=messages, **request_fields)
        if streaming:
            assert [e for e in answer["stream"] if "contentBlockDelta" in e]
        else:
            assert answer["output"]["message"]["content"] == [{"text": "You said: hi"}]
        return
    assert expected in _validation_message(
        lambda: call(modelId="amazon.nova-micro-v1:0", messages=messages, **request_fields)
    )


# ------------------------------------------------------------------ wire format


def test_invoke_stream_wire_format_as_botocore_sees_it(client):
    response = client.invoke_model_with_response_stream(
        modelId=MODEL_IDS["meta"],
        body=json.dumps({"prompt": "hello world", "max_gen_len": 10}),
    )
    assert response["contentType"] == "application/json"
    chunks = [json.loads(event["chunk"]["bytes"]) for event in response["body"]]
    assert [c["generation"] for c in chunks] == ["You", " said:", " hello", " world", ""]
    assert chunks[0]["prompt_token_count"] == 2
    assert chunks[-1]["stop_reason"] == "stop"
    metrics = chunks[-1]["amazon-bedrock-invocationMetrics"]
    assert (metrics["inputTokenCount"], metrics["outputTokenCount"]) == (2, 4)
    assert metrics["invocationLatency"] >= metrics["firstByteLatency"] >= 0


def test_non_streaming_invoke_and_converse(client):
    body = json.loads(
        client.invoke_model(
            modelId=MODEL_IDS["titan-text"], body=json.dumps({"inputText": "User: hi there\nBot:"})
        )["body"].read()
    )
    assert body["results"][0]["outputText"] == "You said: hi there"
    assert body["results"][0]["completionReason"] == "FINISH"
    answer = client.converse(
        modelId="amazon.nova-micro-v1:0", messages=[{"role": "user", "content": [{"text": "yo"}]}]
    )
    assert answer["output"]["message"]["content"] == [{"text": "You said: yo"}]
    assert answer["usage"] == {"inputTokens": 1, "outputTokens": 3, "totalTokens": 4}
    assert answer["stopReason"] == "end_turn"


def _raw(server, request: bytes) -> bytes:
    parts = urlsplit(server.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_unsigned_and_garbage_requests_get_errors_and_the_server_lives(server, client):
    conn = http.client.HTTPConnection(urlsplit(server.url).netloc, timeout=5)
    conn.request("POST", "/model/m/converse", body=b"{}")
    response = conn.getresponse()
    assert response.status == 403
    assert response.getheader("x-amzn-ErrorType").startswith("MissingAuthenticationTokenException")
    assert json.loads(response.read()) == {"message": "Missing Authentication Token"}
    conn.request("GET", "/nowhere", headers={"Authorization": "AWS4-HMAC-SHA256 x"})
    assert conn.getresponse().status == 404
    assert _raw(server, b"\x16\x03\x01garbage\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert (
        "".join(stream_text(client, "amazon.nova-micro-v1:0", prompt="still alive").text())
        == "You said: still alive"
    )


def test_stream_events_are_flushed_one_write_per_event(server):
    """Each event is its own HTTP chunk, so a reader sees it as soon as it exists."""
    import boto3  # noqa: F401  (botocore signs for us below)
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = json.dumps({"messages": [{"role": "user", "content": [{"text": "a b c"}]}]})
    request = AWSRequest(
        "POST",
        f"{server.url}/model/amazon.nova-micro-v1:0/converse-stream",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    SigV4Auth(Credentials("AKID", "secret"), "bedrock", "us-east-1").add_auth(request)
    head = "".join(f"{k}: {v}\r\n" for k, v in request.headers.items())
    raw = _raw(
        server,
        (
            f"POST /model/amazon.nova-micro-v1:0/converse-stream HTTP/1.1\r\nHost: x\r\n{head}"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}"
        ).encode(),
    )
    head_bytes, _, chunked = raw.partition(b"\r\n\r\n")
    assert b"application/vnd.amazon.eventstream" in head_bytes
    decoder = EventStreamDecoder()
    per_chunk = []
    while chunked:
        size_line, _, rest = chunked.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        per_chunk.append(len(decoder.feed(rest[:size])))
        chunked = rest[size + 2 :]
    assert per_chunk and set(per_chunk) == {1}
    assert (
        len(per_chunk) == 1 + 5 + 1 + 1 + 1
    )  # messageStart, 5 deltas, stop, messageStop, metadata


def test_chunk_bytes_are_base64_of_the_family_json(server):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = json.dumps({"outputs": None, "prompt": "<s>[INST] hi [/INST]"})
    url = f"{server.url}/model/mistral.mistral-large-2402-v1%3A0/invoke-with-response-stream"
    request = AWSRequest("POST", url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials("AKID", "secret"), "bedrock", "us-east-1").add_auth(request)
    head = "".join(f"{k}: {v}\r\n" for k, v in request.headers.items())
    raw = _raw(
        server,
        (
            f"POST {urlsplit(url).path} HTTP/1.1\r\nHost: x\r\n{head}"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}"
        ).encode(),
    )
    assert b"X-Amzn-Bedrock-Content-Type: application/json" in raw
    _, _, chunked = raw.partition(b"\r\n\r\n")
    payload = b""
    while True:
        size_line, _, rest = chunked.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        payload += rest[:size]
        chunked = rest[size + 2 :]
    messages = EventStreamDecoder().feed(payload)
    assert {m.headers[":event-type"] for m in messages} == {"chunk"}
    first = json.loads(messages[0].payload)
    assert set(first) == {"bytes", "p"}
    assert json.loads(base64.b64decode(first["bytes"])) == {
        "outputs": [{"text": "You", "stop_reason": None}]
    }


def test_default_client_leaves_retrying_to_the_policy(server, monkeypatch):
    # With botocore's own retries on, its attempts would absorb the throttles
    # and stream_text would see one attempt; two layers multiply the waiting.
    import lambdastream.bedrock.stream as stream_module

    monkeypatch.setattr(stream_module, "_CLIENTS", {})
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    stream = stream_text(
        None, "amazon.nova-lite-v1:0", prompt="default client [[throttle:2]]", retry=FAST_RETRY
    )
    assert "".join(stream.text()) == "You said: default client"
    assert stream.attempts == 3
