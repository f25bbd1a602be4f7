"""OpenAI's chat completions over Bedrock's events: requests in, chunks out.

Pure: no socket, no Bedrock. A request body becomes a ``BedrockCall`` (or a
``ProtocolError`` in OpenAI's error shape); typed events become the SSE bytes
OpenAI streams, or the buffered ``chat.completion``. The judge of "what OpenAI
sends" is the ``openai`` package itself: its pydantic types validate every
chunk and body, its stream accumulator assembles the chunks, and its client,
over a mock transport, reads our SSE, raises on our error event and on our
error bodies, and sends requests our parser accepts.

Install: ``pip install openai`` (the dev extra). Under CI=true a missing
openai fails this module; elsewhere it is skipped.
"""

from __future__ import annotations

import base64
import importlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdastream.bedrock.errors import BedrockStreamError
from lambdastream.bedrock.events import (
    ReasoningDelta,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolUseDelta,
    ToolUseStart,
    Usage,
)
from lambdastream.chatapi.call import BedrockCall, ProtocolError
from lambdastream.chatapi.openai_chat import (
    bedrock_error,
    completion,
    error_body,
    invalid_api_key,
    model_not_found,
    models_list,
    parse_chat_completions,
    stream_chunks,
)

if os.environ.get("CI") == "true":
    import openai
else:
    openai = pytest.importorskip("openai")

from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types import Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk

# The HTTP library the installed openai is built on (httpx, or httpx2 in newer releases).
httpx = importlib.import_module(openai.DefaultHttpxClient.__mro__[1].__module__.split(".")[0])

CLAUDE = "us.anthropic.claude-sonnet-4-20250514-v1:0"
NOVA = "us.amazon.nova-lite-v1:0"
GPT_OSS = "openai.gpt-oss-120b-1:0"
MODELS = [NOVA, CLAUDE, GPT_OSS]
LIMITS: dict[str, Any] = {
    "models": MODELS,
    "default_model": NOVA,
    "max_tokens_cap": 4096,
    "default_max_tokens": 1024,
    "max_messages": 8,
    "max_chars": 2000,
}
USER_HI = [{"role": "user", "content": "hi"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
PNG = b"\x89PNG\r\n\x1a\n fake"


def parse(body: Any, **limits: Any) -> BedrockCall:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_chat_completions(raw, **{**LIMITS, **limits})


def refusal(body: Any, **limits: Any) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        parse(body, **limits)
    return caught.value


def request(**fields: Any) -> dict[str, Any]:
    return {"model": NOVA, "messages": USER_HI, **fields}


# ----------------------------------------------------------------- the request


def test_a_minimal_request_is_one_user_turn_with_the_defaults():
    call = parse(request())
    assert call == BedrockCall(
        messages=[{"role": "user", "content": [{"text": "hi"}]}],
        max_tokens=1024,
        system=None,
        temperature=None,
        model_id=NOVA,
        stream=False,  # OpenAI's default
        include_usage=False,
        request_options={},
    )


def test_model_may_be_left_to_the_default():
    assert parse({"messages": USER_HI}).model_id == NOVA
    assert parse({"model": CLAUDE, "messages": USER_HI}).model_id == CLAUDE


def test_system_and_developer_messages_become_the_system_text():
    call = parse(
        request(
            messages=[
                {"role": "system", "content": "Be brief."},
                {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
                {"role": "user", "content": "hi"},
            ]
        )
    )
    assert call.system == "Be brief.\n\nAnswer in French."
    assert call.messages == [{"role": "user", "content": [{"text": "hi"}]}]


def test_user_content_parts_become_blocks_and_data_url_images_image_blocks():
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    call = parse(
        request(
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {"type": "image_url", "image_url": {"url": url, "detail": "low"}},
                    ],
                }
            ]
        )
    )
    assert call.messages == [
        {
            "role": "user",
            "content": [
                {"text": "What is this?"},
                {"image": {"format": "png", "source": {"bytes": PNG}}},
            ],
        }
    ]


