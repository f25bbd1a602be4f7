"""The openai backend against a local OpenAI-compatible server, and the real CLI process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from support import bedrock_client

from lambdastream.bedrock import BedrockStreamError, RetryPolicy, Usage, stream_text
from lambdastream.bedrock.local_server import start_background

pytestmark = pytest.mark.timeout(30)


class FakeOpenAI(BaseHTTPRequestHandler):
    """Streams chat completion chunks the way Ollama / vLLM do (SSE, usage at the end)."""

    requests: list[dict] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeOpenAI.requests.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), **body}
        )
        if body["model"] == "missing":
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error": {"message": "model \\"missing\\" not found"}}')
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        last = body["messages"][-1]["content"]
        chunks = [
            {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
            {"choices": [{"index": 0, "delta": {"reasoning_content": "pondering"}}]},
            *(
                {"choices": [{"index": 0, "delta": {"content": piece}}]}
                for piece in ["Echo", ": ", last]
            ),
            {"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]},
            {"choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 3}},
        ]
        for chunk in chunks:
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def openai_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


@pytest.mark.parametrize(
    ("api", "model_id"), [("converse", "any.model"), ("invoke", "meta.llama3-8b-instruct-v1:0")]
)
def test_openai_backend_translates_the_stream(openai_url, api, model_id):
    with start_background(
        backend="openai",
        openai_base_url=openai_url,
        openai_model="llama3.2",
        openai_api_key="sk-local",
    ) as server:
        stream = stream_text(
            bedrock_client(server.url),
            model_id,
            prompt="hi there",
            system="Be brief.",
            max_tokens=7,
            api=api,
        )
        events = list(stream)
    assert "".join(stream_text_pieces(events)) == "Echo: hi there"
    # Llama's InvokeModel chunks have no place for reasoning; ConverseStream carries it.
    expected_reasoning = ["pondering"] if api == "converse" else []
    assert [e.text for e in events if type(e).__name__ == "ReasoningDelta"] == expected_reasoning
    assert stream.end.stop_reason == "max_tokens"
    assert stream.end.usage == Usage(11, 3)
    sent = FakeOpenAI.requests[-1]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["auth"] == "Bearer sk-local"
    assert sent["model"] == "llama3.2" and sent["stream"] is True and sent["max_tokens"] == 7
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi there"},
    ]


def stream_text_pieces(events):
    return [e.text for e in events if type(e).__name__ == "TextDelta"]


def test_openai_backend_errors_become_bedrock_errors(openai_url):
    once = RetryPolicy(max_attempts=1)
    with (
        start_background(
            backend="openai", openai_base_url=openai_url, openai_model="missing"
        ) as server,
        pytest.raises(BedrockStreamError) as info,
    ):
        list(
            stream_text(
                bedrock_client(server.url), "m", prompt="x", retry=RetryPolicy(max_attempts=1)
            )
        )
    assert info.value.code == "ValidationException"
    assert "not found" in info.value.message
    with (
        start_background(backend="openai", openai_base_url="http://127.0.0.1:9/v1") as server,
        pytest.raises(BedrockStreamError) as info,
    ):
        list(stream_text(bedrock_client(server.url), "m", prompt="x", retry=once))
    assert info.value.code == "ServiceUnavailableException"


def test_cli_serves_boto3_until_stopped():
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lambdastream",
            "bedrock-local",
            "--port",
            "0",
            "--first-token-latency",
            "0",
            "--tokens-per-second",
            "0",
            "--fault",
            "throttle:1",
            "--script",
            "echo",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = process.stdout.readline()
        assert "listening on http://127.0.0.1:" in line
        url = line.rsplit(" ", 1)[1].strip()
        stream = stream_text(
            bedrock_client(url),
            "amazon.nova-lite-v1:0",
            prompt="from the cli",
            retry=RetryPolicy(base_delay=0.001),
        )
        assert "".join(stream.text()) == "You said: from the cli"
        assert stream.attempts == 2  # the server-wide throttle:1 fault hit the first try
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_cli_rejects_bad_options():
    result = subprocess.run(
        [sys.executable, "-m", "lambdastream", "bedrock-local", "--fault", "explode"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 2
    assert "unknown directive 'explode'" in result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "lambdastream", "bedrock-local", "--backend", "openai"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 2
    assert "--openai-base-url" in result.stderr
