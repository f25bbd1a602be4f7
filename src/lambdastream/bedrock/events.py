"""Typed events that :func:`lambdastream.bedrock.stream_text` yields.

Every model family streams a different JSON shape; these few classes are what
they all become. ``stop_reason`` uses ConverseStream's vocabulary
(``end_turn``, ``max_tokens``, ``stop_sequence``, ``tool_use``, ...) for every
family; ``raw_stop_reason`` keeps the family's own word.

Example::

    for event in stream_text(client, model_id, prompt="hi"):
        if isinstance(event, TextDelta):
            print(event.text, end="")
        elif isinstance(event, StreamEnd):
            print(event.stop_reason, event.usage.output_tokens)
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the answer's text. ``index`` is the content block it belongs to."""

    text: str
    index: int = 0


@dataclass(frozen=True, slots=True)
class ToolUseStart:
    """The model starts calling tool ``name``; its input follows as :class:`ToolUseDelta`."""

    tool_use_id: str
    name: str
    index: int = 0


@dataclass(frozen=True, slots=True)
class ToolUseDelta:
    """A piece of a tool call's input: partial JSON text, to be concatenated."""

    input: str
    index: int = 0


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A piece of the model's reasoning (``text``), or its ``signature`` / ``redacted`` blob."""

    text: str = ""
    signature: str | None = None
    redacted: bytes | None = None
    index: int = 0


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts; ``None`` where the model did not report one."""

    input_tokens: int | None = None
    output_tokens: int | None = None

    @property
    def total_tokens(self) -> int | None:
        if self.input_tokens is None or self.output_tokens is None:
            return None
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The last event of every successful stream."""

    stop_reason: str | None
    usage: Usage = field(default_factory=Usage)
    raw_stop_reason: str | None = None
    latency_ms: int | None = None


StreamEvent = TextDelta | ToolUseStart | ToolUseDelta | ReasoningDelta | StreamEnd
