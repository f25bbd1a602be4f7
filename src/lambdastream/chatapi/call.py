"""What a chat protocol's request becomes: one Bedrock call, or a refusal.

Both protocols map onto the same thing: the keyword arguments of
:func:`lambdastream.bedrock.stream_text` (Converse's vocabulary). A request
that cannot be mapped is a :class:`ProtocolError`, carrying the HTTP status
and the body already in the protocol's own error shape, so the caller only
sends it.

>>> call = BedrockCall(messages=[{"role": "user", "content": [{"text": "hi"}]}], max_tokens=64)
>>> sorted(call.stream_text_kwargs())
['max_tokens', 'messages', 'request_options', 'system', 'temperature']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class BedrockCall:
    """One ConverseStream call: ``stream_text(client, model_id, **call.stream_text_kwargs())``.

    ``request_options`` holds what ``stream_text`` takes no argument for
    (``toolConfig``, ``additionalModelRequestFields``, and a whole
    ``inferenceConfig`` when ``topP`` or ``stopSequences`` are asked for:
    it replaces the one built from ``max_tokens`` and ``temperature``, so it
    repeats them).
    """

    messages: list[dict[str, Any]]
    max_tokens: int
    system: str | None = None
    temperature: float | None = None
    model_id: str | None = None  # None: the caller's default model
    stream: bool = True
    include_usage: bool = False  # OpenAI's stream_options.include_usage
    request_options: dict[str, Any] = field(default_factory=dict)

    def stream_text_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of ``stream_text`` after ``client`` and ``model_id``."""
        return {
            "messages": self.messages,
            "system": self.system,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "request_options": dict(self.request_options),
        }


class ProtocolError(Exception):
    """A request refused, with the protocol's own error body.

    ``body`` is JSON-ready (a ``dict``); ``status`` the HTTP status to send.
    """

    def __init__(self, status: int, body: dict[str, Any], message: str):
        super().__init__(message)
        self.status = status
        self.body = body
        self.message = message
