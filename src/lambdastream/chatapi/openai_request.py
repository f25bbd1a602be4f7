"""An OpenAI chat completions request as one ConverseStream call.

What is mapped (OpenAI's ``POST /v1/chat/completions`` reference, onto
Bedrock's Converse API reference):

- ``messages``: as :mod:`lambdastream.chatapi.openai_messages` tells.
- ``tools`` (``function`` only) become ``toolConfig.tools[].toolSpec``;
  ``tool_choice`` ``auto`` is Converse's default, ``required`` its ``any``,
  a named function its ``tool``; ``none`` offers no tools, unless the
  conversation already holds tool calls: Converse refuses those blocks
  without a ``toolConfig``, so the tools stay offered (the model may call
  one). Tool calls in the conversation without ``tools`` are refused.
- ``max_completion_tokens`` (or ``max_tokens``; the first wins when both are
  given) up to the server's cap; ``temperature`` (refused above 1: Converse's
  range is 0 to 1, OpenAI's 0 to 2, and scaling would change its meaning);
  ``top_p``; ``stop`` (a string or up to 4). With ``top_p`` or ``stop`` the
  call carries a whole ``inferenceConfig`` (see :class:`BedrockCall`).
- ``stream``, ``stream_options.include_usage``.
- ``reasoning_effort`` ``low``/``medium``/``high``: Claude's extended
  thinking with LiteLLM's budgets (1024/2048/4096 tokens,
  ``DEFAULT_REASONING_EFFORT_*_THINKING_BUDGET`` in BerriAI/litellm's
  ``litellm/constants.py``), gpt-oss's own ``reasoning_effort``; any other
  model refuses it. Claude thinks only with the default ``temperature``
  (1), ``top_p`` of 0.95 or more, no forced tool, and ``max_tokens`` above
  the budget (Anthropic's extended thinking guide); anything else is refused
  here rather than by Bedrock.

Refused with a 400 naming the parameter: ``n`` other than 1, ``logprobs``,
``top_logprobs``, ``response_format`` other than ``text``, ``audio``,
``modalities`` other than text, ``functions``/``function_call`` (use
``tools``), ``prediction``, ``web_search_options``, a non-empty
``logit_bias``, non-zero ``frequency_penalty``/``presence_penalty``.
Ignored (nothing on Bedrock to do with them, no answer changes): ``user``,
``metadata``, ``seed``, ``store``, ``service_tier``, ``parallel_tool_calls``,
a tool's ``strict``, a message's ``name``, and any parameter this module does
not know.

>>> body = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}'
>>> call = parse_chat_completions(body, models=["m"], default_model=None, max_tokens_cap=4096,
...     default_max_tokens=512, max_messages=50, max_chars=100_000)
>>> call.messages, call.max_tokens, call.stream
([{'role': 'user', 'content': [{'text': 'hi'}]}], 512, False)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from lambdastream.chatapi.call import BedrockCall
from lambdastream.chatapi.openai_errors import (
    invalid_request,
    invalid_type,
    invalid_value,
    json_kind,
    missing_parameter,
    model_not_found,
    unsupported_parameter,
    unsupported_value,
)
from lambdastream.chatapi.openai_messages import NAME, read_messages

__all__ = ["parse_chat_completions"]

# Claude's thinking budget for each reasoning_effort (LiteLLM's defaults).
THINKING_BUDGETS = {"low": 1024, "medium": 2048, "high": 4096}
# Inference-profile and ARN prefixes before a provider-qualified model id.
_REGION_PREFIXES = ("us.", "us-gov.", "eu.", "apac.", "jp.", "au.", "ca.", "global.")
# Claude models before 3.7 do not think.
_CLAUDE_WITHOUT_THINKING = (
    "claude-3-5",
    "claude-3-haiku",
    "claude-3-sonnet",
    "claude-3-opus",
    "claude-v",
    "claude-instant",
)


def _number(body: dict[str, Any], key: str, low: float, high: float) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise invalid_type(key, "a decimal", value)
    if value < low or value > high:
        side, sign, bound = (
            ("below minimum", ">=", low) if value < low else ("above maximum", "<=", high)
        )
        message = (
            f"Invalid '{key}': decimal {side} value. Expected a value {sign} {bound:g},"
            f" but got {value:g} instead."
        )
        code = "decimal_below_min_value" if value < low else "decimal_above_max_value"
        raise invalid_request(message, param=key, code=code)
    return float(value) if isinstance(value, float) else value


def _integer(body: dict[str, Any], key: str, cap: int) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_type(key, "an integer", value)
    if value < 1:
        message = (
            f"Invalid '{key}': integer below minimum value. Expected a value >= 1,"
            f" but got {value} instead."
        )
        raise invalid_request(message, param=key, code="integer_below_min_value")
    if value > cap:
        message = (
            f"Invalid '{key}': integer above maximum value. Expected a value <= {cap},"
            f" but got {value} instead."
        )
        raise invalid_request(message, param=key, code="integer_above_max_value")
    return value


def _read_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    raw = body.get("tools")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise invalid_type("tools", "an array", raw)
    specs = []
    for i, tool in enumerate(raw):
        at = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise invalid_type(at, "an object", tool)
        if tool.get("type") != "function":
            raise unsupported_value(
                f"{at}.type", "must be 'function': Converse takes no other tools."
            )
        function = tool.get("function")
        if function is None:
            raise missing_parameter(f"{at}.function")
        if not isinstance(function, dict):
            raise invalid_type(f"{at}.function", "an object", function)
        name = function.get("name")
        if not isinstance(name, str) or not NAME.match(name):
            raise invalid_value(
                f"{at}.function.name",
                f"Invalid '{at}.function.name': {name!r} does not match '^[a-zA-Z0-9_-]{{1,64}}$'.",
            )
        parameters = function.get("parameters", {"type": "object", "properties": {}})
        if not isinstance(parameters, dict):
            raise invalid_type(f"{at}.function.parameters", "an object", parameters)
        description = function.get("description")
        if description is not None and not isinstance(description, str):
            raise invalid_type(f"{at}.function.description", "a string", description)
        spec: dict[str, Any] = {"name": name}
        if description:  # Converse refuses an empty description
            spec["description"] = description
        spec["inputSchema"] = {"json": parameters}
        specs.append({"toolSpec": spec})
    return specs


def _read_tool_choice(body: dict[str, Any], names: list[str]) -> str | dict[str, Any] | None:
    """``None``, ``"none"``, ``"auto"``, or Converse's ``{"any": {}}`` / ``{"tool": ...}``."""
    raw = body.get("tool_choice")
    if raw is None:
        return None
    choice: str | dict[str, Any]
    if isinstance(raw, str):
        if raw not in ("none", "auto", "required"):
            message = (
                f"Invalid value: {raw!r}. Supported values are: 'none', 'auto', and 'required'."
            )
            raise invalid_value("tool_choice", message)
        choice = {"any": {}} if raw == "required" else raw
    elif isinstance(raw, dict):
        if raw.get("type") != "function":
            raise unsupported_value("tool_choice", "must be a string or {'type': 'function', ...}.")
        function = raw.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        if name not in names:
            at = "tool_choice.function.name"
            raise invalid_value(at, f"Invalid '{at}': {name!r} is not one of the tools.")
        choice = {"tool": {"name": name}}
    else:
        raise invalid_type("tool_choice", "a string or an object", raw)
    if isinstance(choice, dict) and not names:
        message = (
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools'"
            " are specified."
        )
        raise invalid_value("tool_choice", message)
    return choice


