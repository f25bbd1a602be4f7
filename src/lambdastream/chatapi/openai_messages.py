"""OpenAI's ``messages`` as Bedrock Converse's system text and alternating turns.

From OpenAI's chat completions reference (the message roles and content
parts) onto Bedrock's Converse API reference (``Message``, ``ContentBlock``):

- ``system`` and ``developer`` messages become the system text, joined by a
  blank line wherever they stand;
- ``user`` text parts become ``text`` blocks, and ``image_url`` parts given
  as ``data:`` URLs (png, jpeg, gif, webp; at most 3.75 MB, Converse's limit)
  ``image`` blocks; an ``http(s)`` image URL is refused (nothing here
  fetches), as are audio and file parts;
- ``assistant`` content (text or refusal parts) and ``tool_calls`` become
  ``text`` and ``toolUse{toolUseId, name, input}`` blocks, ``arguments``
  parsed (a JSON object; ``""`` is ``{}``);
- ``tool`` messages become ``toolResult{toolUseId, content: [{text}]}`` in a
  user turn.

Converse wants the turns alternating and starting with the user's: turns of
one role in a row are merged (tool results first, as Claude wants them), an
assistant message with nothing in it is dropped, and a conversation opening
with the assistant is refused. Converse refuses blank text blocks: blank text
is left out, and a user message of nothing but blanks is refused.

>>> system, turns = read_messages([{"role": "system", "content": "Be brief."},
...     {"role": "user", "content": "hi"}, {"role": "user", "content": "there"}], 10, 1000)
>>> system, turns
('Be brief.', [{'role': 'user', 'content': [{'text': 'hi'}, {'text': 'there'}]}])
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from lambdastream.chatapi.openai_errors import (
    invalid_request,
    invalid_type,
    invalid_value,
    missing_parameter,
    unsupported_value,
)

__all__ = ["NAME", "read_messages"]

ROLES = ("system", "assistant", "user", "function", "tool", "developer")
IMAGE_FORMATS = {"png": "png", "jpeg": "jpeg", "jpg": "jpeg", "gif": "gif", "webp": "webp"}
MAX_IMAGE_BYTES = 3_750_000  # Converse: 3.75 MB per image
# OpenAI's pattern for a function name; Converse's for a tool name and a tool use id.
NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_DATA_URL = re.compile(r"^data:image/([a-zA-Z0-9.+-]+);base64,(.*)$", re.DOTALL)


def _text_parts(content: Any, at: str, allowed: tuple[str, ...] = ("text",)) -> list[str]:
    """A message's text, from a string or an array of text (or refusal) parts."""
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        raise invalid_type(at, "one of a string or an array of objects", content)
    texts = []
    for j, part in enumerate(content):
        where = f"{at}[{j}]"
        if not isinstance(part, dict):
            raise invalid_type(where, "an object", part)
        kind = part.get("type")
        if kind not in allowed:
            supported = ", ".join(repr(a) for a in allowed)
            raise unsupported_value(
                f"{where}.type",
                f"does not support {kind!r} in this message; supported: {supported}.",
            )
        text = part.get(kind)
        if not isinstance(text, str):
            raise invalid_type(f"{where}.{kind}", "a string", text)
        texts.append(text)
    return texts


def _image(part: dict[str, Any], at: str) -> dict[str, Any]:
    image = part.get("image_url")
    if not isinstance(image, dict):
        raise invalid_type(f"{at}.image_url", "an object", image)
    url = image.get("url")
    where = f"{at}.image_url.url"
    if not isinstance(url, str):
        raise invalid_type(where, "a string", url)
    found = _DATA_URL.match(url)
    if found is None:
        raise unsupported_value(
            where, "must be a data: URL (data:image/png;base64,...): images are not fetched here."
        )
    image_format = IMAGE_FORMATS.get(found.group(1).lower())
    if image_format is None:
        raise unsupported_value(where, "must be a png, jpeg, gif or webp image.")
    try:
        data = base64.b64decode(found.group(2), validate=True)
    except (binascii.Error, ValueError):
        raise invalid_value(
            where, f"Invalid '{where}': the data URL is not valid base64."
        ) from None
    if len(data) > MAX_IMAGE_BYTES:
        raise invalid_value(where, f"Invalid '{where}': images are limited to 3.75 MB.")
    return {"image": {"format": image_format, "source": {"bytes": data}}}


