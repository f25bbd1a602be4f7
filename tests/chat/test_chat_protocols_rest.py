"""The chat's protocol routes through the REST API entry point (API Gateway, payload 1.0).

API Gateway REST APIs stream since November 2025; the chat routes on the
event's ``path`` (the resource path, without the stage), so the same
clients work against ``https://.../Prod/v1``. Here ``lambdastream dev
--entry rest`` plays the API, with ``--bedrock-local``'s scripted model.
"""

from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlsplit

import openai
import pytest
from local.rest_support import start_rest
from support import REPO

MODEL = "global.anthropic.claude-haiku-4-5-20251001-v1:0"
QUESTION = "Why stream an answer instead of sending it whole?"


@pytest.fixture(scope="module")
def rest():
    server = start_rest("examples.chat.app.handler", REPO, "--bedrock-local")
    yield server
    server.stop()


def test_the_openai_sdk_streams_through_the_rest_api(rest):
    client = openai.OpenAI(base_url=f"{rest.url}/v1", api_key="unused", max_retries=0)
    assert [m.id for m in client.models.list()] == [MODEL]
    started = time.perf_counter()
    arrivals = []
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.perf_counter() - started)
    # Token by token: many chunks, spread over the answer (a buffered reply
    # would arrive as one burst at the end).
    assert len(arrivals) >= 20, len(arrivals)
    assert arrivals[-1] - arrivals[0] > 0.5, arrivals


def test_the_ui_message_stream_streams_through_the_rest_api(rest):
    parts = urlsplit(rest.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    body = {"id": "c", "trigger": "submit-message", "messages": [
        {"id": "u", "role": "user", "parts": [{"type": "text", "text": QUESTION}]}]}  # fmt: skip
    connection.request(
        "POST", f"{parts.path}/api/chat", json.dumps(body), {"content-type": "application/json"}
    )
    response = connection.getresponse()
    assert response.status == 200
    assert response.getheader("x-vercel-ai-ui-message-stream") == "v1"
    started = time.perf_counter()
    deltas = []
    for line in response:
        if line.startswith(b"data: {"):
            part = json.loads(line[6:])
            if part["type"] == "text-delta":
                deltas.append(time.perf_counter() - started)
        elif line.startswith(b"data: [DONE]"):
            break
    connection.close()
    assert len(deltas) >= 20 and deltas[-1] - deltas[0] > 0.5, deltas
