"""Tool calls and whole answers from bedrock-local, through real boto3, as a tool caller reads them.

A tool call's input must satisfy the tool's JSON Schema (clients such as
langchain-aws and the Vercel AI SDK check it and reject the call
otherwise); a buffered answer (InvokeModel, Converse) must carry the same
reasoning, text and tool calls the streamed one does. Schemas are checked
with ``jsonschema``, the reference validator, never by hand.
"""

from __future__ import annotations

import json

import jsonschema
import pytest
from bedrock_models import MODEL_IDS
from botocore.exceptions import ClientError

from lambdastream.bedrock import (
    ReasoningDelta,
    TextDelta,
    ToolUseDelta,
    ToolUseStart,
    stream_text,
)
from lambdastream.bedrock.families import Prompt, family_for

pytestmark = pytest.mark.timeout(30)

WEATHER = {
    "type": "object",
    "properties": {
        "location": {"type": "string", "description": "The city"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
    },
    "required": ["location", "unit"],
}
# What pydantic writes for a model with a nested model, an optional field and bounds.
BOOKING = {
    "$defs": {
        "Guest": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 2},
                "age": {"type": "integer", "minimum": 18},
            },
            "required": ["name", "age"],
        }
    },
    "type": "object",
    "properties": {
        "guests": {"type": "array", "items": {"$ref": "#/$defs/Guest"}, "minItems": 2},
        "date": {"type": "string", "format": "date"},
        "nights": {"anyOf": [{"type": "integer", "exclusiveMinimum": 0}, {"type": "null"}]},
        "notes": {"type": "string", "maxLength": 10},
        "confirmed": {"type": "boolean"},
        "price": {"type": "number", "multipleOf": 0.5, "minimum": 10},
        "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True, "minItems": 3},
    },
    "required": ["guests", "date", "nights", "price"],
    "additionalProperties": False,
}
SCHEMAS = {"get_weather": WEATHER, "book_room": BOOKING}
QUESTION = {
    "get_weather": "What's the weather in Paris for 3 days?",
    "book_room": "Book a room in Lisbon for Ana and Rui",
}
TOOL_FAMILIES = ["anthropic", "nova", "ai21-jamba", "openai-gpt-oss"]


def tool_fields(api: str, tool: str | None) -> dict:
    """Both tools offered in ``api``'s own words; ``tool`` (if any) is the one it must call.

    Spelled out here as each provider documents them, not built by the code under test:
    Converse and Nova ``toolConfig`` (botocore's service model), Anthropic ``tools`` and
    ``tool_choice`` (Anthropic's Messages API), OpenAI-style ``tools`` (Jamba, gpt-oss).
    """
    if api in ("converse", "nova"):
        config: dict = {
            "tools": [
                {
                    "toolSpec": {
                        "name": n,
                        "description": f"the {n} tool",
                        "inputSchema": {"json": s},
                    }
                }
                for n, s in SCHEMAS.items()
            ]
        }
        if tool:
            config["toolChoice"] = {"tool": {"name": tool}}
        return {"toolConfig": config}
    if api == "anthropic":
        fields: dict = {
            "tools": [
                {"name": n, "description": f"the {n} tool", "input_schema": s}
                for n, s in SCHEMAS.items()
            ]
        }
        if tool:
            fields["tool_choice"] = {"type": "tool", "name": tool}
        return fields
    fields = {
        "tools": [
            {
                "type": "function",
                "function": {"name": n, "description": f"the {n} tool", "parameters": s},
            }
            for n, s in SCHEMAS.items()
        ]
    }
    if tool:
        fields["tool_choice"] = {"type": "function", "function": {"name": tool}}
    return fields


def streamed_calls(events) -> list[tuple[str, object]]:
    names = {e.index: e.name for e in events if isinstance(e, ToolUseStart)}
    inputs: dict[int, str] = {}
    for event in events:
        if isinstance(event, ToolUseDelta):
            inputs[event.index] = inputs.get(event.index, "") + event.input
    return [(names[i], json.loads(inputs.get(i, "{}"))) for i in names]