def test_a_tool_loop_maps_onto_tool_use_and_tool_result_blocks():
    call = parse(
        request(
            tools=[WEATHER],
            messages=[
                {"role": "user", "content": "Weather in Paris and Rome?"},
                {
                    "role": "assistant",
                    "content": "Let me look.",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                        },
                        {
                            "id": "call_2",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
                {
                    "role": "tool",
                    "tool_call_id": "call_2",
                    "content": [{"type": "text", "text": "24C"}],
                },
                {"role": "user", "content": "Thanks. Which is warmer?"},
            ],
        )
    )
    assert call.messages == [
        {"role": "user", "content": [{"text": "Weather in Paris and Rome?"}]},
        {
            "role": "assistant",
            "content": [
                {"text": "Let me look."},
                {
                    "toolUse": {
                        "toolUseId": "call_1",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    }
                },
                {
                    "toolUse": {
                        "toolUseId": "call_2",
                        "name": "get_weather",
                        "input": {"city": "Rome"},
                    }
                },
            ],
        },
        {
            "role": "user",  # the tool results and the next question: one Converse turn
            "content": [
                {"toolResult": {"toolUseId": "call_1", "content": [{"text": "18C"}]}},
                {"toolResult": {"toolUseId": "call_2", "content": [{"text": "24C"}]}},
                {"text": "Thanks. Which is warmer?"},
            ],
        },
    ]
    assert call.request_options == {
        "toolConfig": {
            "tools": [
                {
                    "toolSpec": {
                        "name": "get_weather",
                        "description": "Weather in a city",
                        "inputSchema": {
                            "json": {"type": "object", "properties": {"city": {"type": "string"}}}
                        },
                    }
                }
            ]
        }
    }


def test_consecutive_turns_of_one_role_are_merged_and_empty_assistant_turns_dropped():
    call = parse(
        request(
            messages=[
                {"role": "user", "content": "one"},
                {"role": "assistant", "content": None},
                {"role": "user", "content": [{"type": "text", "text": "two"}]},
                {"role": "assistant", "content": "three"},
                {"role": "assistant", "content": [{"type": "text", "text": "four"}]},
            ]
        )
    )
    assert call.messages == [
        {"role": "user", "content": [{"text": "one"}, {"text": "two"}]},
        {"role": "assistant", "content": [{"text": "three"}, {"text": "four"}]},
    ]


def test_empty_arguments_are_an_empty_object():
    call = parse(
        request(
            tools=[WEATHER],
            messages=[
                {"role": "user", "content": "go"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "c", "type": "function", "function": {"name": "f", "arguments": ""}}
                    ],
                },
                {"role": "tool", "tool_call_id": "c", "content": ""},
            ],
        )
    )
    assert call.messages[1]["content"] == [
        {"toolUse": {"toolUseId": "c", "name": "f", "input": {}}}
    ]
    assert call.messages[2]["content"] == [{"toolResult": {"toolUseId": "c", "content": []}}]


@pytest.mark.parametrize(
    "tool_choice, expected",
    [
        (None, None),
        ("auto", None),  # Converse's default; not every model takes an explicit toolChoice
        ("required", {"any": {}}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"tool": {"name": "get_weather"}},
        ),
    ],
)
def test_tool_choice_maps_onto_converse(tool_choice, expected):
    call = parse(request(tools=[WEATHER], tool_choice=tool_choice))
    config = call.request_options["toolConfig"]
    assert config.get("toolChoice") == expected
    assert [t["toolSpec"]["name"] for t in config["tools"]] == ["get_weather"]


def test_tool_choice_none_offers_no_tools_unless_the_history_uses_them():
    assert "toolConfig" not in parse(request(tools=[WEATHER], tool_choice="none")).request_options
    history = [
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "c",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c", "content": "sunny"},
    ]
    call = parse(request(tools=[WEATHER], tool_choice="none", messages=history))
    # Converse refuses toolUse/toolResult blocks without a toolConfig.
    assert call.request_options["toolConfig"]["tools"][0]["toolSpec"]["name"] == "get_weather"
    assert "toolChoice" not in call.request_options["toolConfig"]


def test_sampling_without_top_p_or_stop_needs_no_inference_config():
    call = parse(request(max_tokens=300, temperature=0.2))
    assert (call.max_tokens, call.temperature, call.request_options) == (300, 0.2, {})
    assert parse(request(max_completion_tokens=200)).max_tokens == 200
    # Both given: max_completion_tokens (the newer name) wins.
    assert parse(request(max_tokens=100, max_completion_tokens=200)).max_tokens == 200


def test_top_p_and_stop_carry_a_whole_inference_config():
    call = parse(request(max_tokens=300, temperature=0.5, top_p=0.9, stop="END"))
    assert call.request_options == {
        "inferenceConfig": {
            "maxTokens": 300,
            "temperature": 0.5,
            "topP": 0.9,
            "stopSequences": ["END"],
        }
    }
    call = parse(request(stop=["a", "b"]))
    assert call.request_options == {
        "inferenceConfig": {"maxTokens": 1024, "stopSequences": ["a", "b"]}
    }


def test_stream_and_include_usage():
    call = parse(request(stream=True, stream_options={"include_usage": True}))
    assert (call.stream, call.include_usage) == (True, True)
    assert parse(request(stream=True)).include_usage is False


def test_reasoning_effort_on_claude_is_a_thinking_budget():
    call = parse(request(model=CLAUDE, reasoning_effort="medium"))
    assert call.request_options == {
        "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 2048}}
    }
    # No max_tokens given: room for the budget and the default answer.
    assert call.max_tokens == 2048 + 1024
    assert parse(request(model=CLAUDE, reasoning_effort="low", max_tokens=3000)).max_tokens == 3000


def test_reasoning_effort_on_gpt_oss_is_passed_on():
    call = parse(request(model=GPT_OSS, reasoning_effort="high"))
    assert call.request_options == {"additionalModelRequestFields": {"reasoning_effort": "high"}}


