"""Family request builders and chunk parsers, on chunk sequences shaped as Bedrock sends them."""

from __future__ import annotations

import pytest
from bedrock_models import MODEL_IDS

from lambdastream.bedrock.errors import UnsupportedModelError
from lambdastream.bedrock.events import (
    ReasoningDelta,
    StreamEnd,
    TextDelta,
    ToolUseDelta,
    ToolUseStart,
    Usage,
)
from lambdastream.bedrock.families import (
    FAMILIES,
    ParseState,
    Prompt,
    RenderState,
    RequestError,
    TagSplitter,
    family_for,
    render_stream,
)


def parse_all(family, chunks):
    state = ParseState()
    events = []
    for chunk in chunks:
        events += family.parse_chunk(chunk, state)
    return events + family.finish(state)


def test_every_family_has_a_model_id_here():
    assert sorted(MODEL_IDS) == sorted(f.name for f in FAMILIES)


@pytest.mark.parametrize(
    ("model_id", "name"),
    [
        ("anthropic.claude-3-haiku-20240307-v1:0", "anthropic"),
        ("global.anthropic.claude-sonnet-4-20250514-v1:0", "anthropic"),
        ("anthropic.claude-instant-v1", "anthropic-text"),
        ("apac.meta.llama3-2-1b-instruct-v1:0", "meta"),
        ("cohere.command-light-text-v14", "cohere-command"),
        ("cohere.command-r-v1:0", "cohere-command-r"),
        ("amazon.titan-tg1-large", "titan-text"),
        ("us.amazon.nova-pro-v1:0", "nova"),
        ("mistral.mixtral-8x7b-instruct-v0:1", "mistral"),
        ("ai21.jamba-instruct-v1:0", "ai21-jamba"),
        ("openai.gpt-oss-120b-1:0", "openai-gpt-oss"),
        ("arn:aws:bedrock:us-east-1:123:inference-profile/us.deepseek.r1-v1:0", "deepseek"),
    ],
)
def test_family_is_chosen_by_model_id(model_id, name):
    assert family_for(model_id).name == name


def test_unknown_family_names_the_supported_ones():
    with pytest.raises(UnsupportedModelError) as info:
        family_for("stability.stable-diffusion-xl-v1")
    message = str(info.value)
    assert "stability.stable-diffusion-xl-v1" in message
    for family in FAMILIES:
        assert family.label in message


