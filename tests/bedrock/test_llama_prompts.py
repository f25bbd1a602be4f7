"""Llama chat prompts as callers write them: the model answers the question, not the template.

Meta's Llama 3 format puts two newlines after ``<|end_header_id|>``;
langchain-aws's ``ChatBedrock`` (``convert_messages_to_prompt_llama3``)
puts none after a turn's header and one between turns. Both, and one
newline, must reach the model as turns.
"""

from __future__ import annotations

import json

import pytest
from bedrock_models import MODEL_IDS

pytestmark = pytest.mark.timeout(30)
LLAMA3 = MODEL_IDS["meta"]


def llama3(turns: list[tuple[str, str]], after_header: str, between: str) -> str:
    head = "<|begin_of_text|>" + between
    body = between.join(
        f"<|start_header_id|>{role}<|end_header_id|>{after_header}{text}<|eot_id|>"
        for role, text in turns
    )
    return head + body + between + "<|start_header_id|>assistant<|end_header_id|>\n\n"


def generation(client, prompt: str, streaming: bool) -> str:
    body = json.dumps({"prompt": prompt, "max_gen_len": 200})
    if streaming:
        reply = client.invoke_model_with_response_stream(modelId=LLAMA3, body=body)
        return "".join(json.loads(e["chunk"]["bytes"])["generation"] for e in reply["body"])
    return json.loads(client.invoke_model(modelId=LLAMA3, body=body)["body"].read())["generation"]


@pytest.mark.parametrize("streaming", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize(
    ("after_header", "between"), [("", "\n"), ("\n", ""), ("\n\n", ""), ("\n\n", "\n")]
)
def test_llama3_turns_are_read_with_zero_to_two_newlines(client, after_header, between, streaming):
    turns = [
        ("system", "Be brief."),
        ("user", "What is a list?"),
        ("assistant", "A sequence."),
        ("user", "How do I reverse one?"),
    ]
    prompt = llama3(turns, after_header, between)
    assert generation(client, prompt, streaming) == "You said: How do I reverse one?"


def test_the_prompt_langchain_aws_sends(client):
    # convert_messages_to_prompt_llama3([SystemMessage, HumanMessage]) in langchain-aws 1.9.
    prompt = (
        "<|begin_of_text|>\n"
        "<|start_header_id|>system<|end_header_id|>Answer briefly.<|eot_id|>\n"
        "<|start_header_id|>user<|end_header_id|>Why stream the answer?<|eot_id|>\n"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    assert generation(client, prompt, True) == "You said: Why stream the answer?"


def test_llama4_turns_are_read_too(client):
    prompt = (
        "<|begin_of_text|><|header_start|>user<|header_end|>\n\nWhat is new?<|eot|>"
        "<|header_start|>assistant<|header_end|>"
    )
    assert generation(client, prompt, False) == "You said: What is new?"


def test_a_bare_prompt_is_the_question(client):
    assert generation(client, "Just a question", True) == "You said: Just a question"
