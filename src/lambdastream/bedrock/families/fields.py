"""Reading request fields as Bedrock checks them: type, range, and the field's path in errors.

Bedrock checks InvokeModel bodies against each model's JSON schema and names
the field as a JSON pointer (``#/messages/0/content``); Converse names it
with dots (``inferenceConfig.maxTokens``). Callers pass the container's path
in that style.

>>> require({"max_tokens": "10"}, "max_tokens", int)
Traceback (most recent call last):
...
lambdastream.bedrock.families.base.RequestError: #/max_tokens: expected type: Integer, found: String
"""

from __future__ import annotations

from typing import Any

from lambdastream.bedrock.families.base import Prompt, RequestError, Tool

# bedrock-local cannot know every model's output limit: it refuses what no model accepts,
# a count outside the 32-bit integer Bedrock's APIs carry.
MAX_TOKENS_LIMIT = 2**31 - 1
_JSON_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "Boolean"),
    (int, "Integer"),
    (float, "Number"),
    (str, "String"),
    (list, "JSONArray"),
    (dict, "JSONObject"),
)


def join(at: str, key: str | int) -> str:
    """The path of ``key`` inside the container at ``at``, in that path's style."""
    if at.startswith("#"):
        return f"{at}/{key}"
    return f"{at}.{key}" if at else str(key)


def json_type(value: Any) -> str:
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), "Null")


def typed(value: Any, kind: type | tuple[type, ...], path: str) -> Any:
    """``value`` if its JSON type is ``kind`` (a bool is not a number); else RequestError."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        # An integer is a Number, as in JSON Schema: (int, float) reads "Number".
        names = [dict(_JSON_TYPES)[k] for k in kinds if not (k is int and float in kinds)]
        expected = " or ".join(names)
        raise RequestError(f"{path}: expected type: {expected}, found: {json_type(value)}")
    return value


def require(body: dict[str, Any], key: str, kind: type | tuple[type, ...], at: str = "#") -> Any:
    """``body[key]``: present, and of JSON type ``kind`` (``null`` is a wrong type)."""
    if key not in body:
        raise RequestError(f"{at}: required key [{key}] not found")
    return typed(body[key], kind, join(at, key))


def optional(body: dict[str, Any], key: str, kind: type | tuple[type, ...], at: str = "#") -> Any:
    """``body[key]`` of JSON type ``kind``, or None when the key is absent."""
    return require(body, key, kind, at) if key in body else None


def optional_int(
    body: dict[str, Any], key: str, at: str = "#", *, required: bool = False
) -> int | None:
    """A token count: an integer from 1 to :data:`MAX_TOKENS_LIMIT`."""
    value = require(body, key, int, at) if required else optional(body, key, int, at)
    if value is not None and not 1 <= value <= MAX_TOKENS_LIMIT:
        bound = "greater or equal to 1" if value < 1 else f"less or equal to {MAX_TOKENS_LIMIT}"
        raise RequestError(f"{join(at, key)}: {value} is not {bound}")
    return value


def optional_float(
    body: dict[str, Any], key: str, at: str = "#", maximum: float = 1.0
) -> float | None:
    """A sampling parameter: a number from 0 to ``maximum``."""
    value = optional(body, key, (int, float), at)
    if value is not None and not 0 <= value <= maximum:
        bound = "greater or equal to 0" if value < 0 else f"less or equal to {maximum:g}"
        raise RequestError(f"{join(at, key)}: {value} is not {bound}")
    return None if value is None else float(value)


def text_of(content: Any, path: str) -> str:
    """Text of a message's content: a string, or a list of ``{"text"}``/``{"type":"text"}``.

    Blocks without text (images, tool results) add nothing; a ``text`` must be a string.
    """
    if isinstance(content, str):
        return content
    blocks = typed(content, (str, list), path)
    texts = []
    for i, block in enumerate(blocks):
        block = typed(block, dict, join(path, i))
        texts.append(optional(block, "text", str, join(path, i)) or "")
    return "".join(texts)


def tool(name: Any, description: Any, schema: Any, path: str, schema_key: str) -> Tool:
    """A :class:`Tool` from its three fields; the input schema must be a JSON object."""
    typed(name, str, join(path, "name"))
    if not name:
        raise RequestError(f"{join(path, 'name')}: expected minLength: 1, actual: 0")
    if description is not None:
        typed(description, str, join(path, "description"))
    return Tool(name, description or "", typed(schema, dict, join(path, schema_key)))


def chat_messages(raw: Any, at: str, *, system_roles: tuple[str, ...] = ("system",)) -> Prompt:
    """OpenAI-style ``[{"role", "content"}]`` (Jamba, gpt-oss) to a Prompt.

    An assistant turn that only calls tools (``content: null``) is an empty
    turn; ``role: tool`` messages after the last user turn are the results
    the model is to answer from (:attr:`Prompt.tool_results`).
    """
    if not typed(raw, list, at):
        raise RequestError(f"{at}: expected minimum item count: 1, found: 0")
    system: list[str] = []
    turns: list[tuple[str, str]] = []
    results: list[str] = []
    for i, message in enumerate(raw):
        path = join(at, i)
        message = typed(message, dict, path)
        role = require(message, "role", str, path)
        if role == "assistant" and message.get("content") is None and "tool_calls" in message:
            turns.append((role, ""))
            continue
        text = text_of(require(message, "content", (str, list), path), join(path, "content"))
        if role in system_roles:
            system.append(text)
        elif role == "tool":
            results.append(text)
        elif role in ("user", "assistant"):
            turns.append((role, text))
            results = [] if role == "user" else results
        else:
            raise RequestError(f"{join(path, 'role')}: unknown role {role!r}")
    if not turns:
        raise RequestError(f"{at}: at least one user message is required")
    return Prompt(turns, "\n".join(system) or None, tool_results=tuple(results))
