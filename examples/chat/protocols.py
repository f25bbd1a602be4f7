"""The chat's routes for clients that speak a protocol of their own.

- ``POST /v1/chat/completions`` and ``GET /v1/models``: OpenAI's chat
  completions (the ``openai`` SDKs, LangChain's ``ChatOpenAI``, LlamaIndex's
  ``OpenAILike``, the AI SDK's ``@ai-sdk/openai-compatible``), streamed as
  ``chat.completion.chunk`` events when the request says ``"stream": true``.
- ``POST /api/chat``: the Vercel AI SDK's UI message stream, v1 (what
  ``useChat`` with ``DefaultChatTransport`` posts and reads). The model may
  call the tools in :data:`UI_TOOLS`; the page runs them (``onToolCall``)
  and sends their results back.

Each refusal is in its protocol's own error shape (OpenAI's ``{"error":
{"message", "type", "param", "code"}}``; for ``/api/chat`` a JSON body the
AI SDK's transport raises as the error's message), sent before any model
call. The protocols themselves are :mod:`lambdastream.chatapi`; this module
routes, reads the first event before answering (so a failure before the
model says anything is still an HTTP status), and logs.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import chain
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from lambdastream import StreamingResponse
from lambdastream.bedrock import BedrockStreamError, StreamEnd, TextDelta, stream_text
from lambdastream.chatapi import openai_chat, ui_stream
from lambdastream.chatapi.call import BedrockCall, ProtocolError

if TYPE_CHECKING:
    from app import Config, RequestLog

OPENAI_ROUTES = ("/v1/chat/completions", "/v1/models")
MODEL_PREFIX = "/v1/models/"  # GET /v1/models/{model}: the SDKs' models.retrieve
UI_ROUTE = "/api/chat"
ROUTES = (*OPENAI_ROUTES, UI_ROUTE)


def handles(path: str) -> bool:
    """Whether ``path`` is one of this module's routes."""
    return path in ROUTES or path.startswith(MODEL_PREFIX)


# The tools /api/chat offers the model. The page runs them and posts the
# results back (the AI SDK's client-side tools): the function itself calls
# nothing but the model.
UI_TOOLS: list[dict[str, Any]] = [
    {
        "toolSpec": {
            "name": "get_weather",
            "description": "The current weather in a city.",
            "inputSchema": {
                "json": {
                    "type": "object",
                    "properties": {"city": {"type": "string", "description": "The city's name"}},
                    "required": ["city"],
                    "additionalProperties": False,
                }
            },
        }
    }
]
_JSON = {"content-type": "application/json"}
# The log's error_code of a refusal, by status (the body has the protocol's own).
_ERROR_CODES = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
                413: "body_too_large"}  # fmt: skip
_STREAM_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def route(
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: Callable[[], bytes],
    *,
    config: Config,
    client: Any,
    log: RequestLog,
    authorized: bool,
) -> Any:
    """Answer one request to :data:`ROUTES`; ``authorized`` is False when an API key was wrong.

    ``body`` reads the request body (bytes) when called: a refused request
    is never decoded.
    """
    openai = path in OPENAI_ROUTES or path.startswith(MODEL_PREFIX)
    try:
        if not authorized:
            raise openai_chat.invalid_api_key(_bearer(headers)) if openai else _unauthorized()
        if path == "/v1/models":
            _method(method, ("GET",), openai=True)
            return log.finish(_json(200, openai_chat.models_list(config.model_ids)))
        if path.startswith(MODEL_PREFIX):
            _method(method, ("GET",), openai=True)
            model = unquote(path.removeprefix(MODEL_PREFIX))
            if model not in config.model_ids:
                raise openai_chat.model_not_found(model)
            return log.finish(_json(200, openai_chat.models_list([model])["data"][0]))
        _method(method, ("POST",), openai=openai)
        raw = body()
        if len(raw) > config.max_body_bytes:
            raise _too_large(len(raw), config.max_body_bytes, openai=openai)
        if openai:
            return _openai(raw, config, client, log)
        return _ui(raw, config, client, log)
    except ProtocolError as exc:
        log.error_code = log.error_code or _ERROR_CODES.get(exc.status, "bad_request")
        headers = _retry_headers(exc)
        if exc.status == 405:  # RFC 9110: a 405 names the methods the resource takes
            headers["allow"] = "GET" if path.startswith("/v1/models") else "POST"
        elif exc.status == 401:  # ... and a 401 the scheme, as POST / does
            headers["www-authenticate"] = "Bearer"
        return log.finish(_json(exc.status, exc.body, headers))


def _retry_headers(exc: ProtocolError) -> dict[str, str]:
    """Headers a refusal carries besides its JSON (``retry-after`` when throttled)."""
    return {"retry-after": "2"} if exc.status == 429 else {}


