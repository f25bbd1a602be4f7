"""Model families for InvokeModel(WithResponseStream): the one place mapping model id -> wire shape.

Each family knows both sides of its JSON:

* the client side, used by :func:`lambdastream.bedrock.stream_text`:
  ``build_request(prompt)`` and ``parse(chunk, state)``, which turns one
  decoded ``chunk.bytes`` object into typed events;
* the server side, used by ``lambdastream bedrock-local``: ``read_request``
  (the family's body back to a :class:`Prompt`), ``render`` (typed events to
  the family's chunk objects) and ``respond`` (a whole InvokeModel answer).

Keeping both in one class makes every family's shape readable in one place
and lets the tests check that ``parse(render(events)) == events``.

Example::

    >>> family_for("us.anthropic.claude-3-5-haiku-20241022-v1:0").name
    'anthropic'
    >>> family_for("meta.llama3-8b-instruct-v1:0").build_request(
    ...     Prompt([("user", "hi")], max_tokens=5))["max_gen_len"]
    5
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lambdastream.bedrock.errors import UnsupportedModelError
from lambdastream.bedrock.events import (
    ReasoningDelta,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolUseDelta,
    ToolUseStart,
    Usage,
)

Chunk = dict[str, Any]

# Cross-region inference profiles put a geography before the provider.
REGION_PREFIXES = ("us.", "us-gov.", "eu.", "apac.", "jp.", "au.", "ca.", "global.")
METRICS_KEY = "amazon-bedrock-invocationMetrics"


class RequestError(ValueError):
    """A request body the family cannot accept (the server answers ValidationException)."""


@dataclass(frozen=True)
class Prompt:
    """A conversation reduced to what every family can express: role/text turns."""

    messages: list[tuple[str, str]]
    system: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None

    @property
    def last_user_text(self) -> str:
        return next((text for role, text in reversed(self.messages) if role == "user"), "")


@dataclass
class ParseState:
    """What a parser learns across chunks: stop reason, usage and family scratch space."""

    raw_stop: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: int | None = None
    scratch: dict[str, Any] = field(default_factory=dict)


@dataclass
class RenderState:
    """What a renderer tracks across events for one answer."""

    model_id: str
    input_tokens: int = 0
    output_tokens: int = 0
    block: tuple[int, str] | None = None  # (index, kind) of the open content block
    in_reasoning: bool = False
    first: bool = True


# ----------------------------------------------------------------- helpers


# Bedrock checks InvokeModel bodies against each model's JSON schema and names the field
# as a JSON pointer ("#/messages/0/content"); Converse names it with dots
# ("inferenceConfig.maxTokens"). Callers pass the container's path in that style.
# bedrock-local cannot know every model's output limit: it refuses what no model accepts,
# a count outside the 32-bit integer Bedrock's APIs carry.
MAX_TOKENS_LIMIT = 2**31 - 1
_JSON_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "Boolean"),
    (int, "Integer"),
    (float, "Number"),
    (str, "String"),
    (list, "JSONArray"),
    (dict, "JSONObject"),
)


def _join(at: str, key: str | int) -> str:
    if at.startswith("#"):
        return f"{at}/{key}"
    return f"{at}.{key}" if at else str(key)


def _json_type(value: Any) -> str:
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), "Null")


def _typed(value: Any, kind: type | tuple[type, ...], path: str) -> Any:
    """``value`` if its JSON type is ``kind`` (a bool is not a number); else RequestError."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        # An integer is a Number, as in JSON Schema: (int, float) reads "Number".
        names = [dict(_JSON_TYPES)[k] for k in kinds if not (k is int and float in kinds)]
        expected = " or ".join(names)
        raise RequestError(f"{path}: expected type: {expected}, found: {_json_type(value)}")
    return value


def _require(body: dict[str, Any], key: str, kind: type | tuple[type, ...], at: str = "#") -> Any:
    """``body[key]``: present, and of JSON type ``kind`` (``null`` is a wrong type)."""
    if key not in body:
        raise RequestError(f"{at}: required key [{key}] not found")
    return _typed(body[key], kind, _join(at, key))


def _optional(body: dict[str, Any], key: str, kind: type | tuple[type, ...], at: str = "#") -> Any:
    """``body[key]`` of JSON type ``kind``, or None when the key is absent."""
    return _require(body, key, kind, at) if key in body else None


def _optional_int(
    body: dict[str, Any], key: str, at: str = "#", *, required: bool = False
) -> int | None:
    """A token count: an integer from 1 to :data:`MAX_TOKENS_LIMIT`."""
    value = _require(body, key, int, at) if required else _optional(body, key, int, at)
    if value is not None and not 1 <= value <= MAX_TOKENS_LIMIT:
        bound = "greater or equal to 1" if value < 1 else f"less or equal to {MAX_TOKENS_LIMIT}"
        raise RequestError(f"{_join(at, key)}: {value} is not {bound}")
    return value


