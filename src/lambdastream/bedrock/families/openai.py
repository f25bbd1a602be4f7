"""OpenAI gpt-oss on InvokeModel: OpenAI chat completions, reasoning inline in ``<reasoning>``.

The Bedrock user guide's "OpenAI models" page: chat completions bodies with
``max_completion_tokens``; on InvokeModel the model writes its reasoning
before the answer, between ``<reasoning>`` tags, in the content itself.
"""

from __future__ import annotations

from lambdastream.bedrock.families.chat_completions import ChatCompletions


class GptOss(ChatCompletions):
    name = "openai-gpt-oss"
    label = "OpenAI gpt-oss (openai.gpt-oss-*)"
    prefixes = ("openai.gpt-oss",)
    carries_reasoning = True
    max_tokens_key = "max_completion_tokens"
    tags = ("<reasoning>", "</reasoning>")
