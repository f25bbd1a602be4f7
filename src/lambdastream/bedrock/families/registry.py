"""Which family speaks for a model id: the one place mapping model id -> wire shape.

>>> family_for("us.anthropic.claude-3-5-haiku-20241022-v1:0").name
'anthropic'
"""

from __future__ import annotations

from lambdastream.bedrock.errors import UnsupportedModelError
from lambdastream.bedrock.families.ai21 import Jamba
from lambdastream.bedrock.families.amazon import Nova, TitanText
from lambdastream.bedrock.families.anthropic import AnthropicMessages, AnthropicText
from lambdastream.bedrock.families.base import Family
from lambdastream.bedrock.families.cohere import CohereCommand, CohereCommandR
from lambdastream.bedrock.families.deepseek import DeepSeek
from lambdastream.bedrock.families.meta import MetaLlama
from lambdastream.bedrock.families.mistral import Mistral
from lambdastream.bedrock.families.openai import GptOss

# Cross-region inference profiles put a geography before the provider.
REGION_PREFIXES = ("us.", "us-gov.", "eu.", "apac.", "jp.", "au.", "ca.", "global.")

# Order matters: the most specific prefix of a provider comes first.
FAMILIES: tuple[Family, ...] = (
    AnthropicText(),
    AnthropicMessages(),
    CohereCommandR(),
    CohereCommand(),
    MetaLlama(),
    TitanText(),
    Nova(),
    Mistral(),
    Jamba(),
    DeepSeek(),
    GptOss(),
)


def base_model_id(model_id: str) -> str:
    """The provider-qualified id: ARN and inference-profile region prefix removed.

    >>> base_model_id("arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-8b-instruct-v1:0")
    'meta.llama3-8b-instruct-v1:0'
    >>> base_model_id("global.anthropic.claude-sonnet-4-20250514-v1:0")
    'anthropic.claude-sonnet-4-20250514-v1:0'
    """
    if model_id.startswith("arn:"):
        model_id = model_id.rsplit("/", 1)[-1]
    for prefix in REGION_PREFIXES:
        if model_id.startswith(prefix):
            return model_id[len(prefix) :]
    return model_id


def family_for(model_id: str) -> Family:
    """The family whose request and chunk shapes ``model_id`` speaks.

    Raises :class:`UnsupportedModelError` naming the supported families.
    """
    base = base_model_id(model_id)
    for family in FAMILIES:
        if base.startswith(family.prefixes):
            return family
    raise UnsupportedModelError(
        f"no InvokeModel family for model id {model_id!r}. Supported: "
        + "; ".join(family.label for family in FAMILIES)
        + ". ConverseStream (api='converse', the default) works for any model that supports it."
    )
