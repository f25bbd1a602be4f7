"""The Vercel AI SDK's UI message stream protocol, v1 (AI SDK 5 and later).

What ``useChat`` (its ``DefaultChatTransport``) posts, mapped onto one
Converse call, and Bedrock's typed events written back as the stream it reads:

- :data:`HEADERS`: the response headers (``x-vercel-ai-ui-message-stream: v1``).
- :func:`parse_chat_request`: the posted body -> :class:`BedrockCall`, or a
  :class:`ProtocolError` to send before any model call.
- :func:`response_message_id`: the id the answer's message must carry.
- :func:`stream_parts`: events -> Server-Sent Events, ``data: {json}\\n\\n``.

Sources (github.com/vercel/ai, read at ai 5.0.244, 6.0.264, 7.0.77, and in
the packages the conformance test installs, ai 5.0.285, 6.0.333, 7.0.185):

- ``packages/ai/src/ui-message-stream/ui-message-chunks.ts``: every part's
  fields (``uiMessageChunkSchema``). From ai 5.0.0 to the 7.0 releases it
  parsed each part with ``z.strictObject``: a key it does not know failed the
  part, so only schema keys are sent here.
- ``json-to-sse-transform-stream.ts``: ``data: ${JSON.stringify(part)}\\n\\n``
  for each part, then ``data: [DONE]\\n\\n`` when the stream closes.
- ``ui-message-stream-headers.ts``: ``UI_MESSAGE_STREAM_HEADERS``.
- ``packages/ai/src/ui/ui-messages.ts``: ``UIMessage`` and its parts.
- ``packages/ai/src/ui/http-chat-transport.ts`` and
  ``default-chat-transport.ts``: the body posted (``{...body, id, messages,
  trigger, messageId}``), and a non-2xx answer thrown as
  ``new Error(await response.text())``.
- ``packages/ai/src/ui/convert-to-model-messages.ts``: how the SDK itself
  turns UI messages into model messages (one step per ``step-start``; an
  assistant turn, then the tool results).
- The docs page "Stream Protocols" (ai-sdk.dev/docs/ai-sdk-ui/stream-protocol):
  "set the ``x-vercel-ai-ui-message-stream`` header to ``v1``".

Decisions, with their grounds:

- A refusal is ``{"error": {"code", "message"}}`` with a 4xx status (the chat
  example's shape). The SDK shows no structure of its own for it: the
  transport throws ``Error(response text)``, so ``useChat``'s ``error.message``
  is this JSON text, which the page may ``JSON.parse``.
- Order: ``start`` (before the model answers), then on the first event
  ``start-step``; each content block as ``text-start``/``-delta``/``-end``,
  ``reasoning-start``/``-delta``/``-end`` or ``tool-input-start``/``-delta``
  then ``tool-input-available`` (the parsed input; ``tool-input-error`` when it
  is not JSON, as ``to-ui-message-chunk.ts`` does for an invalid call); a block
  ends when the next one starts or the stream ends (Bedrock's events carry the
  block ``index``, not its end). Then ``finish-step``, ``finish`` and
  ``[DONE]``. Ids: ``text-{index}``, ``reasoning-{index}``; a tool call's id is
  Bedrock's ``toolUseId``.
- ``finish`` carries ``finishReason``, mapped as the SDK's own Bedrock
  provider maps stop reasons (``map-amazon-bedrock-finish-reason.ts``). The
  field is in the schema from ai 5.0.92 on (5.0.0 to 5.0.91 refuse it).
- Usage goes out only when asked (``include_usage=True``), as ``finish``'s
  ``messageMetadata`` ``{"usage": {"inputTokens", "outputTokens",
  "totalTokens"}}`` (the SDK's ``LanguageModelUsage`` names): the schema
  allows any metadata, but a page that declares a ``messageMetadataSchema``
  validates the message's metadata against it.
- An error the events raise (:class:`BedrockStreamError`) becomes
  ``{"type": "error", "errorText"}`` and the stream ends with ``[DONE]``, as
  ``createUIMessageStream`` writes a thrown error then closes the stream
  (``JsonToSseTransformStream`` adds ``[DONE]`` on close). The text names the
  AWS error code only by default: Bedrock's messages can hold account ids and
  ARNs (the SDK's own default is ``'An error occurred.'``).
- Tool calls without a result (``input-streaming``, ``input-available``,
  approvals pending) are left out of the request: Converse wants every
  ``toolUse`` answered in the next user turn (the SDK's
  ``ignoreIncompleteToolCalls``). Reasoning parts are left out too: Converse
  needs the signature they do not carry.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

from lambdastream.bedrock.errors import BedrockStreamError
from lambdastream.bedrock.events import (
    ReasoningDelta,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolUseDelta,
    ToolUseStart,
)
from lambdastream.chatapi.ui_messages import no_constant, parse_chat_request, response_message_id

__all__ = ["HEADERS", "parse_chat_request", "response_message_id", "stream_parts"]

HEADERS: Mapping[str, str] = MappingProxyType(
    {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        "connection": "keep-alive",
        "x-vercel-ai-ui-message-stream": "v1",
        "x-accel-buffering": "no",
    }
)
"""The response headers, as the SDK's ``UI_MESSAGE_STREAM_HEADERS``."""

