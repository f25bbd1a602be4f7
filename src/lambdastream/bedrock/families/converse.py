"""Converse and ConverseStream: one shape for every model (and Nova's InvokeModel shape).

Shapes from botocore's bedrock-runtime service model
(``botocore/data/bedrock-runtime/2023-09-30/service-2.json``):
``ToolConfiguration{tools: [Tool{toolSpec{name, description, inputSchema{json}}}],
toolChoice{auto | any | tool{name}}}``; answer ``ContentBlock`` union members
``text``, ``toolUse{toolUseId, name, input}``,
``reasoningContent{reasoningText{text, signature}}``; stream events
``contentBlockStart{start{toolUse}}``, ``contentBlockDelta{delta{text |
toolUse{input} | reasoningContent{text | signature | redactedContent}}}``.

>>> read_converse_request({"messages": [{"role": "user", "content": [{"text": "hi"}]}],
...     "toolConfig": {"tools": [{"toolSpec": {"name": "f", "inputSchema": {"json": {}}}}],
...                    "toolChoice": {"any": {}}}}).tool_choice
ToolChoice(kind='any', name=None)
"""

from __future__ import annotations

import json
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
    ParseState,
    Prompt,
    RenderState,
    RequestError,
    Tool,
    ToolChoice,
)
from lambdastream.bedrock.families.fields import (
    join,
    optional,
    optional_float,
    optional_int,
    require,
    text_of,
    tool,
    typed,
)


def converse_stream_event(event: Chunk, state: ParseState) -> list[StreamEvent]:
    """Typed events of one ConverseStream event (also Nova's InvokeModel chunk shape)."""
    if "contentBlockDelta" in event:
        body = event["contentBlockDelta"]
        delta, index = body.get("delta", {}), body.get("contentBlockIndex", 0)
        if "text" in delta:
            return [TextDelta(delta["text"], index)]
        if "toolUse" in delta:
            return [ToolUseDelta(delta["toolUse"].get("input", ""), index)]
        if "reasoningContent" in delta:
            reasoning = delta["reasoningContent"]
            return [
                ReasoningDelta(
                    reasoning.get("text", ""),
                    reasoning.get("signature"),
                    reasoning.get("redactedContent"),
                    index,
                )
            ]
    elif "contentBlockStart" in event:
        body = event["contentBlockStart"]
        tool_use = body.get("start", {}).get("toolUse")
        if tool_use is not None:
            return [
                ToolUseStart(
                    tool_use.get("toolUseId", ""),
                    tool_use.get("name", ""),
                    body.get("contentBlockIndex", 0),
                )
            ]
    elif "messageStop" in event:
        state.raw_stop = event["messageStop"].get("stopReason")
    elif "metadata" in event:
        usage = event["metadata"].get("usage", {})
        state.input_tokens = usage.get("inputTokens", state.input_tokens)
        state.output_tokens = usage.get("outputTokens", state.output_tokens)
        state.latency_ms = event["metadata"].get("metrics", {}).get("latencyMs", state.latency_ms)
    return []


def converse_render(event: StreamEvent, state: RenderState) -> list[Chunk]:
    """ConverseStream events for one typed event (the inverse of :func:`converse_stream_event`)."""
    out: list[Chunk] = []
    index = getattr(event, "index", 0)
    if not isinstance(event, StreamEnd) and state.block is not None and state.block[0] != index:
        out.append({"contentBlockStop": {"contentBlockIndex": state.block[0]}})
        state.block = None
    if isinstance(event, ToolUseStart):
        state.block = (index, "tool")
        return [
            *out,
            {
                "contentBlockStart": {
                    "start": {"toolUse": {"toolUseId": event.tool_use_id, "name": event.name}},
                    "contentBlockIndex": index,
                }
            },
        ]
    if isinstance(event, StreamEnd):
        if state.block is not None:
            out.append({"contentBlockStop": {"contentBlockIndex": state.block[0]}})
            state.block = None
        return [
            *out,
            {"messageStop": {"stopReason": event.stop_reason or "end_turn"}},
            {
                "metadata": {
                    "usage": usage(state),
                    "metrics": {"latencyMs": event.latency_ms or 0},
                }
            },
        ]
    state.block = (index, "content")
    if isinstance(event, TextDelta):
        delta: Chunk = {"text": event.text}
    elif isinstance(event, ToolUseDelta):
        delta = {"toolUse": {"input": event.input}}
    else:
        reasoning: Chunk = {}
        if event.signature is not None:
            reasoning["signature"] = event.signature
        elif event.redacted is not None:
            reasoning["redactedContent"] = event.redacted
        else:
            reasoning["text"] = event.text
        delta = {"reasoningContent": reasoning}
    return [*out, {"contentBlockDelta": {"delta": delta, "contentBlockIndex": index}}]