def _optional_float(
    body: dict[str, Any], key: str, at: str = "#", maximum: float = 1.0
) -> float | None:
    """A sampling parameter: a number from 0 to ``maximum``."""
    value = _optional(body, key, (int, float), at)
    if value is not None and not 0 <= value <= maximum:
        bound = "greater or equal to 0" if value < 0 else f"less or equal to {maximum:g}"
        raise RequestError(f"{_join(at, key)}: {value} is not {bound}")
    return None if value is None else float(value)


def _text_of(content: Any, path: str) -> str:
    """Text of a message's content: a string, or a list of ``{"text"}``/``{"type":"text"}``.

    Blocks without text (images, tool results) add nothing; a ``text`` must be a string.
    """
    if isinstance(content, str):
        return content
    blocks = _typed(content, (str, list), path)
    texts = []
    for i, block in enumerate(blocks):
        block = _typed(block, dict, _join(path, i))
        texts.append(_optional(block, "text", str, _join(path, i)) or "")
    return "".join(texts)


def _chat_messages(raw: Any, at: str, *, system_roles: tuple[str, ...] = ("system",)) -> Prompt:
    """OpenAI-style ``[{"role", "content"}]`` (Jamba, gpt-oss) to a Prompt."""
    if not _typed(raw, list, at):
        raise RequestError(f"{at}: expected minimum item count: 1, found: 0")
    system: list[str] = []
    turns: list[tuple[str, str]] = []
    for i, message in enumerate(raw):
        path = _join(at, i)
        message = _typed(message, dict, path)
        role = _require(message, "role", str, path)
        text = _text_of(_require(message, "content", (str, list), path), _join(path, "content"))
        if role in system_roles:
            system.append(text)
        elif role in ("user", "assistant"):
            turns.append((role, text))
        else:
            raise RequestError(f"{_join(path, 'role')}: unknown role {role!r}")
    if not turns:
        raise RequestError(f"{at}: at least one user message is required")
    return Prompt(turns, "\n".join(system) or None)


