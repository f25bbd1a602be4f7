"""Model families for InvokeModel(WithResponseStream), one module per provider.

Each family knows both sides of its JSON (see :mod:`.base`): the client side
:func:`lambdastream.bedrock.stream_text` uses, and the server side
``lambdastream bedrock-local`` uses. :mod:`.converse` holds Converse's shape
(shared by every model, and Nova's InvokeModel), :mod:`.registry` maps a
model id to its family.

=================== ===================================================
module              families
=================== ===================================================
``anthropic``       Claude 3+ messages, Claude 2 text completions
``cohere``          Command (text), Command R / R+
``meta``            Llama 2/3/4
``amazon``          Titan Text, Nova
``mistral``         Mistral text models
``ai21``            Jamba (chat completions)
``deepseek``        DeepSeek R1
``openai``          gpt-oss (chat completions)
=================== ===================================================

Example::

    >>> family_for("us.anthropic.claude-3-5-haiku-20241022-v1:0").name
    'anthropic'
    >>> family_for("meta.llama3-8b-instruct-v1:0").build_request(
    ...     Prompt([("user", "hi")], max_tokens=5))["max_gen_len"]
    5
"""

from __future__ import annotations

from lambdastream.bedrock.families.ai21 import Jamba
from lambdastream.bedrock.families.amazon import Nova, TitanText
from lambdastream.bedrock.families.anthropic import AnthropicMessages, AnthropicText
from lambdastream.bedrock.families.base import (
    METRICS_KEY,
    Answer,
    Chunk,
    Family,
    ParseState,
    Prompt,
    RenderState,
    RequestError,
    Tool,
    ToolCall,
    ToolChoice,
    invocation_metrics,
    render_stream,
)
from lambdastream.bedrock.families.chat_completions import ChatCompletions
from lambdastream.bedrock.families.cohere import CohereCommand, CohereCommandR
from lambdastream.bedrock.families.converse import (
    converse_content,
    converse_messages,
    converse_output,
    converse_render,
    converse_stream_event,
    read_converse_request,
)
from lambdastream.bedrock.families.deepseek import DeepSeek
from lambdastream.bedrock.families.meta import MetaLlama
from lambdastream.bedrock.families.mistral import Mistral
from lambdastream.bedrock.families.openai import GptOss
from lambdastream.bedrock.families.registry import (
    FAMILIES,
    REGION_PREFIXES,
    base_model_id,
    family_for,
)
from lambdastream.bedrock.families.tags import TagSplitter

__all__ = [
    "FAMILIES",
    "METRICS_KEY",
    "REGION_PREFIXES",
    "Answer",
    "AnthropicMessages",
    "AnthropicText",
    "ChatCompletions",
    "Chunk",
    "CohereCommand",
    "CohereCommandR",
    "DeepSeek",
    "Family",
    "GptOss",
    "Jamba",
    "MetaLlama",
    "Mistral",
    "Nova",
    "ParseState",
    "Prompt",
    "RenderState",
    "RequestError",
    "TagSplitter",
    "TitanText",
    "Tool",
    "ToolCall",
    "ToolChoice",
    "base_model_id",
    "converse_content",
    "converse_messages",
    "converse_output",
    "converse_render",
    "converse_stream_event",
    "family_for",
    "invocation_metrics",
    "read_converse_request",
    "render_stream",
]