def _user_blocks(content: Any, at: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        parts = [(at, {"type": "text", "text": content})]
    elif isinstance(content, list):
        parts = [(f"{at}[{j}]", part) for j, part in enumerate(content)]
    else:
        raise invalid_type(at, "one of a string or an array of objects", content)
    blocks = []
    for where, part in parts:
        if not isinstance(part, dict):
            raise invalid_type(where, "an object", part)
        kind = part.get("type")
        if kind == "image_url":
            blocks.append(_image(part, where))
        elif kind == "text":
            text = part.get("text")
            if not isinstance(text, str):
                raise invalid_type(f"{where}.text", "a string", text)
            if text.strip():  # Converse refuses blank text blocks
                blocks.append({"text": text})
        else:
            raise unsupported_value(
                f"{where}.type", f"does not support {kind!r} here; supported: 'text', 'image_url'."
            )
    if not blocks:
        raise invalid_value(at, f"Invalid '{at}': a user message must not be empty.")
    return blocks


def _tool_use_id(value: Any, at: str) -> str:
    if value is None:
        raise missing_parameter(at)
    if not isinstance(value, str):
        raise invalid_type(at, "a string", value)
    if not NAME.match(value):
        raise invalid_value(at, f"Invalid '{at}': Bedrock takes ids of 1 to 64 of [a-zA-Z0-9_-].")
    return value


def _tool_use(call: Any, at: str) -> dict[str, Any]:
    if not isinstance(call, dict):
        raise invalid_type(at, "an object", call)
    if call.get("type", "function") != "function":
        raise unsupported_value(f"{at}.type", "must be 'function'.")
    tool_use_id = _tool_use_id(call.get("id"), f"{at}.id")
    function = call.get("function")
    if function is None:
        raise missing_parameter(f"{at}.function")
    if not isinstance(function, dict):
        raise invalid_type(f"{at}.function", "an object", function)
    name = function.get("name")
    if name is None:
        raise missing_parameter(f"{at}.function.name")
    if not isinstance(name, str):
        raise invalid_type(f"{at}.function.name", "a string", name)
    arguments = function.get("arguments", "")
    where = f"{at}.function.arguments"
    if not isinstance(arguments, str):
        raise invalid_type(where, "a string", arguments)
    try:
        parsed = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        raise invalid_value(where, f"Invalid '{where}': not valid JSON.") from None
    if not isinstance(parsed, dict):
        raise invalid_value(where, f"Invalid '{where}': must be a JSON object.")
    return {"toolUse": {"toolUseId": tool_use_id, "name": name, "input": parsed}}


def _assistant_blocks(message: dict[str, Any], at: str) -> list[dict[str, Any]]:
    content = message.get("content")
    texts = [] if content is None else _text_parts(content, f"{at}.content", ("text", "refusal"))
    blocks: list[dict[str, Any]] = [{"text": t} for t in texts if t.strip()]
    calls = message.get("tool_calls")
    if calls is not None:
        if not isinstance(calls, list):
            raise invalid_type(f"{at}.tool_calls", "an array", calls)
        blocks += [_tool_use(call, f"{at}.tool_calls[{k}]") for k, call in enumerate(calls)]
    return blocks


def _tool_result(message: dict[str, Any], at: str) -> dict[str, Any]:
    tool_use_id = _tool_use_id(message.get("tool_call_id"), f"{at}.tool_call_id")
    content = message.get("content")
    if content is None:
        raise missing_parameter(f"{at}.content")
    text = "".join(_text_parts(content, f"{at}.content"))
    # Converse refuses a blank text block; an empty result is no content at all.
    blocks = [{"text": text}] if text.strip() else []
    return {"toolResult": {"toolUseId": tool_use_id, "content": blocks}}


def _chars(blocks: list[dict[str, Any]]) -> int:
    count = 0
    for block in blocks:
        if "text" in block:
            count += len(block["text"])
        elif "toolUse" in block:
            count += len(json.dumps(block["toolUse"]["input"]))
        elif "toolResult" in block:
            count += sum(len(b["text"]) for b in block["toolResult"]["content"])
    return count


def read_messages(raw: Any, max_messages: int, max_chars: int) -> tuple[str | None, list[Any]]:
    """The system text (``None`` if there is none) and Converse's alternating turns.

    ``max_messages`` bounds the OpenAI messages, ``max_chars`` the characters
    of their text (tool arguments and results included). Raises
    :class:`~lambdastream.chatapi.call.ProtocolError` (400) in OpenAI's shape.
    """
    if raw is None:
        raise missing_parameter("messages")
    if not isinstance(raw, list):
        raise invalid_type("messages", "an array", raw)
    if not raw:
        message = (
            "Invalid 'messages': empty array. Expected an array with minimum length 1,"
            " but got an empty array instead."
        )
        raise invalid_request(message, param="messages", code="empty_array")
    if len(raw) > max_messages:
        message = (
            f"Invalid 'messages': array too long. Expected an array with maximum length"
            f" {max_messages}, but got an array with length {len(raw)} instead."
        )
        raise invalid_request(message, param="messages", code="array_above_max_length")
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    chars = 0
    for i, message in enumerate(raw):
        at = f"messages[{i}]"
        if not isinstance(message, dict):
            raise invalid_type(at, "an object", message)
        role = message.get("role")
        if role is None:
            raise missing_parameter(f"{at}.role")
        if role not in ROLES:
            supported = "'system', 'assistant', 'user', 'function', 'tool', and 'developer'"
            raise invalid_value(
                f"{at}.role", f"Invalid value: {role!r}. Supported values are: {supported}."
            )
        if role == "function":
            raise unsupported_value(f"{at}.role", "'function' is deprecated: use 'tool' messages.")
        if role != "assistant" and message.get("content") is None:
            raise missing_parameter(f"{at}.content")
        if role in ("system", "developer"):
            text = "\n".join(_text_parts(message["content"], f"{at}.content"))
            chars += len(text)
            if text.strip():
                system.append(text)
            continue
        if role == "user":
            blocks = _user_blocks(message["content"], f"{at}.content")
        elif role == "assistant":
            blocks = _assistant_blocks(message, at)
        else:
            blocks = [_tool_result(message, at)]
        chars += _chars(blocks)
        side = "assistant" if role == "assistant" else "user"
        if not blocks:
            continue
        if turns and turns[-1]["role"] == side:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": side, "content": blocks})
    if chars > max_chars:
        message = (
            f"The messages hold {chars} characters; this server takes at most {max_chars}."
            " Please reduce the length of the messages."
        )
        raise invalid_request(message, param="messages", code="context_length_exceeded")
    if not turns or turns[0]["role"] != "user":
        message = (
            "Invalid 'messages': the first message after the system messages must be a 'user'"
            " (or 'tool') message: Bedrock's Converse API starts every conversation with one."
        )
        raise invalid_value("messages", message)
    for turn in turns:  # tool results first in a user turn
        turn["content"].sort(key=lambda block: "toolResult" not in block)
    return "\n\n".join(system) or None, turns
