"""Third-party OpenAI clients, unchanged, against the chat function under ``lambdastream dev``.

The chat example serves OpenAI's chat completions (``POST /v1/chat/completions``,
``GET /v1/models``) beside its own routes. Here the clients people use talk to
it over loopback, the function running in the real local Lambda with
``--bedrock-local``'s scripted model behind it: the ``openai`` SDK (sync and
async, streamed and not, tools, usage) and LangChain's ``ChatOpenAI``
(LlamaIndex's ``OpenAILike`` is not here: llama-index-llms-openai pins
``openai<3``, which would take every other test's client back a major).
Each test also checks that every HTTP request the client sent ran the
handler exactly once (one ``START``/``REPORT`` pair in dev's log per
``x-amzn-RequestId`` the client got back): no retry hid a failure.

The scripted model paces its tokens as a real model does (a first token after
0.3 s, then about 65 tokens a second), calls ``get_weather`` when the question
names the weather (or ``tool_choice`` forces it) with input that satisfies the
tool's schema, and echoes the message when asked ``[[echo]]``.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import openai
import pytest
from support import DevServer, start_dev

REPO = Path(__file__).resolve().parents[2]
MODEL = "global.anthropic.claude-haiku-4-5-20251001-v1:0"  # the chat's default model
OTHER_MODEL = "us.amazon.nova-lite-v1:0"  # added with CHAT_MODEL_IDS
WEATHER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "The city's name"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city", "unit"],
    "additionalProperties": False,
}
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": WEATHER_SCHEMA,
    },
}
WEATHER_QUESTION = "What is the weather in Paris today?"
# About 210 tokens from the scripted model: over 3 s at its pace.
LONG_QUESTION = "Why does streaming matter?"
TIMEOUT = 30.0
_START = re.compile(r"^START RequestId: (\S+)", re.M)
_REPORT = re.compile(r"^REPORT RequestId: (\S+)", re.M)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def chat() -> Any:
    server: DevServer = start_dev(
        "examples.chat.app.handler", REPO, "--bedrock-local", "--name", "chat",
        "--timeout", "60", "--env", f"CHAT_MODEL_IDS={OTHER_MODEL}",
    )  # fmt: skip
    yield server
    server.stop()


class Runs:
    """The requests a client sent, and the invocations they made, from dev's log.

    The clients get an httpx client whose event hooks note each request sent
    and the ``x-amzn-RequestId`` of each answer; ``assert_each_ran_once``
    matches them with the ``START``/``REPORT`` lines dev printed since the
    test began.
    """

    def __init__(self, server: DevServer) -> None:
        self.server = server
        self.offset = len(server.logs())
        self.sent = 0
        self.ids: list[str | None] = []

    def _request(self, request: httpx.Request) -> None:
        self.sent += 1

    def _response(self, response: httpx.Response) -> None:
        self.ids.append(response.headers.get("x-amzn-requestid"))

    async def _arequest(self, request: httpx.Request) -> None:
        self._request(request)

    async def _aresponse(self, response: httpx.Response) -> None:
        self._response(response)

    def http_client(self) -> httpx.Client:
        hooks = {"request": [self._request], "response": [self._response]}
        return httpx.Client(timeout=TIMEOUT, event_hooks=hooks)

    def async_http_client(self) -> httpx.AsyncClient:
        hooks = {"request": [self._arequest], "response": [self._aresponse]}
        return httpx.AsyncClient(timeout=TIMEOUT, event_hooks=hooks)

    def new_logs(self) -> str:
        return self.server.logs()[self.offset :]

    def assert_each_ran_once(self, requests: int) -> None:
        """``requests`` were sent, each answered, each one invocation: one START, one REPORT."""
        assert self.sent == requests, f"the client sent {self.sent} requests, not {requests}"
        assert len(self.ids) == requests and None not in self.ids, self.ids
        expected = Counter(self.ids)
        deadline = time.monotonic() + 10
        while Counter(_REPORT.findall(self.new_logs())) != expected:
            # REPORT follows the stream's last byte; never more of them than requests.
            assert time.monotonic() < deadline, (expected, self.new_logs())
            time.sleep(0.05)
        assert Counter(_START.findall(self.new_logs())) == expected, self.new_logs()


@pytest.fixture
def runs(chat: DevServer) -> Runs:
    return Runs(chat)


def client(chat: DevServer, runs: Runs) -> openai.OpenAI:
    # The SDK's defaults (max_retries=2 among them): the run count shows no retry happened.
    return openai.OpenAI(
        base_url=f"{chat.url}/v1", api_key="unused", http_client=runs.http_client()
    )


def async_client(chat: DevServer, runs: Runs) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=f"{chat.url}/v1", api_key="unused", http_client=runs.async_http_client()
    )


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def tool_arguments(chunks: list[Any]) -> tuple[dict[int, dict[str, Any]], list[str]]:
    """The tool calls of a stream of chunks, as OpenAI's docs accumulate them; the pieces."""
    calls: dict[int, dict[str, Any]] = {}
    pieces: list[str] = []
    for chunk in chunks:
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or ():
                call = calls.setdefault(delta.index, {"id": None, "name": None, "arguments": ""})
                if delta.id:
                    call["id"] = delta.id
                if delta.function and delta.function.name:
                    call["name"] = delta.function.name
                if delta.function and delta.function.arguments:
                    call["arguments"] += delta.function.arguments
                    pieces.append(delta.function.arguments)
    return calls, pieces


