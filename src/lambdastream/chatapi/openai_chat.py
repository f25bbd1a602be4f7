"""OpenAI's chat completions protocol, served from Bedrock's typed events.

``POST /v1/chat/completions``: :func:`parse_chat_completions` maps the
request onto one ConverseStream call (:mod:`~lambdastream.chatapi.openai_request`
and :mod:`~lambdastream.chatapi.openai_messages` tell what is mapped, refused
and ignored); its events become Server-Sent Events of
``chat.completion.chunk`` objects (:func:`stream_chunks`), or one
``chat.completion`` object (:func:`completion`). ``GET /v1/models`` is
:func:`models_list`. Refusals and Bedrock's failures are OpenAI's error
bodies (:mod:`~lambdastream.chatapi.openai_errors`). Pure: no sockets, no
boto3; routes, authentication and ids are the caller's.

The stream, as OpenAI sends it: a first chunk with ``delta: {"role":
"assistant", "content": ""}``; ``delta.content`` per piece of text;
``delta.tool_calls: [{"index", "id", "type": "function", "function":
{"name", "arguments": ""}}]`` when a tool call starts, then ``[{"index",
"function": {"arguments": piece}}]`` per piece of its input (``index``
counts the answer's tool calls from 0); a last chunk with an empty
``delta`` and the ``finish_reason``; with
``stream_options.include_usage``, ``"usage": null`` on every chunk and one
more with ``choices: []`` and the usage; then ``data: [DONE]``. Reasoning is
``delta.reasoning_content`` (and ``message.reasoning_content``): not
OpenAI's (its API returns no reasoning text) but the field DeepSeek's API
defines for it ("Reasoning Model (deepseek-reasoner)" in DeepSeek's API
guides) and vLLM ("Reasoning Outputs", docs.vllm.ai, before 0.11 renamed it
``reasoning``) and LiteLLM send; openai-python keeps unknown fields, so its
clients read it as ``delta.reasoning_content``.

Sources: OpenAI's API reference, "Create chat completion" and "The chat
completion chunk object" (platform.openai.com/docs/api-reference/chat);
openai-python's types, ``src/openai/types/chat/chat_completion_chunk.py``,
``chat_completion.py``, ``src/openai/types/completion_usage.py`` (the tests
validate every chunk and body against them), and ``src/openai/_streaming.py``
(``Stream.__stream__``: a ``data:`` whose JSON has ``error`` raises
``APIError`` with ``error.message``; ``[DONE]`` ends the stream); the
chunks OpenAI's live API sent for envoyproxy/ai-gateway's recorded tests
(``tests/extproc/vcr/chat_completions_test.go``: ``usage: null`` on each
chunk, ``choices: []`` on the usage chunk); Bedrock's ConverseStream stop
reasons (``StopReason`` in the Bedrock API reference).

>>> from lambdastream.bedrock.events import StreamEnd, TextDelta
>>> for line in stream_chunks([TextDelta("Hi"), StreamEnd("end_turn")], model="m",
...                           completion_id="chatcmpl-1", created=0, include_usage=False):
...     print(line.decode().strip())
data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}
data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}
data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}
data: [DONE]
"""  # noqa: E501

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from lambdastream.bedrock.errors import BedrockStreamError
from lambdastream.bedrock.events import (
    ReasoningDelta,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolUseDelta,
    ToolUseStart,
    Usage,
)
from lambdastream.chatapi.openai_errors import (
    bedrock_error,
    error_body,
    invalid_api_key,
    model_not_found,
    server_error,
)
from lambdastream.chatapi.openai_request import parse_chat_completions

__all__ = [
    "bedrock_error",
    "completion",
    "error_body",
    "error_event",
    "finish_reason",
    "invalid_api_key",
    "model_not_found",
    "models_list",
    "parse_chat_completions",
    "stream_chunks",
]

# ConverseStream's stop reasons -> OpenAI's finish_reason ("stop" for any other).
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "content_filtered": "content_filter",
    "guardrail_intervened": "content_filter",
}
DONE = b"data: [DONE]\n\n"