# Recorded shapes: what Bedrock sends for "Hello world", end_turn, 7 in / 2 out.
METRICS = {
    "amazon-bedrock-invocationMetrics": {
        "inputTokenCount": 7,
        "outputTokenCount": 2,
        "invocationLatency": 412,
        "firstByteLatency": 230,
    }
}
RECORDED = {
    "anthropic": [
        {"type": "message_start", "message": {"usage": {"input_tokens": 7, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "Hello"},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": " world"},
        },
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 2},
        },
        {"type": "message_stop", **METRICS},
    ],
    "anthropic-text": [
        {"completion": "Hello", "stop_reason": None, "stop": None},
        {"completion": " world", "stop_reason": None, "stop": None},
        {"completion": "", "stop_reason": "stop_sequence", "stop": "\n\nHuman:", **METRICS},
    ],
    "cohere-command": [
        {"text": "Hello", "is_finished": False},
        {"text": " world", "is_finished": False},
        {"text": "<EOS_TOKEN>", "is_finished": True, "finish_reason": "COMPLETE", **METRICS},
    ],
    "cohere-command-r": [
        {"is_finished": False, "event_type": "stream-start", "generation_id": "g"},
        {"is_finished": False, "event_type": "text-generation", "text": "Hello"},
        {"is_finished": False, "event_type": "text-generation", "text": " world"},
        {"is_finished": True, "event_type": "stream-end", "finish_reason": "COMPLETE", **METRICS},
    ],
    "meta": [
        {
            "generation": "Hello",
            "prompt_token_count": 7,
            "generation_token_count": 1,
            "stop_reason": None,
        },
        {
            "generation": " world",
            "prompt_token_count": None,
            "generation_token_count": 2,
            "stop_reason": None,
        },
        {
            "generation": "",
            "prompt_token_count": None,
            "generation_token_count": 2,
            "stop_reason": "stop",
            **METRICS,
        },
    ],
    "titan-text": [
        {
            "outputText": "Hello",
            "index": 0,
            "totalOutputTextTokenCount": 1,
            "completionReason": None,
            "inputTextTokenCount": 7,
        },
        {
            "outputText": " world",
            "index": 0,
            "totalOutputTextTokenCount": 2,
            "completionReason": "FINISH",
            **METRICS,
        },
    ],
    "nova": [
        {"messageStart": {"role": "assistant"}},
        {"contentBlockDelta": {"delta": {"text": "Hello"}, "contentBlockIndex": 0}},
        {"contentBlockDelta": {"delta": {"text": " world"}, "contentBlockIndex": 0}},
        {"contentBlockStop": {"contentBlockIndex": 0}},
        {"messageStop": {"stopReason": "end_turn"}},
        {
            "metadata": {
                "usage": {"inputTokens": 7, "outputTokens": 2},
                "metrics": {},
                "trace": {},
            },
            **METRICS,
        },
    ],
    "mistral": [
        {"outputs": [{"text": "Hello", "stop_reason": None}]},
        {"outputs": [{"text": " world", "stop_reason": None}]},
        {"outputs": [{"text": "", "stop_reason": "stop"}], **METRICS},
    ],
    "ai21-jamba": [
        {
            "id": "x",
            "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}],
        },
        {
            "id": "x",
            "choices": [{"index": 0, "delta": {"content": "Hello"}, "finish_reason": None}],
        },
        # Some captures carry "message" instead of "delta".
        {
            "id": "x",
            "choices": [{"index": 0, "message": {"content": " world"}, "finish_reason": None}],
        },
        {"id": "x", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], **METRICS},
    ],
    "deepseek": [
        {"choices": [{"text": "Hello", "stop_reason": None}]},
        {"choices": [{"text": " world", "stop_reason": None}]},
        {"choices": [{"text": "", "stop_reason": "stop"}], **METRICS},
    ],
    "openai-gpt-oss": [
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": "Hello"},
                    "finish_reason": None,
                }
            ]
        },
        {"choices": [{"index": 0, "delta": {"content": " world"}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], **METRICS},
    ],
}


@pytest.mark.parametrize("name", sorted(MODEL_IDS))
def test_recorded_chunks_parse_to_text_usage_and_stop_reason(name):
    events = parse_all(family_for(MODEL_IDS[name]), RECORDED[name])
    assert events[:-1] == [TextDelta("Hello"), TextDelta(" world")]
    end = events[-1]
    assert end.stop_reason == "end_turn"
    assert end.usage == Usage(7, 2)
    assert end.latency_ms == 412


def test_anthropic_tool_use_and_thinking_are_surfaced():
    family = family_for(MODEL_IDS["anthropic"])
    chunks = [
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": ""},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "hmm"},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": "sig"},
        },
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"city":'},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '"Oslo"}'},
        },
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {"output_tokens": 9},
        },
    ]
    events = parse_all(family, chunks)
    assert events[:-1] == [
        ReasoningDelta("hmm", index=0),
        ReasoningDelta(signature="sig", index=0),
        ToolUseStart("t1", "get_weather", 1),
        ToolUseDelta('{"city":', 1),
        ToolUseDelta('"Oslo"}', 1),
    ]
    assert events[-1].stop_reason == "tool_use"


