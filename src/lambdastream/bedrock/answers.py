"""What the scripted model writes: a Markdown answer about the question, or the question echoed.

The answer is a template filled with what :mod:`lambdastream.bedrock.words`
reads in the question: a short opening, a section, a list of key points, a
code block and a closing paragraph. The same question always gets the same
answer (the variants are chosen by a CRC of the question, never by
``hash()``, which changes from one process to the next).

>>> text = answer(Prompt([("user", "How do I reverse a list in Python?")]))
>>> "reverse a list in Python" in text, "```python" in text, "\\n- **" in text
(True, True, True)
>>> echo(Prompt([("user", "What is  2+2?")]))
'You said: What is 2+2?'
"""

from __future__ import annotations

import json
import zlib

from lambdastream.bedrock.families import Prompt
from lambdastream.bedrock.words import Reading, read

_OPENINGS = (
    "Good question. Here is a short overview of **{subject}**, with the points that matter"
    " and a small example to start from.",
    "Sure. **{Subject}** is easier to follow once you see its pieces one at a time, so here"
    " they are, followed by a small example.",
    "Here is how I would think about **{subject}**: the idea first, then the points that"
    " matter, then a small example you can run.",
)
_HEADINGS = {
    "why": "Why it matters",
    "how": "How it works",
    "what": "What it is",
    "when": "When it applies",
}
_CLOSINGS = (
    "Try the example, change one thing at a time, and watch what happens. If you tell me more"
    " about what you are building, I can go deeper into {first} or {second}.",
    "Start with the smallest version that works, then grow it step by step. Ask me about any"
    " of the points above and I will expand on it.",
    "That is the core of it. The details depend on your situation, so if something above does"
    " not fit, tell me what you are working with and I will adjust the example.",
)
_FILLERS = ("the basics", "the details", "the trade-offs")

GREETING = """Hello! I'm the scripted model of `bedrock-local`. I write an answer about whatever \
you ask, at a real model's pace, so you can watch a response stream in without an AWS account.

## Things to try

- Ask about a topic, for example *How do I reverse a list in Python?*
- Add `[[think]]` to see reasoning arrive before the answer.
- Add `[[stream-error:20]]` to see an error cut the answer after 20 tokens.
- Add `[[echo]]` to get your own words back, exactly.

## From your own code

```python
import boto3

client = boto3.client("bedrock-runtime")
reply = client.converse(
    modelId="us.amazon.nova-lite-v1:0",
    messages=[{{"role": "user", "content": [{{"text": "Why stream answers?"}}]}}],
)
print(reply["output"]["message"]["content"][0]["text"])
```

Point `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` at this endpoint and the same code talks to me \
instead of Bedrock."""


def echo(prompt: Prompt) -> str:
    """The echo script's answer: ``You said: `` and the last user message, spaces collapsed."""
    return "You said: " + " ".join(prompt.last_user_text.split())


def answer(prompt: Prompt) -> str:
    """The default script's answer: Markdown about the question (or about the tool results)."""
    reading = read(prompt.question)
    if prompt.tool_results:
        return _from_results(reading, prompt.tool_results)
    if reading.is_greeting or not reading.subject:
        return GREETING.format()
    return _about(reading)


def reasoning(prompt: Prompt, tool: str | None = None) -> str:
    """What the scripted model thinks before answering (``[[think]]``), or calling ``tool``."""
    reading = read(prompt.question)
    if tool is not None:
        return (
            f"The question is about {reading.subject or 'something the tool knows'}. The"
            f" `{tool}` tool can answer it, so I'll call it."
        )
    if prompt.tool_results:
        return "The tool has answered. I'll show what it returned and what it means."
    if reading.is_greeting or not reading.subject:
        return "The user is saying hello. I'll introduce myself and suggest a few things to try."
    return (
        f"The question is about {reading.subject}. I'll explain the idea briefly, list the"
        f" points that matter, and end with a short example."
    )


def tool_preface(name: str) -> str:
    """What the model says before it calls a tool it chose to call."""
    return f"Let me check that with the `{name}` tool."


def _variant(reading: Reading, choices: tuple[str, ...]) -> str:
    return choices[zlib.crc32(reading.text.encode("utf-8")) % len(choices)]


def _about(reading: Reading) -> str:
    subject = reading.subject
    words = [*reading.key_words, *_FILLERS]
    first, second, third = words[0], words[1], words[2]
    lead = next((w for w in _HEADINGS if reading.text.lower().startswith(w)), "")
    heading = _HEADINGS.get(lead, "The short version")
    fill = {"subject": subject, "Subject": subject[:1].upper() + subject[1:]}
    code = "\n".join(
        [
            "```python",
            "# A sketch to adapt: one step at a time, each one checked.",
            f"topic = {json.dumps(subject, ensure_ascii=False)}",
            f"steps = {json.dumps([first, second, third], ensure_ascii=False)}",
            "",
            "for number, step in enumerate(steps, start=1):",
            '    print(f"{number}. {topic}: {step}")',
            "```",
        ]
    )
    return "\n\n".join(
        [
            _variant(reading, _OPENINGS).format(**fill),
            f"## {heading}",
            f"{fill['Subject']} comes down to a few ideas: **{first}**, **{second}** and"
            f" **{third}**. Each is simple on its own; what matters is how they fit together,"
            " and that is easiest to see with a small, concrete case before anything larger.",
            "## Key points",
            "\n".join(
                [
                    f"- **Start with {first}.** Get one small case working end to end before"
                    " adding anything else.",
                    f"- **Then look at {second}.** Most questions about {subject} come back to"
                    " this part, so it pays to understand it well.",
                    f"- **Check {third} with real inputs.** Measure rather than assume: the"
                    " details tend to surprise.",
                    "- **Keep it small.** A short, clear version is easier to test and to change.",
                ]
            ),
            "## A small example",
            code,
            "## Where to go from here",
            _variant(reading, _CLOSINGS).format(first=first, second=second),
        ]
    )


def _from_results(reading: Reading, results: tuple[str, ...]) -> str:
    shown = "\n".join(results)
    if len(shown) > 600:
        shown = shown[:600] + " ..."
    subject = reading.subject or "your question"
    return "\n\n".join(
        [
            f"Thanks, that is what I needed to answer **{subject}**. Here is what the tool"
            " returned:",
            f"```\n{shown}\n```",
            "## What it means",
            "\n".join(
                [
                    "- **The result above is current**: it came from the tool just now, not"
                    " from what I remember.",
                    f"- **It answers {subject} directly**: nothing in it needs another call.",
                    "- **Ask again** if you need it in another form, and I will call the tool"
                    " again.",
                ]
            ),
            "If anything in it looks off, tell me and I will check it another way.",
        ]
    )