# ----------------------------------------------------------------- openai, sync
def test_models_list_returns_the_configured_ids(chat, runs):
    models = client(chat, runs).models.list()
    assert [m.id for m in models] == [MODEL, OTHER_MODEL]
    assert {m.object for m in models} == {"model"}
    runs.assert_each_ran_once(1)


def test_models_retrieve_finds_a_served_model_and_not_another(chat, runs):
    sdk = client(chat, runs)
    model = sdk.models.retrieve(OTHER_MODEL)
    assert (model.id, model.object) == (OTHER_MODEL, "model")
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.models.retrieve("anthropic.claude-not-served")
    assert caught.value.code == "model_not_found"
    runs.assert_each_ran_once(2)


def test_streamed_text_arrives_token_by_token(chat, runs):
    sdk = client(chat, runs)
    started = time.perf_counter()
    stream = sdk.chat.completions.create(model=MODEL, messages=user(LONG_QUESTION), stream=True)
    arrivals: list[tuple[float, str]] = []
    finish = []
    for chunk in stream:
        assert chunk.object == "chat.completion.chunk" and chunk.model == MODEL
        for choice in chunk.choices:
            if choice.delta.content:
                arrivals.append((time.perf_counter() - started, choice.delta.content))
            if choice.finish_reason:
                finish.append(choice.finish_reason)
    total = time.perf_counter() - started
    assert finish == ["stop"]
    assert len(arrivals) >= 50, len(arrivals)  # one chunk per token, nothing merged
    first, last = arrivals[0][0], arrivals[-1][0]
    # At the model's pace the answer takes over 3 s after its first token: the first
    # chunk arrives as the model writes it, not when the answer is whole.
    assert first < total / 2, (first, total)
    assert last - first > 1.0, (first, last)
    assert "streaming" in "".join(text for _, text in arrivals).lower()
    runs.assert_each_ran_once(1)


