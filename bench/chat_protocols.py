"""First token through the chat's OpenAI route, against the model's own first token.

One ``lambdastream bedrock-local`` (the scripted model,
``--first-token-latency`` 0.1 s, the rest of the answer at once) and one
``lambdastream dev examples.chat.app.handler`` pointed at it, both real
processes on loopback. Each round asks the same question twice:

- **bedrock-local**: boto3's ``converse_stream`` straight to the model, time
  from the call to its first text delta: what the model costs;
- **/v1/chat/completions**: the ``openai`` SDK, ``stream=True``, through the
  local Lambda, our runtime, the chat function and its own boto3 call to the
  same model, time from the call to the first chunk with ``delta.content``;
- **/api/chat**: the same through the AI SDK's UI message stream (a raw
  HTTP client: the first ``text-delta`` part).

The difference is what the whole path adds to the first token (goal: at
most 50 ms at the median). Warm: a few rounds are thrown away first, so
neither the function's cold start nor the clients' first connections count.

    python -m bench.chat_protocols [--rounds 30]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.figures import Figure

REPO = Path(__file__).resolve().parents[1]
MODEL = "global.anthropic.claude-haiku-4-5-20251001-v1:0"
QUESTION = "Why stream an answer?"
FIRST_TOKEN_LATENCY = 0.1
GOAL_MS = 50.0
_URL = re.compile(rb"(http://127\.0\.0\.1:\d+)")


def _wait_url(proc: subprocess.Popen[bytes], marker: bytes, timeout: float = 30.0) -> str:
    """The first loopback URL on a line containing ``marker`` of ``proc``'s output."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"exited ({proc.wait()}) before printing its address")
        found = _URL.search(line)
        if found and marker in line:
            return found.group(1).decode()
    raise RuntimeError("no address printed in time")


@contextmanager
def _servers() -> Iterator[tuple[str, str]]:
    """(bedrock-local URL, dev's Function URL), both running."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "AWS_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}  # fmt: skip
    procs: list[subprocess.Popen[bytes]] = []
    try:
        bedrock = subprocess.Popen(
            [sys.executable, "-m", "lambdastream", "bedrock-local", "--port", "0",
             "--first-token-latency", str(FIRST_TOKEN_LATENCY), "--tokens-per-second", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        procs.append(bedrock)
        bedrock_url = _wait_url(bedrock, b"127.0.0.1")
        subprocess_env = {**env, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock_url}
        dev = subprocess.Popen(
            [sys.executable, "-m", "lambdastream", "dev", "examples.chat.app.handler",
             "--root", str(REPO), "--port", "0", "--api-port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=subprocess_env, cwd=str(REPO),
        )  # fmt: skip
        procs.append(dev)
        dev_url = _wait_url(dev, b"Function URL")
        # Drain both logs so that neither process blocks on a full pipe.
        import threading

        for proc in procs:
            threading.Thread(target=_drain, args=(proc,), daemon=True).start()
        yield bedrock_url, dev_url
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _drain(proc: subprocess.Popen[bytes]) -> None:
    assert proc.stdout is not None
    for _ in proc.stdout:
        pass


def _direct(client: Any) -> float:
    started = time.perf_counter()
    response = client.converse_stream(
        modelId=MODEL,
        messages=[{"role": "user", "content": [{"text": QUESTION}]}],
        inferenceConfig={"maxTokens": 64},
    )
    first = None
    for event in response["stream"]:
        delta = event.get("contentBlockDelta", {}).get("delta", {})
        if first is None and delta.get("text"):
            first = time.perf_counter() - started
    assert first is not None, "bedrock-local sent no text"
    return first * 1000


def _openai(client: Any) -> float:
    started = time.perf_counter()
    first = None
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": QUESTION}], max_tokens=64, stream=True
    )
    for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter() - started
    assert first is not None, "/v1/chat/completions sent no text"
    return first * 1000


def _ui(host: str, port: int) -> float:
    body = json.dumps({"id": "bench", "trigger": "submit-message", "messages": [
        {"id": "u1", "role": "user", "parts": [{"type": "text", "text": QUESTION}]}]})  # fmt: skip
    connection = http.client.HTTPConnection(host, port, timeout=30)
    started = time.perf_counter()
    connection.request("POST", "/api/chat", body, {"content-type": "application/json"})
    response = connection.getresponse()
    first = None
    for line in response:
        if first is None and line.startswith(b'data: {"type":"text-delta"'):
            first = time.perf_counter() - started
    connection.close()
    assert first is not None, "/api/chat sent no text"
    return first * 1000


def measure(rounds: int, warmup: int = 3) -> dict[str, list[float]]:
    """First-token times (ms) of each path, ``rounds`` each, interleaved."""
    import boto3
    import openai
    from botocore.config import Config

    results: dict[str, list[float]] = {"bedrock-local": [], "openai": [], "ui": []}
    with _servers() as (bedrock_url, dev_url):
        bedrock = boto3.client(
            "bedrock-runtime", endpoint_url=bedrock_url, region_name="us-east-1",
            aws_access_key_id="x", aws_secret_access_key="x",
            config=Config(retries={"total_max_attempts": 1}),
        )  # fmt: skip
        openai_client = openai.OpenAI(base_url=f"{dev_url}/v1", api_key="unused", max_retries=0)
        host, port = dev_url.removeprefix("http://").split(":")
        for i in range(warmup + rounds):
            times = {
                "bedrock-local": _direct(bedrock),
                "openai": _openai(openai_client),
                "ui": _ui(host, int(port)),
            }
            if i >= warmup:
                for name, value in times.items():
                    results[name].append(value)
    return results


def _p(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(rounds: int = 30) -> list[Figure]:
    """Measure, print, and return the figures for ``bench.report``."""
    results = measure(rounds)
    group = "chat protocols"
    direct = statistics.median(results["bedrock-local"])
    direct_p90 = _p(results["bedrock-local"], 0.9)
    print(f"first token, {rounds} warm rounds each (ms): p50 / p90")
    for name, values in results.items():
        print(f"  {name:14} {statistics.median(values):7.1f} / {_p(values, 0.9):7.1f}")
    note = (
        f"bedrock-local's first token after {FIRST_TOKEN_LATENCY * 1000:.0f} ms, straight with "
        "boto3, against the openai SDK through dev, the runtime, the chat function and its "
        f"boto3 call to the same model; {rounds} warm rounds"
    )
    peer = f"bedrock-local + {GOAL_MS:.0f} ms"
    return [
        Figure("first token, /v1/chat/completions (p50)", statistics.median(results["openai"]),
               peer, direct + GOAL_MS, "ms", goal=1.0, group=group, note=note),
        Figure("first token, /v1/chat/completions (p90)", _p(results["openai"], 0.9),
               "bedrock-local (p90)", direct_p90, "ms", group=group),
        Figure("first token, /api/chat (p50)", statistics.median(results["ui"]),
               peer, direct + GOAL_MS, "ms", goal=1.0, group=group),
    ]  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(argv)
    for figure in run(args.rounds):
        print(f"{figure.name}: {figure.ours:.1f} ms vs {figure.peer_name} {figure.peer:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
