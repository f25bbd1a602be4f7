"""Chat with a Bedrock model, the answer streamed to the caller as it is written.

One Lambda function behind a Function URL (``InvokeMode: RESPONSE_STREAM``):

- ``GET /`` serves a page that sends one prompt twice, streamed and buffered,
  and shows each answer's time to first byte and total time side by side.
- ``POST /`` with JSON ``{"prompt": "..."}`` or ``{"messages": [...],
  "system": "...", "max_tokens": N, "temperature": T}`` streams the answer as
  plain text, or as Server-Sent Events when the request says
  ``Accept: text/event-stream`` (events ``text``, then ``done`` or ``error``).
- ``POST /?mode=buffered`` answers the same request in one piece, for comparison.

Run it with no AWS account::

    lambdastream dev examples.chat.app.handler --root . --timeout 120 --bedrock-local
    lambdastream invoke http://127.0.0.1:9000/ --prompt "Why stream?" --timing

Every input error is a 4xx JSON answer ``{"error": {"code", "message"},
"request_id"}`` sent before any model call. The function can also be invoked
directly (Invoke API) with the request JSON as the event.

Configuration (environment), read once per cold start:

==========================  ===============================================  ==========
variable                    meaning                                          default
==========================  ===============================================  ==========
``CHAT_MODEL_ID``           Bedrock model or inference profile id            Haiku 4.5 (global)
``CHAT_API``                ``converse`` or ``invoke`` (InvokeModel path)    ``converse``
``CHAT_MAX_TOKENS_CAP``     highest ``max_tokens`` a request may ask for     4096
``CHAT_DEFAULT_MAX_TOKENS`` ``max_tokens`` when the request names none       1024
``CHAT_MAX_BODY_BYTES``     largest request body                             65536
``CHAT_MAX_PROMPT_CHARS``   largest total of prompt, messages and system     32000
``CHAT_MAX_MESSAGES``       most messages in one request                     100
``CHAT_SYSTEM_PROMPT``      system prompt when the request gives none        "You are a helpful..."
==========================  ===============================================  ==========

Each request logs one JSON line to stdout (CloudWatch): status, mode, model,
token usage, stop reason, time to first token and duration; never the
prompt or the answer.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import sys
import time
import traceback
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any, Literal

from lambdastream import StreamingResponse, sse
from lambdastream.bedrock import StreamEnd, TextDelta, default_client, stream_text

if __package__:  # examples.chat.app, as `make demo` runs it from a clone
    from . import auth, protocols
else:  # app, at the top of the function's package on Lambda
    import auth
    import protocols

DEFAULT_MODEL_ID = "global.anthropic.claude-haiku-4-5-20251001-v1:0"
DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful, concise assistant. Format answers in Markdown when it helps."
)
STATIC_DIR = Path(__file__).with_name("static")
STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
ALLOWED_FIELDS = frozenset({"prompt", "messages", "system", "max_tokens", "temperature"})
ROLES = ("user", "assistant")
_APIS: dict[str, Literal["converse", "invoke"]] = {"converse": "converse", "invoke": "invoke"}


class ConfigError(Exception):
    """An environment variable holds a value the function cannot use."""


def _env_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if value < 1:
        raise ConfigError(f"{name}={value} must be at least 1")
    return value


@dataclass(frozen=True)
class Config:
    """The function's limits and model, from the environment.

    >>> Config.from_env({"CHAT_MAX_TOKENS_CAP": "512"}).max_tokens_cap
    512
    >>> Config.from_env({"CHAT_MAX_TOKENS_CAP": "100"}).default_max_tokens  # never above the cap
    100
    """

    model_id: str = DEFAULT_MODEL_ID
    # What GET /v1/models lists and /v1/chat/completions may name: the model
    # ids the function's role may call (model_id among them).
    model_ids: tuple[str, ...] = (DEFAULT_MODEL_ID,)
    api: Literal["converse", "invoke"] = "converse"
    max_tokens_cap: int = 4096
    default_max_tokens: int = 1024
    max_body_bytes: int = 64 * 1024
    max_prompt_chars: int = 32_000
    max_messages: int = 100
    system_prompt: str = DEFAULT_SYSTEM_PROMPT

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Config:
        """Read the ``CHAT_*`` variables; raise :class:`ConfigError` on a bad value."""
        cap = _env_int(env, "CHAT_MAX_TOKENS_CAP", cls.max_tokens_cap)
        raw_api = env.get("CHAT_API", "").strip() or cls.api
        api = _APIS.get(raw_api)
        if api is None:
            raise ConfigError(f"CHAT_API={raw_api!r}: use 'converse' or 'invoke'")
        model_id = env.get("CHAT_MODEL_ID", "").strip() or DEFAULT_MODEL_ID
        others = [m.strip() for m in env.get("CHAT_MODEL_IDS", "").split(",") if m.strip()]
        return cls(
            model_id=model_id,
            model_ids=tuple(dict.fromkeys([model_id, *others])),
            api=api,
            max_tokens_cap=cap,
            default_max_tokens=min(
                _env_int(env, "CHAT_DEFAULT_MAX_TOKENS", cls.default_max_tokens), cap
            ),
            max_body_bytes=_env_int(env, "CHAT_MAX_BODY_BYTES", cls.max_body_bytes),
            max_prompt_chars=_env_int(env, "CHAT_MAX_PROMPT_CHARS", cls.max_prompt_chars),
            max_messages=_env_int(env, "CHAT_MAX_MESSAGES", cls.max_messages),
            system_prompt=env.get("CHAT_SYSTEM_PROMPT", DEFAULT_SYSTEM_PROMPT),
        )


# --------------------------------------------------------------- requests
class RequestError(Exception):
    """A request the function refuses: becomes a 4xx JSON answer, never a traceback."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] = {}):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers)