@pytest.mark.parametrize("tool", sorted(SCHEMAS))
@pytest.mark.parametrize("api", ["converse", *TOOL_FAMILIES])
def test_a_forced_tool_call_satisfies_the_tools_schema(client, api, tool):
    options = tool_fields(api, tool)
    if api == "converse":
        stream = stream_text(
            client, MODEL_IDS["nova"], prompt=QUESTION[tool], request_options=options
        )
    else:
        stream = stream_text(
            client, MODEL_IDS[api], prompt=QUESTION[tool], api="invoke", request_options=options
        )
    events = list(stream)
    ((name, arguments),) = streamed_calls(events)
    assert name == tool
    jsonschema.validate(arguments, SCHEMAS[tool])
    assert events[-1].stop_reason == "tool_use"
    # Forced: the turn is the call alone, as Anthropic's prefilled turn makes it.
    assert not [e for e in events if isinstance(e, TextDelta)]


def test_the_arguments_come_from_the_question(client):
    options = tool_fields("converse", "get_weather")
    events = list(
        stream_text(
            client, MODEL_IDS["nova"], prompt=QUESTION["get_weather"], request_options=options
        )
    )
    assert streamed_calls(events) == [
        ("get_weather", {"location": "Paris", "unit": "celsius", "days": 3})
    ]


def test_auto_calls_the_tool_the_question_names_and_says_so_first(client):
    options = tool_fields("converse", None)
    events = list(
        stream_text(
            client, MODEL_IDS["nova"], prompt=QUESTION["get_weather"], request_options=options
        )
    )
    assert [name for name, _ in streamed_calls(events)] == ["get_weather"]
    assert [e for e in events if isinstance(e, TextDelta)]  # a word before the call
    assert events[-1].stop_reason == "tool_use"


def test_auto_answers_in_text_when_no_tool_fits(client):
    options = tool_fields("converse", None)
    events = list(
        stream_text(client, MODEL_IDS["nova"], prompt="Tell me a story", request_options=options)
    )
    assert streamed_calls(events) == []
    assert events[-1].stop_reason == "end_turn"


def test_given_the_tools_result_the_model_answers_and_calls_nothing(client):
    config = tool_fields("converse", None)["toolConfig"]
    call = {"toolUseId": "t1", "name": "get_weather", "input": {"location": "Paris"}}
    result = {"toolUseId": "t1", "content": [{"json": {"temperature": 21}}]}
    answer = client.converse(
        modelId=MODEL_IDS["nova"],
        messages=[
            {"role": "user", "content": [{"text": QUESTION["get_weather"]}]},
            {"role": "assistant", "content": [{"toolUse": call}]},
            {"role": "user", "content": [{"toolResult": result}]},
        ],
        toolConfig=config,
    )
    assert answer["stopReason"] == "end_turn"
    assert [list(block) for block in answer["output"]["message"]["content"]] == [["text"]]


def test_tool_blocks_without_a_tool_config_are_refused_as_bedrock_does(client):
    call = {"toolUseId": "t1", "name": "get_weather", "input": {}}
    with pytest.raises(ClientError) as info:
        client.converse(
            modelId=MODEL_IDS["nova"],
            messages=[
                {"role": "user", "content": [{"text": "weather?"}]},
                {"role": "assistant", "content": [{"toolUse": call}]},
                {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": []}}]},
            ],
        )
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert "toolConfig" in info.value.response["Error"]["Message"]


def test_a_forced_tool_the_request_does_not_offer_is_refused(client):
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"name": "get_weather", "input_schema": WEATHER}],
        "tool_choice": {"type": "tool", "name": "nope"},
    }
    with pytest.raises(ClientError) as info:
        client.invoke_model(modelId=MODEL_IDS["anthropic"], body=json.dumps(body))
    assert "#/tool_choice/name" in info.value.response["Error"]["Message"]


@pytest.mark.parametrize("name", sorted(MODEL_IDS))
def test_tools_survive_the_request_builders_and_readers(name):
    from lambdastream.bedrock.families import Tool, ToolChoice

    family = family_for(MODEL_IDS[name])
    tools = tuple(Tool(n, f"the {n} tool", schema) for n, schema in SCHEMAS.items())
    choice = ToolChoice("tool", "book_room")
    prompt = Prompt([("user", "hi")], max_tokens=500, tools=tools, tool_choice=choice)
    read = family.read_request(family.build_request(prompt))
    if family.carries_tools:
        assert read == prompt
    else:  # nowhere in the body to put them
        assert (read.tools, read.messages) == ((), prompt.messages)


# ------------------------------------------------------------------ whole answers