def _tool_config(body: dict[str, Any], turns: list[dict[str, Any]]) -> dict[str, Any] | None:
    specs = _read_tools(body)
    choice = _read_tool_choice(body, [s["toolSpec"]["name"] for s in specs])
    uses_tools = any("toolUse" in b or "toolResult" in b for t in turns for b in t["content"])
    if not specs:
        if uses_tools:
            why = " The messages hold tool calls, and Bedrock's Converse API needs the tools then."
            raise missing_parameter("tools", why)
        return None
    if choice == "none":
        return {"tools": specs} if uses_tools else None
    config: dict[str, Any] = {"tools": specs}
    if isinstance(choice, dict):
        config["toolChoice"] = choice
    return config


def _refuse_unsupported(body: dict[str, Any]) -> None:
    """The parameters Bedrock cannot honour, refused rather than silently dropped."""
    for key in ("audio", "functions", "function_call", "prediction", "web_search_options"):
        if body.get(key) is not None:
            raise unsupported_parameter(key)
    n = body.get("n")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int)):
        raise invalid_type("n", "an integer", n)
    if n not in (None, 1):
        raise unsupported_value("n", "must be 1 here: Bedrock answers with one choice.")
    if body.get("logprobs") not in (None, False):
        raise unsupported_value(
            "logprobs", "must be false here: Bedrock gives no log probabilities."
        )
    if body.get("top_logprobs") is not None:
        raise unsupported_parameter("top_logprobs")
    response_format = body.get("response_format")
    if response_format is not None and response_format != {"type": "text"}:
        raise unsupported_value("response_format", "must be {'type': 'text'} here.")
    if body.get("modalities") not in (None, ["text"]):
        raise unsupported_value("modalities", "must be ['text'] here.")
    if body.get("logit_bias") not in (None, {}):
        raise unsupported_parameter("logit_bias")
    for key in ("frequency_penalty", "presence_penalty"):
        if body.get(key) not in (None, 0):
            raise unsupported_parameter(key)