@dataclass(frozen=True)
class ChatRequest:
    """A validated chat request, in the shape ``stream_text`` takes."""

    messages: list[dict[str, Any]]
    system: str | None
    max_tokens: int
    temperature: float | None = None
    prompt_chars: int = 0


def parse_chat_request(body: bytes, config: Config) -> ChatRequest:
    """Validate a request body; raise :class:`RequestError` (4xx) on any problem.

    >>> parse_chat_request(b'{"prompt": "hi"}', Config()).messages
    [{'role': 'user', 'content': [{'text': 'hi'}]}]
    >>> try:
    ...     parse_chat_request(b'{"prompt": "hi", "max_tokens": 99999}', Config())
    ... except RequestError as exc:
    ...     print(exc.status, exc.code, exc.message)
    400 max_tokens_too_large max_tokens is 99999; this function allows at most 4096
    """
    if len(body) > config.max_body_bytes:
        raise _too_large_body(len(body), config)
    if not body.strip():
        raise RequestError(400, "missing_body", 'send a JSON body such as {"prompt": "Hello"}')
    try:
        data = json.loads(body)
    except UnicodeDecodeError:
        raise RequestError(400, "bad_json", "the body is not UTF-8 text") from None
    except ValueError as exc:
        raise RequestError(400, "bad_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RequestError(400, "bad_request", "the body must be a JSON object")
    unknown = sorted(set(data) - ALLOWED_FIELDS)
    if unknown:
        raise RequestError(
            400,
            "unknown_field",
            f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(ALLOWED_FIELDS))}",
        )

    messages = _messages(data, config)
    system = data.get("system")
    if system is not None and not isinstance(system, str):
        raise RequestError(400, "bad_request", "system must be a string")
    # The caller's text only: the configured default system prompt is ours.
    chars = sum(len(block["text"]) for m in messages for block in m["content"])
    chars += len(system or "")
    if system is None:
        system = config.system_prompt
    if chars > config.max_prompt_chars:
        raise RequestError(
            413,
            "prompt_too_long",
            f"the prompt is {chars} characters; this function allows {config.max_prompt_chars}",
        )
    return ChatRequest(
        messages=messages,
        system=system or None,
        max_tokens=_max_tokens(data.get("max_tokens"), config),
        temperature=_temperature(data.get("temperature")),
        prompt_chars=chars,
    )


