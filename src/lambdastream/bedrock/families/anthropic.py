"""Anthropic Claude on InvokeModel: the Messages API (Claude 3+) and Claude 2 text completions.

Messages bodies as the Bedrock user guide's "Anthropic Claude Messages API"
page gives them: ``anthropic_version``, ``max_tokens``, ``messages``,
``system``, ``tools[{name, description, input_schema}]``, ``tool_choice{type:
auto | any | tool | none, name}``; answers with ``content`` blocks ``text``,
``thinking{thinking, signature}`` and ``tool_use{id, name, input}``, streamed
as ``content_block_start/delta/stop`` events (``text_delta``,
``thinking_delta``, ``signature_delta``, ``input_json_delta``).

>>> prompt = AnthropicMessages().read_request({"anthropic_version": "bedrock-2023-05-31",
...     "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}],
...     "tools": [{"name": "f", "input_schema": {"type": "object"}}]})
>>> [t.name for t in prompt.tools], prompt.tool_choice.kind
(['f'], 'auto')
"""

from __future__ import annotations

import re
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
from lambdastream.bedrock.families.converse import tool_input
from lambdastream.bedrock.families.fields import (
    optional,
    optional_float,
    optional_int,
    require,
    text_of,
    tool,
    typed,
)


def _tool_results(content: Any) -> list[str]:
    """Texts of the ``tool_result`` blocks of one message's content."""
    if not isinstance(content, list):
        return []
    results = []
    for block in content:
        if isinstance(block, dict) and block.get("type") == "tool_result":
            inner = block.get("content", "")
            if isinstance(inner, list):
                inner = "".join(part.get("text", "") for part in inner if isinstance(part, dict))
            results.append(inner if isinstance(inner, str) else "")
    return results


def _read_tools(body: dict[str, Any]) -> tuple[tuple[Tool, ...], ToolChoice]:
    tools = []
    for i, entry in enumerate(optional(body, "tools", list) or []):
        path = f"#/tools/{i}"
        entry = typed(entry, dict, path)
        if "input_schema" not in entry and entry.get("type", "custom") != "custom":
            continue  # a server tool (bash, text editor, ...): Anthropic fills its input in
        tools.append(
            tool(
                require(entry, "name", str, path),
                entry.get("description"),
                require(entry, "input_schema", dict, path),
                path,
                "input_schema",
            )
        )
    raw = optional(body, "tool_choice", dict)
    if raw is None:
        return tuple(tools), ToolChoice()
    kind = require(raw, "type", str, "#/tool_choice")
    if kind not in ("auto", "any", "tool", "none"):
        raise RequestError(f"#/tool_choice/type: {kind} is not a valid enum value")
    name = require(raw, "name", str, "#/tool_choice") if kind == "tool" else None
    if name is not None and all(t.name != name for t in tools):
        raise RequestError(f"#/tool_choice/name: {name} is not one of the tools")
    return tuple(tools), ToolChoice(kind, name)