def test_harmless_parameters_are_ignored():
    plain = parse(request())
    assert (
        parse(
            request(
                user="u-1",
                metadata={"k": "v"},
                seed=7,
                store=False,
                service_tier="auto",
                parallel_tool_calls=True,
                n=1,
                logprobs=False,
                frequency_penalty=0,
                presence_penalty=0,
                response_format={"type": "text"},
                something_new=True,
            )
        )
        == plain
    )


# ------------------------------------------------------------------ refusals

MANY = [{"role": "user", "content": "x"}] * 9
TOOL_CALL = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}


def with_tool_call(arguments: str) -> list[dict[str, Any]]:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": arguments}}
    return [*USER_HI, {"role": "assistant", "tool_calls": [call]}]


def user(content: Any) -> dict[str, Any]:
    return request(messages=[{"role": "user", "content": content}])


def image(url: str) -> dict[str, Any]:
    return user([{"type": "image_url", "image_url": {"url": url}}])


def msgs(*messages: Any) -> dict[str, Any]:
    return request(messages=list(messages))


ASKED = {"role": "assistant", "tool_calls": [TOOL_CALL]}
CLAUDE_LOW = {"model": CLAUDE, "reasoning_effort": "low"}
NAMED = {"type": "function", "function": {"name": "nope"}}