def _stop_sequences(body: dict[str, Any]) -> list[str]:
    stop = body.get("stop")
    if stop is None:
        return []
    sequences = [stop] if isinstance(stop, str) else stop
    if not isinstance(sequences, list) or not all(isinstance(s, str) for s in sequences):
        raise invalid_type("stop", "a string or an array of strings", stop)
    if len(sequences) > 4:
        message = (
            "Invalid 'stop': array too long. Expected an array with maximum length 4,"
            f" but got an array with length {len(sequences)} instead."
        )
        raise invalid_request(message, param="stop", code="array_above_max_length")
    if "" in sequences:
        raise invalid_value("stop", "Invalid 'stop': a stop sequence must not be empty.")
    return sequences


def _base_model(model: str) -> str:
    if model.startswith("arn:"):
        model = model.rsplit("/", 1)[-1]
    for prefix in _REGION_PREFIXES:
        if model.startswith(prefix):
            return model[len(prefix) :]
    return model


def _reasoning_fields(
    effort: str, model: str, body: dict[str, Any], max_tokens: int, explicit: bool, cap: int
) -> tuple[dict[str, Any], int]:
    """``additionalModelRequestFields`` for ``reasoning_effort``, and the max_tokens to ask."""
    base = _base_model(model)
    if base.startswith("openai.gpt-oss"):
        return {"reasoning_effort": effort}, max_tokens
    claude = base.startswith("anthropic.claude-")
    if not claude or base[len("anthropic.") :].startswith(_CLAUDE_WITHOUT_THINKING):
        raise unsupported_parameter("reasoning_effort")
    budget = THINKING_BUDGETS[effort]
    if not explicit:
        max_tokens = min(cap, budget + max_tokens)
    if max_tokens <= budget:
        key = (
            "max_completion_tokens"
            if body.get("max_completion_tokens") is not None
            else "max_tokens"
        )
        raise unsupported_value(
            key if explicit else "reasoning_effort",
            f"must leave room for the thinking budget: reasoning_effort {effort!r} thinks for"
            f" {budget} tokens, and max_tokens must be above that.",
        )
    if body.get("temperature") not in (None, 1):
        raise unsupported_value(
            "temperature", "must be 1 (or unset) with reasoning_effort on Claude."
        )
    top_p = body.get("top_p")
    if top_p is not None and top_p < 0.95:
        raise unsupported_value("top_p", "must be 0.95 or more with reasoning_effort on Claude.")
    if isinstance(body.get("tool_choice"), dict) or body.get("tool_choice") == "required":
        raise unsupported_value(
            "tool_choice", "cannot force a tool with reasoning_effort on Claude: use 'auto'."
        )
    return {"thinking": {"type": "enabled", "budget_tokens": budget}}, max_tokens


def _model(body: dict[str, Any], models: Sequence[str], default_model: str | None) -> str:
    model = body.get("model")
    if model is None:
        if default_model is None:
            raise invalid_request("you must provide a model parameter")
        return default_model
    if not isinstance(model, str):
        raise invalid_type("model", "a string", model)
    if model not in models and model != default_model:
        raise model_not_found(model)
    return model