def buffered_blocks(name: str, body: dict) -> tuple[str, str, list]:
    """(reasoning, text, tool calls) of one family's whole InvokeModel answer."""
    if name == "anthropic":
        content = body["content"]
        return (
            "".join(b["thinking"] for b in content if b["type"] == "thinking"),
            "".join(b["text"] for b in content if b["type"] == "text"),
            [(b["name"], b["input"]) for b in content if b["type"] == "tool_use"],
        )
    if name == "nova":
        return converse_blocks(body["output"]["message"]["content"])
    if name in ("ai21-jamba", "openai-gpt-oss"):
        message = body["choices"][0]["message"]
        reasoning, text = "", message["content"] or ""
        if text.startswith("<reasoning>"):
            reasoning, _, text = text[len("<reasoning>") :].partition("</reasoning>")
        calls = [
            (c["function"]["name"], json.loads(c["function"]["arguments"]))
            for c in message.get("tool_calls") or []
        ]
        return reasoning, text, calls
    if name == "deepseek":
        text = body["choices"][0]["text"]
        if text.startswith("<think>"):
            reasoning, _, text = text[len("<think>") :].partition("</think>\n\n")
            return reasoning, text, []
        return "", text, []
    text = {
        "anthropic-text": lambda: body["completion"],
        "cohere-command": lambda: body["generations"][0]["text"],
        "cohere-command-r": lambda: body["text"],
        "meta": lambda: body["generation"],
        "titan-text": lambda: body["results"][0]["outputText"],
        "mistral": lambda: body["outputs"][0]["text"],
    }[name]()
    return "", text, []


def converse_blocks(content: list) -> tuple[str, str, list]:
    return (
        "".join(
            b["reasoningContent"]["reasoningText"]["text"]
            for b in content
            if "reasoningContent" in b
        ),
        "".join(b["text"] for b in content if "text" in b),
        [(b["toolUse"]["name"], b["toolUse"]["input"]) for b in content if "toolUse" in b],
    )


def streamed_blocks(events) -> tuple[str, str, list]:
    return (
        "".join(e.text for e in events if isinstance(e, ReasoningDelta)),
        "".join(e.text for e in events if isinstance(e, TextDelta)),
        streamed_calls(events),
    )


@pytest.mark.parametrize("name", sorted(MODEL_IDS))
def test_a_whole_invoke_answer_carries_what_the_stream_carries(client, name):
    family = family_for(MODEL_IDS[name])
    question = f"{QUESTION['get_weather']} [[think]] [[tool:get_weather]]"
    options = tool_fields(name, None) if name in TOOL_FAMILIES else {}
    events = list(
        stream_text(client, MODEL_IDS[name], prompt=question, api="invoke", request_options=options)
    )
    body = family.build_request(Prompt([("user", question)], max_tokens=1024))
    body.update(options)
    whole = client.invoke_model(modelId=MODEL_IDS[name], body=json.dumps(body))
    answer = json.loads(whole["body"].read())
    assert buffered_blocks(name, answer) == streamed_blocks(events)
    reasoning, text, calls = streamed_blocks(events)
    assert text
    assert bool(reasoning) == family.carries_reasoning
    assert bool(calls) == (name in TOOL_FAMILIES)
    for tool, arguments in calls:
        jsonschema.validate(arguments, SCHEMAS[tool])
    headers = whole["ResponseMetadata"]["HTTPHeaders"]
    assert int(headers["x-amzn-bedrock-output-token-count"]) == events[-1].usage.output_tokens


def test_a_whole_converse_answer_carries_what_the_stream_carries(client):
    question = f"{QUESTION['book_room']} [[think]]"
    options = tool_fields("converse", None)
    events = list(
        stream_text(client, MODEL_IDS["anthropic"], prompt=question, request_options=options)
    )
    whole = client.converse(
        modelId=MODEL_IDS["anthropic"],
        messages=[{"role": "user", "content": [{"text": question}]}],
        **options,
    )
    content = whole["output"]["message"]["content"]
    assert converse_blocks(content) == streamed_blocks(events)
    assert [list(b) for b in content] == [["reasoningContent"], ["text"], ["toolUse"]]
    assert content[0]["reasoningContent"]["reasoningText"]["signature"]
    assert whole["stopReason"] == events[-1].stop_reason == "tool_use"
    assert whole["usage"]["outputTokens"] == events[-1].usage.output_tokens