# Each: a body, and the param and code OpenAI's error names.
BAD_REQUESTS = [
    ("bad json", b"{not json", None, None),
    ("not utf-8", b"\xff\xfe{}", None, None),
    ("not an object", b"[1, 2]", None, "invalid_type"),
    ("missing messages", {"model": NOVA}, "messages", "missing_required_parameter"),
    ("empty messages", msgs(), "messages", "empty_array"),
    ("messages not a list", request(messages="hi"), "messages", "invalid_type"),
    ("too many messages", msgs(*MANY), "messages", "array_above_max_length"),
    ("message not an object", msgs("hi"), "messages[0]", "invalid_type"),
    ("missing role", msgs({"content": "x"}), "messages[0].role", "missing_required_parameter"),
    ("bad role", msgs({"role": "robot", "content": "x"}), "messages[0].role", "invalid_value"),
    (
        "function role",
        msgs({"role": "function", "content": "x"}),
        "messages[0].role",
        "unsupported_value",
    ),
    (
        "missing content",
        msgs({"role": "user"}),
        "messages[0].content",
        "missing_required_parameter",
    ),
    ("content a number", user(42), "messages[0].content", "invalid_type"),
    ("blank content", user("  "), "messages[0].content", "invalid_value"),
    (
        "audio part",
        user([{"type": "input_audio"}]),
        "messages[0].content[0].type",
        "unsupported_value",
    ),
    (
        "image by http url",
        image("https://x/y.png"),
        "messages[0].content[0].image_url.url",
        "unsupported_value",
    ),
    (
        "image bad base64",
        image("data:image/png;base64,@@"),
        "messages[0].content[0].image_url.url",
        "invalid_value",
    ),
    (
        "image bmp",
        image("data:image/bmp;base64,AAAA"),
        "messages[0].content[0].image_url.url",
        "unsupported_value",
    ),
    (
        "bad tool_call arguments",
        request(tools=[WEATHER], messages=with_tool_call("{city:")),
        "messages[1].tool_calls[0].function.arguments",
        "invalid_value",
    ),
    (
        "arguments not an object",
        request(tools=[WEATHER], messages=with_tool_call("[1]")),
        "messages[1].tool_calls[0].function.arguments",
        "invalid_value",
    ),
    (
        "tool_call without id",
        request(
            tools=[WEATHER],
            messages=[
                *USER_HI,
                {
                    "role": "assistant",
                    "tool_calls": [{"type": "function", "function": {"name": "f"}}],
                },
            ],
        ),
        "messages[1].tool_calls[0].id",
        "missing_required_parameter",
    ),
    (
        "tool without tool_call_id",
        request(tools=[WEATHER], messages=[*USER_HI, ASKED, {"role": "tool", "content": "x"}]),
        "messages[2].tool_call_id",
        "missing_required_parameter",
    ),
    (
        "tool history without tools",
        msgs(*USER_HI, ASKED, {"role": "tool", "tool_call_id": "c1", "content": "x"}),
        "tools",
        "missing_required_parameter",
    ),
    (
        "assistant first",
        msgs({"role": "assistant", "content": "Hello!"}, *USER_HI),
        "messages",
        "invalid_value",
    ),
    ("system only", msgs({"role": "system", "content": "Be brief."}), "messages", "invalid_value"),
    ("model not a string", request(model=42), "model", "invalid_type"),
    ("n=2", request(n=2), "n", "unsupported_value"),
    ("n a string", request(n="2"), "n", "invalid_type"),
    ("logprobs", request(logprobs=True), "logprobs", "unsupported_value"),
    ("top_logprobs", request(top_logprobs=2), "top_logprobs", "unsupported_parameter"),
    (
        "json mode",
        request(response_format={"type": "json_object"}),
        "response_format",
        "unsupported_value",
    ),
    (
        "json schema",
        request(response_format={"type": "json_schema"}),
        "response_format",
        "unsupported_value",
    ),
    ("functions", request(functions=[{"name": "f"}]), "functions", "unsupported_parameter"),
    ("audio", request(audio={"voice": "alloy", "format": "mp3"}), "audio", "unsupported_parameter"),
    ("logit_bias", request(logit_bias={"50256": -100}), "logit_bias", "unsupported_parameter"),
    (
        "presence_penalty",
        request(presence_penalty=0.5),
        "presence_penalty",
        "unsupported_parameter",
    ),
    ("temperature over Converse's 1", request(temperature=1.5), "temperature", "unsupported_value"),
    (
        "temperature over OpenAI's 2",
        request(temperature=3),
        "temperature",
        "decimal_above_max_value",
    ),
    ("temperature negative", request(temperature=-1), "temperature", "decimal_below_min_value"),
    ("temperature a string", request(temperature="hot"), "temperature", "invalid_type"),
    ("temperature a boolean", request(temperature=True), "temperature", "invalid_type"),
    ("top_p over 1", request(top_p=1.5), "top_p", "decimal_above_max_value"),
    ("max_tokens over the cap", request(max_tokens=5000), "max_tokens", "integer_above_max_value"),
    (
        "max_completion_tokens over the cap",
        request(max_completion_tokens=5000),
        "max_completion_tokens",
        "integer_above_max_value",
    ),
    ("max_tokens zero", request(max_tokens=0), "max_tokens", "integer_below_min_value"),
    ("max_tokens a decimal", request(max_tokens=1.5), "max_tokens", "invalid_type"),
    ("max_tokens a string", request(max_tokens="100"), "max_tokens", "invalid_type"),
    ("five stop sequences", request(stop=list("abcde")), "stop", "array_above_max_length"),
    ("empty stop sequence", request(stop=[""]), "stop", "invalid_value"),
    ("stop a number", request(stop=3), "stop", "invalid_type"),
    ("stream a string", request(stream="yes"), "stream", "invalid_type"),
    (
        "stream_options without stream",
        request(stream_options={"include_usage": True}),
        "stream_options",
        "invalid_value",
    ),
    ("tools not a list", request(tools={"type": "function"}), "tools", "invalid_type"),
    ("custom tool", request(tools=[{"type": "custom"}]), "tools[0].type", "unsupported_value"),
    (
        "tool without function",
        request(tools=[{"type": "function"}]),
        "tools[0].function",
        "missing_required_parameter",
    ),
    (
        "tool name with spaces",
        request(tools=[{"type": "function", "function": {"name": "a b"}}]),
        "tools[0].function.name",
        "invalid_value",
    ),
    (
        "tool_choice unknown word",
        request(tools=[WEATHER], tool_choice="maybe"),
        "tool_choice",
        "invalid_value",
    ),
    (
        "tool_choice names no tool",
        request(tools=[WEATHER], tool_choice=NAMED),
        "tool_choice.function.name",
        "invalid_value",
    ),
    ("tool_choice without tools", request(tool_choice="required"), "tool_choice", "invalid_value"),
    (
        "reasoning_effort unknown",
        request(model=CLAUDE, reasoning_effort="extreme"),
        "reasoning_effort",
        "invalid_value",
    ),
    (
        "reasoning_effort minimal",
        request(model=CLAUDE, reasoning_effort="minimal"),
        "reasoning_effort",
        "unsupported_value",
    ),
    (
        "reasoning_effort on nova",
        request(reasoning_effort="low"),
        "reasoning_effort",
        "unsupported_parameter",
    ),
    (
        "thinking with temperature",
        request(**CLAUDE_LOW, temperature=0.5),
        "temperature",
        "unsupported_value",
    ),
    (
        "thinking with forced tool",
        request(**CLAUDE_LOW, tools=[WEATHER], tool_choice="required"),
        "tool_choice",
        "unsupported_value",
    ),
    (
        "thinking budget over max_tokens",
        request(model=CLAUDE, reasoning_effort="high", max_tokens=4000),
        "max_tokens",
        "unsupported_value",
    ),
    ("too many characters", user("x" * 2001), "messages", "context_length_exceeded"),
]


@pytest.mark.parametrize(
    "body, param, code", [case[1:] for case in BAD_REQUESTS], ids=[case[0] for case in BAD_REQUESTS]
)
def test_a_bad_request_is_a_400_in_openais_error_shape(body, param, code):
    error = refusal(body)
    assert error.status == 400
    assert set(error.body) == {"error"}
    assert error.body["error"] == {
        "message": error.message,
        "type": "invalid_request_error",
        "param": param,
        "code": code,
    }
    assert isinstance(error.message, str) and error.message