def _messages(data: Mapping[str, Any], config: Config) -> list[dict[str, Any]]:
    prompt, messages = data.get("prompt"), data.get("messages")
    if prompt is not None and messages is not None:
        raise RequestError(400, "bad_request", "give either prompt or messages, not both")
    if prompt is not None:
        if not isinstance(prompt, str) or not prompt.strip():
            raise RequestError(400, "missing_prompt", "prompt must be a non-empty string")
        return [{"role": "user", "content": [{"text": prompt}]}]
    if messages is None:
        raise RequestError(400, "missing_prompt", 'send {"prompt": "..."} or {"messages": [...]}')
    if not isinstance(messages, list) or not messages:
        raise RequestError(400, "missing_prompt", "messages must be a non-empty list")
    if len(messages) > config.max_messages:
        raise RequestError(
            413,
            "too_many_messages",
            f"{len(messages)} messages; this function allows {config.max_messages}",
        )
    out = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise RequestError(400, "bad_message", f"messages[{i}] must be an object")
        role = message.get("role")
        # Bedrock wants the turns to alternate, starting and ending with the user.
        expected = ROLES[i % 2]
        if role != expected:
            raise RequestError(
                400,
                "bad_message",
                f"messages[{i}].role is {role!r}; expected {expected!r} "
                "(turns alternate, starting with 'user')",
            )
        out.append({"role": role, "content": [{"text": _message_text(message, i)}]})
    if out[-1]["role"] != "user":
        raise RequestError(400, "bad_message", "the last message must be the user's")
    return out


def _message_text(message: Mapping[str, Any], i: int) -> str:
    content = message.get("content")
    # Accept plain text, or Converse's [{"text": ...}] blocks (text only).
    if isinstance(content, list) and all(
        isinstance(b, dict) and set(b) == {"text"} and isinstance(b["text"], str) for b in content
    ):
        content = "".join(b["text"] for b in content)
    if not isinstance(content, str) or not content.strip():
        raise RequestError(400, "bad_message", f"messages[{i}].content must be non-empty text")
    return content


def _max_tokens(value: Any, config: Config) -> int:
    if value is None:
        return config.default_max_tokens
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RequestError(400, "bad_max_tokens", "max_tokens must be a positive integer")
    if value > config.max_tokens_cap:
        raise RequestError(
            400,
            "max_tokens_too_large",
            f"max_tokens is {value}; this function allows at most {config.max_tokens_cap}",
        )
    return value