def usage(state: RenderState) -> Chunk:
    """Converse's ``TokenUsage`` for the tokens counted so far."""
    return {
        "inputTokens": state.input_tokens,
        "outputTokens": state.output_tokens,
        "totalTokens": state.input_tokens + state.output_tokens,
    }


def tool_input(text: str) -> Any:
    """A tool call's input JSON text as the object a whole answer carries."""
    try:
        return json.loads(text or "{}")
    except ValueError:  # a backend's unfinished JSON: the text itself says what it was
        return {"text": text}


def converse_content(answer: Answer) -> list[Chunk]:
    """The ``content`` blocks of a whole Converse (or Nova) answer: reasoning, text, tool uses."""
    content: list[Chunk] = []
    if answer.reasoning:
        reasoning: Chunk = {"text": answer.reasoning}
        if answer.signature is not None:
            reasoning["signature"] = answer.signature
        content.append({"reasoningContent": {"reasoningText": reasoning}})
    if answer.text or not answer.tool_calls:
        content.append({"text": answer.text})
    for call in answer.tool_calls:
        content.append(
            {
                "toolUse": {
                    "toolUseId": call.tool_use_id,
                    "name": call.name,
                    "input": tool_input(call.input),
                }
            }
        )
    return content


def converse_output(answer: Answer, end: StreamEnd, state: RenderState) -> dict[str, Any]:
    """A whole Converse answer, less its ``metrics``: message, stop reason, usage."""
    return {
        "output": {"message": {"role": "assistant", "content": converse_content(answer)}},
        "stopReason": end.stop_reason or "end_turn",
        "usage": usage(state),
    }


def _tool_results(content: list[Any], path: str) -> list[str]:
    """Texts of the ``toolResult`` blocks of one message (``text`` and ``json`` contents)."""
    results = []
    for i, block in enumerate(content):
        result = block.get("toolResult") if isinstance(block, dict) else None
        if result is None:
            continue
        at = join(join(path, i), "toolResult")
        pieces = []
        for j, item in enumerate(require(typed(result, dict, at), "content", list, at)):
            item = typed(item, dict, join(join(at, "content"), j))
            if "json" in item:
                pieces.append(json.dumps(item["json"]))
            elif isinstance(item.get("text"), str):
                pieces.append(item["text"])
        results.append("".join(pieces))
    return results


def converse_messages(body: dict[str, Any], at: str = "") -> list[tuple[str, str]]:
    """Converse-shaped ``messages`` (Converse, Nova) to role/text turns.

    ``at`` is the body's path: ``""`` names fields as Converse does
    (``messages.0.content``), ``"#"`` as InvokeModel's schema check does.
    Raises RequestError when malformed.
    """
    return converse_turns(body, at)[0]


def converse_turns(body: dict[str, Any], at: str) -> tuple[list[tuple[str, str]], list[str]]:
    """Role/text turns, and the texts of the tool results the last message hands back."""
    raw = require(body, "messages", list, at)
    if not raw:
        raise RequestError(f"{join(at, 'messages')}: expected minimum item count: 1, found: 0")
    turns = []
    results: list[str] = []
    for i, message in enumerate(raw):
        path = join(join(at, "messages"), i)
        role = require(typed(message, dict, path), "role", str, path)
        if role not in ("user", "assistant"):
            raise RequestError(f"{join(path, 'role')}: {role} is not a valid enum value")
        content = require(message, "content", list, path)
        if not content:
            raise RequestError(f"{join(path, 'content')}: expected minimum item count: 1, found: 0")
        turns.append((role, text_of(content, join(path, "content"))))
        results = _tool_results(content, join(path, "content"))
    if turns[0][0] != "user":
        raise RequestError("A conversation must start with a user message.")
    return turns, results


