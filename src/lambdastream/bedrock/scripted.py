"""The scripted model behind ``bedrock-local``: what it says, in which blocks, at which pace.

Two scripts. ``answer`` (the default) writes a Markdown answer about the
question (:mod:`lambdastream.bedrock.answers`); ``echo`` answers
``You said: <your last message>``, for tests that assert exact text. A
request asks for echo with ``[[echo]]``; a server for every request with
``--script echo`` or ``LAMBDASTREAM_BEDROCK_SCRIPT=echo`` (which
``lambdastream dev --bedrock-local`` inherits).

The model calls a tool the request offers when the ``toolChoice`` forces it
(``any``, ``tool``), when the question names it (``auto``: "weather" for
``get_weather``), or when the prompt says ``[[tool:NAME]]``; its input
satisfies the tool's schema (:mod:`lambdastream.bedrock.tool_input`). Given
the tool's results back, it answers from them and calls nothing.

A token is a word with the whitespace before it; the usage counts exactly
the tokens sent (reasoning and tool input included).

>>> backend = ScriptedBackend(script="echo")
>>> [type(e).__name__ for e in backend.plan(Prompt([("user", "hi")]), [])[0]]
['TextDelta', 'TextDelta', 'TextDelta']
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import random
import re
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from lambdastream.bedrock import answers
from lambdastream.bedrock.backends import Directives, prompt_tokens, tokens_of
from lambdastream.bedrock.events import (
    ReasoningDelta,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolUseDelta,
    ToolUseStart,
    Usage,
)
from lambdastream.bedrock.families import Prompt, Tool
from lambdastream.bedrock.tool_input import arguments
from lambdastream.bedrock.words import STOP_WORDS, Reading, read

SCRIPTS = ("answer", "echo")
SCRIPT_ENV = "LAMBDASTREAM_BEDROCK_SCRIPT"
# Verbs that name no subject: "get_weather" is about the weather, not about getting.
_GENERIC = frozenset(
    "get set fetch find search lookup look list create make run call do add update delete"  # noqa: SIM905
    " remove read write send check compute calculate query retrieve".split()
)


def default_script() -> str:
    """The script a server runs when none is named: ``$LAMBDASTREAM_BEDROCK_SCRIPT`` or answer."""
    script = os.environ.get(SCRIPT_ENV, "").strip() or "answer"
    if script not in SCRIPTS:
        raise ValueError(f"{SCRIPT_ENV}={script!r}: use one of {', '.join(SCRIPTS)}")
    return script


def pieces(text: str) -> list[str]:
    """``text`` as the scripted model's tokens: each word with the whitespace before it."""
    return re.findall(r"\s*\S+", text)


def _name_words(name: str) -> set[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").replace("-", " ")
    return {w for w in spaced.lower().split() if w not in _GENERIC and len(w) > 2}


def _named(tool: Tool, reading: Reading) -> bool:
    """Whether the question asks for what the tool's name says (a word, or its plural)."""
    said = {w.lower() for w in re.findall(r"\w+", reading.text)} - STOP_WORDS
    return any(
        w in said or w + "s" in said or w.rstrip("s") in said for w in _name_words(tool.name)
    )


@dataclass
class ScriptedBackend:
    """A deterministic model at a real model's pace.

    ``first_token_latency`` seconds before the first token, then
    ``tokens_per_second`` on average (each gap varies by up to a quarter, the
    same way for the same question; 0 = no wait). ``max_tokens`` truncates
    (stop reason ``max_tokens``). See :mod:`lambdastream.bedrock.faults` for
    the directives.
    """

    first_token_latency: float = 0.3
    tokens_per_second: float = 65.0
    script: str = "answer"

    def __post_init__(self) -> None:
        if self.script not in SCRIPTS:
            raise ValueError(f"unknown script {self.script!r}: use one of {', '.join(SCRIPTS)}")

    def plan(self, prompt: Prompt, directives: Directives) -> tuple[list[StreamEvent], str]:
        """The whole answer as events (no :class:`StreamEnd`), and its stop reason."""
        options = dict(directives)
        echo = self.script == "echo" or "echo" in options
        reading = read(prompt.question)
        events: list[StreamEvent] = []
        index = 0
        call = self._tool_to_call(prompt, options, reading)
        if "think" in options:
            calling = None if call is None else call[0]
            thought = "Let me think about that." if echo else answers.reasoning(prompt, calling)
            events += [ReasoningDelta(p, index=0) for p in pieces(thought)]
            # Real thinking blocks end with a signature the caller hands back unchanged.
            digest = hashlib.sha256(thought.encode("utf-8")).digest()
            events.append(ReasoningDelta(signature=base64.b64encode(digest).decode(), index=0))
            index = 1
        if call is None:
            text = answers.echo(prompt) if echo else answers.answer(prompt)
        elif call[1]:  # forced: Anthropic prefills the turn, so no text comes before the call
            text = ""
        else:
            text = answers.echo(prompt) if echo else answers.tool_preface(call[0])
        if text:
            events += [TextDelta(p, index) for p in pieces(text)]
            index += 1
        if call is None:
            return events, "end_turn"
        name = call[0]
        offered = prompt.tool(name)
        # A tool the request does not declare has no schema: its input is the question.
        given = (
            {"text": prompt.last_user_text}
            if offered is None
            else arguments(offered.input_schema, reading)
        )
        payload = json.dumps(given, ensure_ascii=False)
        half = len(payload) // 2
        events += [
            ToolUseStart("tooluse_local_1", name, index),
            ToolUseDelta(payload[:half], index),
            ToolUseDelta(payload[half:], index),
        ]
        return events, "tool_use"

    def _tool_to_call(
        self, prompt: Prompt, options: dict[str, str | None], reading: Reading
    ) -> tuple[str, bool] | None:
        """(tool name, whether the request forces a call), or None to answer in text."""
        if options.get("tool"):
            return str(options["tool"]), False
        choice = prompt.tool_choice
        if not prompt.tools or prompt.tool_results or choice.kind == "none":
            return None
        if choice.kind == "tool" and choice.name:
            return choice.name, True
        named = next((t for t in prompt.tools if _named(t, reading)), None)
        if choice.kind == "any":
            return (named or prompt.tools[0]).name, True
        return (named.name, False) if named is not None else None

    async def generate(
        self, model_id: str, prompt: Prompt, directives: Directives
    ) -> AsyncIterator[StreamEvent]:
        options = dict(directives)
        latency = float(options.get("latency") or self.first_token_latency)
        gap = 1.0 / self.tokens_per_second if self.tokens_per_second > 0 else 0.0
        # Gaps vary as a real model's do, the same way for the same question.
        jitter = random.Random(zlib.crc32(prompt.question.encode("utf-8")))
        budget = prompt.max_tokens or 1 << 30
        events, stop = self.plan(prompt, directives)
        produced = 0
        await asyncio.sleep(latency)
        for event in events:
            cost = tokens_of(event)
            if cost:
                if produced + cost > budget:
                    stop = "max_tokens"
                    break
                if produced and gap:
                    await asyncio.sleep(gap * jitter.uniform(0.75, 1.25))
                produced += cost
            yield event
        yield StreamEnd(stop, Usage(prompt_tokens(prompt), produced))