def test_unstreamed_answer_is_the_streamed_text_with_usage(chat, runs):
    sdk = client(chat, runs)
    whole = sdk.chat.completions.create(model=MODEL, messages=user(LONG_QUESTION), max_tokens=40)
    stream = sdk.chat.completions.create(
        model=MODEL, messages=user(LONG_QUESTION), max_tokens=40, stream=True
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    choice = whole.choices[0]
    assert whole.object == "chat.completion" and whole.model == MODEL
    assert choice.message.role == "assistant" and choice.message.tool_calls is None
    assert choice.message.content == streamed  # the scripted model is deterministic
    assert choice.finish_reason == "length"  # max_tokens cut it
    assert whole.usage is not None and whole.usage.completion_tokens == 40
    assert whole.usage.total_tokens == whole.usage.prompt_tokens + 40
    runs.assert_each_ran_once(2)


def test_stream_options_include_usage_ends_with_the_usage_chunk(chat, runs):
    stream = client(chat, runs).chat.completions.create(
        model=OTHER_MODEL,
        messages=user("[[echo]] count my tokens please"),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert "".join(c.choices[0].delta.content for c in text_chunks) == (
        "You said: count my tokens please"
    )
    assert all(c.usage is None for c in chunks[:-1])
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    # The scripted model's usage counts exactly the tokens it sent, one per chunk.
    assert last.usage.completion_tokens == len(text_chunks)
    assert last.usage.prompt_tokens > 0
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert {c.model for c in chunks} == {OTHER_MODEL}
    runs.assert_each_ran_once(1)


def test_streamed_tool_call_then_the_tool_result_gets_a_text_answer(chat, runs):
    sdk = client(chat, runs)
    messages: list[dict[str, Any]] = user(WEATHER_QUESTION)
    chunks = list(
        sdk.chat.completions.create(
            model=MODEL, messages=messages, tools=[WEATHER_TOOL], stream=True
        )
    )
    calls, pieces = tool_arguments(chunks)
    assert list(calls) == [0]
    call = calls[0]
    assert call["name"] == "get_weather" and call["id"]
    arguments = json.loads(call["arguments"])
    jsonschema.validate(arguments, WEATHER_SCHEMA)
    assert arguments["city"]
    assert pieces and all(pieces)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert [f for f in finishes if f] == ["tool_calls"]

    # The tool's result goes back as OpenAI's docs send it; the model answers in text.
    preamble = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    messages += [
        {
            "role": "assistant",
            "content": preamble or None,
            "tool_calls": [
                {
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": call["arguments"]},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call["id"], "content": '{"temperature_c": 18}'},
    ]
    answer = sdk.chat.completions.create(
        model=MODEL, messages=messages, tools=[WEATHER_TOOL], stream=True
    )
    answer_chunks = list(answer)
    text = "".join(c.choices[0].delta.content or "" for c in answer_chunks if c.choices)
    assert text.strip()
    assert tool_arguments(answer_chunks) == ({}, [])
    assert [c.choices[0].finish_reason for c in answer_chunks if c.choices][-1] == "stop"
    runs.assert_each_ran_once(2)


def test_unstreamed_forced_tool_call_and_the_sdks_stream_helper(chat, runs):
    sdk = client(chat, runs)
    forced = {"type": "function", "function": {"name": "get_weather"}}
    whole = sdk.chat.completions.create(
        model=MODEL, messages=user("Tell me a story."), tools=[WEATHER_TOOL], tool_choice=forced
    )
    choice = whole.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.type == "function" and call.function.name == "get_weather"
    jsonschema.validate(json.loads(call.function.arguments), WEATHER_SCHEMA)

    # openai-python's own accumulator (chat.completions.stream) over the streamed answer.
    with sdk.chat.completions.stream(
        model=MODEL, messages=user(WEATHER_QUESTION), tools=[WEATHER_TOOL]
    ) as stream:
        final = stream.get_final_completion()
    (streamed_call,) = final.choices[0].message.tool_calls
    assert final.choices[0].finish_reason == "tool_calls"
    jsonschema.validate(json.loads(streamed_call.function.arguments), WEATHER_SCHEMA)
    runs.assert_each_ran_once(2)


# ---------------------------------------------------------------- openai, async
def test_async_client_streamed_and_not(chat, runs):
    async def talk() -> tuple[str, list[str], int]:
        async with async_client(chat, runs) as sdk:
            whole = await sdk.chat.completions.create(
                model=MODEL, messages=user("[[echo]] hello from asyncio")
            )
            stream = await sdk.chat.completions.create(
                model=MODEL, messages=user("[[echo]] hello from asyncio"), stream=True
            )
            pieces = [c.choices[0].delta.content async for c in stream if c.choices]
            models = [m.id async for m in sdk.models.list()]
            return whole.choices[0].message.content or "", [p for p in pieces if p], len(models)

    text, pieces, model_count = asyncio.run(talk())
    assert text == "You said: hello from asyncio"
    assert "".join(pieces) == text and len(pieces) >= 4  # token by token
    assert model_count == 2
    runs.assert_each_ran_once(3)


def test_async_client_streams_tool_calls(chat, runs):
    async def talk() -> list[Any]:
        async with async_client(chat, runs) as sdk:
            stream = await sdk.chat.completions.create(
                model=MODEL, messages=user(WEATHER_QUESTION), tools=[WEATHER_TOOL], stream=True
            )
            return [chunk async for chunk in stream]

    calls, _ = tool_arguments(asyncio.run(talk()))
    assert calls[0]["name"] == "get_weather"
    jsonschema.validate(json.loads(calls[0]["arguments"]), WEATHER_SCHEMA)
    runs.assert_each_ran_once(1)


# -------------------------------------------------------------------- LangChain
def chat_openai(chat: DevServer, runs: Runs) -> Any:
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        base_url=f"{chat.url}/v1",
        api_key="unused",
        model=MODEL,
        timeout=TIMEOUT,
        http_client=runs.http_client(),
    )


def test_langchain_stream_is_token_by_token_and_invoke_answers(chat, runs):
    llm = chat_openai(chat, runs)
    started = time.perf_counter()
    arrivals = []
    for chunk in llm.stream(LONG_QUESTION):
        if chunk.content:
            arrivals.append(time.perf_counter() - started)
    total = time.perf_counter() - started
    assert len(arrivals) >= 50
    assert arrivals[0] < total / 2, (arrivals[0], total)

    answer = llm.invoke("[[echo]] hello LangChain")
    assert answer.content == "You said: hello LangChain"
    assert answer.response_metadata["finish_reason"] == "stop"
    assert answer.usage_metadata is not None and answer.usage_metadata["output_tokens"] > 0
    runs.assert_each_ran_once(2)


def test_langchain_bind_tools_stream_sums_to_a_valid_tool_call(chat, runs):
    from langchain_core.messages import HumanMessage, ToolMessage

    llm = chat_openai(chat, runs).bind_tools([WEATHER_TOOL])
    chunks = list(llm.stream(WEATHER_QUESTION))
    assert len(chunks) > 2
    message = chunks[0]
    for chunk in chunks[1:]:
        message = message + chunk
    (call,) = message.tool_calls
    assert call["name"] == "get_weather" and call["id"]
    jsonschema.validate(call["args"], WEATHER_SCHEMA)
    assert message.response_metadata["finish_reason"] == "tool_calls"

    # The result back, as a LangChain agent sends it: a text answer, no more calls.
    answer = llm.invoke(
        [
            HumanMessage(WEATHER_QUESTION),
            message,
            ToolMessage('{"temperature_c": 18}', tool_call_id=call["id"]),
        ]
    )
    assert answer.content and not answer.tool_calls
    runs.assert_each_ran_once(2)
