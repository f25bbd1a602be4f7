"""The scripted model's default answer, its pace and usage, and asking it to echo.

The default script writes an answer worth watching: several paragraphs of
Markdown with a list and a code block, about the question, the same for the
same question, at a real model's pace, with usage that counts exactly the
tokens sent. Echo stays for tests that need exact text.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from bedrock_models import MODEL_IDS
from support import bedrock_client, write_handler

from lambdastream.bedrock import ReasoningDelta, TextDelta, stream_text
from lambdastream.bedrock.local_server import BackgroundServer, start_background

pytestmark = pytest.mark.timeout(60)
QUESTION = "How do I reverse a list in Python?"


@pytest.fixture(scope="module")
def answering() -> Iterator[BackgroundServer]:
    """bedrock-local with its default script, fast."""
    with start_background(
        first_token_latency=0.001, tokens_per_second=0, script="answer"
    ) as running:
        yield running


@pytest.fixture(scope="module")
def fast(answering):
    return bedrock_client(answering.url)


def answer_of(client, question: str, **options) -> str:
    return "".join(stream_text(client, MODEL_IDS["nova"], prompt=question, **options).text())


def test_the_default_answer_is_markdown_about_the_question(fast):
    text = answer_of(fast, QUESTION)
    assert "You said" not in text
    assert "reverse a list in Python" in text  # about what was asked
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    assert len(paragraphs) >= 6
    assert len(re.findall(r"^## \S", text, re.M)) >= 2  # headings
    assert len(re.findall(r"^- \*\*", text, re.M)) >= 3  # a list
    code = re.search(r"^```python\n(.+?)\n```$", text, re.M | re.S)
    assert code is not None
    compile(code[1], "answer", "exec")  # the code block is Python that compiles
    assert 150 <= len(text.split()) <= 400


def test_the_same_question_gets_the_same_answer_and_another_another(fast):
    first = answer_of(fast, QUESTION)
    assert answer_of(fast, QUESTION) == first
    other = answer_of(fast, "Why do databases use indexes?")
    assert other != first
    assert "databases use indexes" in other


def test_a_greeting_gets_an_introduction(fast):
    text = answer_of(fast, "hi")
    assert text.startswith("Hello! I'm the scripted model of `bedrock-local`")
    assert "[[echo]]" in text and "```python" in text


@pytest.mark.parametrize("name", sorted(MODEL_IDS))
def test_usage_counts_exactly_the_tokens_streamed(fast, name):
    events = list(stream_text(fast, MODEL_IDS[name], prompt=f"{QUESTION} [[think]]", api="invoke"))
    pieces = [e for e in events if isinstance(e, (TextDelta, ReasoningDelta)) and e.text]
    assert len(pieces) > 100  # word by word, not in one piece
    assert events[-1].usage.output_tokens == len(pieces)
    assert events[-1].usage.input_tokens == len(QUESTION.split())


def test_max_tokens_cuts_the_answer_and_says_so(fast):
    stream = stream_text(fast, MODEL_IDS["anthropic"], prompt=QUESTION, max_tokens=12)
    pieces = list(stream.text())
    assert len(pieces) == 12
    assert (stream.end.stop_reason, stream.end.usage.output_tokens) == ("max_tokens", 12)


def test_the_default_pace_is_a_real_models():
    # The defaults: about 300 ms to the first token, then 50-80 tokens a second.
    with start_background(script="answer") as server:  # the default pace
        client = bedrock_client(server.url)
        started = time.monotonic()
        stamps = [
            time.monotonic() for _ in stream_text(client, MODEL_IDS["nova"], prompt=QUESTION).text()
        ]
    first = stamps[0] - started
    rate = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    assert 0.25 <= first <= 1.5, first
    assert 40 <= rate <= 90, rate  # generous: a busy machine only slows it down


def test_echo_is_a_directive_away(fast):
    assert answer_of(fast, "[[echo]] What is  2+2?") == "You said: What is 2+2?"


def test_a_server_that_echoes_by_flag_or_environment():
    base = [sys.executable, "-m", "lambdastream", "bedrock-local", "--port", "0"]
    fast_pace = ["--first-token-latency", "0", "--tokens-per-second", "0"]
    for extra, env in ((["--script", "echo"], {}), ([], {"LAMBDASTREAM_BEDROCK_SCRIPT": "echo"})):
        process = subprocess.Popen(
            [*base, *fast_pace, *extra],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        )
        try:
            line = process.stdout.readline()
            assert "bedrock-local (scripted, echo) listening on http://127.0.0.1:" in line
            client = bedrock_client(line.rsplit(" ", 1)[1].strip())
            assert answer_of(client, "from the cli") == "You said: from the cli"
        finally:
            process.terminate()
            process.wait(timeout=10)
    refused = subprocess.run(
        base,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "LAMBDASTREAM_BEDROCK_SCRIPT": "shout"},
    )
    assert refused.returncode == 2
    assert "LAMBDASTREAM_BEDROCK_SCRIPT='shout'" in refused.stderr


HANDLER = """
from lambdastream.bedrock import stream_text

def handler(event, context):
    yield from stream_text(None, "us.amazon.nova-lite-v1:0", prompt=event["q"]).text()
"""


def test_dev_bedrock_local_echoes_when_its_environment_says_so(dev_server, tmp_path):
    from support import lambda_client

    root = write_handler(tmp_path, HANDLER)
    server = dev_server(
        "app.handler", root, "--bedrock-local", env={"LAMBDASTREAM_BEDROCK_SCRIPT": "echo"}
    )
    reply = lambda_client(server.api_url).invoke_with_response_stream(
        FunctionName="app", Payload=b'{"q": "exactly this"}'
    )
    payload = b"".join(
        part["PayloadChunk"]["Payload"] for part in reply["EventStream"] if "PayloadChunk" in part
    )
    assert payload.decode() == "You said: exactly this"