def test_the_exact_messages_openai_gives():
    assert refusal(b"{not json").message.startswith(
        "We could not parse the JSON body of your request."
    )
    assert refusal({"model": NOVA}).message == "Missing required parameter: 'messages'."
    assert refusal(request(messages=[])).message == (
        "Invalid 'messages': empty array. Expected an array with minimum length 1,"
        " but got an empty array instead."
    )
    assert refusal(request(messages="hi")).message == (
        "Invalid type for 'messages': expected an array, but got a string instead."
    )
    assert refusal(request(max_tokens=5000)).message == (
        "Invalid 'max_tokens': integer above maximum value. Expected a value <= 4096,"
        " but got 5000 instead."
    )


def test_an_unknown_model_is_openais_404():
    error = refusal(request(model="gpt-4o"))
    assert error.status == 404
    assert error.body == {
        "error": {
            "message": "The model `gpt-4o` does not exist or you do not have access to it.",
            "type": "invalid_request_error",
            "param": None,
            "code": "model_not_found",
        }
    }
    assert error.body == model_not_found("gpt-4o").body


def test_no_model_and_no_default_is_a_400():
    error = refusal({"messages": USER_HI}, default_model=None)
    assert (error.status, error.body["error"]["message"]) == (
        400,
        "you must provide a model parameter",
    )


# ------------------------------------------------------------------ errors


def test_error_body_is_openais_shape():
    assert error_body(400, "Bad.", param="x", code="invalid_value") == {
        "error": {
            "message": "Bad.",
            "type": "invalid_request_error",
            "param": "x",
            "code": "invalid_value",
        }
    }
    assert error_body(500, "Oops.")["error"]["type"] == "server_error"
    assert error_body(429, "Slow down.")["error"]["type"] == "requests"
    assert error_body(403, "No.", type="permission_error")["error"]["type"] == "permission_error"


def test_invalid_api_key_is_openais_401():
    error = invalid_api_key("sk-abcdefghijklmnop")
    assert error.status == 401
    assert error.body["error"]["type"] == "invalid_request_error"
    assert error.body["error"]["code"] == "invalid_api_key"
    assert error.body["error"]["param"] is None
    assert error.body["error"]["message"].startswith("Incorrect API key provided: ")
    assert "abcdefghijkl" not in error.message  # never echoed whole
    missing = invalid_api_key(None)
    assert missing.status == 401 and missing.body["error"]["code"] is None
    assert missing.message.startswith("You didn't provide an API key.")


@pytest.mark.parametrize(
    "code, status, kind, openai_code",
    [
        ("ThrottlingException", 429, "requests", "rate_limit_exceeded"),
        ("throttlingException", 429, "requests", "rate_limit_exceeded"),
        ("ServiceQuotaExceededException", 429, "requests", "rate_limit_exceeded"),
        ("ValidationException", 400, "invalid_request_error", None),
        ("validationException", 400, "invalid_request_error", None),
        ("AccessDeniedException", 403, "invalid_request_error", None),
        ("ResourceNotFoundException", 404, "invalid_request_error", "model_not_found"),
        ("ModelTimeoutException", 504, "server_error", None),
        ("modelTimeoutException", 504, "server_error", None),
        ("ReadTimeoutError", 504, "server_error", None),
        ("EndpointConnectionError", 502, "server_error", None),
        ("ServiceUnavailableException", 503, "server_error", None),
        ("ModelNotReadyException", 503, "server_error", None),
        ("InternalServerException", 500, "server_error", None),
        ("modelStreamErrorException", 500, "server_error", None),
        ("ModelErrorException", 500, "server_error", None),
        ("SomethingNew", 500, "server_error", None),
    ],
)
def test_bedrock_errors_map_onto_openai_statuses(code, status, kind, openai_code):
    error = bedrock_error(code, "details")
    assert error.status == status
    assert error.body["error"]["type"] == kind
    assert error.body["error"]["code"] == openai_code
    assert code in error.message


def test_access_denied_does_not_leak_the_role_arn():
    arn = "arn:aws:sts::123456789012:assumed-role/fn-role/fn"
    error = bedrock_error("AccessDeniedException", f"User: {arn} is not authorized")
    assert "123456789012" not in json.dumps(error.body)


def test_a_too_long_input_is_context_length_exceeded():
    error = bedrock_error("ValidationException", "Input is too long for requested model.")
    assert (error.status, error.body["error"]["code"]) == (400, "context_length_exceeded")


# ------------------------------------------------------------------ streaming

STREAM = {"model": NOVA, "completion_id": "chatcmpl-1", "created": 1700000000}


def run_stream(
    events: Iterable[StreamEvent], include_usage: bool = False
) -> tuple[list[bytes], BaseException | None]:
    """Every chunk ``stream_chunks`` yields, and what it raised at the end (if anything)."""
    chunks: list[bytes] = []
    try:
        for chunk in stream_chunks(events, include_usage=include_usage, **STREAM):
            chunks.append(chunk)
    except Exception as exc:
        return chunks, exc
    return chunks, None


