"""Amazon's models on InvokeModel: Titan Text (``inputText``) and Nova (Converse's shape).

Titan Text bodies and chunks as the Bedrock user guide's "Amazon Titan Text
models" page gives them (``inputText``, ``textGenerationConfig``; chunks
``outputText``, ``completionReason``). Nova's InvokeModel body is Converse's
(``messages``, ``system``, ``inferenceConfig{max_new_tokens}``, ``toolConfig``),
and it streams Converse's events as chunks (the user guide's "Amazon Nova"
request and response schema).

>>> TitanText().read_request({"inputText": "User: hi\\nBot:"}).messages
[('user', 'hi')]
"""

from __future__ import annotations

import re
from typing import Any

from lambdastream.bedrock.events import StreamEnd, StreamEvent, TextDelta
from lambdastream.bedrock.families.base import (
    Answer,
    Chunk,
    Family,
    ParseState,
    Prompt,
    RenderState,
    stop_maps,
)
from lambdastream.bedrock.families.converse import (
    converse_output,
    converse_render,
    converse_stream_event,
    converse_tools,
    converse_turns,
    tool_config,
)
from lambdastream.bedrock.families.fields import (
    optional,
    optional_float,
    optional_int,
    require,
    text_of,
)


class TitanText(Family):
    name = "titan-text"
    label = "Amazon Titan Text (amazon.titan-text-*, amazon.titan-tg1-large)"
    prefixes = ("amazon.titan-text", "amazon.titan-tg1")
    stop_to_native, stop_from_native = stop_maps(
        {
            "end_turn": "FINISH",
            "max_tokens": "LENGTH",
            "stop_sequence": "STOP_CRITERIA_MET",
            "content_filtered": "CONTENT_FILTERED",
        }
    )
    _LINE = re.compile(r"^(User|Bot): ?(.*)$", re.S)

    def build_request(self, prompt: Prompt) -> dict[str, Any]:
        lines = [prompt.system] if prompt.system else []
        lines += [
            f"{'User' if role == 'user' else 'Bot'}: {text}" for role, text in prompt.messages
        ]
        config: dict[str, Any] = {"maxTokenCount": prompt.max_tokens or 1024}
        if prompt.temperature is not None:
            config["temperature"] = prompt.temperature
        return {"inputText": "\n".join([*lines, "Bot:"]), "textGenerationConfig": config}

    def parse(self, chunk: Chunk, state: ParseState) -> list[StreamEvent]:
        if chunk.get("inputTextTokenCount") is not None:
            state.input_tokens = chunk["inputTextTokenCount"]
        if chunk.get("totalOutputTextTokenCount") is not None:
            state.output_tokens = chunk["totalOutputTextTokenCount"]
        state.raw_stop = chunk.get("completionReason") or state.raw_stop
        text = chunk.get("outputText")
        return [TextDelta(text)] if text else []

    def read_request(self, body: dict[str, Any]) -> Prompt:
        raw = require(body, "inputText", str)
        config = optional(body, "textGenerationConfig", dict) or {}
        system, turns = None, []
        if raw.endswith("\nBot:") or raw == "Bot:":
            for line in raw[: -len("Bot:")].rstrip("\n").split("\n"):
                match = self._LINE.match(line)
                if match:
                    turns.append(("user" if match[1] == "User" else "assistant", match[2]))
                elif turns:
                    role, text = turns[-1]
                    turns[-1] = (role, f"{text}\n{line}")
                else:
                    system = line if system is None else f"{system}\n{line}"
        if not turns:
            system, turns = None, [("user", raw)]
        return Prompt(
            turns,
            system,
            optional_int(config, "maxTokenCount", "#/textGenerationConfig"),
            optional_float(config, "temperature", "#/textGenerationConfig"),
        )

    def render(self, event: StreamEvent, state: RenderState) -> list[Chunk]:
        if isinstance(event, (TextDelta, StreamEnd)):
            first, state.first = state.first, False
            end = isinstance(event, StreamEnd)
            chunk: Chunk = {
                "outputText": "" if end else event.text,  # type: ignore[union-attr]
                "index": 0,
                "totalOutputTextTokenCount": state.output_tokens,
                "completionReason": self.native_stop(event.stop_reason) if end else None,  # type: ignore[union-attr]
            }
            if first:
                chunk["inputTextTokenCount"] = state.input_tokens
            return [chunk]
        return []

    def respond(self, answer: Answer, end: StreamEnd, state: RenderState) -> dict[str, Any]:
        return {
            "inputTextTokenCount": state.input_tokens,
            "results": [
                {
                    "tokenCount": state.output_tokens,
                    "outputText": answer.text,
                    "completionReason": self.native_stop(end.stop_reason),
                }
            ],
        }


class Nova(Family):
    name = "nova"
    label = "Amazon Nova (amazon.nova-*)"
    prefixes = ("amazon.nova",)
    carries_reasoning = True
    carries_tools = True

    def build_request(self, prompt: Prompt) -> dict[str, Any]:
        config: dict[str, Any] = {"max_new_tokens": prompt.max_tokens or 1024}
        if prompt.temperature is not None:
            config["temperature"] = prompt.temperature
        body: dict[str, Any] = {
            "schemaVersion": "messages-v1",
            "messages": [
                {"role": role, "content": [{"text": text}]} for role, text in prompt.messages
            ],
            "inferenceConfig": config,
        }
        if prompt.system:
            body["system"] = [{"text": prompt.system}]
        tools = tool_config(prompt)
        if tools is not None:
            body["toolConfig"] = tools
        return body

    def parse(self, chunk: Chunk, state: ParseState) -> list[StreamEvent]:
        return converse_stream_event(chunk, state)

    def read_request(self, body: dict[str, Any]) -> Prompt:
        turns, results = converse_turns(body, "#")
        tools, choice = converse_tools(body, "#")
        system = optional(body, "system", list)
        config = optional(body, "inferenceConfig", dict) or {}
        return Prompt(
            turns,
            text_of(system, "#/system") if system else None,
            optional_int(config, "max_new_tokens", "#/inferenceConfig"),
            optional_float(config, "temperature", "#/inferenceConfig"),
            tools,
            choice,
            tuple(results),
        )

    def begin(self, state: RenderState) -> list[Chunk]:
        return [{"messageStart": {"role": "assistant"}}]

    def render(self, event: StreamEvent, state: RenderState) -> list[Chunk]:
        return converse_render(event, state)

    def respond(self, answer: Answer, end: StreamEnd, state: RenderState) -> dict[str, Any]:
        return converse_output(answer, end, state)