def _temperature(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise RequestError(400, "bad_temperature", "temperature must be a number from 0 to 1")
    return float(value)


def _too_large_body(size: int, config: Config) -> RequestError:
    return RequestError(
        413,
        "body_too_large",
        f"the body is {size} bytes; this function accepts at most {config.max_body_bytes}",
    )


# ---------------------------------------------------------- the handler
# Read once per cold start. A bad value fails the init, loudly, with the
# variable's name: better than serving requests with limits nobody chose.
CONFIG = Config.from_env()
# Built at init, not on the first chat: init runs before the environment
# takes requests (and SnapStart snapshots it), so the first person to ask
# does not wait for boto3 to load. Honours AWS_ENDPOINT_URL_BEDROCK_RUNTIME
# (set by `lambdastream dev --bedrock-local`).
BEDROCK = default_client()
# API-key mode (CHAT_API_KEY_SECRET_ARN set): the key, read from Secrets
# Manager once, here; None when the Function URL's AWS_IAM guards the function.
AUTH = auth.from_env(os.environ)
_STATIC: dict[str, tuple[bytes, str]] = {}


def handler(event: Any, context: Any) -> Any:
    """The Lambda entry point: route, validate, then answer.

    Example (what ``lambdastream dev`` or a Function URL sends)::

        handler({"requestContext": {"http": {"method": "POST"}}, "rawPath": "/",
                 "headers": {"accept": "text/event-stream"},
                 "body": '{"prompt": "hi"}'}, context)
    """
    log = RequestLog(request_id=getattr(context, "aws_request_id", None) or "-")
    try:
        return _route(event, log)
    except RequestError as exc:
        return log.finish(_error(exc, log.request_id))
    except Exception as exc:  # the one boundary: log it, answer 500
        log.error = f"{type(exc).__name__}: {exc}"
        # The traceback goes to the log (for whoever operates the function),
        # never into the answer.
        traceback.print_exc()
        return log.finish(
            _error(
                RequestError(500, "internal_error", "the function failed; see its logs"),
                log.request_id,
            )
        )


def _route(event: Any, log: RequestLog) -> Any:
    if not isinstance(event, dict):
        raise RequestError(400, "bad_request", "the event must be a JSON object")
    http = (event.get("requestContext") or {}).get("http")
    if isinstance(http, dict):
        # Function URL (payload format 2.0).
        method = str(http.get("method", "GET")).upper()
        path = event.get("rawPath") or http.get("path") or "/"
    elif "httpMethod" in event:
        # API Gateway REST proxy (format 1.0), which can stream since November 2025.
        method = str(event["httpMethod"]).upper()
        path = event.get("path") or "/"
    else:
        # Invoked directly (Invoke API): the event is the chat request itself.
        log.method, log.path, log.mode = "INVOKE", "-", "stream"
        return _chat(json.dumps(event).encode(), log, sse_events=False, buffered=False)
    log.method, log.path = method, path
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    query = event.get("queryStringParameters") or {}

    authorized = AUTH is None or AUTH.allows(headers)
    if protocols.handles(path):
        return protocols.route(
            method, path, headers, lambda: _body(event),
            config=CONFIG, client=BEDROCK, log=log, authorized=authorized,
        )  # fmt: skip
    if method in ("GET", "HEAD"):
        return log.finish(_static(path, head=method == "HEAD"))
    if not authorized:
        raise RequestError(
            401, "unauthorized", "send the API key as Authorization: Bearer <key>",
            headers={"www-authenticate": "Bearer"},
        )  # fmt: skip
    if path != "/":
        raise RequestError(404, "not_found", f"no route for {method} {path}")
    if method != "POST":
        raise RequestError(
            405,
            "method_not_allowed",
            f"{method} is not allowed here; use GET or POST",
            headers={"allow": "GET, HEAD, POST"},
        )
    mode = query.get("mode", "stream")
    if mode not in ("stream", "buffered"):
        raise RequestError(400, "bad_mode", f"mode={mode!r}: use 'stream' or 'buffered'")
    body = _body(event)
    sse_events = "text/event-stream" in headers.get("accept", "")
    log.mode = "buffered" if mode == "buffered" else ("sse" if sse_events else "stream")
    return _chat(body, log, sse_events=sse_events, buffered=mode == "buffered")


def _body(event: Mapping[str, Any]) -> bytes:
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        # Refuse before decoding: base64 is 4/3 the size of what it holds.
        if len(raw) > CONFIG.max_body_bytes * 4 // 3 + 4:
            raise _too_large_body(len(raw) * 3 // 4, CONFIG)
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise RequestError(400, "bad_body", "the body is not valid base64") from None
    return raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)


def _chat(body: bytes, log: RequestLog, *, sse_events: bool, buffered: bool) -> Any:
    request = parse_chat_request(body, CONFIG)
    log.model_id, log.prompt_chars = CONFIG.model_id, request.prompt_chars
    log.messages, log.max_tokens = len(request.messages), request.max_tokens
    log.out_chars = 0
    events = iter(
        stream_text(
            BEDROCK,
            CONFIG.model_id,
            messages=request.messages,
            system=request.system,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            api=CONFIG.api,
        )
    )
    # Pull the first event before answering: a failure before the model says
    # anything (throttled, no access, bad model id) still gets a clean JSON
    # status, since a streamed answer's status is fixed by its first byte.
    try:
        first = next(events)
    except StopIteration:
        first = None
    except Exception as exc:  # mapped to a status, details only in the log
        raise _model_error(exc, log) from None
    log.first_token()
    stream = chain([first] if first is not None else [], events)
    if buffered:
        return _buffered(stream, log)
    if sse_events:
        return StreamingResponse(
            sse(_sse_events(stream, log)),
            # no-cache and no proxy buffering: an SSE stream is useless if a
            # cache or a reverse proxy (nginx) holds it back.
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )
    return StreamingResponse(
        _text_chunks(stream, log),
        headers={"cache-control": "no-cache"},
        media_type="text/plain; charset=utf-8",
    )


def _text_chunks(events: Iterable[Any], log: RequestLog) -> Iterator[str]:
    try:
        for event in events:
            if isinstance(event, TextDelta) and event.text:
                log.out_chars = (log.out_chars or 0) + len(event.text)
                yield event.text
            elif isinstance(event, StreamEnd):
                log.end(event)
    except Exception as exc:  # re-raised as a clean error for the trailers
        raise ModelStreamError(_log_stream_failure(exc, log)) from None
    finally:
        log.finish_stream()


def _sse_events(events: Iterable[Any], log: RequestLog) -> Iterator[dict[str, Any]]:
    try:
        for event in events:
            if isinstance(event, TextDelta) and event.text:
                log.out_chars = (log.out_chars or 0) + len(event.text)
                yield {"event": "text", "data": event.text}
            elif isinstance(event, StreamEnd):
                log.end(event)
                yield {"event": "done", "data": log.summary()}
    except Exception as exc:  # told in-band, then re-raised for Lambda
        message = _log_stream_failure(exc, log)
        # Browsers never see Lambda's error trailers: say it in the stream itself.
        yield {"event": "error", "data": {"code": log.error_code, "message": message}}
        raise ModelStreamError(message) from None
    finally:
        log.finish_stream()


def _buffered(events: Iterable[Any], log: RequestLog) -> dict[str, Any]:
    parts = []
    try:
        for event in events:
            if isinstance(event, TextDelta):
                parts.append(event.text)
            elif isinstance(event, StreamEnd):
                log.end(event)
    except Exception as exc:  # buffered: a status can still say it
        raise _model_error(exc, log) from None
    text = "".join(parts)
    log.out_chars = len(text)
    headers = {"content-type": "text/plain; charset=utf-8", "cache-control": "no-cache"}
    # What the SSE "done" event tells a streaming caller, as headers.
    for name, value in (
        ("x-stop-reason", log.stop_reason),
        ("x-input-tokens", log.input_tokens),
        ("x-output-tokens", log.output_tokens),
    ):
        if value is not None:
            headers[name] = str(value)
    return log.finish({"statusCode": 200, "headers": headers, "body": text})


class ModelStreamError(Exception):
    """The model failed after the answer began; Lambda reports it as a mid-stream error."""


def _model_error(exc: Exception, log: RequestLog) -> RequestError:
    code = getattr(exc, "code", None) or type(exc).__name__
    log.error, log.error_code = f"{code}: {exc}", "model_error"
    # Map AWS's code to what the caller can act on; its message stays in our log.
    if "Throttl" in code or "TooManyRequests" in code or "ServiceQuota" in code:
        log.error_code = "model_busy"
        return RequestError(
            429, "model_busy", "the model is busy; try again shortly", {"retry-after": "2"}
        )
    if code in ("validationException", "ValidationException"):
        log.error_code = "model_rejected"
        return RequestError(400, "model_rejected", "the model rejected the request")
    if "Unavailable" in code or "NotReady" in code or "Timeout" in code:
        log.error_code = "model_unavailable"
        return RequestError(503, "model_unavailable", "the model is unavailable; try again")
    return RequestError(502, "model_error", "the model call failed; see the function's logs")


def _log_stream_failure(exc: Exception, log: RequestLog) -> str:
    code = getattr(exc, "code", None) or type(exc).__name__
    log.error, log.error_code = f"{code}: {exc}", "model_stream_error"
    return f"the model stopped mid-answer ({code}); the answer is incomplete"


def _static(path: str, *, head: bool = False) -> dict[str, Any]:
    name = "index.html" if path in ("/", "/index.html") else path.lstrip("/")
    # Only files the function ships, by exact name: no path walking.
    if name not in _static_files():
        raise RequestError(404, "not_found", f"no page at {path}")
    content, media_type = _STATIC[name]
    is_text = media_type.startswith("text/")
    body = "" if head else (content.decode() if is_text else base64.b64encode(content).decode())
    return {
        "statusCode": 200,
        "headers": {"content-type": media_type, "cache-control": "no-cache"},
        "body": body,
        "isBase64Encoded": not is_text and not head,
    }


def _static_files() -> dict[str, tuple[bytes, str]]:
    if not _STATIC:
        for file in STATIC_DIR.iterdir():
            media_type = STATIC_TYPES.get(file.suffix)
            if file.is_file() and media_type:
                _STATIC[file.name] = (file.read_bytes(), media_type)
    return _STATIC


def _error(exc: RequestError, request_id: str) -> dict[str, Any]:
    body = {"error": {"code": exc.code, "message": exc.message}, "request_id": request_id}
    return {
        "statusCode": exc.status,
        "headers": {"content-type": "application/json", **exc.headers},
        "body": json.dumps(body),
    }


# ------------------------------------------------------------------ logs
@dataclass
class RequestLog:
    """One structured log line per request, written when the answer is complete."""

    request_id: str
    method: str = "-"
    path: str = "-"
    mode: str | None = None
    status: int = 200
    model_id: str | None = None
    messages: int | None = None
    prompt_chars: int | None = None
    max_tokens: int | None = None
    out_chars: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    stop_reason: str | None = None
    error: str | None = None
    error_code: str | None = None
    started: float = field(default_factory=time.perf_counter)
    first_token_ms: float | None = None
    _done: bool = False

    def first_token(self) -> None:
        self.first_token_ms = round((time.perf_counter() - self.started) * 1000, 1)

    def end(self, event: StreamEnd) -> None:
        self.stop_reason = event.stop_reason
        self.input_tokens = event.usage.input_tokens
        self.output_tokens = event.usage.output_tokens

    def summary(self) -> dict[str, Any]:
        """What the SSE ``done`` event tells the page."""
        return {
            "stop_reason": self.stop_reason,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "model_id": self.model_id,
        }

    def finish(self, response: dict[str, Any]) -> dict[str, Any]:
        """Log a buffered answer (page, error, buffered chat) and return it."""
        self.status = int(response.get("statusCode", 200))
        self._write()
        return response

    def finish_stream(self) -> None:
        self._write()

    def _write(self) -> None:
        if self._done:
            return
        self._done = True
        record = {
            "message": "chat request",
            "request_id": self.request_id,
            "method": self.method,
            "path": self.path,
            "mode": self.mode,
            "status": self.status,
            "model_id": self.model_id,
            "messages": self.messages,
            "prompt_chars": self.prompt_chars,
            "max_tokens": self.max_tokens,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "output_chars": self.out_chars,
            "stop_reason": self.stop_reason,
            "first_token_ms": self.first_token_ms,
            "duration_ms": round((time.perf_counter() - self.started) * 1000, 1),
            "error_code": self.error_code,
            "error": self.error,
        }
        # One line, no None noise: CloudWatch Logs Insights reads it as JSON.
        line = json.dumps({k: v for k, v in record.items() if v is not None})
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
