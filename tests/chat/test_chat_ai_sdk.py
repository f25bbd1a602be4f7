"""The Vercel AI SDK's own clients, unchanged, against the live chat (``lambdastream dev``).

The chat example runs under the real local Lambda with the local Bedrock
(``--bedrock-local``: a scripted model at a real model's pace, which calls
``get_weather`` when the question names the weather). Node scripts in
``tests/peers/ai-sdk`` (installed by ``tools/install-ai-sdk.sh``) talk to it
over loopback and print what the SDK made of it, as JSON:

- ``live-chat.mjs``: ``POST /api/chat`` read by ``DefaultChatTransport`` and
  ``readUIMessageStream`` (npm ``ai``, majors 7, 6 and 5), and by
  ``AbstractChat``, the core of ``useChat``, with a client-side tool.
- ``openai-compatible.mjs``: ``/v1/chat/completions`` through
  ``@ai-sdk/openai-compatible`` and ``streamText`` (ai 7).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from support import DevServer, missing, start_dev

from examples.chat.protocols import UI_TOOLS

REPO = Path(__file__).resolve().parents[2]
PEER = REPO / "tests" / "peers" / "ai-sdk"
PACKAGES = ["ai", "ai-v6", "ai-v5"]  # majors 7, 6, 5 (tests/peers/ai-sdk/package.json)
# The schema /api/chat offers the model for get_weather.
WEATHER_SCHEMA: dict[str, Any] = next(
    t["toolSpec"]["inputSchema"]["json"] for t in UI_TOOLS if t["toolSpec"]["name"] == "get_weather"
)
WEATHER = {"city": "Paris", "temperatureC": 21, "conditions": "sunny"}
# ~200 tokens from the scripted model: about 3 s at its 65 tokens a second.
LONG_QUESTION = "Why does streaming matter?"
TOOL_QUESTION = "What's the weather in Paris?"

pytestmark = pytest.mark.node


@pytest.fixture(scope="module")
def chat():
    server: DevServer = start_dev(
        "examples.chat.app.handler", REPO, "--bedrock-local", "--timeout", "60"
    )
    yield server
    server.stop()


def run_peer(script: str, request: dict[str, Any], *packages: str) -> dict[str, Any]:
    """Run a peer script with ``request`` on stdin; return the JSON it printed."""
    if shutil.which("node") is None:
        missing("node", "the AI SDK peer cannot run; tools/install-ai-sdk.sh")
    for package in packages:
        if not (PEER / "node_modules" / package / "package.json").is_file():
            missing(f"the npm package {package} in tests/peers/ai-sdk", "tools/install-ai-sdk.sh")
    result = subprocess.run(
        ["node", str(PEER / script)],
        input=json.dumps({"timeoutMs": 60_000, **request}).encode(),
        capture_output=True,
        timeout=90,
    )
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr.decode()[-3000:])
    out: dict[str, Any] = json.loads(result.stdout)
    assert out.get("thrown") is None, out["thrown"]
    return out


def text_of(message: dict[str, Any]) -> str:
    return "".join(p["text"] for p in message["parts"] if p["type"] == "text")


def part_types(message: dict[str, Any]) -> list[str]:
    return [p["type"] for p in message["parts"]]


def assert_streamed(times_ms: list[float], *, at_least: int) -> None:
    """Many separate arrivals, the first well before the last (not one burst at the end)."""
    assert len(times_ms) >= at_least, times_ms
    assert times_ms == sorted(times_ms)
    first, last = times_ms[0], times_ms[-1]
    # The scripted model writes ~65 tokens a second, so 20 tokens take at least
    # ~230 ms; a buffered answer would arrive in one burst, a few ms apart.
    assert last - first >= 200, (first, last)


# ---------------------------------------------------- /api/chat, transport
@pytest.mark.timeout(120)
@pytest.mark.parametrize("package", PACKAGES)
def test_the_transport_assembles_the_answer_token_by_token(chat, package):
    out = run_peer(
        "live-chat.mjs",
        {"package": package, "mode": "transport", "api": f"{chat.url}/api/chat",
         "question": LONG_QUESTION},
        package,
    )  # fmt: skip
    [request] = out["requests"]
    assert request["method"] == "POST" and request["url"] == f"{chat.url}/api/chat"
    assert request["body"]["trigger"] == "submit-message"
    assert [m["role"] for m in request["body"]["messages"]] == ["user"]
    [answer] = out["rounds"]
    assert answer["errors"] == [] and answer["thrown"] is None, answer
    message = answer["message"]
    assert message["role"] == "assistant" and message["id"] == answer["startMessageId"]
    assert part_types(message) == ["step-start", "text"]
    assert message["parts"][1]["state"] == "done"
    assert answer["chunkTypes"][-1] == "finish"
    # One text-delta chunk per token, one UIMessage snapshot per growth.
    assert_streamed(answer["textDeltaAt"], at_least=50)
    assert_streamed([u["t"] for u in answer["updates"]], at_least=50)
    lengths = [u["text"] for u in answer["updates"]]
    assert lengths == sorted(set(lengths)) and lengths[-1] == len(text_of(message))


@pytest.mark.timeout(120)
@pytest.mark.parametrize("package", PACKAGES)
def test_a_tool_call_then_its_output_sent_back_continues_the_same_message(chat, package):
    out = run_peer(
        "live-chat.mjs",
        {"package": package, "mode": "transport", "api": f"{chat.url}/api/chat",
         "question": TOOL_QUESTION, "toolOutput": WEATHER},
        package,
    )  # fmt: skip
    first, second = out["rounds"]
    for round_ in (first, second):
        assert round_["errors"] == [] and round_["thrown"] is None, round_
    # 1. The model's text, then the call: a tool part waiting for the page.
    called = first["message"]
    assert part_types(called) == ["step-start", "text", "tool-get_weather"]
    tool = called["parts"][2]
    assert tool["state"] == "input-available"
    jsonschema.validate(tool["input"], WEATHER_SCHEMA)
    assert tool["input"] == {"city": "Paris"}
    assert first["chunkTypes"][-1] == "finish"
    # 2. What went back: the same assistant message, the part holding the output.
    resent = out["requests"][1]["body"]
    assert resent["trigger"] == "submit-message" and resent["messageId"] == called["id"]
    assert [m["role"] for m in resent["messages"]] == ["user", "assistant"]
    sent_tool = resent["messages"][1]["parts"][2]
    assert sent_tool["state"] == "output-available" and sent_tool["output"] == WEATHER
    # 3. The answer continues that message: same id, a second step, streamed.
    assert second["startMessageId"] == called["id"]
    answered = second["message"]
    assert answered["id"] == called["id"]
    assert part_types(answered) == [
        "step-start", "text", "tool-get_weather", "step-start", "text",
    ]  # fmt: skip
    assert answered["parts"][2]["state"] == "output-available"
    assert answered["parts"][2]["output"] == WEATHER
    assert '"temperatureC": 21' in answered["parts"][4]["text"]  # the model read the output
    assert_streamed(second["textDeltaAt"], at_least=20)


# ------------------------------------------------ /api/chat, useChat's core
@pytest.mark.timeout(120)
@pytest.mark.parametrize("package", PACKAGES)
def test_use_chats_core_runs_the_client_side_tool_and_resubmits_on_its_own(chat, package):
    out = run_peer(
        "live-chat.mjs",
        {"package": package, "mode": "chat", "api": f"{chat.url}/api/chat",
         "question": TOOL_QUESTION, "toolOutput": WEATHER,
         "followUp": "And the weather in Rome?"},
        package,
    )  # fmt: skip
    state = out["chat"]
    assert state["status"] == "ready" and state["error"] is None and state["errors"] == []
    paris, rome = state["toolCalls"]
    assert paris["toolName"] == rome["toolName"] == "get_weather"
    for call in (paris, rome):
        jsonschema.validate(call["input"], WEATHER_SCHEMA)
    assert (paris["input"], rome["input"]) == ({"city": "Paris"}, {"city": "Rome"})
    # Per question two requests: it, then (sendAutomaticallyWhen) the tool's output.
    bodies = [r["body"] for r in out["requests"]]
    assert [[m["role"] for m in b["messages"]] for b in bodies] == [
        ["user"],
        ["user", "assistant"],
        ["user", "assistant", "user"],
        ["user", "assistant", "user", "assistant"],
    ]
    assert bodies[1]["messages"][-1]["parts"][2]["state"] == "output-available"
    assert bodies[1]["messageId"] == bodies[1]["messages"][-1]["id"]
    roles = [m["role"] for m in state["messages"]]
    assert roles == ["user", "assistant", "user", "assistant"]
    for assistant in state["messages"][1::2]:
        assert part_types(assistant) == [
            "step-start", "text", "tool-get_weather", "step-start", "text",
        ]  # fmt: skip
        assert assistant["parts"][2]["output"] == WEATHER
    # The chat's state changed with each token, on one message per question.
    first = state["messages"][1]
    grew = [u for u in state["updates"] if u["id"] == first["id"]]
    lengths = [u["text"] for u in grew]
    assert lengths[-1] == len(text_of(first))
    assert len(set(lengths)) >= 30
    assert_streamed([u["t"] for u in grew if u["text"] > 0], at_least=30)
    statuses = [s["status"] for s in state["statuses"]]
    assert statuses == ["submitted", "streaming", "ready"] * 4


# ---------------------------------------------- /v1, @ai-sdk/openai-compatible
@pytest.fixture(scope="module")
def model_id(chat) -> str:
    with urllib.request.urlopen(f"{chat.url}/v1/models", timeout=30) as response:
        models = json.load(response)
    assert models["object"] == "list" and models["data"]
    model: str = models["data"][0]["id"]
    return model


def openai_compatible(chat: DevServer, model: str, **request: Any) -> dict[str, Any]:
    return run_peer(
        "openai-compatible.mjs",
        {"baseURL": f"{chat.url}/v1", "model": model, "apiKey": "local-key", **request},
        "ai",
        "@ai-sdk/openai-compatible",
    )


def assert_usage(usage: dict[str, Any], output_tokens: int) -> None:
    assert usage["inputTokens"] > 0
    assert usage["outputTokens"] == output_tokens
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]


@pytest.mark.timeout(120)
def test_stream_text_through_openai_compatible_streams_token_by_token(chat, model_id):
    out = openai_compatible(chat, model_id, prompt=LONG_QUESTION)
    assert out["errors"] == [], out["errors"]
    assert out["response"] == {"status": 200, "contentType": "text/event-stream"}
    body = out["request"]["body"]
    assert out["request"]["url"] == f"{chat.url}/v1/chat/completions"
    assert out["request"]["headers"]["authorization"] == "Bearer local-key"
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["model"] == model_id
    assert out["finishReason"] == "stop"
    assert out["text"].strip()
    assert_streamed(out["textAt"], at_least=50)
    # The scripted model's usage counts exactly the tokens it sent, one per chunk.
    assert_usage(out["usage"], len(out["textAt"]))
    assert out["totalUsage"]["outputTokens"] == out["usage"]["outputTokens"]


@pytest.mark.timeout(120)
def test_a_tool_without_execute_ends_the_stream_with_a_valid_call_then_its_result_answers(
    chat, model_id
):
    tool = {"name": "get_weather", "description": "The current weather in a city.",
            "schema": WEATHER_SCHEMA}  # fmt: skip
    out = openai_compatible(chat, model_id, prompt=TOOL_QUESTION, tool=tool, toolOutput=WEATHER)
    assert out["errors"] == [], out["errors"]
    assert out["request"]["body"]["tools"][0]["function"]["parameters"] == WEATHER_SCHEMA
    assert out["finishReason"] == "tool-calls"
    [call] = out["toolCalls"]
    assert call["toolName"] == "get_weather" and not call["invalid"] and not call["dynamic"]
    jsonschema.validate(call["input"], WEATHER_SCHEMA)
    assert call["input"] == {"city": "Paris"}
    assert out["text"] == "Let me check that with the `get_weather` tool."
    assert out["usage"]["inputTokens"] > 0 and out["usage"]["outputTokens"] > 0
    # The result sent back (role "tool"): the model answers from it.
    follow = out["followUp"]
    sent = follow["request"]["body"]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"]
    assert sent[1]["tool_calls"][0]["id"] == sent[2]["tool_call_id"] == call["toolCallId"]
    assert follow["finishReason"] == "stop" and follow["toolCalls"] == []
    assert '"temperatureC":21' in follow["text"]