# ------------------------------------------------------------------ OpenAI
def _openai(raw: bytes, config: Config, client: Any, log: RequestLog) -> Any:
    call = openai_chat.parse_chat_completions(
        raw,
        models=config.model_ids,
        default_model=config.model_id,
        max_tokens_cap=config.max_tokens_cap,
        default_max_tokens=config.default_max_tokens,
        max_messages=config.max_messages,
        max_chars=config.max_prompt_chars,
    )
    model = call.model_id or config.model_id
    log.mode = "openai-stream" if call.stream else "openai"
    events = _first_event_read(call, model, config, client, log, openai=True)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    if not call.stream:
        try:
            answer = openai_chat.completion(
                _logged(events, log), model=model, completion_id=completion_id, created=created
            )
        except BedrockStreamError as exc:
            raise _model_error(exc, log, openai=True) from None
        return log.finish(_json(200, answer))
    chunks = openai_chat.stream_chunks(
        _logged(events, log),
        model=model,
        completion_id=completion_id,
        created=created,
        include_usage=call.include_usage,
    )
    return StreamingResponse(
        _finishing(chunks, log), headers=_STREAM_HEADERS, media_type="text/event-stream"
    )


# ------------------------------------------------------------- UI stream
def _ui(raw: bytes, config: Config, client: Any, log: RequestLog) -> Any:
    call = ui_stream.parse_chat_request(
        raw,
        max_tokens=config.default_max_tokens,
        max_messages=config.max_messages,
        max_chars=config.max_prompt_chars,
        tools=UI_TOOLS,
    )
    log.mode = "ui-stream"
    events = _first_event_read(call, config.model_id, config, client, log, openai=False)
    message_id = ui_stream.response_message_id(raw, f"msg-{uuid.uuid4().hex}")
    parts = ui_stream.stream_parts(
        _logged(events, log),
        message_id=message_id,
        include_usage=False,
        error_text=lambda exc: _ui_stream_failed(exc, log),
    )
    return StreamingResponse(_finishing(parts, log), headers=dict(ui_stream.HEADERS))


def _ui_stream_failed(exc: BedrockStreamError, log: RequestLog) -> str:
    """The error part's text; the failure logged (stream_parts ends the stream quietly)."""
    log.error, log.error_code = f"{exc.code}: {exc}", "model_stream_error"
    return f"The model stream failed ({exc.code})."


# ------------------------------------------------------------------ shared
def _first_event_read(
    call: BedrockCall, model: str, config: Config, client: Any, log: RequestLog, *, openai: bool
) -> Iterator[Any]:
    """The model's events, the first already read: its failure is still a status."""
    kwargs = call.stream_text_kwargs()
    if kwargs["system"] is None:
        kwargs["system"] = config.system_prompt or None
    log.model_id, log.max_tokens = model, call.max_tokens
    log.messages = len(call.messages)
    events = iter(stream_text(client, model, api="converse", **kwargs))
    try:
        first = next(events)
    except StopIteration:
        return iter(())
    except BedrockStreamError as exc:
        raise _model_error(exc, log, openai=openai) from None
    log.first_token()
    return chain([first], events)


def _logged(events: Iterable[Any], log: RequestLog) -> Iterator[Any]:
    for event in events:
        if isinstance(event, TextDelta):
            log.out_chars = (log.out_chars or 0) + len(event.text)
        elif isinstance(event, StreamEnd):
            log.end(event)
        yield event


def _finishing(chunks: Iterable[bytes], log: RequestLog) -> Iterator[bytes]:
    try:
        yield from chunks
    except BedrockStreamError as exc:
        # The client was told in its protocol; the error trailers tell Lambda.
        log.error, log.error_code = f"{exc.code}: {exc}", "model_stream_error"
        raise
    finally:
        log.finish_stream()


def _model_error(exc: BedrockStreamError, log: RequestLog, *, openai: bool) -> ProtocolError:
    log.error, log.error_code = f"{exc.code}: {exc}", "model_error"
    mapped = openai_chat.bedrock_error(exc.code, str(exc))
    if openai:
        return mapped
    # The UI stream's refusals: the AI SDK shows the body's text as the error.
    if mapped.status == 429:
        message = "the model is busy; try again shortly"
    else:
        message = "the model call failed; see the function's logs"
    return _ui_error(mapped.status, "model_error", message)


def _method(method: str, allowed: tuple[str, ...], *, openai: bool) -> None:
    if method in allowed:
        return
    message = f"{method} is not allowed here; use {', '.join(allowed)}"
    if openai:
        raise ProtocolError(
            405,
            openai_chat.error_body(405, message, type="invalid_request_error"),
            message,
        )
    raise _ui_error(405, "method_not_allowed", message)


def _too_large(size: int, limit: int, *, openai: bool) -> ProtocolError:
    message = f"the body is {size} bytes; this function accepts at most {limit}"
    if openai:
        return ProtocolError(
            413, openai_chat.error_body(413, message, type="invalid_request_error"), message
        )
    return _ui_error(413, "body_too_large", message)


def _unauthorized() -> ProtocolError:
    return _ui_error(401, "unauthorized", "send the API key as Authorization: Bearer <key>")


def _ui_error(status: int, code: str, message: str) -> ProtocolError:
    return ProtocolError(status, {"error": {"code": code, "message": message}}, message)


def _bearer(headers: Mapping[str, str]) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _json(status: int, body: Mapping[str, Any], headers: Mapping[str, str] = {}) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {**_JSON, **headers},
        "body": json.dumps(body),
    }
