"""Families whose bodies and chunks are OpenAI chat completions (AI21 Jamba, OpenAI gpt-oss).

Request ``messages`` (roles ``system``/``developer``, ``user``, ``assistant``
with ``tool_calls``, ``tool``), ``tools[{type: function, function{name,
description, parameters}}]``, ``tool_choice`` (``auto``, ``none``,
``required``, or ``{type: function, function{name}}``); answer
``choices[0].message{content, tool_calls[{id, type, function{name,
arguments}}]}``, streamed as ``choices[0].delta`` pieces, as OpenAI's Chat
Completions API reference and the Bedrock user guide's Jamba and gpt-oss
pages give them.

>>> prompt = ChatCompletions().read_request({"messages": [{"role": "user", "content": "hi"}],
...     "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
...     "tool_choice": "required"})
>>> [t.name for t in prompt.tools], prompt.tool_choice.kind
(['f'], 'any')
"""

from __future__ import annotations

from typing import Any

from lambdastream.bedrock.events import (
    ReasoningDelta,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolUseDelta,
    ToolUseStart,
)
from lambdastream.bedrock.families.base import (
    Answer,
    Chunk,
    Family,
    ParseState,
    Prompt,
    RenderState,
    RequestError,
    Tool,
    ToolChoice,
    stop_maps,
)
from lambdastream.bedrock.families.fields import (
    chat_messages,
    optional,
    optional_float,
    optional_int,
    require,
    tool,
    typed,
)
from lambdastream.bedrock.families.tags import TagSplitter, flush_events, inline, split_events

# OpenAI's tool_choice words, in Converse's: "required" is Converse's "any".
_CHOICES = {"auto": "auto", "none": "none", "required": "any"}


def _read_tools(body: dict[str, Any]) -> tuple[tuple[Tool, ...], ToolChoice]:
    tools = []
    for i, entry in enumerate(optional(body, "tools", list) or []):
        path = f"#/tools/{i}"
        function = require(typed(entry, dict, path), "function", dict, path)
        at = f"{path}/function"
        tools.append(
            tool(
                require(function, "name", str, at),
                function.get("description"),
                function.get("parameters", {"type": "object", "properties": {}}),
                at,
                "parameters",
            )
        )
    raw = optional(body, "tool_choice", (str, dict))
    if raw is None:
        return tuple(tools), ToolChoice()
    if isinstance(raw, str):
        if raw not in _CHOICES:
            raise RequestError(f"#/tool_choice: {raw} is not a valid enum value")
        return tuple(tools), ToolChoice(_CHOICES[raw])
    function = require(raw, "function", dict, "#/tool_choice")
    name = require(function, "name", str, "#/tool_choice/function")
    if all(t.name != name for t in tools):
        raise RequestError(f"#/tool_choice/function/name: {name} is not one of the tools")
    return tuple(tools), ToolChoice("tool", name)