def parse_chat_completions(
    body: bytes,
    *,
    models: Sequence[str],
    default_model: str | None,
    max_tokens_cap: int,
    default_max_tokens: int,
    max_messages: int,
    max_chars: int,
) -> BedrockCall:
    """An OpenAI chat completions request body as a :class:`BedrockCall`.

    ``models`` are the model ids a request may name (``default_model``, used
    when it names none, is one too); ``max_tokens_cap`` bounds
    ``max_tokens``, ``default_max_tokens`` is used when it is not given;
    ``max_messages`` and ``max_chars`` (of all text) bound the conversation.
    Raises :class:`ProtocolError` with OpenAI's error body: 404
    ``model_not_found`` for a model not served, 400 for anything else.

    >>> limits = dict(models=["m"], default_model="m", max_tokens_cap=1000,
    ...               default_max_tokens=100, max_messages=10, max_chars=1000)
    >>> call = parse_chat_completions(b'{"messages": [{"role": "system", "content": "Be brief."},'
    ...     b' {"role": "user", "content": "hi"}], "stop": "END", "stream": true}', **limits)
    >>> call.system, call.model_id, call.stream, call.request_options["inferenceConfig"]
    ('Be brief.', 'm', True, {'maxTokens': 100, 'stopSequences': ['END']})
    >>> from lambdastream.chatapi.call import ProtocolError
    >>> try:
    ...     parse_chat_completions(b'{"model": "gpt-4o", "messages": []}', **limits)
    ... except ProtocolError as error:
    ...     print(error.status, error.body["error"]["code"])
    404 model_not_found
    """
    try:
        request = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise invalid_request(
            "We could not parse the JSON body of your request. (HINT: This likely means you"
            " aren't using your HTTP library correctly. The API expects a JSON payload, but what"
            " was sent was not valid JSON.)"
        ) from None
    if not isinstance(request, dict):
        message = (
            f"Invalid request body: expected a JSON object, but got {json_kind(request)} instead."
        )
        raise invalid_request(message, code="invalid_type")
    model = _model(request, models, default_model)
    _refuse_unsupported(request)
    system, turns = read_messages(request.get("messages"), max_messages, max_chars)
    tool_config = _tool_config(request, turns)

    chosen = _integer(request, "max_tokens", max_tokens_cap)
    chosen = _integer(request, "max_completion_tokens", max_tokens_cap) or chosen
    max_tokens = chosen or min(default_max_tokens, max_tokens_cap)
    temperature = _number(request, "temperature", 0, 2)
    if temperature is not None and temperature > 1:
        raise unsupported_value(
            "temperature", "must be between 0 and 1 here: Bedrock's Converse API takes 0 to 1."
        )
    top_p = _number(request, "top_p", 0, 1)
    stop = _stop_sequences(request)

    stream = request.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise invalid_type("stream", "a boolean", stream)
    options = request.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise invalid_type("stream_options", "an object", options)
    if options is not None and not stream:
        message = "The 'stream_options' parameter is only allowed when 'stream' is enabled."
        raise invalid_value("stream_options", message)
    include_usage = bool((options or {}).get("include_usage"))

    request_options: dict[str, Any] = {}
    effort = request.get("reasoning_effort")
    if effort is not None:
        if not isinstance(effort, str):
            raise invalid_type("reasoning_effort", "a string", effort)
        if effort in ("none", "minimal", "xhigh"):
            raise unsupported_value("reasoning_effort", "must be 'low', 'medium' or 'high' here.")
        if effort not in THINKING_BUDGETS:
            message = (
                f"Invalid value: {effort!r}. Supported values are: 'low', 'medium', and 'high'."
            )
            raise invalid_value("reasoning_effort", message)
        fields, max_tokens = _reasoning_fields(
            effort, model, request, max_tokens, chosen is not None, max_tokens_cap
        )
        request_options["additionalModelRequestFields"] = fields
    if tool_config is not None:
        request_options["toolConfig"] = tool_config
    if top_p is not None or stop:
        inference: dict[str, Any] = {"maxTokens": max_tokens}
        if temperature is not None:
            inference["temperature"] = temperature
        if top_p is not None:
            inference["topP"] = top_p
        if stop:
            inference["stopSequences"] = stop
        request_options["inferenceConfig"] = inference
    return BedrockCall(
        messages=turns,
        max_tokens=max_tokens,
        system=system,
        temperature=temperature,
        model_id=model,
        stream=bool(stream),
        include_usage=include_usage,
        request_options=request_options,
    )