DONE = b"data: [DONE]\n\n"
# map-amazon-bedrock-finish-reason.ts; any other stop reason is 'other'.
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "content_filtered": "content-filter",
    "guardrail_intervened": "content-filter",
    "tool_use": "tool-calls",
}


# -------------------------------------------------------------- the stream
def stream_parts(
    events: Iterable[StreamEvent],
    *,
    message_id: str | None,
    include_usage: bool = False,
    error_text: Callable[[BedrockStreamError], str] | None = None,
) -> Iterator[bytes]:
    """The UI message stream of Bedrock's ``events``, one SSE event per ``bytes``.

    Each part goes out as soon as its event arrives (``start`` before the
    first event is waited for). ``message_id`` is the answer's message id
    (:func:`response_message_id`), or ``None`` to let the page choose it.
    ``include_usage`` adds the token counts to ``finish`` as
    ``messageMetadata``. A :class:`BedrockStreamError` raised by ``events``
    becomes an ``error`` part (its text: ``error_text(exc)``, by default the
    AWS error code only), then ``[DONE]``; any other exception propagates.

    >>> from lambdastream.bedrock.events import StreamEnd, TextDelta
    >>> for chunk in stream_parts([TextDelta("Hi"), StreamEnd("end_turn")], message_id="m1"):
    ...     print(chunk)
    b'data: {"type":"start","messageId":"m1"}\\n\\n'
    b'data: {"type":"start-step"}\\n\\n'
    b'data: {"type":"text-start","id":"text-0"}\\n\\n'
    b'data: {"type":"text-delta","id":"text-0","delta":"Hi"}\\n\\n'
    b'data: {"type":"text-end","id":"text-0"}\\n\\n'
    b'data: {"type":"finish-step"}\\n\\n'
    b'data: {"type":"finish","finishReason":"stop"}\\n\\n'
    b'data: [DONE]\\n\\n'
    """
    start: dict[str, Any] = {"type": "start"}
    if message_id is not None:
        start["messageId"] = message_id
    yield _sse(start)
    encoder = _Encoder(include_usage=include_usage)
    iterator: Iterator[StreamEvent] | None = None
    try:
        try:
            iterator = iter(events)
            while not encoder.ended:
                try:
                    event = next(iterator)
                except StopIteration:
                    break
                for part in encoder.feed(event):
                    yield _sse(part)
        except BedrockStreamError as exc:
            text = error_text(exc) if error_text is not None else _default_error_text(exc)
            yield _sse({"type": "error", "errorText": text})
            yield DONE
            return
        for part in encoder.end():
            yield _sse(part)
        yield DONE
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()  # the model's HTTP stream, when the page went away early


