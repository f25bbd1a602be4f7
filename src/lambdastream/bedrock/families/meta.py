"""Meta Llama on InvokeModel: ``prompt`` in the model's chat template, ``generation`` chunks.

Templates from Meta's model cards ("Llama 3 prompt format", "Llama 4 prompt
format"): ``<|begin_of_text|><|start_header_id|>user<|end_header_id|>\\n\\n
...<|eot_id|><|start_header_id|>assistant<|end_header_id|>\\n\\n``; Llama 4
spells the tokens ``<|header_start|>``, ``<|header_end|>``, ``<|eot|>``.
Callers differ in the whitespace: langchain-aws's ``ChatBedrock``
(``convert_messages_to_prompt_llama3`` in ``chat_models/bedrock.py``) puts no
newline after a turn's header and one between turns, so the reader takes
zero to two newlines after a header and any whitespace between turns.

>>> MetaLlama().read_request({"prompt": "<|begin_of_text|>\\n<|start_header_id|>user"
...     "<|end_header_id|>Why stream?<|eot_id|>\\n"
...     "<|start_header_id|>assistant<|end_header_id|>\\n\\n"}).messages
[('user', 'Why stream?')]
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

BEGIN = "<|begin_of_text|>"
# (header start, header end, end of turn tokens) of Llama 3 and Llama 4.
_TEMPLATES = (
    ("<|start_header_id|>", "<|end_header_id|>", ("<|eot_id|>", "<|eom_id|>")),
    ("<|header_start|>", "<|header_end|>", ("<|eot|>", "<|eom|>")),
)
_ROLES = ("system", "user", "assistant", "ipython", "tool")


def _template_turns(raw: str) -> list[tuple[str, str]] | None:
    """The (role, text) turns of a Llama 3/4 chat prompt, or None if it is not one.

    The prompt must end by opening the assistant's turn, as a chat prompt does.
    """
    for start, end, ends in _TEMPLATES:
        turn = re.compile(
            rf"\s*{re.escape(start)}({'|'.join(_ROLES)}){re.escape(end)}\n{{0,2}}(.*?)"
            rf"(?:{'|'.join(re.escape(e) for e in ends)})",
            re.S,
        )
        tail = re.compile(rf"\s*{re.escape(start)}assistant{re.escape(end)}\s*")
        at = len(BEGIN) if raw.startswith(BEGIN) else 0
        turns = []
        while match := turn.match(raw, at):
            turns.append((match[1], match[2]))
            at = match.end()
        if turns and tail.fullmatch(raw, at):
            return turns
    return None


class MetaLlama(Family):
    name = "meta"
    label = "Meta Llama 2/3/4 (meta.llama*)"
    prefixes = ("meta.",)
    stop_to_native, stop_from_native = stop_maps({"end_turn": "stop", "max_tokens": "length"})

    def build_request(self, prompt: Prompt) -> dict[str, Any]:
        # One template serves Llama 3 and later; Llama 2 read it well enough for a chat turn.
        turns = [("system", prompt.system)] if prompt.system else []
        turns += prompt.messages
        text = (
            BEGIN
            + "".join(
                f"<|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>"
                for role, content in turns
            )
            + "<|start_header_id|>assistant<|end_header_id|>\n\n"
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
        raw = require(body, "prompt", str)
        turns = _template_turns(raw)
        system, results = None, []
        if turns is None:  # a bare prompt (or Llama 2's [INST]): the model reads it whole
            messages = [("user", raw)]
        else:
            system = "\n".join(text for role, text in turns if role == "system") or None
            messages = []
            for role, text in turns:
                if role in ("ipython", "tool"):  # a tool's output, handed back
                    results.append(text)
                elif role != "system":
                    messages.append((role, text))
                    results = [] if role == "user" else results
            messages = messages or [("user", "")]
        return Prompt(
            messages,
            system,
            optional_int(body, "max_gen_len"),
            optional_float(body, "temperature"),
            tool_results=tuple(results),
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

    def respond(self, answer: Answer, end: StreamEnd, state: RenderState) -> dict[str, Any]:
        return {
            "generation": answer.text,
            "prompt_token_count": state.input_tokens,
            "generation_token_count": state.output_tokens,
            "stop_reason": self.native_stop(end.stop_reason),
        }
