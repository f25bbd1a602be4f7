"""bedrock-local against a third-party client: langchain-aws, as its users call it.

``ChatBedrockConverse`` (Converse, ConverseStream) and ``ChatBedrock``
(InvokeModel for an Anthropic model and a Llama 3 model) talk to a real
bedrock-local over loopback through real boto3. What langchain reports is
checked: a tool call's arguments satisfy the tool's schema (pydantic and
``jsonschema`` both say so), the streamed and the whole answer agree (text,
reasoning, tool calls, usage), and Llama 3 answers the question rather than
the template langchain wraps it in.

Install: ``pip install 'langchain-aws>=1.9'`` (the dev extra). Under CI=true a
missing langchain-aws fails this module; elsewhere it is skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, Literal

import jsonschema
import pytest
from support import bedrock_client

from lambdastream.bedrock.local_server import BackgroundServer, start_background

if os.environ.get("CI") == "true":
    import langchain_aws
else:
    langchain_aws = pytest.importorskip("langchain_aws")
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from pydantic import BaseModel, Field

pytestmark = pytest.mark.timeout(60)
CLAUDE = "anthropic.claude-3-5-haiku-20241022-v1:0"
LLAMA3 = "meta.llama3-8b-instruct-v1:0"
QUESTION = "What's the weather in Paris for the next 3 days?"


class GetWeather(BaseModel):
    """Get the weather forecast for a city."""

    location: str = Field(description="The city, e.g. Paris")
    unit: Literal["celsius", "fahrenheit"]
    days: int = Field(ge=1, le=7, description="How many days to forecast")


class Guest(BaseModel):
    name: str = Field(min_length=2)
    age: int = Field(ge=18)


class BookRoom(BaseModel):
    """Book a hotel room for some guests."""

    city: str
    guests: list[Guest] = Field(min_length=2)
    nights: int | None = Field(default=None, gt=0)
    breakfast: bool


TOOLS = {"GetWeather": GetWeather, "BookRoom": BookRoom}


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    """bedrock-local with its default script (the answer, not the echo), fast."""
    with start_background(
        first_token_latency=0.001, tokens_per_second=0, script="answer"
    ) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: BackgroundServer) -> Any:
    return bedrock_client(server.url)


def converse(client: Any) -> Any:
    return langchain_aws.ChatBedrockConverse(
        model=f"us.{CLAUDE}", client=client, region_name="us-east-1"
    )


def invoke(client: Any, model_id: str = CLAUDE) -> Any:
    return langchain_aws.ChatBedrock(model_id=model_id, client=client, region_name="us-east-1")


def streamed(model: Any, messages: Any) -> AIMessage:
    """The answer as ``model.stream`` delivers it, chunks added up as langchain adds them."""
    total = None
    chunks = 0
    for chunk in model.stream(messages):
        total = chunk if total is None else total + chunk
        chunks += 1
    assert chunks > 1
    assert total is not None
    return total


def blocks(message: BaseMessage) -> tuple[str, str]:
    """(reasoning, text) of an answer, whichever shape langchain gave its content."""
    if isinstance(message.content, str):
        return "", message.content
    reasoning = text = ""
    for block in message.content:
        assert isinstance(block, dict)
        if block["type"] == "text":
            text += block["text"]
        elif block["type"] == "thinking":
            reasoning += block["thinking"]
        elif block["type"] == "reasoning_content":
            reasoning += block["reasoning_content"].get("text", "")
    return reasoning, text


def calls(message: AIMessage) -> list[tuple[str, dict]]:
    return [(call["name"], call["args"]) for call in message.tool_calls]


def assert_valid(tool_calls: list[tuple[str, dict]]) -> None:
    for name, arguments in tool_calls:
        TOOLS[name].model_validate(arguments)  # what with_structured_output would do
        jsonschema.validate(arguments, TOOLS[name].model_json_schema())


def assert_agree(whole: AIMessage, stream: AIMessage) -> None:
    assert blocks(whole) == blocks(stream)
    assert calls(whole) == calls(stream)
    assert whole.usage_metadata is not None and stream.usage_metadata is not None
    for key in ("input_tokens", "output_tokens"):
        assert whole.usage_metadata[key] == stream.usage_metadata[key], key


@pytest.mark.parametrize("tool", sorted(TOOLS))
@pytest.mark.parametrize("api", ["converse", "invoke"])
def test_a_forced_tool_call_has_arguments_the_schema_accepts(client, api, tool):
    chat = converse(client) if api == "converse" else invoke(client)
    model = chat.bind_tools(list(TOOLS.values()), tool_choice=tool)
    question = "Book a room in Lisbon for Ana and Rui" if tool == "BookRoom" else QUESTION
    whole = model.invoke(question)
    stream = streamed(model, question)
    assert [name for name, _ in calls(whole)] == [tool]
    assert_valid(calls(whole))
    assert_agree(whole, stream)


@pytest.mark.parametrize("api", ["converse", "invoke"])
def test_a_chosen_call_with_reasoning_then_the_answer_from_its_result(client, api):
    chat = converse(client) if api == "converse" else invoke(client)
    model = chat.bind_tools([GetWeather])
    question = f"{QUESTION} [[think]]"
    whole = model.invoke(question)
    stream = streamed(model, question)
    assert_agree(whole, stream)
    assert calls(whole) == [("GetWeather", {"location": "Paris", "unit": "celsius", "days": 3})]
    reasoning, text = blocks(whole)
    assert "GetWeather" in reasoning and "GetWeather" in text
    # The agent's next turn: the tool's result goes back, the model answers in text.
    result = ToolMessage(
        '{"forecast": "sunny", "high": 24}', tool_call_id=whole.tool_calls[0]["id"]
    )
    turn = [HumanMessage(question), whole, result]
    final = model.invoke(turn)
    assert final.tool_calls == []
    assert '"forecast": "sunny"' in blocks(final)[1]
    assert_agree(final, streamed(model, turn))


@pytest.mark.parametrize("streaming", [False, True], ids=["invoke", "stream"])
def test_llama3_answers_the_question_not_the_template(client, streaming):
    model = invoke(client, LLAMA3)
    question = "How do I reverse a list in Python?"
    answer = streamed(model, question) if streaming else model.invoke(question)
    text = blocks(answer)[1]
    assert "<|" not in text  # no template token came back
    assert "reverse a list in Python" in text
    assert "```python" in text


def test_llama3_streamed_and_whole_agree(client):
    model = invoke(client, LLAMA3)
    messages = [("system", "Answer briefly."), ("human", "Why do databases use indexes?")]
    assert_agree(model.invoke(messages), streamed(model, messages))
