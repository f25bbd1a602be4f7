"""A local bedrock-runtime endpoint that real boto3 talks to (``lambdastream bedrock-local``).

Serves InvokeModel, InvokeModelWithResponseStream, Converse and
ConverseStream on ``/model/{modelId}/...`` with Bedrock's wire format: event
stream framing, per-family chunk JSON (the same family table the client
uses) with invocation metrics, in-stream exception events, and HTTP errors
with ``x-amzn-ErrorType``. On the same port, the control-plane reads apps
make at init (the ``bedrock`` service: ListFoundationModels,
GetFoundationModel, ListInferenceProfiles, GetInferenceProfile on
``/foundation-models`` and ``/inference-profiles``, answered from
:mod:`lambdastream.bedrock.catalogue`), so ``AWS_ENDPOINT_URL_BEDROCK`` and
``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` name the same URL. Any SigV4-signed
request is accepted; signatures are not checked (beyond loopback they are).
It runs on the local Lambda's HTTP server (:mod:`lambdastream.httpserver`),
with its limits and timeouts.

Example::

    from lambdastream.bedrock.local_server import start_background

    server = start_background(first_token_latency=0.01)
    client = boto3.client("bedrock-runtime", endpoint_url=server.url,
                          region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    ...
    server.stop()
"""

from __future__ import annotations

import base64
import dataclasses
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from lambdastream.bedrock import catalogue, faults
from lambdastream.bedrock.backends import (
    Backend,
    BackendError,
    OpenAIBackend,
    prompt_tokens,
    tokens_of,
)
from lambdastream.bedrock.errors import UnsupportedModelError
from lambdastream.bedrock.events import (
    StreamEnd,
    StreamEvent,
)
from lambdastream.bedrock.families import (
    FAMILIES,
    Answer,
    Family,
    Prompt,
    RenderState,
    RequestError,
    converse_output,
    converse_render,
    family_for,
    invocation_metrics,
    read_converse_request,
)
from lambdastream.bedrock.scripted import ScriptedBackend, default_script
from lambdastream.httpserver import AsyncResponse, ResponseWriter
from lambdastream.wire.eventstream import CONTENT_TYPE as EVENT_STREAM
from lambdastream.wire.eventstream import encode_event, encode_exception
from lambdastream.wire.request import HttpRequest
from lambdastream.wire.sigv4 import ALGORITHM as SIGV4_ALGORITHM
from lambdastream.wire.sigv4 import AuthError, SigV4Verifier

OPERATIONS = ("invoke", "invoke-with-response-stream", "converse", "converse-stream")
STREAMING = ("invoke-with-response-stream", "converse-stream")
# InvokeModel's body: at most 25,000,000 bytes (the ``Body`` shape's ``max``
# in botocore's bedrock-runtime service model). Converse declares none; the
# same bound holds for every request here.
MAX_BODY = 25_000_000
# What Bedrock answers for a body it cannot read as JSON.
MALFORMED = "Malformed input request, please reformat your input and retry."
# ... and for a model id it does not serve (any operation).
INVALID_MODEL = "The provided model identifier is invalid."