def finish_reason(stop_reason: str | None) -> str:
    """OpenAI's ``finish_reason`` for a ConverseStream stop reason.

    >>> finish_reason("max_tokens"), finish_reason("tool_use"), finish_reason(None)
    ('length', 'tool_calls', 'stop')
    """
    return FINISH_REASONS.get(stop_reason or "", "stop")


def _sse(data: Mapping[str, Any]) -> bytes:
    # Compact JSON on one line: json.dumps escapes CR and LF inside strings.
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return b"data: " + text.encode() + b"\n\n"


def _usage(usage: Usage) -> dict[str, int]:
    prompt, completion_tokens = usage.input_tokens or 0, usage.output_tokens or 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt + completion_tokens,
    }


def error_event(exc: BaseException) -> bytes:
    """The SSE event OpenAI's clients raise ``APIError`` on: ``data: {"error": {...}}``.

    A :class:`BedrockStreamError` says what Bedrock said
    (:func:`bedrock_error`); anything else is a generic ``server_error``.

    >>> error_event(BedrockStreamError("throttlingException", "Slow down",
    ...                                after_first_token=True)).decode()[:60]
    'data: {"error":{"message":"Slow down (Bedrock: throttlingExc'
    """
    if isinstance(exc, BedrockStreamError):
        return _sse(bedrock_error(exc.code, exc.message).body)
    return _sse(server_error().body)


def _incomplete() -> BedrockStreamError:
    message = "the model's stream ended without a stop reason"
    return BedrockStreamError("IncompleteStreamError", message, after_first_token=True)


