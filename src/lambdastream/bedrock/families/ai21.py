"""AI21 Jamba on InvokeModel: OpenAI chat completions bodies and chunks.

The Bedrock user guide's "AI21 Labs Jamba models" page: ``messages``,
``max_tokens``, ``tools``; chunks ``choices[0].delta.content`` (some
captures carry ``choices[0].message.content``).
"""

from __future__ import annotations

from lambdastream.bedrock.families.chat_completions import ChatCompletions


class Jamba(ChatCompletions):
    name = "ai21-jamba"
    label = "AI21 Jamba (ai21.jamba-*)"
    prefixes = ("ai21.jamba",)