def _stop_maps(pairs: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(converse -> native, native -> converse) from a converse -> native table."""
    return pairs, {native: converse for converse, native in pairs.items()}


class TagSplitter:
    """Splits text with inline ``<think>...</think>``-style tags into reasoning and text.

    Tags may be split across chunks, so a suffix that could begin a tag is
    held back until the next piece decides it.
    """

    def __init__(self, open_tag: str, close_tag: str) -> None:
        self.open_tag, self.close_tag = open_tag, close_tag
        self.inside = False
        self.pending = ""
        self.strip_next = False

    def feed(self, text: str) -> list[tuple[bool, str]]:
        """Return ``(is_reasoning, text)`` pieces that are certain so far."""
        data = self.pending + text
        self.pending = ""
        out: list[tuple[bool, str]] = []
        while data:
            tag = self.close_tag if self.inside else self.open_tag
            at = data.find(tag)
            if at >= 0:
                self._emit(out, data[:at])
                data = data[at + len(tag) :]
                self.inside = not self.inside
                # Models put a blank line after their reasoning; it is not answer text.
                self.strip_next = not self.inside
                continue
            keep = next(
                (
                    n
                    for n in range(min(len(tag) - 1, len(data)), 0, -1)
                    if tag.startswith(data[-n:])
                ),
                0,
            )
            self._emit(out, data[: len(data) - keep])
            self.pending = data[len(data) - keep :]
            break
        return out

    def flush(self) -> list[tuple[bool, str]]:
        out: list[tuple[bool, str]] = []
        self._emit(out, self.pending)
        self.pending = ""
        return out

    def _emit(self, out: list[tuple[bool, str]], text: str) -> None:
        if self.strip_next and not self.inside:
            text = text.lstrip("\n")
            if text:
                self.strip_next = False
        if text:
            out.append((self.inside, text))


def _split_events(splitter: TagSplitter, text: str) -> list[StreamEvent]:
    return [
        ReasoningDelta(piece) if inside else TextDelta(piece)
        for inside, piece in splitter.feed(text)
    ]


# ------------------------------------------------------------------ family base


class Family:
    """One request/chunk shape shared by a set of model ids."""

    name = ""
    label = ""  # human-readable, for error messages
    prefixes: tuple[str, ...] = ()
    stop_to_native: dict[str, str] = {}
    stop_from_native: dict[str, str] = {}
    max_temperature = 1.0  # the model's documented top of the temperature range
    carries_reasoning = False  # whether its chunks can carry a ReasoningDelta

    # client side
    def build_request(self, prompt: Prompt) -> dict[str, Any]:
        raise NotImplementedError

    def parse(self, chunk: Chunk, state: ParseState) -> list[StreamEvent]:
        raise NotImplementedError

    def parse_chunk(self, chunk: Chunk, state: ParseState) -> list[StreamEvent]:
        """Events of one decoded chunk; usage from invocation metrics lands in ``state``."""
        events = self.parse(chunk, state)
        metrics = chunk.get(METRICS_KEY)
        if isinstance(metrics, dict):
            state.input_tokens = metrics.get("inputTokenCount", state.input_tokens)
            state.output_tokens = metrics.get("outputTokenCount", state.output_tokens)
            state.latency_ms = metrics.get("invocationLatency", state.latency_ms)
        return events

    def finish(self, state: ParseState) -> list[StreamEvent]:
        """Events held back until the end of the stream, then the :class:`StreamEnd`."""
        raw = state.raw_stop
        return [
            StreamEnd(
                stop_reason=self.stop_from_native.get(raw, raw) if raw is not None else None,
                usage=Usage(state.input_tokens, state.output_tokens),
                raw_stop_reason=raw,
                latency_ms=state.latency_ms,
            )
        ]

    # server side
    def read_request(self, body: dict[str, Any]) -> Prompt:
        raise NotImplementedError

    def begin(self, state: RenderState) -> list[Chunk]:
        return []

    def render(self, event: StreamEvent, state: RenderState) -> list[Chunk]:
        """Chunks for one event; events a family cannot express give no chunks."""
        raise NotImplementedError

    def respond(self, text: str, end: StreamEnd, state: RenderState) -> dict[str, Any]:
        raise NotImplementedError

    def native_stop(self, stop_reason: str | None) -> str:
        return self.stop_to_native.get(stop_reason or "end_turn", stop_reason or "end_turn")


# ------------------------------------------------------------------ Anthropic


class AnthropicMessages(Family):
    name = "anthropic"
    label = "Anthropic Claude 3+ messages (anthropic.claude-3*, claude-*-4*)"
    prefixes = ("anthropic.",)
    carries_reasoning = True
    stop_to_native, stop_from_native = _stop_maps(
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
        _require(body, "anthropic_version", str)
        max_tokens = _optional_int(body, "max_tokens", required=True)
        raw = _require(body, "messages", list)
        if not raw:
            raise RequestError("#/messages: expected minimum item count: 1, found: 0")
        turns = []
        for i, message in enumerate(raw):
            path = f"#/messages/{i}"
            role = _require(_typed(message, dict, path), "role", str, path)
            if role not in ("user", "assistant"):
                raise RequestError(f"{path}/role: {role} is not a valid enum value")
            content = _require(message, "content", (str, list), path)
            turns.append((role, _text_of(content, f"{path}/content")))
        system = _optional(body, "system", (str, list))
        return Prompt(
            turns,
            _text_of(system, "#/system") if system is not None else None,
            max_tokens,
            _optional_float(body, "temperature"),
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

    def respond(self, text: str, end: StreamEnd, state: RenderState) -> dict[str, Any]:
        return {
            "id": "msg_bdrk_local",
            "type": "message",
            "role": "assistant",
            "model": state.model_id,
            "content": [{"type": "text", "text": text}],
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
        raw = _require(body, "prompt", str)
        max_tokens = _optional_int(body, "max_tokens_to_sample", required=True)
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
            turns[:-1], pieces[0].strip() or None, max_tokens, _optional_float(body, "temperature")
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

    def respond(self, text: str, end: StreamEnd, state: RenderState) -> dict[str, Any]:
        stop = self.native_stop(end.stop_reason)
        return {
            "type": "completion",
            "completion": text,
            "stop_reason": stop,
            "stop": "\n\nHuman:" if stop == "stop_sequence" else None,
        }


# ------------------------------------------------------------------ Cohere

_COHERE_STOPS = {
    "end_turn": "COMPLETE",
    "max_tokens": "MAX_TOKENS",
    "content_filtered": "ERROR_TOXIC",
    "stop_sequence": "COMPLETE",
}


def _cohere_flatten(prompt: Prompt) -> str:
    if prompt.system is None and len(prompt.messages) == 1:
        return prompt.messages[0][1]
    lines = [f"System: {prompt.system}"] if prompt.system else []
    lines += [
        f"{'User' if role == 'user' else 'Chatbot'}: {text}" for role, text in prompt.messages
    ]
    return "\n".join([*lines, "Chatbot:"])


_COHERE_LINE = re.compile(r"^(System|User|Chatbot): ?(.*)$", re.S)


def _cohere_unflatten(raw: str) -> tuple[list[tuple[str, str]], str | None]:
    if not raw.endswith("\nChatbot:"):
        return [("user", raw)], None
    system = None
    turns: list[tuple[str, str]] = []
    for line in raw[: -len("\nChatbot:")].split("\n"):
        match = _COHERE_LINE.match(line)
        if match is None:
            if not turns:
                return [("user", raw)], None
            role, text = turns[-1]
            turns[-1] = (role, f"{text}\n{line}")
        elif match[1] == "System":
            system = match[2]
        else:
            turns.append(("user" if match[1] == "User" else "assistant", match[2]))
    return turns or [("user", raw)], system


class CohereCommand(Family):
    name = "cohere-command"
    label = "Cohere Command text (cohere.command-text, cohere.command-light-text)"
    prefixes = ("cohere.command",)
    stop_to_native = _COHERE_STOPS
    stop_from_native = {
        "COMPLETE": "end_turn",
        "MAX_TOKENS": "max_tokens",
        "ERROR_TOXIC": "content_filtered",
    }
    max_temperature = 5.0

    def build_request(self, prompt: Prompt) -> dict[str, Any]:
        # Without "stream": true the model answers in one piece.
        body: dict[str, Any] = {
            "prompt": _cohere_flatten(prompt),
            "stream": True,
            "max_tokens": prompt.max_tokens or 1024,
        }
        if prompt.temperature is not None:
            body["temperature"] = prompt.temperature
        return body

    def parse(self, chunk: Chunk, state: ParseState) -> list[StreamEvent]:
        if chunk.get("is_finished"):
            state.raw_stop = chunk.get("finish_reason") or state.raw_stop
        text = chunk.get("text")
        if not text or text == "<EOS_TOKEN>":
            return []
        return [TextDelta(text)]

    def read_request(self, body: dict[str, Any]) -> Prompt:
        turns, system = _cohere_unflatten(_require(body, "prompt", str))
        return Prompt(
            turns,
            system,
            _optional_int(body, "max_tokens"),
            _optional_float(body, "temperature", maximum=self.max_temperature),
        )

    def render(self, event: StreamEvent, state: RenderState) -> list[Chunk]:
        if isinstance(event, TextDelta):
            return [{"text": event.text, "is_finished": False}]
        if isinstance(event, StreamEnd):
            return [
                {
                    "text": "<EOS_TOKEN>",
                    "is_finished": True,
                    "finish_reason": self.native_stop(event.stop_reason),
                }
            ]
        return []

    def respond(self, text: str, end: StreamEnd, state: RenderState) -> dict[str, Any]:
        return {
            "id": "local",
            "prompt": None,
            "generations": [
                {"id": "local-0", "text": text, "finish_reason": self.native_stop(end.stop_reason)}
            ],
        }


class CohereCommandR(Family):
    name = "cohere-command-r"
    label = "Cohere Command R / R+ (cohere.command-r)"
    prefixes = ("cohere.command-r",)
    stop_to_native = _COHERE_STOPS
    stop_from_native = CohereCommand.stop_from_native

    def build_request(self, prompt: Prompt) -> dict[str, Any]:
        *history, (_, last_text) = prompt.messages
        body: dict[str, Any] = {
            "message": last_text,
            "chat_history": [
                {"role": "USER" if role == "user" else "CHATBOT", "message": text}
                for role, text in history
            ],
            "max_tokens": prompt.max_tokens or 1024,
        }
        if prompt.system:
            body["preamble"] = prompt.system
        if prompt.temperature is not None:
            body["temperature"] = prompt.temperature
        return body

    def parse(self, chunk: Chunk, state: ParseState) -> list[StreamEvent]:
        kind = chunk.get("event_type")
        if kind == "text-generation" and chunk.get("text"):
            return [TextDelta(chunk["text"])]
        if kind == "stream-end":
            state.raw_stop = chunk.get("finish_reason") or state.raw_stop
        return []

    def read_request(self, body: dict[str, Any]) -> Prompt:
        message = _require(body, "message", str)
        turns = []
        for i, item in enumerate(_optional(body, "chat_history", list) or []):
            path = f"#/chat_history/{i}"
            role = _require(_typed(item, dict, path), "role", str, path)
            if role not in ("USER", "CHATBOT"):
                raise RequestError(f"{path}/role: {role} is not a valid enum value")
            text = _require(item, "message", str, path)
            turns.append(("user" if role == "USER" else "assistant", text))
        return Prompt(
            [*turns, ("user", message)],
            _optional(body, "preamble", str),
            _optional_int(body, "max_tokens"),
            _optional_float(body, "temperature"),
        )

    def begin(self, state: RenderState) -> list[Chunk]:
        return [{"is_finished": False, "event_type": "stream-start", "generation_id": "local"}]

    def render(self, event: StreamEvent, state: RenderState) -> list[Chunk]:
        if isinstance(event, TextDelta):
            return [{"is_finished": False, "event_type": "text-generation", "text": event.text}]
        if isinstance(event, StreamEnd):
            stop = self.native_stop(event.stop_reason)
            return [
                {
                    "is_finished": True,
                    "event_type": "stream-end",
                    "finish_reason": stop,
                    "response": {"generation_id": "local", "finish_reason": stop},
                }
            ]
        return []

    def respond(self, text: str, end: StreamEnd, state: RenderState) -> dict[str, Any]:
        return {
            "response_id": "local",
            "generation_id": "local",
            "text": text,
            "finish_reason": self.native_stop(end.stop_reason),
            "chat_history": [],
        }


# ------------------------------------------------------------------ Meta Llama


class MetaLlama(Family):
    name = "meta"
    label = "Meta Llama 2/3/4 (meta.llama*)"
    prefixes = ("meta.",)
    stop_to_native, stop_from_native = _stop_maps({"end_turn": "stop", "max_tokens": "length"})
    _LLAMA3_TURN = re.compile(
        r"<\|start_header_id\|>(system|user|assistant)<\|end_header_id\|>\n\n(.*?)<\|eot_id\|>",
        re.S,
    )
    _LLAMA3_PREFIX = "<|begin_of_text|>"
    _LLAMA3_SUFFIX = "<|start_header_id|>assistant<|end_header_id|>\n\n"

    def build_request(self, prompt: Prompt) -> dict[str, Any]:
        # One template serves Llama 3 and later; Llama 2 read it well enough for a chat turn.
        turns = [("system", prompt.system)] if prompt.system else []
        turns += prompt.messages
        text = (
            self._LLAMA3_PREFIX
            + "".join(
                f"<|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>"
                for role, content in turns
            )
            + self._LLAMA3_SUFFIX
        )
        body: dict[str, Any] = {"prompt": text, "max_gen_len": prompt.max_tokens or 1024}
        if prompt.temperature is not None:
            body["temperature"] = prompt.temperature
        return body

    def parse(self, chunk: Chunk, state: ParseState) -> list[StreamEvent]:
        if chunk.get("prompt_token_count") is not None:
            state.input_tokens = chunk["prompt_token_count"]
        if chunk.get("generation_token_count") is not None:
            state.output_tokens = chunk["generation_token_count"]
        state.raw_stop = chunk.get("stop_reason") or state.raw_stop
        text = chunk.get("generation")
        return [TextDelta(text)] if text else []

    def read_request(self, body: dict[str, Any]) -> Prompt:
        raw = _require(body, "prompt", str)
        turns = self._LLAMA3_TURN.findall(raw)
        if raw.startswith(self._LLAMA3_PREFIX) and raw.endswith(self._LLAMA3_SUFFIX) and turns:
            system = next((text for role, text in turns if role == "system"), None)
            messages = [(role, text) for role, text in turns if role != "system"]
        else:
            system, messages = None, [("user", raw)]
        return Prompt(
            messages,
            system,
            _optional_int(body, "max_gen_len"),
            _optional_float(body, "temperature"),
        )

    def render(self, event: StreamEvent, state: RenderState) -> list[Chunk]:
        if isinstance(event, (TextDelta, StreamEnd)):
            first, state.first = state.first, False
            end = isinstance(event, StreamEnd)
            return [
                {
                    "generation": "" if end else event.text,  # type: ignore[union-attr]
                    "prompt_token_count": state.input_tokens if first else None,
                    "generation_token_count": state.output_tokens,
                    "stop_reason": self.native_stop(event.stop_reason) if end else None,  # type: ignore[union-attr]
                }
            ]
        return []

    def respond(self, text: str, end: StreamEnd, state: RenderState) -> dict[str, Any]:
        return {
            "generation": text,
            "prompt_token_count": state.input_tokens,
            "generation_token_count": state.output_tokens,
            "stop_reason": self.native_stop(end.stop_reason),
        }


# ------------------------------------------------------------------ Amazon


class TitanText(Family):
    name = "titan-text"
    label = "Amazon Titan Text (amazon.titan-text-*, amazon.titan-tg1-large)"
    prefixes = ("amazon.titan-text", "amazon.titan-tg1")
    stop_to_native, stop_from_native = _stop_maps(
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
        raw = _require(body, "inputText", str)
        config = _optional(body, "textGenerationConfig", dict) or {}
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
            _optional_int(config, "maxTokenCount", "#/textGenerationConfig"),
            _optional_float(config, "temperature", "#/textGenerationConfig"),
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

    def respond(self, text: str, end: StreamEnd, state: RenderState) -> dict[str, Any]:
        return {
            "inputTextTokenCount": state.input_tokens,
            "results": [
                {
                    "tokenCount": state.output_tokens,
                    "outputText": text,
                    "completionReason": self.native_stop(end.stop_reason),
                }
            ],
        }


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
        tool = body.get("start", {}).get("toolUse")
        if tool is not None:
            return [
                ToolUseStart(
                    tool.get("toolUseId", ""),
                    tool.get("name", ""),
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
                    "usage": {
                        "inputTokens": state.input_tokens,
                        "outputTokens": state.output_tokens,
                        "totalTokens": state.input_tokens + state.output_tokens,
                    },
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


def converse_messages(body: dict[str, Any], at: str = "") -> list[tuple[str, str]]:
    """Converse-shaped ``messages`` (Converse, Nova) to role/text turns.

    ``at`` is the body's path: ``""`` names fields as Converse does
    (``messages.0.content``), ``"#"`` as InvokeModel's schema check does.
    Raises RequestError when malformed.
    """
    raw = _require(body, "messages", list, at)
    if not raw:
        raise RequestError(f"{_join(at, 'messages')}: expected minimum item count: 1, found: 0")
    turns = []
    for i, message in enumerate(raw):
        path = _join(_join(at, "messages"), i)
        role = _require(_typed(message, dict, path), "role", str, path)
        if role not in ("user", "assistant"):
            raise RequestError(f"{_join(path, 'role')}: {role} is not a valid enum value")
        content = _require(message, "content", list, path)
        if not content:
            raise RequestError(
                f"{_join(path, 'content')}: expected minimum item count: 1, found: 0"
            )
        turns.append((role, _text_of(content, _join(path, "content"))))
    if turns[0][0] != "user":
        raise RequestError("A conversation must start with a user message.")
    return turns


def read_converse_request(body: dict[str, Any]) -> Prompt:
    """A Converse(Stream) body as a Prompt; fields named as Converse does (``inferenceConfig``)."""
    turns = converse_messages(body)
    system = _optional(body, "system", list)
    config = _optional(body, "inferenceConfig", dict) or {}
    return Prompt(
        turns,
        (_text_of(system, "system") or None) if system else None,
        _optional_int(config, "maxTokens", "inferenceConfig"),
        _optional_float(config, "temperature", "inferenceConfig"),
    )


class Nova(Family):
    name = "nova"
    label = "Amazon Nova (amazon.nova-*)"
    prefixes = ("amazon.nova",)
    carries_reasoning = True

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
        return body

    def parse(self, chunk: Chunk, state: ParseState) -> list[StreamEvent]:
        return converse_stream_event(chunk, state)

    def read_request(self, body: dict[str, Any]) -> Prompt:
        turns = converse_messages(body, "#")
        system = _optional(body, "system", list)
        config = _optional(body, "inferenceConfig", dict) or {}
        return Prompt(
            turns,
            _text_of(system, "#/system") if system else None,
            _optional_int(config, "max_new_tokens", "#/inferenceConfig"),
            _optional_float(config, "temperature", "#/inferenceConfig"),
        )

    def begin(self, state: RenderState) -> list[Chunk]:
        return [{"messageStart": {"role": "assistant"}}]

    def render(self, event: StreamEvent, state: RenderState) -> list[Chunk]:
        return converse_render(event, state)

    def respond(self, text: str, end: StreamEnd, state: RenderState) -> dict[str, Any]:
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": end.stop_reason or "end_turn",
            "usage": {
                "inputTokens": state.input_tokens,
                "outputTokens": state.output_tokens,
                "totalTokens": state.input_tokens + state.output_tokens,
            },
        }


# ------------------------------------------------------------------ Mistral


class Mistral(Family):
    name = "mistral"
    label = "Mistral AI text (mistral.*)"
    prefixes = ("mistral.",)
    stop_to_native, stop_from_native = _stop_maps({"end_turn": "stop", "max_tokens": "length"})
    _TURN = re.compile(r"\[INST\] (.*?) \[/INST\](?: (.*?)</s>)?", re.S)

    def build_request(self, prompt: Prompt) -> dict[str, Any]:
        parts = ["<s>"]
        system = f"{prompt.system}\n\n" if prompt.system else ""
        for role, text in prompt.messages:
            if role == "user":
                parts.append(f"[INST] {system}{text} [/INST]")
                system = ""
            else:
                parts.append(f" {text}</s>")
        body: dict[str, Any] = {"prompt": "".join(parts), "max_tokens": prompt.max_tokens or 1024}
        if prompt.temperature is not None:
            body["temperature"] = prompt.temperature
        return body

    def parse(self, chunk: Chunk, state: ParseState) -> list[StreamEvent]:
        outputs = chunk.get("outputs") or [{}]
        state.raw_stop = outputs[0].get("stop_reason") or state.raw_stop
        text = outputs[0].get("text")
        return [TextDelta(text)] if text else []

    def read_request(self, body: dict[str, Any]) -> Prompt:
        raw = _require(body, "prompt", str)
        turns: list[tuple[str, str]] = []
        for user, assistant in self._TURN.findall(raw):
            turns.append(("user", user))
            if assistant:
                turns.append(("assistant", assistant))
        system = None
        if turns and "\n\n" in turns[0][1]:
            system, first = turns[0][1].split("\n\n", 1)
            turns[0] = ("user", first)
        if not turns:
            turns = [("user", raw)]
        return Prompt(
            turns, system, _optional_int(body, "max_tokens"), _optional_float(body, "temperature")
        )

    def render(self, event: StreamEvent, state: RenderState) -> list[Chunk]:
        if isinstance(event, TextDelta):
            return [{"outputs": [{"text": event.text, "stop_reason": None}]}]
        if isinstance(event, StreamEnd):
            return [{"outputs": [{"text": "", "stop_reason": self.native_stop(event.stop_reason)}]}]
        return []

    def respond(self, text: str, end: StreamEnd, state: RenderState) -> dict[str, Any]:
        return {"outputs": [{"text": text, "stop_reason": self.native_stop(end.stop_reason)}]}


# ------------------------------------------------------------------ chat-completions shapes


class _ChatCompletions(Family):
    """Families whose chunks look like OpenAI chat completion chunks."""

    stop_to_native, stop_from_native = _stop_maps(
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
            for call in delta.get("tool_calls") or []:
                index = 1 + call.get("index", 0)
                function = call.get("function") or {}
                if call.get("id"):
                    events.append(ToolUseStart(call["id"], function.get("name", ""), index))
                if function.get("arguments"):
                    events.append(ToolUseDelta(function["arguments"], index))
            if delta.get("content"):
                events += self._text(delta["content"], state)
        return events

    def _text(self, text: str, state: ParseState) -> list[StreamEvent]:
        if self.tags is None:
            return [TextDelta(text)]
        splitter = state.scratch.setdefault("tags", TagSplitter(*self.tags))
        return _split_events(splitter, text)

    def finish(self, state: ParseState) -> list[StreamEvent]:
        splitter = state.scratch.get("tags")
        held = []
        if splitter is not None:
            held = [ReasoningDelta(t) if inside else TextDelta(t) for inside, t in splitter.flush()]
        return [*held, *super().finish(state)]

    def read_request(self, body: dict[str, Any]) -> Prompt:
        prompt = _chat_messages(
            _require(body, "messages", list), "#/messages", system_roles=("system", "developer")
        )
        return Prompt(
            prompt.messages,
            prompt.system,
            _optional_int(body, self.max_tokens_key) or _optional_int(body, "max_tokens"),
            _optional_float(body, "temperature", maximum=self.max_temperature),
        )

    def _chunk(self, state: RenderState, delta: Chunk, finish: str | None = None) -> Chunk:
        return {
            "id": "chatcmpl-local",
            "object": "chat.completion.chunk",
            "model": state.model_id,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    def begin(self, state: RenderState) -> list[Chunk]:
        return [self._chunk(state, {"role": "assistant", "content": ""})]

    def render(self, event: StreamEvent, state: RenderState) -> list[Chunk]:
        if isinstance(event, TextDelta):
            prefix = ""
            if state.in_reasoning and self.tags:
                prefix, state.in_reasoning = self.tags[1], False
            return [self._chunk(state, {"content": prefix + event.text})]
        if isinstance(event, ReasoningDelta):
            if self.tags is None or not event.text:
                return []
            prefix = "" if state.in_reasoning else self.tags[0]
            state.in_reasoning = True
            return [self._chunk(state, {"content": prefix + event.text})]
        if isinstance(event, ToolUseStart):
            return [
                self._chunk(
                    state,
                    {
                        "tool_calls": [
                            {
                                "index": max(event.index - 1, 0),
                                "id": event.tool_use_id,
                                "type": "function",
                                "function": {"name": event.name, "arguments": ""},
                            }
                        ]
                    },
                )
            ]
        if isinstance(event, ToolUseDelta):
            return [
                self._chunk(
                    state,
                    {
                        "tool_calls": [
                            {
                                "index": max(event.index - 1, 0),
                                "function": {"arguments": event.input},
                            }
                        ]
                    },
                )
            ]
        end = self._chunk(state, {}, self.native_stop(event.stop_reason))
        end["usage"] = {
            "prompt_tokens": state.input_tokens,
            "completion_tokens": state.output_tokens,
            "total_tokens": state.input_tokens + state.output_tokens,
        }
        return [end]

    def respond(self, text: str, end: StreamEnd, state: RenderState) -> dict[str, Any]:
        return {
            "id": "chatcmpl-local",
            "object": "chat.completion",
            "model": state.model_id,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": self.native_stop(end.stop_reason),
                }
            ],
            "usage": {
                "prompt_tokens": state.input_tokens,
                "completion_tokens": state.output_tokens,
                "total_tokens": state.input_tokens + state.output_tokens,
            },
        }


class Jamba(_ChatCompletions):
    name = "ai21-jamba"
    label = "AI21 Jamba (ai21.jamba-*)"
    prefixes = ("ai21.jamba",)


class GptOss(_ChatCompletions):
    name = "openai-gpt-oss"
    label = "OpenAI gpt-oss (openai.gpt-oss-*)"
    prefixes = ("openai.gpt-oss",)
    carries_reasoning = True
    max_tokens_key = "max_completion_tokens"
    # On InvokeModel gpt-oss puts its reasoning inline, before the answer.
    tags = ("<reasoning>", "</reasoning>")


class DeepSeek(Family):
    name = "deepseek"
    label = "DeepSeek R1 text completion (deepseek.*, e.g. us.deepseek.r1-v1:0)"
    prefixes = ("deepseek.",)
    carries_reasoning = True
    stop_to_native, stop_from_native = _stop_maps({"end_turn": "stop", "max_tokens": "length"})
    # DeepSeek's chat template uses full-width bars and "lower one eighth block" spaces.
    BOS = "<\uff5cbegin\u2581of\u2581sentence\uff5c>"
    USER = "<\uff5cUser\uff5c>"
    ASSISTANT = "<\uff5cAssistant\uff5c>"
    EOS = "<\uff5cend\u2581of\u2581sentence\uff5c>"
    _TURN = re.compile(
        f"({re.escape(USER)}|{re.escape(ASSISTANT)})(.*?)(?={re.escape(USER)}|{re.escape(ASSISTANT)}|$)",
        re.S,
    )

    def build_request(self, prompt: Prompt) -> dict[str, Any]:
        parts = [self.BOS, prompt.system or ""]
        for role, text in prompt.messages:
            parts.append(
                f"{self.USER}{text}" if role == "user" else f"{self.ASSISTANT}{text}{self.EOS}"
            )
        parts.append(self.ASSISTANT)
        body: dict[str, Any] = {"prompt": "".join(parts), "max_tokens": prompt.max_tokens or 1024}
        if prompt.temperature is not None:
            body["temperature"] = prompt.temperature
        return body

    def parse(self, chunk: Chunk, state: ParseState) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        splitter = state.scratch.setdefault("tags", TagSplitter("<think>", "</think>"))
        for choice in chunk.get("choices") or []:
            state.raw_stop = choice.get("stop_reason") or state.raw_stop
            if choice.get("text"):
                events += _split_events(splitter, choice["text"])
        return events

    def finish(self, state: ParseState) -> list[StreamEvent]:
        splitter = state.scratch.get("tags")
        held = (
            []
            if splitter is None
            else [ReasoningDelta(t) if inside else TextDelta(t) for inside, t in splitter.flush()]
        )
        return [*held, *super().finish(state)]

    def read_request(self, body: dict[str, Any]) -> Prompt:
        raw = _require(body, "prompt", str)
        head, sep, _ = raw.partition(self.USER)
        turns = [
            ("user" if tag == self.USER else "assistant", text.removesuffix(self.EOS))
            for tag, text in self._TURN.findall(raw)
        ]
        if sep and turns and turns[-1] == ("assistant", ""):
            system = head.removeprefix(self.BOS) or None
            turns = turns[:-1]
        else:
            system, turns = None, [("user", raw)]
        return Prompt(
            turns, system, _optional_int(body, "max_tokens"), _optional_float(body, "temperature")
        )

    def render(self, event: StreamEvent, state: RenderState) -> list[Chunk]:
        def chunk(text: str, stop: str | None = None) -> Chunk:
            return {"choices": [{"text": text, "stop_reason": stop}]}

        if isinstance(event, ReasoningDelta) and event.text:
            prefix = "" if state.in_reasoning else "<think>"
            state.in_reasoning = True
            return [chunk(prefix + event.text)]
        if isinstance(event, TextDelta):
            prefix = ""
            if state.in_reasoning:
                prefix, state.in_reasoning = "</think>\n\n", False
            return [chunk(prefix + event.text)]
        if isinstance(event, StreamEnd):
            return [chunk("", self.native_stop(event.stop_reason))]
        return []

    def respond(self, text: str, end: StreamEnd, state: RenderState) -> dict[str, Any]:
        return {"choices": [{"text": text, "stop_reason": self.native_stop(end.stop_reason)}]}


# ------------------------------------------------------------------ registry

# Order matters: the most specific prefix of a provider comes first.
FAMILIES: tuple[Family, ...] = (
    AnthropicText(),
    AnthropicMessages(),
    CohereCommandR(),
    CohereCommand(),
    MetaLlama(),
    TitanText(),
    Nova(),
    Mistral(),
    Jamba(),
    DeepSeek(),
    GptOss(),
)


def base_model_id(model_id: str) -> str:
    """The provider-qualified id: ARN and inference-profile region prefix removed.

    >>> base_model_id("arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-8b-instruct-v1:0")
    'meta.llama3-8b-instruct-v1:0'
    >>> base_model_id("global.anthropic.claude-sonnet-4-20250514-v1:0")
    'anthropic.claude-sonnet-4-20250514-v1:0'
    """
    if model_id.startswith("arn:"):
        model_id = model_id.rsplit("/", 1)[-1]
    for prefix in REGION_PREFIXES:
        if model_id.startswith(prefix):
            return model_id[len(prefix) :]
    return model_id


def family_for(model_id: str) -> Family:
    """The family whose request and chunk shapes ``model_id`` speaks.

    Raises :class:`UnsupportedModelError` naming the supported families.
    """
    base = base_model_id(model_id)
    for family in FAMILIES:
        if base.startswith(family.prefixes):
            return family
    raise UnsupportedModelError(
        f"no InvokeModel family for model id {model_id!r}. Supported: "
        + "; ".join(family.label for family in FAMILIES)
        + ". ConverseStream (api='converse', the default) works for any model that supports it."
    )


def invocation_metrics(state: RenderState, latency_ms: int, first_byte_ms: int) -> Chunk:
    """The ``amazon-bedrock-invocationMetrics`` Bedrock adds to a stream's last chunk."""
    return {
        METRICS_KEY: {
            "inputTokenCount": state.input_tokens,
            "outputTokenCount": state.output_tokens,
            "invocationLatency": latency_ms,
            "firstByteLatency": first_byte_ms,
        }
    }


def render_stream(family: Family, events: Iterable[StreamEvent], state: RenderState) -> list[Chunk]:
    """All chunks of a whole answer, metrics on the last (for tests and fixtures)."""
    chunks = family.begin(state)
    for event in events:
        chunks += family.render(event, state)
    if chunks:
        chunks[-1] = {**chunks[-1], **invocation_metrics(state, 0, 0)}
    return chunks