def _default_error_text(exc: BedrockStreamError) -> str:
    return f"The model stream failed ({exc.code})."


def _sse(part: Mapping[str, Any]) -> bytes:
    """One part as ``JSON.stringify`` writes it, in one ``data:`` line."""
    text = json.dumps(part, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: JSON escapes it, JSON.parse accepts it
        encoded = json.dumps(part, separators=(",", ":"), allow_nan=False).encode("ascii")
    return b"data: " + encoded + b"\n\n"


class _Encoder:
    """Bedrock events -> UI message chunks; one content block open at a time."""

    def __init__(self, *, include_usage: bool) -> None:
        self.include_usage = include_usage
        self.step_started = False
        self.ended = False
        self.block: tuple[str, int] | None = None  # (kind, index): text, reasoning or tool
        self.tool_id = ""
        self.tool_name = ""
        self.tool_input: list[str] = []

    def feed(self, event: StreamEvent) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if not self.step_started:
            self.step_started = True
            out.append({"type": "start-step"})
        if isinstance(event, TextDelta | ReasoningDelta):
            # A reasoning signature or redacted blob has nothing to show.
            if event.text:
                kind = "text" if isinstance(event, TextDelta) else "reasoning"
                block_id = f"{kind}-{event.index}"
                if self.block != (kind, event.index):
                    self._close(out)
                    self.block = (kind, event.index)
                    out.append({"type": f"{kind}-start", "id": block_id})
                out.append({"type": f"{kind}-delta", "id": block_id, "delta": event.text})
        elif isinstance(event, ToolUseStart):
            self._close(out)
            self.block = ("tool", event.index)
            self.tool_id, self.tool_name, self.tool_input = event.tool_use_id, event.name, []
            out.append(
                {"type": "tool-input-start", "toolCallId": self.tool_id, "toolName": self.tool_name}
            )
        elif isinstance(event, ToolUseDelta):
            # Input for a call that has ended (or never started) has no part to go to.
            if event.input and self.block == ("tool", event.index):
                self.tool_input.append(event.input)
                out.append(
                    {
                        "type": "tool-input-delta",
                        "toolCallId": self.tool_id,
                        "inputTextDelta": event.input,
                    }
                )
        elif isinstance(event, StreamEnd):
            self._close(out)
            out.append({"type": "finish-step"})
            finish: dict[str, Any] = {
                "type": "finish",
                "finishReason": FINISH_REASONS.get(event.stop_reason or "", "other"),
            }
            if self.include_usage:
                usage = event.usage
                counts = {
                    "inputTokens": usage.input_tokens,
                    "outputTokens": usage.output_tokens,
                    "totalTokens": usage.total_tokens,
                }
                finish["messageMetadata"] = {
                    "usage": {k: v for k, v in counts.items() if v is not None}
                }
            out.append(finish)
            self.ended = True
        return out

    def end(self) -> list[dict[str, Any]]:
        """The parts that close a stream whose events stopped without a StreamEnd."""
        if self.ended:
            return []
        out: list[dict[str, Any]] = []
        self._close(out)
        if self.step_started:
            out.append({"type": "finish-step"})
        out.append({"type": "finish"})
        return out

    def _close(self, out: list[dict[str, Any]]) -> None:
        if self.block is None:
            return
        kind, index = self.block
        self.block = None
        if kind != "tool":
            out.append({"type": f"{kind}-end", "id": f"{kind}-{index}"})
            return
        text = "".join(self.tool_input)
        call = {"toolCallId": self.tool_id, "toolName": self.tool_name}
        try:
            tool_input = json.loads(text, parse_constant=no_constant) if text.strip() else {}
        except (ValueError, RecursionError) as exc:
            out.append(
                {
                    "type": "tool-input-error",
                    **call,
                    "input": text,
                    "errorText": f"the tool input is not valid JSON: {exc}",
                }
            )
            return
        out.append({"type": "tool-input-available", **call, "input": tool_input})