def payloads(chunks: list[bytes]) -> list[Any]:
    """Each SSE event's data: parsed JSON, or the literal ``[DONE]``."""
    out = []
    for chunk in chunks:
        assert chunk.startswith(b"data: ") and chunk.endswith(b"\n\n"), chunk
        data = chunk[len(b"data: ") : -2].decode()
        assert "\n" not in data
        out.append(data if data == "[DONE]" else json.loads(data))
    return out


def validated(chunks: list[bytes]) -> list[ChatCompletionChunk]:
    data = payloads(chunks)
    assert data[-1] == "[DONE]"
    return [ChatCompletionChunk.model_validate(d) for d in data[:-1]]


def deltas(chunks: list[bytes]) -> list[dict[str, Any]]:
    return [
        d["choices"][0]["delta"] for d in payloads(chunks) if isinstance(d, dict) and d["choices"]
    ]


TEXT = [TextDelta("Hel"), TextDelta("lo"), StreamEnd("end_turn", Usage(5, 2))]
TOOL = [
    TextDelta("Checking."),
    ToolUseStart("tooluse_a", "get_weather", index=1),
    ToolUseDelta('{"ci', index=1),
    ToolUseDelta('ty": "Pa', index=1),
    ToolUseDelta('ris"}', index=1),
    StreamEnd("tool_use", Usage(20, 9)),
]
TWO_TOOLS = [
    ToolUseStart("tooluse_a", "get_weather", index=0),
    ToolUseDelta('{"city": "Paris"}', index=0),
    ToolUseStart("tooluse_b", "get_time", index=1),
    ToolUseDelta("{}", index=1),
    StreamEnd("tool_use", Usage(20, 9)),
]
REASONING = [
    ReasoningDelta("Two plus "),
    ReasoningDelta("two is four."),
    ReasoningDelta(signature="sig=="),
    TextDelta("4", index=1),
    StreamEnd("end_turn", Usage(10, 30)),
]


def test_text_streams_as_openai_chunks():
    chunks, raised = run_stream(TEXT)
    assert raised is None
    data = payloads(chunks)
    assert data[0] == {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": NOVA,
        "choices": [
            {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
        ],
    }
    assert [d["choices"] for d in data[1:-1]] == [
        [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}],
        [{"index": 0, "delta": {"content": "lo"}, "finish_reason": None}],
        [{"index": 0, "delta": {}, "finish_reason": "stop"}],
    ]
    assert data[-1] == "[DONE]"
    assert all("usage" not in d for d in data[:-1])  # only with stream_options.include_usage
    assert all(c.id == "chatcmpl-1" and c.model == NOVA for c in validated(chunks))


def test_include_usage_adds_a_last_chunk_with_no_choices_and_null_usage_before_it():
    chunks, _ = run_stream(TEXT, include_usage=True)
    data = payloads(chunks)
    assert all(d["usage"] is None for d in data[:-2])
    assert data[-2] == {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": NOVA,
        "choices": [],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
    }
    assert validated(chunks)[-1].usage.total_tokens == 7


def test_a_tool_call_streams_its_name_then_its_argument_pieces():
    chunks, _ = run_stream(TOOL)
    assert deltas(chunks)[1:] == [
        {"content": "Checking."},
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "tooluse_a",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                }
            ]
        },
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"ci'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": 'ty": "Pa'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": 'ris"}'}}]},
        {},
    ]
    assert payloads(chunks)[-2]["choices"][0]["finish_reason"] == "tool_calls"
    validated(chunks)


def test_two_tool_calls_count_from_zero_whatever_bedrocks_block_index():
    chunks, _ = run_stream(TWO_TOOLS)
    calls = [c for d in deltas(chunks) for c in d.get("tool_calls", [])]
    assert [(c["index"], c.get("id")) for c in calls] == [
        (0, "tooluse_a"),
        (0, None),
        (1, "tooluse_b"),
        (1, None),
    ]
    validated(chunks)


def test_a_tool_call_without_input_gets_empty_object_arguments():
    events = [ToolUseStart("t", "now", index=0), StreamEnd("tool_use")]
    chunks, _ = run_stream(events)
    calls = [c for d in deltas(chunks) for c in d.get("tool_calls", [])]
    assert "".join(c["function"]["arguments"] for c in calls) == "{}"
    body = completion(events, **STREAM)
    assert body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == "{}"


def test_reasoning_streams_as_reasoning_content_and_signatures_stay_out():
    chunks, _ = run_stream(REASONING)
    assert deltas(chunks)[1:] == [
        {"reasoning_content": "Two plus "},
        {"reasoning_content": "two is four."},
        {"content": "4"},
        {},
    ]
    validated(chunks)


@pytest.mark.parametrize(
    "stop_reason, finish_reason",
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("content_filtered", "content_filter"),
        ("guardrail_intervened", "content_filter"),
        (None, "stop"),
    ],
)
def test_stop_reasons_become_finish_reasons(stop_reason, finish_reason):
    events = [TextDelta("x"), StreamEnd(stop_reason)]
    chunks, _ = run_stream(events)
    assert payloads(chunks)[-2]["choices"][0]["finish_reason"] == finish_reason
    assert completion(events, **STREAM)["choices"][0]["finish_reason"] == finish_reason