class ApiError(Exception):
    """An error answered as Bedrock does: status, ``x-amzn-ErrorType``, ``{"message"}``."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or faults.HTTP_ERRORS.get(code, 400)


@dataclass
class Call:
    """One request, parsed: what to generate and how to answer."""

    operation: str
    model_id: str
    prompt: Prompt
    directives: list[tuple[str, str | None]] = field(default_factory=list)
    family: Family | None = None


def build_backend(
    backend: str = "scripted",
    *,
    first_token_latency: float = 0.3,
    tokens_per_second: float = 65.0,
    script: str | None = None,
    openai_base_url: str | None = None,
    openai_model: str | None = None,
    openai_api_key: str | None = None,
) -> Backend:
    """The backend named ``scripted`` or ``openai``, configured.

    ``script`` is the scripted model's: ``answer`` or ``echo``; ``None``
    takes ``$LAMBDASTREAM_BEDROCK_SCRIPT``, else ``answer``.
    """
    if backend == "scripted":
        return ScriptedBackend(first_token_latency, tokens_per_second, script or default_script())
    if backend == "openai":
        if not openai_base_url:
            raise ValueError("the openai backend needs openai_base_url (--openai-base-url)")
        return OpenAIBackend(openai_base_url, openai_model, openai_api_key)
    raise ValueError(f"unknown backend {backend!r}: use 'scripted' or 'openai'")


class BedrockLocal:
    """The request handler: routes, validation, faults, rendering."""

    def __init__(
        self,
        backend: Backend,
        fault_specs: list[str] | None = None,
        authorize: SigV4Verifier | None = None,
    ) -> None:
        self.backend = backend
        self.global_directives = [faults.parse_spec(s) for s in fault_specs or []]
        self._throttled: dict[str, int] = {}
        # Bedrock refuses a model it does not serve, Converse included. The
        # scripted model serves the families bedrock-local knows; an
        # OpenAI-compatible server knows its own models (its "not found"
        # comes back as ValidationException), and may be asked for one by
        # its own name, so Converse leaves the check to it.
        self._converse_any_model = not isinstance(backend, ScriptedBackend)
        self.authorize = authorize

    async def handle(self, request: HttpRequest, response: AsyncResponse) -> None:
        request_id = str(uuid.uuid4())
        try:
            if catalogue.serves(request.target.split("?", 1)[0]):
                await self._control_plane(request, response, request_id)
                return
            call = self._parse(request)
            await self._answer(call, response, request_id)
        except ApiError as exc:
            if response.started:  # never, by construction: errors in a stream are events
                return
            await response.send(*_error_answer(request_id, exc))
        except ConnectionError:
            return  # the client went away: nobody to answer
        except Exception as exc:  # never a traceback to the client, never a dead server
            if response.started:
                return
            error = ApiError("InternalServerException", f"bedrock-local: {exc}")
            await response.send(*_error_answer(request_id, error))

    def too_large(self, request: HttpRequest, writer: ResponseWriter) -> None:
        """Answer a request whose body is over ``MAX_BODY``, from its head alone."""
        error = ApiError(
            "ValidationException",
            "1 validation error detected: Value at 'body' failed to satisfy constraint:"
            f" Member must have length less than or equal to {MAX_BODY}",
        )
        writer.send(*_error_answer(str(uuid.uuid4()), error))

    def throttled(self, request: HttpRequest, writer: ResponseWriter) -> None:
        """Answer a request the server's upload budget cannot hold: Bedrock's throttling."""
        error = ApiError(
            "ThrottlingException", "Too many requests, please wait before trying again."
        )
        writer.send(*_error_answer(str(uuid.uuid4()), error))

    def _authenticate(self, request: HttpRequest) -> str:
        """The request's ``Authorization``: SigV4-signed, checked beyond loopback."""
        authorization = next(
            (value for name, value in request.headers if name.lower() == "authorization"), ""
        )
        if not authorization.startswith(SIGV4_ALGORITHM):
            raise ApiError(
                "MissingAuthenticationTokenException", "Missing Authentication Token", 403
            )
        if self.authorize is not None:  # beyond loopback: the signature must be right
            try:
                self.authorize.check(request)
            except AuthError as refused:
                raise ApiError(refused.error_type, refused.message, 403) from None
        return authorization

    async def _control_plane(
        self, request: HttpRequest, response: AsyncResponse, request_id: str
    ) -> None:
        """A read of the ``bedrock`` service (the catalogue), for the signed region."""
        region = catalogue.region_of(self._authenticate(request))
        try:
            status, body = catalogue.answer(request.method, request.target, region)
        except catalogue.CatalogueError as exc:
            raise ApiError(exc.code, exc.message, exc.status) from None
        headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)]
        await response.send(status, headers, json.dumps(body).encode("utf-8"))

    # ----------------------------------------------------------- parsing

    def _parse(self, request: HttpRequest) -> Call:
        path = request.target.split("?", 1)[0]
        pieces = path.split("/")
        if len(pieces) != 4 or pieces[1] != "model" or pieces[3] not in OPERATIONS:
            raise ApiError("UnknownOperationException", f"no operation at {path}", 404)
        if request.method != "POST":
            raise ApiError("UnknownOperationException", f"{request.method} {path}", 404)
        self._authenticate(request)
        operation, model_id = pieces[3], unquote(pieces[2])
        if not model_id:
            raise ApiError("ValidationException", "modelId must not be empty")
        invoke = operation.startswith("invoke")
        family = None
        if invoke or not self._converse_any_model:
            try:
                family = family_for(model_id)
            except UnsupportedModelError:
                known = "; ".join(entry.label for entry in FAMILIES)
                raise ApiError(
                    "ValidationException", f"{INVALID_MODEL} (bedrock-local serves: {known})"
                ) from None
        body = _json_object(request.body)
        try:
            if invoke:
                assert family is not None
                prompt = family.read_request(body)
            else:
                prompt = read_converse_request(body)
            directives, cleaned = faults.parse_directives(prompt.last_user_text)
        except (RequestError, faults.DirectiveError) as exc:
            raise ApiError("ValidationException", f"Malformed input request: {exc}") from None
        except RecursionError:  # nested deeper than the reader goes: not a request either
            raise ApiError("ValidationException", MALFORMED) from None
        prompt = _replace_last_user_text(prompt, cleaned)
        directives = self.global_directives + directives
        if invoke and family is not None:
            # Its chunks have no place for reasoning (or tool calls), so the scripted model
            # does not reason (or call): the usage then counts only what the client receives.
            unsaid = {"think"} if not family.carries_reasoning else set()
            unsaid |= {"tool"} if not family.carries_tools else set()
            directives = [d for d in directives if d[0] not in unsaid]
        return Call(operation, model_id, prompt, directives, family if invoke else None)

    # ----------------------------------------------------------- answering

    def _before_stream_faults(self, call: Call) -> None:
        for name, arg in call.directives:
            if name == "error":
                raise ApiError(str(arg), f"Injected {arg} (bedrock-local fault)")
            if name == "throttle":
                key = f"{call.model_id}\n{call.prompt}"
                seen = self._throttled.get(key, 0)
                self._throttled[key] = seen + 1
                if seen < int(arg or 1):
                    raise ApiError(
                        "ThrottlingException", "Too many requests, please wait before trying again."
                    )

    async def _answer(self, call: Call, response: AsyncResponse, request_id: str) -> None:
        self._before_stream_faults(call)
        started = time.monotonic()
        stream_error = next((arg for name, arg in call.directives if name == "stream-error"), None)
        fail_after, fail_code = None, "modelStreamErrorException"
        if stream_error is not None:
            count, _, code = stream_error.partition(":")
            fail_after, fail_code = int(count), code or fail_code
        events = self.backend.generate(call.model_id, call.prompt, call.directives)
        state = RenderState(call.model_id, input_tokens=prompt_tokens(call.prompt))
        if call.operation in STREAMING:
            await self._stream(
                call, events, state, response, request_id, started, fail_after, fail_code
            )
        else:
            await self._whole(call, events, state, response, request_id, started, fail_after)

    async def _stream(
        self,
        call: Call,
        events: AsyncIterator[StreamEvent],
        state: RenderState,
        response: AsyncResponse,
        request_id: str,
        started: float,
        fail_after: int | None,
        fail_code: str,
    ) -> None:
        converse = call.operation == "converse-stream"
        first = await _first_event(events)  # errors before the first token stay HTTP errors
        headers = [
            ("Content-Type", EVENT_STREAM),
            ("x-amzn-RequestId", request_id),
        ]
        if not converse:
            headers.append(("X-Amzn-Bedrock-Content-Type", "application/json"))
        await response.start(200, headers)
        first_byte_ms = int((time.monotonic() - started) * 1000)

        family = call.family

        def render(event: StreamEvent) -> list[dict[str, Any]]:
            if family is None:
                return converse_render(event, state)
            return family.render(event, state)

        async def send(chunks: list[dict[str, Any]]) -> None:
            for chunk in chunks:
                await response.write(_frame(chunk, converse))

        await send(
            [{"messageStart": {"role": "assistant"}}] if family is None else family.begin(state)
        )
        tokens = 0
        try:
            async for event in _chain(first, events):
                if (
                    fail_after is not None
                    and tokens >= fail_after
                    and not isinstance(event, StreamEnd)
                ):
                    await response.write(
                        encode_exception(fail_code, "Injected stream error (bedrock-local fault)")
                    )
                    break
                if tokens_of(event):
                    tokens += tokens_of(event)
                    state.output_tokens = tokens
                if isinstance(event, StreamEnd):
                    state.input_tokens = event.usage.input_tokens or state.input_tokens
                    state.output_tokens = event.usage.output_tokens or tokens
                    latency = int((time.monotonic() - started) * 1000)
                    event = StreamEnd(
                        event.stop_reason, event.usage, event.raw_stop_reason, latency
                    )
                    chunks = render(event)
                    if not converse:
                        chunks[-1] = {
                            **chunks[-1],
                            **invocation_metrics(state, latency, first_byte_ms),
                        }
                    await send(chunks)
                else:
                    await send(render(event))
        except BackendError as exc:
            await response.write(encode_exception("modelStreamErrorException", exc.message))
        await response.end()

    async def _whole(
        self,
        call: Call,
        events: AsyncIterator[StreamEvent],
        state: RenderState,
        response: AsyncResponse,
        request_id: str,
        started: float,
        fail_after: int | None,
    ) -> None:
        said: list[StreamEvent] = []
        end: StreamEnd | None = None
        tokens = 0
        try:
            async for event in events:
                if (
                    fail_after is not None
                    and tokens >= fail_after
                    and not isinstance(event, StreamEnd)
                ):
                    raise ApiError(
                        "ModelErrorException", "Injected model error (bedrock-local fault)"
                    )
                if isinstance(event, StreamEnd):
                    end = event
                    continue
                tokens += tokens_of(event)
                said.append(event)
        except BackendError as exc:
            raise ApiError(exc.code, exc.message) from None
        assert end is not None
        # The same blocks the stream would carry: reasoning, text, tool calls.
        answer = Answer.from_events(said)
        state.input_tokens = end.usage.input_tokens or state.input_tokens
        state.output_tokens = end.usage.output_tokens or tokens
        latency = int((time.monotonic() - started) * 1000)
        headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)]
        if call.family is not None:
            body = call.family.respond(answer, end, state)
            headers += [
                ("X-Amzn-Bedrock-Input-Token-Count", str(state.input_tokens)),
                ("X-Amzn-Bedrock-Output-Token-Count", str(state.output_tokens)),
                ("X-Amzn-Bedrock-Invocation-Latency", str(latency)),
            ]
        else:
            body = {**converse_output(answer, end, state), "metrics": {"latencyMs": latency}}
        await response.send(200, headers, json.dumps(body).encode("utf-8"))


