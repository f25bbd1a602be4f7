"""Stream Amazon Bedrock models, token by token, from any model family.

Public names::

    stream_text(client, model_id, *, messages=None, prompt=None, system=None,
                max_tokens=1024, temperature=None, api="converse", retry=None,
                request_options=None) -> BedrockStream
    text_deltas(client, model_id, **same) -> Iterator[str]
    TextDelta, ToolUseStart, ToolUseDelta, ReasoningDelta, StreamEnd, Usage
    BedrockStreamError, UnsupportedModelError, RetryPolicy
    default_config(), default_client()

Nothing here imports boto3 at import time: pass your own client, or ``None``
for a cached one.

Example::

    from lambdastream.bedrock import stream_text

    def handler(event, context):
        yield from stream_text(None, "us.anthropic.claude-3-5-haiku-20241022-v1:0",
                               prompt=event["question"]).text()
"""

from __future__ import annotations

from lambdastream.bedrock.errors import BedrockError, BedrockStreamError, UnsupportedModelError
from lambdastream.bedrock.events import (
    ReasoningDelta,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolUseDelta,
    ToolUseStart,
    Usage,
)
from lambdastream.bedrock.stream import (
    BedrockStream,
    RetryPolicy,
    default_client,
    default_config,
    stream_text,
    text_deltas,
)

__all__ = [
    "BedrockError",
    "BedrockStream",
    "BedrockStreamError",
    "ReasoningDelta",
    "RetryPolicy",
    "StreamEnd",
    "StreamEvent",
    "TextDelta",
    "ToolUseDelta",
    "ToolUseStart",
    "UnsupportedModelError",
    "Usage",
    "default_client",
    "default_config",
    "stream_text",
    "text_deltas",
]