def failing_after(pieces: list[str], error: Exception) -> Iterator[StreamEvent]:
    for piece in pieces:
        yield TextDelta(piece)
    raise error


def test_an_error_mid_stream_is_an_error_event_without_done_and_then_raised():
    error = BedrockStreamError("throttlingException", "Too many tokens", after_first_token=True)
    chunks, raised = run_stream(failing_after(["Hel", "lo"], error), include_usage=True)
    assert raised is error  # the Lambda runtime reports it: error trailers, a failed invocation
    data = payloads(chunks)
    assert [d["choices"][0]["delta"] for d in data[1:3]] == [{"content": "Hel"}, {"content": "lo"}]
    assert data[-1] == bedrock_error("throttlingException", "Too many tokens").body
    assert "[DONE]" not in data
    assert len(data) == 4


def test_an_unexpected_exception_is_a_generic_server_error_event():
    chunks, raised = run_stream(failing_after(["a"], RuntimeError("secret internals")))
    assert isinstance(raised, RuntimeError)
    last = payloads(chunks)[-1]
    assert last["error"]["type"] == "server_error"
    assert "secret" not in last["error"]["message"]


def test_a_stream_that_ends_without_stream_end_is_an_error_not_a_silent_cut():
    chunks, raised = run_stream([TextDelta("a")])
    assert isinstance(raised, BedrockStreamError)
    assert "error" in payloads(chunks)[-1]


def test_each_chunk_is_yielded_as_soon_as_its_event_arrives():
    pulled = 0

    def events() -> Iterator[StreamEvent]:
        nonlocal pulled
        for event in TOOL:
            pulled += 1
            yield event

    stream = stream_chunks(events(), include_usage=False, **STREAM)
    next(stream)  # the role chunk: nothing pulled yet
    assert pulled == 0
    for expected in range(1, 6):
        next(stream)
        assert pulled == expected
    assert payloads([next(stream)])[0]["choices"][0]["finish_reason"] == "tool_calls"
    assert pulled == 6


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=1), max_size=20))
def test_text_pieces_stream_one_chunk_each_and_concatenate_to_the_text(pieces):
    chunks, raised = run_stream([*map(TextDelta, pieces), StreamEnd("end_turn")])
    assert raised is None
    contents = [d["content"] for d in deltas(chunks)[1:] if "content" in d]
    assert contents == pieces
    assert "".join(c.choices[0].delta.content or "" for c in validated(chunks)) == "".join(pieces)
    # openai's own SSE reader agrees, whatever the text holds (CR, LF, U+2028, ...)
    assert read_with_client(chunks)[0] == "".join(pieces)


# ------------------------------------------------------------------ buffered


def test_completion_is_openais_chat_completion_object():
    body = completion(TOOL, **STREAM)
    assert body == {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": NOVA,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Checking.",
                    "refusal": None,
                    "tool_calls": [
                        {
                            "id": "tooluse_a",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        }
                    ],
                },
                "logprobs": None,
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 20, "completion_tokens": 9, "total_tokens": 29},
    }
    ChatCompletion.model_validate(body)


def test_completion_content_is_null_with_only_tool_calls_and_carries_reasoning():
    assert completion(TWO_TOOLS, **STREAM)["choices"][0]["message"]["content"] is None
    message = completion(REASONING, **STREAM)["choices"][0]["message"]
    assert (message["content"], message["reasoning_content"]) == ("4", "Two plus two is four.")
    assert "tool_calls" not in message
    parsed = ChatCompletion.model_validate(completion(REASONING, **STREAM))
    assert parsed.choices[0].message.reasoning_content == "Two plus two is four."  # type: ignore[attr-defined]


def test_completion_raises_bedrocks_error():
    error = BedrockStreamError("ValidationException", "bad", after_first_token=False)
    with pytest.raises(BedrockStreamError):
        completion(failing_after([], error), **STREAM)


@pytest.mark.parametrize(
    "events", [TEXT, TOOL, TWO_TOOLS, REASONING], ids=["text", "tool", "two", "reasoning"]
)
def test_openais_accumulator_assembles_the_chunks_into_the_buffered_completion(events):
    chunks, _ = run_stream(events, include_usage=True)
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    for chunk in validated(chunks):
        state.handle_chunk(chunk)
    streamed = state.get_final_completion()
    buffered = ChatCompletion.model_validate(completion(events, **STREAM))
    got, want = streamed.choices[0], buffered.choices[0]
    assert got.finish_reason == want.finish_reason
    assert (got.message.content or None) == (want.message.content or None)
    assert [
        (t.id, t.function.name, t.function.arguments) for t in got.message.tool_calls or []
    ] == [
        (t.id, t.function.name, t.function.arguments)  # type: ignore[union-attr]
        for t in want.message.tool_calls or []
    ]
    assert getattr(got.message, "reasoning_content", None) == getattr(
        want.message, "reasoning_content", None
    )
    assert streamed.usage == buffered.usage