def _replace_last_user_text(prompt: Prompt, text: str) -> Prompt:
    messages = list(prompt.messages)
    for i in range(len(messages) - 1, -1, -1):
        if messages[i][0] == "user":
            messages[i] = ("user", text)
            break
    return dataclasses.replace(prompt, messages=messages)


def _frame(chunk: dict[str, Any], converse: bool) -> bytes:
    if converse:
        ((event_type, body),) = chunk.items()
        return encode_event(event_type, json.dumps({**body, "p": "abcd"}).encode("utf-8"))
    raw = base64.b64encode(json.dumps(chunk).encode("utf-8")).decode("ascii")
    # Real chunks carry a padding field "p" (it hides the length of the text); clients ignore it.
    return encode_event("chunk", json.dumps({"bytes": raw, "p": "abcdefgh"}).encode("utf-8"))


async def _first_event(events: AsyncIterator[StreamEvent]) -> StreamEvent:
    try:
        return await events.__anext__()
    except BackendError as exc:
        raise ApiError(exc.code, exc.message) from None
    except StopAsyncIteration:
        raise ApiError("InternalServerException", "the backend produced no answer") from None


async def _chain(
    first: StreamEvent, rest: AsyncIterator[StreamEvent]
) -> AsyncIterator[StreamEvent]:
    yield first
    async for event in rest:
        yield event