class ChatCompletions(Family):
    """Families whose chunks look like OpenAI chat completion chunks."""

    carries_tools = True
    stop_to_native, stop_from_native = stop_maps(
        {
            "end_turn": "stop",
            "max_tokens": "length",
            "tool_use": "tool_calls",
            "content_filtered": "content_filter",
        }
    )
    max_tokens_key = "max_tokens"
    tags: tuple[str, str] | None = None
    max_temperature = 2.0

    def build_request(self, prompt: Prompt) -> dict[str, Any]:
        messages = [{"role": "system", "content": prompt.system}] if prompt.system else []
        messages += [{"role": role, "content": text} for role, text in prompt.messages]
        body: dict[str, Any] = {
            "messages": messages,
            self.max_tokens_key: prompt.max_tokens or 1024,
        }
        if prompt.temperature is not None:
            body["temperature"] = prompt.temperature
        if prompt.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": dict(t.input_schema),
                    },
                }
                for t in prompt.tools
            ]
        choice = prompt.tool_choice
        if choice.kind == "tool":
            body["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
        elif choice != ToolChoice():
            body["tool_choice"] = {v: k for k, v in _CHOICES.items()}[choice.kind]
        return body

    def parse(self, chunk: Chunk, state: ParseState) -> list[StreamEvent]:
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            state.input_tokens = usage.get("prompt_tokens", state.input_tokens)
            state.output_tokens = usage.get("completion_tokens", state.output_tokens)
        events: list[StreamEvent] = []
        for choice in chunk.get("choices") or []:
            state.raw_stop = (
                choice.get("finish_reason") or choice.get("stop_reason") or state.raw_stop
            )
            delta = choice.get("delta") or choice.get("message") or {}
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if reasoning:
                events.append(ReasoningDelta(reasoning))
            if delta.get("content"):
                events += self._text(delta["content"], state)
            for call in delta.get("tool_calls") or []:
                index = 1 + call.get("index", 0)
                function = call.get("function") or {}
                if call.get("id"):
                    events.append(ToolUseStart(call["id"], function.get("name", ""), index))
                if function.get("arguments"):
                    events.append(ToolUseDelta(function["arguments"], index))
        return events

    def _text(self, text: str, state: ParseState) -> list[StreamEvent]:
        if self.tags is None:
            return [TextDelta(text)]
        splitter = state.scratch.setdefault("tags", TagSplitter(*self.tags))
        return split_events(splitter, text)

    def finish(self, state: ParseState) -> list[StreamEvent]:
        return [*flush_events(state.scratch.get("tags")), *super().finish(state)]

    def read_request(self, body: dict[str, Any]) -> Prompt:
        prompt = chat_messages(
            require(body, "messages", list), "#/messages", system_roles=("system", "developer")
        )
        tools, choice = _read_tools(body)
        return Prompt(
            prompt.messages,
            prompt.system,
            optional_int(body, self.max_tokens_key) or optional_int(body, "max_tokens"),
            optional_float(body, "temperature", maximum=self.max_temperature),
            tools,
            choice,
            prompt.tool_results,
        )

    def _chunk(self, state: RenderState, delta: Chunk, finish: str | None = None) -> Chunk:
        return {
            "id": "chatcmpl-local",
            "object": "chat.completion.chunk",
            "model": state.model_id,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    def _close_reasoning(self, state: RenderState) -> str:
        """The closing tag, if reasoning is open: what comes next is not reasoning."""
        if state.in_reasoning and self.tags:
            state.in_reasoning = False
            return self.tags[1]
        return ""

    def begin(self, state: RenderState) -> list[Chunk]:
        return [self._chunk(state, {"role": "assistant", "content": ""})]

    def render(self, event: StreamEvent, state: RenderState) -> list[Chunk]:
        if isinstance(event, TextDelta):
            return [self._chunk(state, {"content": self._close_reasoning(state) + event.text})]
        if isinstance(event, ReasoningDelta):
            if self.tags is None or not event.text:
                return []
            prefix = "" if state.in_reasoning else self.tags[0]
            state.in_reasoning = True
            return [self._chunk(state, {"content": prefix + event.text})]
        closing = self._close_reasoning(state)
        out = [self._chunk(state, {"content": closing})] if closing else []
        if isinstance(event, ToolUseStart):
            call = {
                "index": max(event.index - 1, 0),
                "id": event.tool_use_id,
                "type": "function",
                "function": {"name": event.name, "arguments": ""},
            }
            return [*out, self._chunk(state, {"tool_calls": [call]})]
        if isinstance(event, ToolUseDelta):
            call = {"index": max(event.index - 1, 0), "function": {"arguments": event.input}}
            return [*out, self._chunk(state, {"tool_calls": [call]})]
        end = self._chunk(state, {}, self.native_stop(event.stop_reason))
        end["usage"] = {
            "prompt_tokens": state.input_tokens,
            "completion_tokens": state.output_tokens,
            "total_tokens": state.input_tokens + state.output_tokens,
        }
        return [*out, end]

    def respond(self, answer: Answer, end: StreamEnd, state: RenderState) -> dict[str, Any]:
        text = inline(self.tags, answer.reasoning, answer.text) if self.tags else answer.text
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if answer.tool_calls:
            message["content"] = text or None  # OpenAI's shape: no text, null content
            message["tool_calls"] = [
                {
                    "id": call.tool_use_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.input or "{}"},
                }
                for call in answer.tool_calls
            ]
        return {
            "id": "chatcmpl-local",
            "object": "chat.completion",
            "model": state.model_id,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": self.native_stop(end.stop_reason),
                }
            ],
            "usage": {
                "prompt_tokens": state.input_tokens,
                "completion_tokens": state.output_tokens,
                "total_tokens": state.input_tokens + state.output_tokens,
            },
        }
