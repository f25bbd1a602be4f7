"""Where ``bedrock-local``'s answers come from: the :class:`Backend` protocol and its helpers.

A backend turns a :class:`Prompt` into typed events (text, reasoning, tool
use, then one :class:`StreamEnd`); ``lambdastream.bedrock.local`` renders
them in whichever wire shape the caller asked for. Two backends: the
scripted model (:mod:`lambdastream.bedrock.scripted`) and
:class:`OpenAIBackend`, which forwards to an OpenAI-compatible server.

>>> tokens_of(TextDelta(" world")), tokens_of(ToolUseDelta('{"city": "Oslo"}'))
(1, 2)
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from lambdastream.bedrock.events import (
    ReasoningDelta,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolUseDelta,
    Usage,
)
from lambdastream.bedrock.families import ParseState, Prompt, family_for

Directives = list[tuple[str, str | None]]


class BackendError(Exception):
    """The backend could not answer; ``code`` is the AWS error code to report."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Backend(Protocol):
    def generate(
        self, model_id: str, prompt: Prompt, directives: Directives
    ) -> AsyncIterator[StreamEvent]: ...


def count_tokens(text: str) -> int:
    """A whitespace-word count: the scripted model's idea of a token."""
    return len(text.split())


def prompt_tokens(prompt: Prompt) -> int:
    """The prompt's tokens: its system text and every turn, tool results included."""
    texts = [prompt.system or "", *(t for _, t in prompt.messages), *prompt.tool_results]
    return sum(count_tokens(t) for t in texts)


def tokens_of(event: StreamEvent) -> int:
    """The tokens one event carries: its words (a signature or a tool's start carries none)."""
    if isinstance(event, (TextDelta, ReasoningDelta)):
        return count_tokens(event.text)
    if isinstance(event, ToolUseDelta):
        return count_tokens(event.input)
    return 0


@dataclass
class OpenAIBackend:
    """Forwards to an OpenAI-compatible ``/chat/completions`` (Ollama, llama.cpp, vLLM).

    ``base_url`` is the API root, e.g. ``http://127.0.0.1:11434/v1``.
    ``model`` replaces the Bedrock model id in the forwarded request (Ollama
    needs its own model names); ``None`` keeps the Bedrock id.
    """

    base_url: str
    model: str | None = None
    api_key: str | None = None
    timeout: float = 300.0

    def _request(self, model_id: str, prompt: Prompt) -> tuple[Any, bytes]:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BackendError("ValidationException", f"bad --openai-base-url {self.base_url!r}")
        messages = [{"role": "system", "content": prompt.system}] if prompt.system else []
        messages += [{"role": role, "content": text} for role, text in prompt.messages]
        body: dict[str, Any] = {
            "model": self.model or model_id,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if prompt.max_tokens:
            body["max_tokens"] = prompt.max_tokens
        if prompt.temperature is not None:
            body["temperature"] = prompt.temperature
        payload = json.dumps(body).encode("utf-8")
        path = parts.path.rstrip("/") + "/chat/completions"
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        head = [
            f"POST {path} HTTP/1.1",
            f"Host: {host}",
            "Content-Type: application/json",
            "Accept: text/event-stream",
            f"Content-Length: {len(payload)}",
            "Connection: close",
        ]
        if self.api_key:
            head.append(f"Authorization: Bearer {self.api_key}")
        return parts, ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload

    async def generate(
        self, model_id: str, prompt: Prompt, directives: Directives
    ) -> AsyncIterator[StreamEvent]:
        import httptools

        parts, request = self._request(model_id, prompt)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    parts.hostname,
                    port,
                    ssl=ssl.create_default_context() if parts.scheme == "https" else None,
                ),
                timeout=10,
            )
        except (OSError, asyncio.TimeoutError) as exc:
            raise BackendError(
                "ServiceUnavailableException",
                f"cannot reach the OpenAI-compatible server at {self.base_url}: {exc}",
            ) from None
        body = bytearray()
        done = False

        class Callbacks:
            def on_body(self, data: bytes) -> None:
                body.extend(data)

            def on_message_complete(self) -> None:
                nonlocal done
                done = True

        parser = httptools.HttpResponseParser(Callbacks())
        # gpt-oss's family parser reads OpenAI chunks; reused, minus its reasoning tags.
        translator = family_for("ai21.jamba")
        state = ParseState()
        produced = 0
        try:
            writer.write(request)
            await writer.drain()
            status: int | None = None
            while not done:
                data = await asyncio.wait_for(reader.read(65536), self.timeout)
                if not data:
                    break
                parser.feed_data(data)
                status = parser.get_status_code()
                if status != 200:
                    continue  # read the whole error body first
                while b"\n" in body:
                    line = bytes(body[: body.index(b"\n")])
                    del body[: len(line) + 1]
                    line = line.strip()
                    if not line.startswith(b"data:"):
                        continue
                    data_field = line[5:].strip()
                    if data_field == b"[DONE]":
                        done = True
                        break
                    for event in translator.parse_chunk(json.loads(data_field), state):
                        if isinstance(event, (TextDelta, ReasoningDelta)):
                            produced += 1
                        yield event
            if status != 200:
                raise BackendError(
                    "ServiceUnavailableException"
                    if status is None or status >= 500
                    else "ValidationException",
                    f"OpenAI-compatible server answered {status}: "
                    + bytes(body[:500]).decode("utf-8", "replace"),
                )
        except (OSError, asyncio.TimeoutError, httptools.HttpParserError, ValueError) as exc:
            raise BackendError(
                "ServiceUnavailableException", f"OpenAI-compatible server: {exc}"
            ) from None
        finally:
            writer.close()
        end = translator.finish(state)[-1]
        assert isinstance(end, StreamEnd)
        yield StreamEnd(
            end.stop_reason or "end_turn",
            Usage(
                end.usage.input_tokens
                if end.usage.input_tokens is not None
                else prompt_tokens(prompt),
                end.usage.output_tokens if end.usage.output_tokens is not None else produced,
            ),
            end.raw_stop_reason,
        )