@pytest.mark.parametrize("name", ["deepseek", "openai-gpt-oss"])
def test_inline_reasoning_tags_split_across_chunks(name):
    family = family_for(MODEL_IDS[name])
    open_tag, close_tag = (
        ("<think>", "</think>") if name == "deepseek" else ("<reasoning>", "</reasoning>")
    )
    text = f"{open_tag}weigh it{close_tag}\n\nAnswer."
    pieces = [text[i : i + 3] for i in range(0, len(text), 3)]
    if name == "deepseek":
        chunks = [{"choices": [{"text": p, "stop_reason": None}]} for p in pieces]
    else:
        chunks = [{"choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
    events = parse_all(family, chunks)[:-1]
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    answer = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert (reasoning, answer) == ("weigh it", "Answer.")


def test_tag_splitter_keeps_a_lone_angle_bracket_as_text():
    splitter = TagSplitter("<think>", "</think>")
    assert splitter.feed("a <") == [(False, "a ")]
    assert splitter.feed("b") == [(False, "<b")]
    assert splitter.feed("<thi") == []
    assert splitter.flush() == [(False, "<thi")]


# Server side: what bedrock-local reads and renders must parse back to the same events.
ANSWER = [
    ReasoningDelta("Think.", index=0),
    TextDelta("Hello", 1),
    TextDelta(" world", 1),
    StreamEnd("max_tokens", Usage(7, 2)),
]
REASONING_FAMILIES = {"anthropic", "nova", "deepseek", "openai-gpt-oss"}


@pytest.mark.parametrize("name", sorted(MODEL_IDS))
def test_rendered_chunks_parse_back_to_the_same_events(name):
    family = family_for(MODEL_IDS[name])
    state = RenderState(MODEL_IDS[name], input_tokens=7, output_tokens=2)
    events = parse_all(family, render_stream(family, ANSWER, state))
    expected_text = [TextDelta("Hello", 1), TextDelta(" world", 1)]
    got_text = [e for e in events if isinstance(e, TextDelta)]
    if name in {"anthropic", "nova"}:
        assert got_text == expected_text
    else:  # single-block families carry no block index
        assert [e.text for e in got_text] == ["Hello", " world"]
    reasoning = [e.text for e in events if isinstance(e, ReasoningDelta)]
    assert reasoning == (["Think."] if name in REASONING_FAMILIES else [])
    assert family.carries_reasoning == (name in REASONING_FAMILIES)
    assert events[-1].stop_reason == "max_tokens"
    assert events[-1].usage == Usage(7, 2)


@pytest.mark.parametrize("name", sorted(MODEL_IDS))
def test_request_builders_and_readers_agree(name):
    family = family_for(MODEL_IDS[name])
    prompt = Prompt(
        [("user", "What is 2+2?"), ("assistant", "4."), ("user", "And 3+3?\nThanks")],
        system="Be brief.",
        max_tokens=50,
        temperature=0.5,
    )
    assert family.read_request(family.build_request(prompt)) == prompt


@pytest.mark.parametrize(
    ("name", "body", "match"),
    [
        (
            "anthropic",
            {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 5},
            "anthropic_version",
        ),
        (
            "anthropic",
            {
                "anthropic_version": "bedrock-2023-05-31",
                "messages": [{"role": "user", "content": "hi"}],
            },
            "max_tokens",
        ),
        ("anthropic-text", {"prompt": "hi", "max_tokens_to_sample": 5}, "Human"),
        ("meta", {"prompt": 5}, r"#/prompt: expected type: String, found: Integer"),
        ("nova", {"messages": []}, "#/messages: expected minimum item count: 1"),
        ("ai21-jamba", {"messages": [{"role": "wizard", "content": "x"}]}, "unknown role"),
        (
            "titan-text",
            {"inputText": "x", "textGenerationConfig": {"maxTokenCount": -1}},
            r"#/textGenerationConfig/maxTokenCount: -1 is not greater or equal to 1",
        ),
    ],
)
def test_readers_reject_malformed_bodies(name, body, match):
    with pytest.raises(RequestError, match=match):
        family_for(MODEL_IDS[name]).read_request(body)