def _error_answer(request_id: str, exc: ApiError) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body of an error, as Bedrock sends one.

    botocore's rest-json parser takes the code from ``x-amzn-ErrorType`` (up
    to the first ``:``) and the message from the body's ``message``.
    """
    headers = [
        ("Content-Type", "application/json"),
        ("x-amzn-ErrorType", f"{exc.code}:http://internal.amazon.com/coral/com.amazon.bedrock/"),
        ("x-amzn-RequestId", request_id),
    ]
    return exc.status, headers, json.dumps({"message": exc.message}).encode("utf-8")


def _json_object(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object, read as strictly as Bedrock reads it.

    UTF-8 only (``json.loads`` would guess UTF-16 or UTF-32 from bytes); no
    ``NaN`` or ``Infinity``, which Python accepts and JSON does not; nesting
    deeper than the parser's recursion limit is malformed, not a crash.
    """
    try:
        body = json.loads(raw.decode("utf-8") if raw else "{}", parse_constant=_not_json)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError too
        raise ApiError("ValidationException", MALFORMED) from None
    if not isinstance(body, dict):
        raise ApiError("ValidationException", "Malformed input request: expected a JSON object.")
    return body


def _not_json(literal: str) -> Any:
    raise ValueError(f"{literal} is not a JSON number")
