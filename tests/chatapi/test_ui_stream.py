"""The Vercel AI SDK's UI message stream, v1: request mapping, refusals, the parts.

Unit tests read the bytes; the conformance tests (marked ``node``) hand the
same bytes to the AI SDK's own client code (``DefaultChatTransport`` and
``readUIMessageStream``, npm package ``ai``, majors 7, 6 and 5, installed in
``tests/peers/ai-sdk`` by ``tools/install-ai-sdk.sh``) and read back the
UIMessage it assembled, and the request body it posted.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import missing

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
from lambdastream.chatapi.ui_stream import (
    HEADERS,
    parse_chat_request,
    response_message_id,
    stream_parts,
)

LIMITS: dict[str, Any] = {"max_tokens": 512, "max_messages": 20, "max_chars": 1000}
WEATHER = {
    "toolSpec": {
        "name": "get_weather",
        "description": "The weather in a city",
        "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}},
    }
}
PNG = b"\x89PNG\r\n\x1a\n fake"


def user(text: str, id: str = "u1") -> dict[str, Any]:
    return {"id": id, "role": "user", "parts": [{"type": "text", "text": text}]}


def body(*messages: dict[str, Any], **extra: Any) -> bytes:
    return json.dumps(
        {"id": "chat-1", "messages": list(messages), "trigger": "submit-message", **extra}
    ).encode()


def refused(raw: bytes, **overrides: Any) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        parse_chat_request(raw, **{**LIMITS, **overrides})
    exc = info.value
    assert exc.body == {"error": {"code": exc.body["error"]["code"], "message": exc.message}}
    assert set(exc.body["error"]) == {"code", "message"}
    return exc


# ------------------------------------------------------------------ headers
def test_headers_are_the_sdks_ui_message_stream_headers():
    # packages/ai/src/ui-message-stream/ui-message-stream-headers.ts
    assert HEADERS == {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        "connection": "keep-alive",
        "x-vercel-ai-ui-message-stream": "v1",
        "x-accel-buffering": "no",
    }


# ------------------------------------------------------------- the request
def test_a_user_text_message_becomes_one_converse_user_turn():
    call = parse_chat_request(body(user("Hello")), **LIMITS)
    assert isinstance(call, BedrockCall)
    assert call.messages == [{"role": "user", "content": [{"text": "Hello"}]}]
    assert call.max_tokens == 512
    assert call.system is None
    assert call.stream is True
    assert call.request_options == {}


def test_system_messages_become_the_system_prompt_and_extra_body_fields_are_ignored():
    system = {"id": "s", "role": "system", "parts": [{"type": "text", "text": "Be brief."}]}
    call = parse_chat_request(body(system, user("Hi"), model="x", temperature=9), **LIMITS)
    assert call.system == "Be brief."
    assert call.messages == [{"role": "user", "content": [{"text": "Hi"}]}]
    assert call.temperature is None


def test_parts_without_a_converse_meaning_are_skipped():
    assistant = {
        "id": "a1",
        "role": "assistant",
        "parts": [
            {"type": "step-start"},
            {"type": "reasoning", "text": "thinking...", "state": "done"},
            {"type": "text", "text": "Hi there", "state": "done"},
            {"type": "source-url", "sourceId": "s1", "url": "https://example.com"},
            {"type": "data-weather", "data": {"t": 1}},
        ],
    }
    call = parse_chat_request(body(user("Hi"), assistant, user("More", "u2")), **LIMITS)
    assert call.messages == [
        {"role": "user", "content": [{"text": "Hi"}]},
        {"role": "assistant", "content": [{"text": "Hi there"}]},
        {"role": "user", "content": [{"text": "More"}]},
    ]


def test_consecutive_turns_of_one_role_are_merged():
    call = parse_chat_request(body(user("a", "1"), user("b", "2")), **LIMITS)
    assert call.messages == [{"role": "user", "content": [{"text": "a"}, {"text": "b"}]}]


def tool_part(state: str, **fields: Any) -> dict[str, Any]:
    return {"type": "tool-get_weather", "toolCallId": "tooluse_1", "state": state, **fields}


def test_a_tool_call_with_its_output_becomes_tool_use_then_tool_result():
    assistant = {
        "id": "a1",
        "role": "assistant",
        "parts": [
            {"type": "step-start"},
            {"type": "text", "text": "Let me look."},
            tool_part("output-available", input={"city": "Paris"}, output={"temp": 21}),
            {"type": "step-start"},
            {"type": "text", "text": "It is 21."},
        ],
    }
    call = parse_chat_request(body(user("Weather?"), assistant, user("Thanks", "u2")),
                              **LIMITS, tools=[WEATHER])  # fmt: skip
    assert call.messages == [
        {"role": "user", "content": [{"text": "Weather?"}]},
        {
            "role": "assistant",
            "content": [
                {"text": "Let me look."},
                {
                    "toolUse": {
                        "toolUseId": "tooluse_1",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    }
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "toolResult": {
                        "toolUseId": "tooluse_1",
                        "content": [{"json": {"temp": 21}}],
                        "status": "success",
                    }
                },
            ],
        },
        {"role": "assistant", "content": [{"text": "It is 21."}]},
        {"role": "user", "content": [{"text": "Thanks"}]},
    ]
    assert call.request_options == {"toolConfig": {"tools": [WEATHER]}}


def test_the_tool_result_ends_the_conversation_when_the_client_sends_tool_output_back():
    # sendAutomaticallyWhen(lastAssistantMessageIsCompleteWithToolCalls): the last
    # message is the assistant's, its tool part now output-available.
    assistant = {
        "id": "a1",
        "role": "assistant",
        "parts": [{"type": "step-start"},
                  tool_part("output-available", input={"city": "Paris"}, output="sunny")],
    }  # fmt: skip
    raw = body(user("Weather?"), assistant)
    call = parse_chat_request(raw, **LIMITS, tools=[WEATHER])
    assert call.messages[-1] == {
        "role": "user",
        "content": [{"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "sunny"}],
                                    "status": "success"}}],
    }  # fmt: skip
    # ... and the answer continues that assistant message: same id (getResponseUIMessageId).
    assert response_message_id(raw, "new-id") == "a1"
    assert response_message_id(body(user("Hi")), "new-id") == "new-id"


def test_tool_errors_and_denials_become_error_results_and_dynamic_tools_are_named_by_tool_name():
    assistant = {
        "id": "a1",
        "role": "assistant",
        "parts": [
            tool_part("output-error", input={"city": "X"}, errorText="no such city"),
            {"type": "dynamic-tool", "toolName": "get_weather", "toolCallId": "tooluse_2",
             "state": "output-denied", "input": {"city": "Y"},
             "approval": {"id": "ap1", "approved": False}},
        ],
    }  # fmt: skip
    call = parse_chat_request(body(user("Go"), assistant), **LIMITS, tools=[WEATHER])
    assert call.messages[1]["content"] == [
        {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "X"}}},
        {"toolUse": {"toolUseId": "tooluse_2", "name": "get_weather", "input": {"city": "Y"}}},
    ]
    assert call.messages[2]["content"] == [
        {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "no such city"}],
                        "status": "error"}},
        {"toolResult": {"toolUseId": "tooluse_2",
                        "content": [{"text": "Tool call execution denied."}], "status": "error"}},
    ]  # fmt: skip


def test_tool_calls_without_a_result_are_left_out():
    # Converse wants every toolUse answered in the next user turn;
    # convertToModelMessages' ignoreIncompleteToolCalls does the same.
    assistant = {
        "id": "a1",
        "role": "assistant",
        "parts": [{"type": "text", "text": "Checking."},
                  tool_part("input-available", input={"city": "Paris"})],
    }  # fmt: skip
    call = parse_chat_request(body(user("Go"), assistant, user("Never mind", "u2")), **LIMITS)
    assert call.messages[1] == {"role": "assistant", "content": [{"text": "Checking."}]}


def test_an_image_file_part_becomes_a_converse_image_block():
    data_url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    message = {
        "id": "u1",
        "role": "user",
        "parts": [{"type": "file", "mediaType": "image/png", "url": data_url},
                  {"type": "text", "text": "What is this?"}],
    }  # fmt: skip
    call = parse_chat_request(body(message), **LIMITS)
    assert call.messages[0]["content"] == [
        {"image": {"format": "png", "source": {"bytes": PNG}}},
        {"text": "What is this?"},
    ]


# ---------------------------------------------------------------- refusals
def test_bad_json_is_a_400_in_the_error_shape():
    exc = refused(b"{not json")
    assert exc.status == 400
    assert exc.body["error"]["code"] == "bad_json"


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (b"", 400, "bad_json"),
        (b"\xff\xfe", 400, "bad_json"),
        (b"[]", 400, "bad_request"),
        (b'{"messages": []}', 400, "missing_messages"),
        (b'{"id": "c"}', 400, "missing_messages"),
        (b'{"messages": "hi"}', 400, "missing_messages"),
        (b'{"messages": [1]}', 400, "bad_message"),
        (b'{"messages": [{"role": "tool", "parts": []}]}', 400, "bad_message"),
        (b'{"messages": [{"role": "user", "parts": "hi"}]}', 400, "bad_message"),
        (b'{"messages": [{"role": "user", "content": "hi"}]}', 400, "bad_message"),
        (b'{"messages": [{"role": "user", "parts": [{"type": "text", "text": 3}]}]}',
         400, "bad_part"),
        (b'{"messages": [{"role": "user", "parts": [{"text": "x"}]}]}', 400, "bad_part"),
        (b'{"messages": [{"role": "user", "parts": [{"type": "hologram"}]}]}',
         400, "unsupported_part"),
        (b'{"messages": [{"role": "user", "parts": [{"type": "file", "mediaType": "image/png",'
         b' "url": "https://example.com/a.png"}]}]}', 400, "unsupported_part"),
        (b'{"messages": [{"role": "user", "parts": [{"type": "file",'
         b' "mediaType": "application/zip", "url": "data:application/zip;base64,AAAA"}]}]}',
         400, "unsupported_part"),
        (b'{"messages": [{"role": "user", "parts": [{"type": "text", "text": "hi"}]}],'
         b' "trigger": "resume"}', 400, "bad_request"),
    ],
)  # fmt: skip
def test_what_cannot_be_mapped_is_refused_before_any_model_call(raw, status, code):
    exc = refused(raw)
    assert (exc.status, exc.body["error"]["code"]) == (status, code)


def test_a_conversation_must_start_and_end_with_the_users_turn():
    greeting = {"id": "a0", "role": "assistant", "parts": [{"type": "text", "text": "Hi!"}]}
    assert refused(body(greeting, user("Hello"))).body["error"]["code"] == "bad_message"
    assert refused(body(user("Hello"), greeting)).body["error"]["code"] == "bad_message"


def test_only_system_text_is_nothing_to_answer():
    system = {"id": "s", "role": "system", "parts": [{"type": "text", "text": "Be brief."}]}
    exc = refused(body(system))
    assert (exc.status, exc.body["error"]["code"]) == (400, "missing_messages")


def test_tool_parts_need_tools_configured():
    assistant = {
        "id": "a1",
        "role": "assistant",
        "parts": [tool_part("output-available", input={}, output="x")],
    }
    exc = refused(body(user("Go"), assistant))
    assert (exc.status, exc.body["error"]["code"]) == (400, "tools_not_configured")


def test_limits_are_413s_with_their_exact_shape():
    exc = refused(body(user("a", "1"), user("b", "2"), user("c", "3")), max_messages=2)
    assert exc.status == 413
    assert exc.body == {
        "error": {
            "code": "too_many_messages",
            "message": "3 messages; this endpoint allows 2",
        }
    }
    exc = refused(body(user("x" * 11)), max_chars=10)
    assert exc.status == 413
    assert exc.body == {
        "error": {
            "code": "prompt_too_long",
            "message": "the messages hold 11 characters; this endpoint allows 10",
        }
    }


# -------------------------------------------------------------- the stream
def parts(events: list[StreamEvent] | Iterator[StreamEvent], **options: Any) -> list[Any]:
    """Each SSE event as its JSON value ('[DONE]' as the string)."""
    out = []
    for chunk in stream_parts(events, **{"message_id": "msg-1", **options}):
        assert chunk.startswith(b"data: ") and chunk.endswith(b"\n\n"), chunk
        assert chunk.count(b"\n") == 2, chunk  # one data line per event
        data = chunk[len(b"data: ") : -2].decode()
        out.append(data if data == "[DONE]" else json.loads(data))
    return out


# The keys each part may carry (packages/ai/src/ui-message-stream/ui-message-chunks.ts;
# ai 5.0.0 to 7.0.0 parsed them with z.strictObject: an unknown key failed the chunk).
ALLOWED = {
    "start": {"type", "messageId", "messageMetadata"},
    "start-step": {"type"},
    "text-start": {"type", "id"},
    "text-delta": {"type", "id", "delta"},
    "text-end": {"type", "id"},
    "reasoning-start": {"type", "id"},
    "reasoning-delta": {"type", "id", "delta"},
    "reasoning-end": {"type", "id"},
    "tool-input-start": {"type", "toolCallId", "toolName"},
    "tool-input-delta": {"type", "toolCallId", "inputTextDelta"},
    "tool-input-available": {"type", "toolCallId", "toolName", "input"},
    "tool-input-error": {"type", "toolCallId", "toolName", "input", "errorText"},
    "finish-step": {"type"},
    "finish": {"type", "finishReason", "messageMetadata"},
    "error": {"type", "errorText"},
}


def assert_known_keys(found: list[Any]) -> None:
    for part in found:
        if part != "[DONE]":
            assert set(part) <= ALLOWED[part["type"]], part


def test_text_only():
    found = parts([TextDelta("Hel"), TextDelta("lo"), StreamEnd("end_turn", Usage(3, 2))])
    assert found == [
        {"type": "start", "messageId": "msg-1"},
        {"type": "start-step"},
        {"type": "text-start", "id": "text-0"},
        {"type": "text-delta", "id": "text-0", "delta": "Hel"},
        {"type": "text-delta", "id": "text-0", "delta": "lo"},
        {"type": "text-end", "id": "text-0"},
        {"type": "finish-step"},
        {"type": "finish", "finishReason": "stop"},
        "[DONE]",
    ]


def test_the_start_part_leaves_the_message_id_to_the_client_when_none_is_given():
    assert parts([StreamEnd("end_turn")], message_id=None)[0] == {"type": "start"}


def test_reasoning_then_text():
    found = parts(
        [
            ReasoningDelta("Think", index=0),
            ReasoningDelta(" more", index=0),
            ReasoningDelta(signature="sig", index=0),
            TextDelta("Answer", index=1),
            StreamEnd("end_turn"),
        ]
    )
    assert found[1:-3] == [
        {"type": "start-step"},
        {"type": "reasoning-start", "id": "reasoning-0"},
        {"type": "reasoning-delta", "id": "reasoning-0", "delta": "Think"},
        {"type": "reasoning-delta", "id": "reasoning-0", "delta": " more"},
        {"type": "reasoning-end", "id": "reasoning-0"},
        {"type": "text-start", "id": "text-1"},
        {"type": "text-delta", "id": "text-1", "delta": "Answer"},
        {"type": "text-end", "id": "text-1"},
    ]


def test_text_then_a_tool_call_in_several_input_pieces():
    found = parts(
        [
            TextDelta("Let me check.", index=0),
            ToolUseStart("tooluse_1", "get_weather", index=1),
            ToolUseDelta('{"ci', index=1),
            ToolUseDelta('ty": "Pa', index=1),
            ToolUseDelta('ris"}', index=1),
            StreamEnd("tool_use", Usage(10, 20)),
        ]
    )
    assert found[4:] == [
        {"type": "text-end", "id": "text-0"},
        {"type": "tool-input-start", "toolCallId": "tooluse_1", "toolName": "get_weather"},
        {"type": "tool-input-delta", "toolCallId": "tooluse_1", "inputTextDelta": '{"ci'},
        {"type": "tool-input-delta", "toolCallId": "tooluse_1", "inputTextDelta": 'ty": "Pa'},
        {"type": "tool-input-delta", "toolCallId": "tooluse_1", "inputTextDelta": 'ris"}'},
        {"type": "tool-input-available", "toolCallId": "tooluse_1", "toolName": "get_weather",
         "input": {"city": "Paris"}},
        {"type": "finish-step"},
        {"type": "finish", "finishReason": "tool-calls"},
        "[DONE]",
    ]  # fmt: skip


def test_two_tool_calls_each_end_when_the_next_starts():
    found = parts(
        [
            ToolUseStart("t1", "get_weather", index=0),
            ToolUseDelta('{"city": "Paris"}', index=0),
            ToolUseStart("t2", "get_time", index=1),  # no input at all: {}
            StreamEnd("tool_use"),
        ]
    )
    assert [p["type"] for p in found[2:-3]] == [
        "tool-input-start",
        "tool-input-delta",
        "tool-input-available",
        "tool-input-start",
        "tool-input-available",
    ]
    assert found[4]["input"] == {"city": "Paris"}
    assert found[6] == {"type": "tool-input-available", "toolCallId": "t2",
                        "toolName": "get_time", "input": {}}  # fmt: skip


def test_tool_input_that_is_not_json_is_a_tool_input_error():
    found = parts([ToolUseStart("t1", "f"), ToolUseDelta('{"a": '), StreamEnd("tool_use")])
    error = found[4]
    assert error["type"] == "tool-input-error"
    assert (error["toolCallId"], error["toolName"], error["input"]) == ("t1", "f", '{"a": ')
    assert error["errorText"]


def test_an_error_after_two_tokens_is_an_error_part_then_done():
    def events() -> Iterator[StreamEvent]:
        yield TextDelta("One")
        yield TextDelta(" two")
        raise BedrockStreamError("ThrottlingException", "Too many requests, arn:aws:iam::1:x",
                                 after_first_token=True)  # fmt: skip

    found = parts(events())
    assert found == [
        {"type": "start", "messageId": "msg-1"},
        {"type": "start-step"},
        {"type": "text-start", "id": "text-0"},
        {"type": "text-delta", "id": "text-0", "delta": "One"},
        {"type": "text-delta", "id": "text-0", "delta": " two"},
        {"type": "error", "errorText": "The model stream failed (ThrottlingException)."},
        "[DONE]",
    ]


def test_the_error_text_is_the_callers_to_choose():
    def events() -> Iterator[StreamEvent]:
        raise BedrockStreamError("AccessDeniedException", "no", after_first_token=False)
        yield  # a generator

    found = parts(events(), error_text=lambda exc: f"{exc.code}: {exc.message}")
    assert found == [
        {"type": "start", "messageId": "msg-1"},
        {"type": "error", "errorText": "AccessDeniedException: no"},
        "[DONE]",
    ]


def test_other_exceptions_propagate():
    def events() -> Iterator[StreamEvent]:
        yield TextDelta("a")
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError, match="bug"):
        parts(events())


@pytest.mark.parametrize(
    ("stop", "reason"),
    [("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"),
     ("tool_use", "tool-calls"), ("content_filtered", "content-filter"),
     ("guardrail_intervened", "content-filter"), ("model_context_window_exceeded", "other"),
     (None, "other")],
)  # fmt: skip
def test_stop_reasons_map_as_the_sdks_bedrock_provider_maps_them(stop, reason):
    assert parts([StreamEnd(stop)])[-2] == {"type": "finish", "finishReason": reason}


def test_usage_rides_as_message_metadata_when_asked():
    found = parts([TextDelta("x"), StreamEnd("end_turn", Usage(7, 5))], include_usage=True)
    assert found[-2] == {
        "type": "finish",
        "finishReason": "stop",
        "messageMetadata": {"usage": {"inputTokens": 7, "outputTokens": 5, "totalTokens": 12}},
    }


def test_a_stream_that_ends_without_stream_end_still_finishes():
    assert parts([TextDelta("x")])[-4:] == [
        {"type": "text-end", "id": "text-0"},
        {"type": "finish-step"},
        {"type": "finish"},
        "[DONE]",
    ]


def test_each_part_is_yielded_as_soon_as_its_event_arrives():
    pulled: list[str] = []

    def events() -> Iterator[StreamEvent]:
        pulled.append("first")
        yield TextDelta("a")
        pulled.append("second")
        yield TextDelta("b")

    chunks = stream_parts(events(), message_id="m")
    assert next(chunks) == b'data: {"type":"start","messageId":"m"}\n\n'
    assert pulled == []  # the start goes out before the model is waited for
    next(chunks), next(chunks), next(chunks)  # start-step, text-start, the delta of "a"
    assert pulled == ["first"]


def test_every_part_carries_only_keys_the_schema_knows():
    found = parts(
        [
            ReasoningDelta("r"),
            TextDelta("t", index=1),
            ToolUseStart("t1", "f", index=2),
            ToolUseDelta("{", index=2),
            ToolUseStart("t2", "g", index=3),
            ToolUseDelta("{}", index=3),
            StreamEnd("tool_use", Usage(1, 1)),
        ],
        include_usage=True,
    )
    assert_known_keys(found)


def test_non_ascii_text_is_sent_as_utf8_json():
    chunk = list(stream_parts([TextDelta("héllo ✓")], message_id="m"))[3]
    assert chunk == 'data: {"type":"text-delta","id":"text-0","delta":"héllo ✓"}\n\n'.encode()


@given(st.lists(st.text(), max_size=20))
def test_any_text_pieces_become_text_deltas_that_concatenate_to_the_text(pieces):
    found = parts([TextDelta(p) for p in pieces] + [StreamEnd("end_turn")])
    deltas = [p for p in found if isinstance(p, dict) and p["type"] == "text-delta"]
    assert "".join(p["delta"] for p in deltas) == "".join(pieces)
    assert all(p["delta"] for p in deltas)  # no empty deltas
    assert_known_keys(found)
    assert found[-1] == "[DONE]"


# ------------------------------------------- conformance: the AI SDK itself
PEER = Path(__file__).resolve().parents[1] / "peers" / "ai-sdk"
PACKAGES = ["ai", "ai-v6", "ai-v5"]  # majors 7, 6, 5 (package.json)


def sdk_reads(
    response: bytes,
    *,
    package: str = "ai",
    status: int = 200,
    messages: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """What the AI SDK's DefaultChatTransport + readUIMessageStream make of ``response``."""
    if shutil.which("node") is None:
        missing("node", "the AI SDK conformance peer cannot run; tools/install-ai-sdk.sh")
    if not (PEER / "node_modules" / package / "package.json").is_file():
        missing(f"the npm package {package} in tests/peers/ai-sdk", "tools/install-ai-sdk.sh")
    request = {
        "package": package,
        "status": status,
        "headers": dict(HEADERS),
        "bodyBase64": base64.b64encode(response).decode(),
        "messages": messages if messages is not None else [user("What is the weather?")],
    }
    result = subprocess.run(
        ["node", str(PEER / "read-stream.mjs")],
        input=json.dumps(request).encode(),
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def encoded(events: list[StreamEvent] | Iterator[StreamEvent], **options: Any) -> bytes:
    return b"".join(stream_parts(events, **{"message_id": "msg-1", **options}))


@pytest.mark.node
@pytest.mark.parametrize("package", PACKAGES)
def test_the_sdk_assembles_text_and_a_tool_call_with_its_parsed_input(package):
    response = encoded(
        [
            TextDelta("Let me check", index=0),
            TextDelta(" the weather.", index=0),
            ToolUseStart("tooluse_1", "get_weather", index=1),
            ToolUseDelta('{"city":', index=1),
            ToolUseDelta(' "Paris", "days": 2}', index=1),
            StreamEnd("tool_use", Usage(10, 20)),
        ]
    )
    out = sdk_reads(response, package=package)
    assert out["errors"] == [] and out["thrown"] is None, out
    message = out["message"]
    assert message["id"] == "msg-1" and message["role"] == "assistant"
    assert [p["type"] for p in message["parts"]] == ["step-start", "text", "tool-get_weather"]
    assert message["parts"][1] == {"type": "text", "text": "Let me check the weather.",
                                   "state": "done"}  # fmt: skip
    tool = message["parts"][2]
    assert tool["state"] == "input-available"
    assert tool["toolCallId"] == "tooluse_1"
    assert tool["input"] == {"city": "Paris", "days": 2}
    assert out["chunks"][-1] == {"type": "finish", "finishReason": "tool-calls"}


@pytest.mark.node
@pytest.mark.parametrize("package", PACKAGES)
def test_the_sdk_assembles_reasoning_then_text_and_two_tool_calls(package):
    response = encoded(
        [
            ReasoningDelta("Two cities.", index=0),
            TextDelta("Checking both.", index=1),
            ToolUseStart("t1", "get_weather", index=2),
            ToolUseDelta('{"city": "Paris"}', index=2),
            ToolUseStart("t2", "get_weather", index=3),
            ToolUseDelta('{"city": "Rome"}', index=3),
            StreamEnd("tool_use", Usage(1, 2)),
        ],
        include_usage=True,
    )
    out = sdk_reads(response, package=package)
    assert out["errors"] == [] and out["thrown"] is None, out
    parts_ = out["message"]["parts"]
    assert [p["type"] for p in parts_] == [
        "step-start", "reasoning", "text", "tool-get_weather", "tool-get_weather",
    ]  # fmt: skip
    assert parts_[1]["text"] == "Two cities." and parts_[1]["state"] == "done"
    assert [(p["toolCallId"], p["state"], p["input"]) for p in parts_[3:]] == [
        ("t1", "input-available", {"city": "Paris"}),
        ("t2", "input-available", {"city": "Rome"}),
    ]
    assert out["message"]["metadata"] == {
        "usage": {"inputTokens": 1, "outputTokens": 2, "totalTokens": 3}
    }


@pytest.mark.node
@pytest.mark.parametrize("package", PACKAGES)
def test_the_sdk_reports_an_error_part_and_keeps_the_text_before_it(package):
    def events() -> Iterator[StreamEvent]:
        yield TextDelta("One")
        yield TextDelta(" two")
        raise BedrockStreamError("ThrottlingException", "slow down", after_first_token=True)

    out = sdk_reads(encoded(events()), package=package)
    assert out["thrown"] is None
    assert out["errors"] == ["The model stream failed (ThrottlingException)."]
    assert [p.get("text") for p in out["message"]["parts"]] == [None, "One two"]


@pytest.mark.node
@pytest.mark.parametrize("package", PACKAGES)
def test_the_sdk_throws_a_refusal_with_our_json_body_as_its_message(package):
    # http-chat-transport.ts: if (!response.ok) throw new Error(await response.text())
    exc = refused(b"{")
    out = sdk_reads(json.dumps(exc.body).encode(), package=package, status=exc.status)
    assert json.loads(out["thrown"]) == exc.body
    assert out["message"] is None


@pytest.mark.node
@pytest.mark.parametrize("package", PACKAGES)
def test_the_body_the_sdk_posts_maps_to_converse(package):
    # The request side: the exact body DefaultChatTransport sends for a history
    # with a finished tool call (what sendAutomaticallyWhen resubmits).
    history = [
        {"id": "s", "role": "system", "parts": [{"type": "text", "text": "Be brief."}]},
        user("Weather in Paris?"),
        {
            "id": "a1",
            "role": "assistant",
            "parts": [
                {"type": "step-start"},
                {"type": "text", "text": "Checking.", "state": "done"},
                tool_part("output-available", input={"city": "Paris"}, output={"temp": 21}),
            ],
        },
    ]
    out = sdk_reads(encoded([StreamEnd("end_turn")]), package=package, messages=history)
    posted = json.dumps(out["request"]["body"]).encode()
    assert out["request"]["body"]["trigger"] == "submit-message"
    call = parse_chat_request(posted, **LIMITS, tools=[WEATHER])
    assert call.system == "Be brief."
    assert [m["role"] for m in call.messages] == ["user", "assistant", "user"]
    assert call.messages[2]["content"][0]["toolResult"]["content"] == [{"json": {"temp": 21}}]
    assert response_message_id(posted, "new") == "a1"