class AnthropicMessages(Family):
    name = "anthropic"
    label = "Anthropic Claude 3+ messages (anthropic.claude-3*, claude-*-4*)"
    prefixes = ("anthropic.",)
    carries_reasoning = True
    carries_tools = True
    stop_to_native, stop_from_native = stop_maps(
        {
            "end_turn": "end_turn",
            "max_tokens": "max_tokens",
            "stop_sequence": "stop_sequence",
            "tool_use": "tool_use",
        }
    )

    def build_request(self, prompt: Prompt) -> dict[str, Any]:
        body: dict[str, Any] = {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": prompt.max_tokens or 1024,
            "messages": [{"role": role, "content": text} for role, text in prompt.messages],
        }
        if prompt.system:
            body["system"] = prompt.system
        if prompt.temperature is not None:
            body["temperature"] = prompt.temperature
        if prompt.tools:
            body["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": dict(t.input_schema)}
                for t in prompt.tools
            ]
        if prompt.tool_choice != ToolChoice():
            choice = {"type": prompt.tool_choice.kind}
            if prompt.tool_choice.name is not None:
                choice["name"] = prompt.tool_choice.name
            body["tool_choice"] = choice
        return body

    def parse(self, chunk: Chunk, state: ParseState) -> list[StreamEvent]:
        kind = chunk.get("type")
        index = chunk.get("index", 0)
        if kind == "message_start":
            usage = chunk.get("message", {}).get("usage", {})
            state.input_tokens = usage.get("input_tokens", state.input_tokens)
        elif kind == "content_block_start":
            block = chunk.get("content_block", {})
            if block.get("type") == "tool_use":
                return [ToolUseStart(block.get("id", ""), block.get("name", ""), index)]
        elif kind == "content_block_delta":
            delta = chunk.get("delta", {})
            dtype = delta.get("type")
            if dtype == "text_delta":
                return [TextDelta(delta.get("text", ""), index)]
            if dtype == "input_json_delta":
                return [ToolUseDelta(delta.get("partial_json", ""), index)]
            if dtype == "thinking_delta":
                return [ReasoningDelta(delta.get("thinking", ""), index=index)]
            if dtype == "signature_delta":
                return [ReasoningDelta(signature=delta.get("signature"), index=index)]
        elif kind == "message_delta":
            state.raw_stop = chunk.get("delta", {}).get("stop_reason") or state.raw_stop
            state.output_tokens = chunk.get("usage", {}).get("output_tokens", state.output_tokens)
        return []

    def read_request(self, body: dict[str, Any]) -> Prompt:
        require(body, "anthropic_version", str)
        max_tokens = optional_int(body, "max_tokens", required=True)
        raw = require(body, "messages", list)
        if not raw:
            raise RequestError("#/messages: expected minimum item count: 1, found: 0")
        turns = []
        results: list[str] = []
        for i, message in enumerate(raw):
            path = f"#/messages/{i}"
            role = require(typed(message, dict, path), "role", str, path)
            if role not in ("user", "assistant"):
                raise RequestError(f"{path}/role: {role} is not a valid enum value")
            content = require(message, "content", (str, list), path)
            turns.append((role, text_of(content, f"{path}/content")))
            results = _tool_results(content)
        system = optional(body, "system", (str, list))
        tools, choice = _read_tools(body)
        return Prompt(
            turns,
            text_of(system, "#/system") if system is not None else None,
            max_tokens,
            optional_float(body, "temperature"),
            tools,
            choice,
            tuple(results),
        )

    def begin(self, state: RenderState) -> list[Chunk]:
        return [
            {
                "type": "message_start",
                "message": {
                    "id": "msg_bdrk_local",
                    "type": "message",
                    "role": "assistant",
                    "model": state.model_id,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": state.input_tokens, "output_tokens": 1},
                },
            }
        ]

    def _block(self, state: RenderState, index: int, kind: str, start: Chunk) -> list[Chunk]:
        if state.block == (index, kind):
            return []
        out = self._close(state)
        state.block = (index, kind)
        return [*out, {"type": "content_block_start", "index": index, "content_block": start}]

    def _close(self, state: RenderState) -> list[Chunk]:
        if state.block is None:
            return []
        index = state.block[0]
        state.block = None
        return [{"type": "content_block_stop", "index": index}]

    def render(self, event: StreamEvent, state: RenderState) -> list[Chunk]:
        if isinstance(event, TextDelta):
            return [
                *self._block(state, event.index, "text", {"type": "text", "text": ""}),
                {
                    "type": "content_block_delta",
                    "index": event.index,
                    "delta": {"type": "text_delta", "text": event.text},
                },
            ]
        if isinstance(event, ReasoningDelta):
            out = self._block(state, event.index, "thinking", {"type": "thinking", "thinking": ""})
            if event.signature is not None:
                delta = {"type": "signature_delta", "signature": event.signature}
            else:
                delta = {"type": "thinking_delta", "thinking": event.text}
            return [*out, {"type": "content_block_delta", "index": event.index, "delta": delta}]
        if isinstance(event, ToolUseStart):
            start = {"type": "tool_use", "id": event.tool_use_id, "name": event.name, "input": {}}
            return self._block(state, event.index, "tool", start)
        if isinstance(event, ToolUseDelta):
            return [
                {
                    "type": "content_block_delta",
                    "index": event.index,
                    "delta": {"type": "input_json_delta", "partial_json": event.input},
                }
            ]
        return [
            *self._close(state),
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": self.native_stop(event.stop_reason),
                    "stop_sequence": None,
                },
                "usage": {"output_tokens": state.output_tokens},
            },
            {"type": "message_stop"},
        ]

    def respond(self, answer: Answer, end: StreamEnd, state: RenderState) -> dict[str, Any]:
        content: list[Chunk] = []
        if answer.reasoning:
            thinking: Chunk = {"type": "thinking", "thinking": answer.reasoning}
            if answer.signature is not None:
                thinking["signature"] = answer.signature
            content.append(thinking)
        if answer.text or not answer.tool_calls:
            content.append({"type": "text", "text": answer.text})
        content += [
            {"type": "tool_use", "id": c.tool_use_id, "name": c.name, "input": tool_input(c.input)}
            for c in answer.tool_calls
        ]
        return {
            "id": "msg_bdrk_local",
            "type": "message",
            "role": "assistant",
            "model": state.model_id,
            "content": content,
            "stop_reason": self.native_stop(end.stop_reason),
            "stop_sequence": None,
            "usage": {"input_tokens": state.input_tokens, "output_tokens": state.output_tokens},
        }


