"""Mistral AI text models on InvokeModel: ``prompt`` in ``<s>[INST] ... [/INST]``.

Bodies and chunks as the Bedrock user guide's "Mistral AI text completion"
page gives them (``prompt``, ``max_tokens``; ``outputs[0].text``,
``outputs[0].stop_reason``).

>>> Mistral().read_request({"prompt": "<s>[INST] hi [/INST]"}).messages
[('user', 'hi')]
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
    stop_maps,
)
from lambdastream.bedrock.families.fields import optional_float, optional_int, require


class Mistral(Family):
    name = "mistral"
    label = "Mistral AI text (mistral.*)"
    prefixes = ("mistral.",)
    stop_to_native, stop_from_native = stop_maps({"end_turn": "stop", "max_tokens": "length"})
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
        raw = require(body, "prompt", str)
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
            turns, system, optional_int(body, "max_tokens"), optional_float(body, "temperature")
        )

    def render(self, event: StreamEvent, state: RenderState) -> list[Chunk]:
        if isinstance(event, TextDelta):
            return [{"outputs": [{"text": event.text, "stop_reason": None}]}]
        if isinstance(event, StreamEnd):
            return [{"outputs": [{"text": "", "stop_reason": self.native_stop(event.stop_reason)}]}]
        return []

    def respond(self, answer: Answer, end: StreamEnd, state: RenderState) -> dict[str, Any]:
        return {
            "outputs": [{"text": answer.text, "stop_reason": self.native_stop(end.stop_reason)}]
        }