# ------------------------------------------------------------------ the real client


def client_for(handler: Callable[[Any], Any]) -> Any:
    transport = httpx.MockTransport(handler)
    return openai.OpenAI(
        api_key="sk-test",
        base_url="http://bedrock.test/v1",
        max_retries=0,
        http_client=openai.DefaultHttpxClient(transport=transport),
    )


def sse_response(chunks: list[bytes]) -> Any:
    # One network read per chunk, as a streamed Lambda response arrives.
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=iter(chunks))


def read_with_client(chunks: list[bytes]) -> tuple[str, list[Any]]:
    client = client_for(lambda request: sse_response(chunks))
    stream = client.chat.completions.create(model=NOVA, messages=USER_HI, stream=True)
    got = list(stream)
    return "".join(c.choices[0].delta.content or "" for c in got if c.choices), got


def test_openais_client_reads_the_stream_and_its_stream_helper_assembles_it():
    chunks, _ = run_stream(TOOL, include_usage=True)
    text, got = read_with_client(chunks)
    assert text == "Checking."
    assert got[-1].usage.prompt_tokens == 20
    client = client_for(lambda request: sse_response(chunks))
    with client.chat.completions.stream(model=NOVA, messages=USER_HI) as stream:
        final = stream.get_final_completion()
    call = final.choices[0].message.tool_calls[0]
    assert (call.function.name, call.function.arguments) == ("get_weather", '{"city": "Paris"}')


def test_openais_client_raises_apierror_on_the_error_event():
    error = BedrockStreamError("modelStreamErrorException", "model broke", after_first_token=True)
    chunks, _ = run_stream(failing_after(["Hel", "lo"], error))
    client = client_for(lambda request: sse_response(chunks))
    seen = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in client.chat.completions.create(model=NOVA, messages=USER_HI, stream=True):
            seen.append(chunk.choices[0].delta.content)
    assert seen == ["", "Hel", "lo"]
    assert "model broke" in caught.value.message


@pytest.mark.parametrize(
    "error, exception",
    [
        (model_not_found("gpt-4o"), "NotFoundError"),
        (invalid_api_key("sk-wrong-key-123456"), "AuthenticationError"),
        (bedrock_error("ThrottlingException", "slow down"), "RateLimitError"),
        (bedrock_error("ServiceUnavailableException", "busy"), "InternalServerError"),
    ],
)
def test_openais_client_raises_its_own_exception_on_our_error_bodies(error, exception):
    client = client_for(lambda request: httpx.Response(error.status, json=error.body))
    with pytest.raises(getattr(openai, exception)) as caught:
        client.chat.completions.create(model=NOVA, messages=USER_HI)
    assert caught.value.code == error.body["error"]["code"]
    assert caught.value.message.endswith(error.message) or error.message in caught.value.message


def test_openais_client_reads_the_buffered_completion_and_the_model_list():
    body = completion(TOOL, **STREAM)
    client = client_for(lambda request: httpx.Response(200, json=body))
    answer = client.chat.completions.create(model=NOVA, messages=USER_HI)
    assert answer.choices[0].message.tool_calls[0].function.name == "get_weather"
    listing = models_list(MODELS, created=1700000000)
    client = client_for(lambda request: httpx.Response(200, json=listing))
    assert [m.id for m in client.models.list()] == MODELS
    assert all(Model.model_validate(m).owned_by == "amazon-bedrock" for m in listing["data"])


def test_what_openais_client_sends_parses():
    seen: list[BedrockCall] = []

    def handler(request: Any) -> Any:
        seen.append(parse_chat_completions(request.content, **LIMITS))
        return sse_response(run_stream(TEXT, include_usage=True)[0])

    client = client_for(handler)
    list(
        client.chat.completions.create(
            model=CLAUDE,
            messages=[
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Weather?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            ],
            tools=[WEATHER],  # type: ignore[list-item]
            tool_choice="auto",
            max_completion_tokens=256,
            temperature=0.3,
            top_p=0.9,
            stop=["\n\n"],
            stream=True,
            stream_options={"include_usage": True},
            reasoning_effort=None,
            user="someone",
        )
    )
    (call,) = seen
    assert call.model_id == CLAUDE and call.system == "Be brief." and call.include_usage
    assert call.request_options["inferenceConfig"] == {
        "maxTokens": 256,
        "temperature": 0.3,
        "topP": 0.9,
        "stopSequences": ["\n\n"],
    }
    assert [m["role"] for m in call.messages] == ["user", "assistant", "user"]


def test_models_list_is_openais_list_object():
    assert models_list(["a", "b"]) == {
        "object": "list",
        "data": [
            {"id": "a", "object": "model", "created": 0, "owned_by": "amazon-bedrock"},
            {"id": "b", "object": "model", "created": 0, "owned_by": "amazon-bedrock"},
        ],
    }
