"""``stream_text``: one call that streams any Bedrock model as typed events.

Two paths: ConverseStream (default; one request shape for every model that
supports it) and InvokeModelWithResponseStream (``api="invoke"``; the model
family's own JSON, chosen by :func:`lambdastream.bedrock.families.family_for`).

Errors: botocore retries HTTP errors before the stream, but never an error
event inside it. Here, throttling and 5xx-class errors are retried with
jittered backoff as long as no part of the answer has been yielded; after
the first token the error is raised as :class:`BedrockStreamError` carrying
the AWS code, which the Lambda runtime reports as a mid-stream error.

Example::

    import boto3
    from lambdastream.bedrock import stream_text

    client = boto3.client("bedrock-runtime")
    for piece in stream_text(client, "amazon.nova-micro-v1:0", prompt="Hi!").text():
        print(piece, end="", flush=True)
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from lambdastream.bedrock.errors import BedrockStreamError
from lambdastream.bedrock.events import StreamEnd, StreamEvent, TextDelta, Usage
from lambdastream.bedrock.families import (
    ParseState,
    Prompt,
    converse_stream_event,
    family_for,
)

Message = Mapping[str, Any]

# Codes worth another attempt: throttling and the server-side (5xx) failures.
# Both spellings: HTTP errors use the shape name, stream events the member name.
RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "throttlingException",
        "ServiceUnavailableException",
        "serviceUnavailableException",
        "InternalServerException",
        "internalServerException",
        "ModelNotReadyException",
    }
)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to start the stream again, and how long to wait between tries.

    Waits are "full jitter": uniform in ``[0, min(max_delay, base_delay * 2**n)]``,
    so many functions throttled together do not retry in lockstep. Only
    errors before the first token are retried.

    >>> RetryPolicy(max_attempts=1)  # never retry
    RetryPolicy(max_attempts=1, base_delay=0.5, max_delay=8.0, retryable_codes=...)
    """

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    retryable_codes: frozenset[str] = RETRYABLE_CODES

    def __repr__(self) -> str:
        return (
            f"RetryPolicy(max_attempts={self.max_attempts}, base_delay={self.base_delay}, "
            f"max_delay={self.max_delay}, retryable_codes=...)"
        )

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))

    def should_retry(self, code: str, status: int | None) -> bool:
        return code in self.retryable_codes or (status is not None and status >= 500)


def default_config() -> Any:
    """A botocore ``Config`` for Lambda: long read timeout, short connect timeout.

    Generations can pause for long stretches; botocore's 60 s read timeout would
    cut them off. botocore's own retries are off: :func:`stream_text` retries
    throttling and 5xx before the first token with its :class:`RetryPolicy`,
    and two layers would multiply the attempts (3 x 4 by default) inside a
    function's timeout.

    >>> default_config().read_timeout
    300
    """
    from botocore.config import Config

    return Config(
        read_timeout=300,
        connect_timeout=5,
        retries={"mode": "standard", "total_max_attempts": 1},
        tcp_keepalive=True,
    )


_CLIENTS: dict[str | None, Any] = {}


def default_client(region_name: str | None = None) -> Any:
    """A cached ``bedrock-runtime`` client built with :func:`default_config`.

    Honours ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``, so the same code talks to
    ``lambdastream bedrock-local`` when that variable points at it.
    """
    client = _CLIENTS.get(region_name)
    if client is None:
        import boto3

        client = boto3.client("bedrock-runtime", region_name=region_name, config=default_config())
        _CLIENTS[region_name] = client
    return client


# ------------------------------------------------------------------ requests


def _normalise_messages(
    messages: Sequence[Message] | None, prompt: str | None
) -> list[dict[str, Any]]:
    if (messages is None) == (prompt is None):
        raise ValueError("pass exactly one of messages=[...] or prompt='...'")
    if prompt is not None:
        return [{"role": "user", "content": [{"text": prompt}]}]
    out = []
    for message in messages or ():
        content = message.get("content")
        if isinstance(content, str):
            content = [{"text": content}]
        elif not isinstance(content, list):
            raise ValueError("each message's content must be a string or a list of blocks")
        out.append({"role": message.get("role"), "content": content})
    if not out:
        raise ValueError("messages must not be empty")
    return out


def _prompt_for_invoke(
    messages: list[dict[str, Any]], system: str | None, max_tokens: int, temperature: float | None
) -> Prompt:
    turns = []
    for message in messages:
        texts = []
        for block in message["content"]:
            if not isinstance(block, dict) or "text" not in block:
                raise ValueError(
                    "api='invoke' sends text only; use api='converse' for images, documents "
                    "or tool results"
                )
            texts.append(str(block["text"]))
        turns.append((str(message["role"]), "".join(texts)))
    return Prompt(turns, system, max_tokens, temperature)


def _error_details(exc: BaseException) -> tuple[str, str, int | None] | None:
    """(code, message, HTTP status) of a botocore error, or None if it is not one."""
    from botocore.exceptions import ClientError, ConnectionError, ReadTimeoutError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return str(error.get("Code") or "Unknown"), str(error.get("Message") or ""), status
    if isinstance(exc, (ReadTimeoutError, ConnectionError)):
        # Network trouble is worth retrying before the first token, like a 5xx.
        return type(exc).__name__, str(exc), 599
    return None


# ------------------------------------------------------------------ the stream