def _uses_tools(body: dict[str, Any]) -> bool:
    return any(
        isinstance(block, dict) and ("toolUse" in block or "toolResult" in block)
        for message in body.get("messages") or []
        if isinstance(message, dict) and isinstance(message.get("content"), list)
        for block in message["content"]
    )


def converse_tools(body: dict[str, Any], at: str = "") -> tuple[tuple[Tool, ...], ToolChoice]:
    """The tools ``toolConfig`` offers and the ``toolChoice`` (Converse, Nova).

    A conversation holding ``toolUse`` or ``toolResult`` blocks needs a
    ``toolConfig``: Bedrock refuses it otherwise (langchain-aws's
    ``ChatBedrockConverse`` works around that very ValidationException).
    """
    config = optional(body, "toolConfig", dict, at)
    if config is None:
        if _uses_tools(body):
            raise RequestError(
                "The toolConfig field must be defined when using toolUse and toolResult"
                " content blocks."
            )
        return (), ToolChoice()
    path = join(at, "toolConfig")
    raw = require(config, "tools", list, path)
    if not raw:
        raise RequestError(f"{join(path, 'tools')}: expected minimum item count: 1, found: 0")
    tools = []
    for i, entry in enumerate(raw):
        entry_path = join(join(path, "tools"), i)
        spec = optional(typed(entry, dict, entry_path), "toolSpec", dict, entry_path)
        if spec is None:  # a cachePoint or a system tool: nothing the model fills in
            continue
        spec_path = join(entry_path, "toolSpec")
        schema = require(spec, "inputSchema", dict, spec_path)
        schema_path = join(spec_path, "inputSchema")
        tools.append(
            tool(
                require(spec, "name", str, spec_path),
                spec.get("description"),
                require(schema, "json", dict, schema_path),
                schema_path,
                "json",
            )
        )
    choice = ToolChoice()
    raw_choice = optional(config, "toolChoice", dict, path)
    if raw_choice:
        kind = next(iter(raw_choice))
        if kind not in ("auto", "any", "tool") or len(raw_choice) != 1:
            raise RequestError(f"{join(path, 'toolChoice')}: exactly one of auto, any, tool")
        name = None
        if kind == "tool":
            choice_path = join(join(path, "toolChoice"), "tool")
            name = require(typed(raw_choice["tool"], dict, choice_path), "name", str, choice_path)
            if all(t.name != name for t in tools):
                raise RequestError(f"{join(choice_path, 'name')}: {name} is not one of the tools")
        choice = ToolChoice(kind, name)
    return tuple(tools), choice


def tool_config(prompt: Prompt) -> Chunk | None:
    """The ``toolConfig`` offering ``prompt``'s tools (the inverse of :func:`converse_tools`)."""
    if not prompt.tools:
        return None
    config: Chunk = {
        "tools": [
            {
                "toolSpec": {
                    "name": t.name,
                    "description": t.description,
                    "inputSchema": {"json": dict(t.input_schema)},
                }
            }
            for t in prompt.tools
        ]
    }
    choice = prompt.tool_choice
    if choice.kind == "tool":
        config["toolChoice"] = {"tool": {"name": choice.name}}
    elif choice.kind == "any":
        config["toolChoice"] = {"any": {}}
    return config


def read_converse_request(body: dict[str, Any]) -> Prompt:
    """A Converse(Stream) body as a Prompt; fields named as Converse does (``inferenceConfig``)."""
    turns, results = converse_turns(body, "")
    tools, choice = converse_tools(body)
    system = optional(body, "system", list)
    config = optional(body, "inferenceConfig", dict) or {}
    return Prompt(
        turns,
        (text_of(system, "system") or None) if system else None,
        optional_int(config, "maxTokens", "inferenceConfig"),
        optional_float(config, "temperature", "inferenceConfig"),
        tools,
        choice,
        tuple(results),
    )
