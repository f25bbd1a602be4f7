"""``lambdastream.bedrock.families``: one module per provider, the old names still importable,
and the layer carrying what ``stream_text`` needs and nothing of the local tools."""

from __future__ import annotations

from pathlib import Path

import pytest

import lambdastream.bedrock.families as families
from lambdastream.deploy.layer import layer_modules

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "lambdastream" / "bedrock" / "families"
# Every public name the single module had; callers import them from the package.
OLD_NAMES = [
    "FAMILIES",
    "METRICS_KEY",
    "REGION_PREFIXES",
    "AnthropicMessages",
    "AnthropicText",
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
    "base_model_id",
    "converse_messages",
    "converse_render",
    "converse_stream_event",
    "family_for",
    "invocation_metrics",
    "read_converse_request",
    "render_stream",
]
PROVIDER_OF = {
    "anthropic": "anthropic",
    "anthropic-text": "anthropic",
    "cohere-command": "cohere",
    "cohere-command-r": "cohere",
    "meta": "meta",
    "titan-text": "amazon",
    "nova": "amazon",
    "mistral": "mistral",
    "ai21-jamba": "ai21",
    "deepseek": "deepseek",
    "openai-gpt-oss": "openai",
}
# Local tools and what only they need: never on Lambda.
LOCAL_ONLY = [
    "local",
    "backends",
    "scripted",
    "answers",
    "tool_input",
    "words",
    "faults",
    "command",
]


@pytest.mark.parametrize("name", OLD_NAMES)
def test_the_old_names_import_from_the_package(name):
    assert getattr(families, name) is not None


@pytest.mark.parametrize("family", families.FAMILIES, ids=lambda f: f.name)
def test_each_family_lives_in_its_providers_module(family):
    assert type(family).__module__ == f"lambdastream.bedrock.families.{PROVIDER_OF[family.name]}"


def test_the_modules_are_small():
    assert PACKAGE.is_dir()
    sizes = {p.name: len(p.read_text().splitlines()) for p in PACKAGE.glob("*.py")}
    assert {"converse.py", "registry.py", "base.py"} <= set(sizes)
    assert max(sizes.values()) <= 400, sizes


def test_the_layer_carries_the_families_and_none_of_the_local_tools():
    modules = set(layer_modules(SRC))
    package = {f"lambdastream/bedrock/families/{p.name}" for p in PACKAGE.glob("*.py")}
    assert package <= modules
    assert "lambdastream/bedrock/stream.py" in modules
    local = {f"lambdastream/bedrock/{name}.py" for name in LOCAL_ONLY}
    assert {m for m in modules if m in local} == set()
