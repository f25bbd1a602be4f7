"""What every family shares: the prompt, the answer, the parse and render states, the base class.

A :class:`Family` knows both sides of one InvokeModel JSON shape:

* the client side, used by :func:`lambdastream.bedrock.stream_text`:
  ``build_request(prompt)`` and ``parse(chunk, state)``, which turns one
  decoded ``chunk.bytes`` object into typed events;
* the server side, used by ``lambdastream bedrock-local``: ``read_request``
  (the family's body back to a :class:`Prompt`), ``render`` (typed events to
  the family's chunk objects) and ``respond`` (a whole InvokeModel answer
  from an :class:`Answer`).

Keeping both in one class makes every family's shape readable in one place
and lets the tests check that ``parse(render(events)) == events``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

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

METRICS_KEY = "amazon-bedrock-invocationMetrics"


class RequestError(ValueError):
    """A request body the family cannot accept (the server answers ValidationException)."""


@dataclass(frozen=True)
class Tool:
    """A tool the caller offers the model: its name and the JSON Schema of its input."""

    name: str
    description: str = ""
    input_schema: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ToolChoice:
    """Whether the model may (``auto``), must (``any``, ``tool``) or must not (``none``) call.

    ``name`` is the tool a ``tool`` choice forces.
    """

    kind: str = "auto"
    name: str | None = None


@dataclass(frozen=True)
class Prompt:
    """A conversation reduced to what every family can express: role/text turns, and tools."""

    messages: list[tuple[str, str]]
    system: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice = ToolChoice()
    # The results of tool calls the last turn hands back (texts), to answer from.
    tool_results: tuple[str, ...] = ()

    @property
    def last_user_text(self) -> str:
        return next((text for role, text in reversed(self.messages) if role == "user"), "")

    @property
    def question(self) -> str:
        """The last user turn that says something (a turn of tool results says nothing)."""
        return next((text for role, text in reversed(self.messages) if role == "user" and text), "")

    def tool(self, name: str) -> Tool | None:
        """The offered tool called ``name``, if the request offers it."""
        return next((tool for tool in self.tools if tool.name == name), None)


@dataclass(frozen=True)
class ToolCall:
    """One tool call of a whole answer: its id, the tool, its input as JSON text."""

    tool_use_id: str
    name: str
    input: str = ""


@dataclass
class Answer:
    """A whole answer as its blocks, for InvokeModel and Converse (the buffered operations).

    Built from the same events a stream renders, so a buffered answer carries
    the reasoning, text and tool calls the streamed one does.

    >>> answer = Answer.from_events([ReasoningDelta("Hmm."), TextDelta("Hi", 1),
    ...                              ToolUseStart("t1", "f", 2), ToolUseDelta('{"a": 1}', 2)])
    >>> (answer.reasoning, answer.text, answer.tool_calls)
    ('Hmm.', 'Hi', [ToolCall(tool_use_id='t1', name='f', input='{"a": 1}')])
    """

    reasoning: str = ""
    signature: str | None = None
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)

    @classmethod
    def from_events(cls, events: Iterable[StreamEvent]) -> Answer:
        answer = cls()
        calls: dict[int, ToolCall] = {}
        for event in events:
            if isinstance(event, TextDelta):
                answer.text += event.text
            elif isinstance(event, ReasoningDelta):
                answer.reasoning += event.text
                answer.signature = event.signature or answer.signature
            elif isinstance(event, ToolUseStart):
                calls[event.index] = ToolCall(event.tool_use_id, event.name)
            elif isinstance(event, ToolUseDelta) and event.index in calls:
                call = calls[event.index]
                calls[event.index] = ToolCall(call.tool_use_id, call.name, call.input + event.input)
        answer.tool_calls = list(calls.values())
        return answer


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


def stop_maps(pairs: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(converse -> native, native -> converse) from a converse -> native table."""
    return pairs, {native: converse for converse, native in pairs.items()}


class Family:
    """One request/chunk shape shared by a set of model ids."""

    name = ""
    label = ""  # human-readable, for error messages
    prefixes: tuple[str, ...] = ()
    stop_to_native: dict[str, str] = {}
    stop_from_native: dict[str, str] = {}
    max_temperature = 1.0  # the model's documented top of the temperature range
    carries_reasoning = False  # whether its chunks can carry a ReasoningDelta
    carries_tools = False  # whether its requests offer tools and its chunks carry calls

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

    def respond(self, answer: Answer, end: StreamEnd, state: RenderState) -> dict[str, Any]:
        """The whole InvokeModel body for ``answer``."""
        raise NotImplementedError

    def native_stop(self, stop_reason: str | None) -> str:
        return self.stop_to_native.get(stop_reason or "end_turn", stop_reason or "end_turn")


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
