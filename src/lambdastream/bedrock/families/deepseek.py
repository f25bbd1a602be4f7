"""DeepSeek R1 on InvokeModel: ``prompt`` in its chat template, reasoning inline in ``<think>``.

Bodies and chunks as the Bedrock user guide's "DeepSeek models" page gives
them (``prompt``, ``max_tokens``; ``choices[0].text``,
``choices[0].stop_reason``). The reasoning comes first, between ``<think>``
and ``</think>``, in the text itself, streamed or whole.

>>> DeepSeek().respond(Answer("Hmm.", None, "Yes."), StreamEnd("end_turn"),
...                    RenderState("deepseek.r1"))["choices"][0]["text"]
'<think>Hmm.</think>\\n\\nYes.'
"""

from __future__ import annotations

import re
from typing import Any

from lambdastream.bedrock.events import ReasoningDelta, StreamEnd, StreamEvent, TextDelta
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
from lambdastream.bedrock.families.tags import TagSplitter, flush_events, inline, split_events

THINK = ("<think>", "</think>")


class DeepSeek(Family):
    name = "deepseek"
    label = "DeepSeek R1 text completion (deepseek.*, e.g. us.deepseek.r1-v1:0)"
    prefixes = ("deepseek.",)
    carries_reasoning = True
    stop_to_native, stop_from_native = stop_maps({"end_turn": "stop", "max_tokens": "length"})
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
        splitter = state.scratch.setdefault("tags", TagSplitter(*THINK))
        for choice in chunk.get("choices") or []:
            state.raw_stop = choice.get("stop_reason") or state.raw_stop
            if choice.get("text"):
                events += split_events(splitter, choice["text"])
        return events

    def finish(self, state: ParseState) -> list[StreamEvent]:
        return [*flush_events(state.scratch.get("tags")), *super().finish(state)]

    def read_request(self, body: dict[str, Any]) -> Prompt:
        raw = require(body, "prompt", str)
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
            turns, system, optional_int(body, "max_tokens"), optional_float(body, "temperature")
        )

    def render(self, event: StreamEvent, state: RenderState) -> list[Chunk]:
        def chunk(text: str, stop: str | None = None) -> Chunk:
            return {"choices": [{"text": text, "stop_reason": stop}]}

        if isinstance(event, ReasoningDelta) and event.text:
            prefix = "" if state.in_reasoning else THINK[0]
            state.in_reasoning = True
            return [chunk(prefix + event.text)]
        if isinstance(event, TextDelta):
            prefix = ""
            if state.in_reasoning:
                prefix, state.in_reasoning = THINK[1] + "\n\n", False
            return [chunk(prefix + event.text)]
        if isinstance(event, StreamEnd):
            return [chunk("", self.native_stop(event.stop_reason))]
        return []

    def respond(self, answer: Answer, end: StreamEnd, state: RenderState) -> dict[str, Any]:
        text = inline(THINK, answer.reasoning, answer.text, "\n\n")
        return {"choices": [{"text": text, "stop_reason": self.native_stop(end.stop_reason)}]}