def stream_chunks(
    events: Iterable[StreamEvent],
    *,
    model: str,
    completion_id: str,
    created: int,
    include_usage: bool,
) -> Iterator[bytes]:
    """The answer as OpenAI streams it: one SSE event per chunk, as its event arrives.

    The role chunk is yielded at once, before the first event is read; every
    later chunk as soon as its event arrives (nothing is held back). Empty
    pieces of text make no chunk; reasoning signatures and redacted
    reasoning none either. A tool call that got no input is given ``{}``
    before the last chunk. Missing token counts are reported as 0.

    When ``events`` raises (Bedrock failed mid-stream: a
    :class:`BedrockStreamError`), the error event of :func:`error_event` is
    yielded, without ``[DONE]``, and then the exception is raised again: a
    Lambda handler that ``yield from``\\ s this lets the runtime report the
    invocation as failed (error trailers after the body), while the client
    has already been told, in its own protocol. Catch it to end quietly. A
    stream that ends without :class:`StreamEnd` is such an error too: a cut
    answer is never passed off as a whole one. A caller that wants Bedrock's
    failures before the first token as an HTTP status reads the first event
    itself before answering (``first = next(iter(stream))``, then
    ``stream_chunks(itertools.chain([first], stream), ...)``).

    >>> from lambdastream.bedrock.events import StreamEnd, TextDelta, Usage
    >>> chunks = list(stream_chunks([TextDelta("Hi"), StreamEnd("end_turn", Usage(3, 1))],
    ...     model="m", completion_id="chatcmpl-1", created=0, include_usage=True))
    >>> len(chunks), chunks[-1]
    (5, b'data: [DONE]\\n\\n')
    >>> json.loads(chunks[-2][6:])["usage"]
    {'prompt_tokens': 3, 'completion_tokens': 1, 'total_tokens': 4}
    """
    head: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        body = {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        if include_usage:
            body["usage"] = None
        return _sse(body)

    def tool_delta(index: int, arguments: str) -> bytes:
        return chunk({"tool_calls": [{"index": index, "function": {"arguments": arguments}}]})

    yield chunk({"role": "assistant", "content": ""})
    calls: dict[int, int] = {}  # Bedrock's content block index -> OpenAI's tool call index
    without_input: set[int] = set()
    ended = False
    iterator = iter(events)
    while True:
        try:
            event = next(iterator)
        except StopIteration:
            break
        except Exception as exc:
            yield error_event(exc)
            raise
        if ended:
            continue
        if isinstance(event, TextDelta):
            if event.text:
                yield chunk({"content": event.text})
        elif isinstance(event, ReasoningDelta):
            if event.text:
                yield chunk({"reasoning_content": event.text})
        elif isinstance(event, ToolUseStart):
            index = calls[event.index] = len(calls)
            without_input.add(index)
            function = {"name": event.name, "arguments": ""}
            call = {"index": index, "id": event.tool_use_id, "type": "function"}
            yield chunk({"tool_calls": [{**call, "function": function}]})
        elif isinstance(event, ToolUseDelta):
            if event.input and calls:
                index = calls.get(event.index, len(calls) - 1)
                without_input.discard(index)
                yield tool_delta(index, event.input)
        elif isinstance(event, StreamEnd):
            ended = True
            for index in sorted(without_input):
                yield tool_delta(index, "{}")
            yield chunk({}, finish_reason(event.stop_reason))
            if include_usage:
                yield _sse({**head, "choices": [], "usage": _usage(event.usage)})
    if not ended:
        incomplete = _incomplete()
        yield error_event(incomplete)
        raise incomplete
    yield DONE


def completion(
    events: Iterable[StreamEvent], *, model: str, completion_id: str, created: int
) -> dict[str, Any]:
    """The whole answer as OpenAI's ``chat.completion`` object.

    ``message.content`` is the text (``null`` when the answer is only tool
    calls), ``message.tool_calls`` the calls with their whole arguments,
    ``message.reasoning_content`` the reasoning, if any. Bedrock's failure
    is raised (:class:`BedrockStreamError`): answer it with
    :func:`bedrock_error`'s status and body.

    >>> from lambdastream.bedrock.events import StreamEnd, TextDelta, Usage
    >>> body = completion([TextDelta("Hi"), StreamEnd("max_tokens", Usage(3, 1))], model="m",
    ...                   completion_id="chatcmpl-1", created=0)
    >>> choice = body["choices"][0]
    >>> body["object"], choice["message"]["content"], choice["finish_reason"]
    ('chat.completion', 'Hi', 'length')
    """
    text: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    arguments: list[list[str]] = []
    by_block: dict[int, int] = {}
    end: StreamEnd | None = None
    for event in events:
        if end is not None:
            continue
        if isinstance(event, TextDelta):
            text.append(event.text)
        elif isinstance(event, ReasoningDelta):
            reasoning.append(event.text)
        elif isinstance(event, ToolUseStart):
            by_block[event.index] = len(calls)
            calls.append({"id": event.tool_use_id, "type": "function", "name": event.name})
            arguments.append([])
        elif isinstance(event, ToolUseDelta) and calls:
            arguments[by_block.get(event.index, len(calls) - 1)].append(event.input)
        elif isinstance(event, StreamEnd):
            end = event
    if end is None:
        raise _incomplete()
    content = "".join(text)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": content or (None if calls else ""),
        "refusal": None,
    }
    if calls:
        message["tool_calls"] = [
            {
                "id": call["id"],
                "type": "function",
                "function": {"name": call["name"], "arguments": "".join(parts) or "{}"},
            }
            for call, parts in zip(calls, arguments, strict=True)
        ]
    if any(reasoning):
        message["reasoning_content"] = "".join(reasoning)
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason(end.stop_reason),
            }
        ],
        "usage": _usage(end.usage),
    }


def models_list(
    models: Sequence[str], *, created: int = 0, owned_by: str = "amazon-bedrock"
) -> dict[str, Any]:
    """``GET /v1/models``: OpenAI's list of model objects.

    >>> models_list(["us.amazon.nova-lite-v1:0"])
    {'object': 'list', 'data': [{'id': 'us.amazon.nova-lite-v1:0', 'object': 'model', 'created': 0, 'owned_by': 'amazon-bedrock'}]}
    """  # noqa: E501
    return {
        "object": "list",
        "data": [
            {"id": model, "object": "model", "created": created, "owned_by": owned_by}
            for model in models
        ],
    }
