"""Cohere on InvokeModel: Command (text, ``prompt``) and Command R / R+ (``message``).

Bodies and chunks as the Bedrock user guide's Cohere pages give them:
Command streams ``{"text", "is_finished", "finish_reason"}`` when the body
says ``"stream": true``; Command R streams ``event_type`` events
(``stream-start``, ``text-generation``, ``stream-end``).

>>> CohereCommandR().read_request({"message": "hi", "preamble": "Be brief."}).system
'Be brief.'
"""

from __future__ import annotations

import re
from typing import Any

from lambdastream.bedrock.events import StreamEnd, StreamEvent, TextDelta
from lambdastream.bedrock.families.base import (
    Answer,
    Chunk,
    Family,
    ParseState,
    Prompt,
    RenderState,
    RequestError,
)
from lambdastream.bedrock.families.fields import (
    optional,
    optional_float,
    optional_int,
    require,
    typed,
)

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
        turns, system = _cohere_unflatten(require(body, "prompt", str))
        return Prompt(
            turns,
            system,
            optional_int(body, "max_tokens"),
            optional_float(body, "temperature", maximum=self.max_temperature),
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

    def respond(self, answer: Answer, end: StreamEnd, state: RenderState) -> dict[str, Any]:
        return {
            "id": "local",
            "prompt": None,
            "generations": [
                {
                    "id": "local-0",
                    "text": answer.text,
                    "finish_reason": self.native_stop(end.stop_reason),
                }
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
        message = require(body, "message", str)
        turns = []
        for i, item in enumerate(optional(body, "chat_history", list) or []):
            path = f"#/chat_history/{i}"
            role = require(typed(item, dict, path), "role", str, path)
            if role not in ("USER", "CHATBOT"):
                raise RequestError(f"{path}/role: {role} is not a valid enum value")
            text = require(item, "message", str, path)
            turns.append(("user" if role == "USER" else "assistant", text))
        return Prompt(
            [*turns, ("user", message)],
            optional(body, "preamble", str),
            optional_int(body, "max_tokens"),
            optional_float(body, "temperature"),
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

    def respond(self, answer: Answer, end: StreamEnd, state: RenderState) -> dict[str, Any]:
        return {
            "response_id": "local",
            "generation_id": "local",
            "text": answer.text,
            "finish_reason": self.native_stop(end.stop_reason),
            "chat_history": [],
        }