class AnthropicText(Family):
    name = "anthropic-text"
    label = "Anthropic Claude 2 / Instant text completions (anthropic.claude-v2, claude-instant)"
    prefixes = ("anthropic.claude-v2", "anthropic.claude-instant")
    # Claude 2 reports a natural end as the "\n\nHuman:" stop sequence.
    stop_to_native = {
        "end_turn": "stop_sequence",
        "max_tokens": "max_tokens",
        "stop_sequence": "stop_sequence",
    }
    stop_from_native = {"stop_sequence": "end_turn", "max_tokens": "max_tokens"}
    _TURN = re.compile(r"\n\n(Human|Assistant):")

    def build_request(self, prompt: Prompt) -> dict[str, Any]:
        parts = [prompt.system or ""]
        for role, text in prompt.messages:
            parts.append(f"\n\n{'Human' if role == 'user' else 'Assistant'}: {text}")
        parts.append("\n\nAssistant:")
        body: dict[str, Any] = {
            "prompt": "".join(parts),
            "max_tokens_to_sample": prompt.max_tokens or 1024,
        }
        if prompt.temperature is not None:
            body["temperature"] = prompt.temperature
        return body

    def parse(self, chunk: Chunk, state: ParseState) -> list[StreamEvent]:
        state.raw_stop = chunk.get("stop_reason") or state.raw_stop
        text = chunk.get("completion")
        return [TextDelta(text)] if text else []

    def read_request(self, body: dict[str, Any]) -> Prompt:
        raw = require(body, "prompt", str)
        max_tokens = optional_int(body, "max_tokens_to_sample", required=True)
        pieces = self._TURN.split(raw)
        if len(pieces) < 3:
            raise RequestError(
                'prompt must start with "\\n\\nHuman:" and end with "\\n\\nAssistant:"'
            )
        turns = [
            ("user" if role == "Human" else "assistant", text.strip())
            for role, text in zip(pieces[1::2], pieces[2::2], strict=True)
        ]
        if turns[-1] != ("assistant", ""):
            raise RequestError('prompt must end with "\\n\\nAssistant:"')
        return Prompt(
            turns[:-1], pieces[0].strip() or None, max_tokens, optional_float(body, "temperature")
        )

    def render(self, event: StreamEvent, state: RenderState) -> list[Chunk]:
        if isinstance(event, TextDelta):
            return [{"completion": event.text, "stop_reason": None, "stop": None}]
        if isinstance(event, StreamEnd):
            stop = self.native_stop(event.stop_reason)
            return [
                {
                    "completion": "",
                    "stop_reason": stop,
                    "stop": "\n\nHuman:" if stop == "stop_sequence" else None,
                }
            ]
        return []

    def respond(self, answer: Answer, end: StreamEnd, state: RenderState) -> dict[str, Any]:
        stop = self.native_stop(end.stop_reason)
        return {
            "type": "completion",
            "completion": answer.text,
            "stop_reason": stop,
            "stop": "\n\nHuman:" if stop == "stop_sequence" else None,
        }