class BedrockStream:
    """The answer of one model call, as an iterator of typed events.

    Iterate it for every event (:class:`TextDelta`, :class:`ToolUseStart`,
    :class:`ToolUseDelta`, :class:`ReasoningDelta`, then one :class:`StreamEnd`),
    or call :meth:`text` for plain ``str`` pieces. After the stream ends,
    :attr:`end` holds the :class:`StreamEnd` (stop reason and usage). It can
    be iterated once; the request is sent when iteration starts.
    """

    def __init__(self, open_events: Callable[[], Iterator[StreamEvent]], retry: RetryPolicy):
        self._open = open_events
        self._retry = retry
        self._started = False
        self.end: StreamEnd | None = None
        self.attempts = 0

    def __iter__(self) -> Iterator[StreamEvent]:
        if self._started:
            raise RuntimeError("a BedrockStream can be iterated only once")
        self._started = True
        return self._events()

    def _events(self) -> Iterator[StreamEvent]:
        yielded = False
        while True:
            self.attempts += 1
            events = self._open()
            try:
                for event in events:
                    if isinstance(event, StreamEnd):
                        self.end = event
                    else:
                        yielded = True
                    yield event
                return
            except Exception as exc:
                details = _error_details(exc)
                if details is None:
                    raise
                code, message, status = details
                if (
                    yielded
                    or self.attempts >= self._retry.max_attempts
                    or not self._retry.should_retry(code, status)
                ):
                    raise BedrockStreamError(
                        code, message, after_first_token=yielded, attempts=self.attempts
                    ) from exc
            finally:
                close = getattr(events, "close", None)
                if close is not None:
                    close()
            time.sleep(self._retry.delay(self.attempts))

    def text(self) -> Iterator[str]:
        """Only the answer's text, as it arrives: ``yield from stream.text()``."""
        for event in self:
            if isinstance(event, TextDelta) and event.text:
                yield event.text

    def usage(self) -> Usage | None:
        """Token usage once the stream has ended (``None`` before)."""
        return None if self.end is None else self.end.usage


def _converse_events(client: Any, request: dict[str, Any]) -> Iterator[StreamEvent]:
    response = client.converse_stream(**request)
    stream = response["stream"]
    state = ParseState()
    try:
        for event in stream:
            yield from converse_stream_event(event, state)
    finally:
        stream.close()
    yield StreamEnd(
        stop_reason=state.raw_stop,
        usage=Usage(state.input_tokens, state.output_tokens),
        raw_stop_reason=state.raw_stop,
        latency_ms=state.latency_ms,
    )


def _invoke_events(client: Any, model_id: str, body: dict[str, Any]) -> Iterator[StreamEvent]:
    family = family_for(model_id)
    response = client.invoke_model_with_response_stream(
        modelId=model_id,
        body=json.dumps(body).encode("utf-8"),
        contentType="application/json",
        accept="application/json",
    )
    stream = response["body"]
    state = ParseState()
    try:
        for event in stream:
            chunk = event.get("chunk")
            if chunk is not None:
                yield from family.parse_chunk(json.loads(chunk["bytes"]), state)
    finally:
        stream.close()
    yield from family.finish(state)


def stream_text(
    client: Any,
    model_id: str,
    *,
    messages: Sequence[Message] | None = None,
    prompt: str | None = None,
    system: str | None = None,
    max_tokens: int = 1024,
    temperature: float | None = None,
    api: Literal["converse", "invoke"] = "converse",
    retry: RetryPolicy | None = None,
    request_options: Mapping[str, Any] | None = None,
) -> BedrockStream:
    """Stream a model's answer as typed events; ``.text()`` gives just the text.

    ``client`` is a boto3 ``bedrock-runtime`` client (``None``: a cached one
    from :func:`default_client`). Pass ``prompt="..."`` for one user message,
    or ``messages`` as ``[{"role": "user", "content": "hi"}]`` or Converse's
    ``[{"role": "user", "content": [{"text": "hi"}]}]``. ``api="invoke"`` uses
    InvokeModelWithResponseStream with the family's own request body.
    ``request_options`` are merged into the request: ConverseStream keyword
    arguments (``toolConfig``, ``additionalModelRequestFields``, ...) or, for
    ``api="invoke"``, keys of the family's JSON body.

    Nothing is sent until iteration starts. Raises ``ValueError`` for bad
    arguments, :class:`UnsupportedModelError` for an unknown family with
    ``api="invoke"``, and :class:`BedrockStreamError` when Bedrock fails.

    Example (a Lambda generator handler)::

        def handler(event, context):
            yield from stream_text(None, "us.amazon.nova-lite-v1:0",
                                   prompt=event["question"]).text()
    """
    if api not in ("converse", "invoke"):
        raise ValueError(f"api must be 'converse' or 'invoke', not {api!r}")
    if not isinstance(max_tokens, int) or max_tokens < 1:
        raise ValueError("max_tokens must be a positive integer")
    normalised = _normalise_messages(messages, prompt)
    extra = dict(request_options or {})
    if client is None:
        client = default_client()

    if api == "invoke":
        family = family_for(model_id)  # fail now, not at first iteration
        body = family.build_request(_prompt_for_invoke(normalised, system, max_tokens, temperature))
        body.update(extra)

        def open_events() -> Iterator[StreamEvent]:
            return _invoke_events(client, model_id, body)

    else:
        inference: dict[str, Any] = {"maxTokens": max_tokens}
        if temperature is not None:
            inference["temperature"] = temperature
        request: dict[str, Any] = {
            "modelId": model_id,
            "messages": normalised,
            "inferenceConfig": inference,
        }
        if system:
            request["system"] = [{"text": system}]
        request.update(extra)

        def open_events() -> Iterator[StreamEvent]:
            return _converse_events(client, request)

    return BedrockStream(open_events, retry or RetryPolicy())


def text_deltas(client: Any, model_id: str, **options: Any) -> Iterator[str]:
    """Shorthand for ``stream_text(client, model_id, **options).text()``.

    >>> callable(text_deltas)
    True
    """
    return stream_text(client, model_id, **options).text()
