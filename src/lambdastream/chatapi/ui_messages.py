"""What ``DefaultChatTransport`` posts to ``/api/chat``, mapped onto one Converse call.

The body is ``{id, messages: UIMessage[], trigger, messageId?}`` (the AI
SDK's ``http-chat-transport.ts``); each ``UIMessage`` is ``{id, role,
parts}`` (``ui-messages.ts``). The mapping follows the SDK's own
``convert-to-model-messages.ts``; :mod:`lambdastream.chatapi.ui_stream`
tells what is mapped, skipped and refused, and encodes the answer.

>>> call = parse_chat_request(b'{"messages": [{"id": "1", "role": "user",'
...                           b' "parts": [{"type": "text", "text": "Hi"}]}]}',
...                           max_tokens=100, max_messages=10, max_chars=1000)
>>> call.messages
[{'role': 'user', 'content': [{'text': 'Hi'}]}]
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from lambdastream.chatapi.call import BedrockCall, ProtocolError

__all__ = ["no_constant", "parse_chat_request", "response_message_id"]

TRIGGERS = ("submit-message", "regenerate-message")
ROLES = ("system", "user", "assistant")
# Tool states whose call has a result to give the model, and those without.
RESULT_STATES = ("output-available", "output-error", "output-denied")
PENDING_STATES = ("input-streaming", "input-available", "approval-requested", "approval-responded")
# Parts with nothing for Converse: sources, app data, reasoning (no signature).
SKIPPED_PARTS = ("reasoning", "reasoning-file", "source-url", "source-document", "custom")
IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}
DENIED = "Tool call execution denied."  # convert-to-model-messages.ts's words


# ------------------------------------------------------------- the request
def parse_chat_request(
    body: bytes,
    *,
    max_tokens: int,
    max_messages: int,
    max_chars: int,
    tools: Sequence[Mapping[str, Any]] | None = None,
) -> BedrockCall:
    """Map what ``DefaultChatTransport`` posts onto one Converse call.

    The body is ``{id, messages: UIMessage[], trigger, messageId?}`` plus the
    page's own fields (``useChat``'s ``body``), which are left to the caller.
    Text parts become text blocks; system messages the system prompt; a user's
    image file part (a ``data:`` URL: png, jpeg, gif or webp) an image block;
    an assistant's tool part with a result (``output-available``,
    ``output-error``, ``output-denied``) a ``toolUse`` block and, in the next
    user turn, its ``toolResult``; each ``step-start`` begins a new assistant
    turn. Consecutive turns of one role are merged. Left out: tool calls with
    no result yet, reasoning, sources, ``data-*`` parts and an assistant's
    files. ``tools`` are Converse tools (``[{"toolSpec": {...}}]``), sent as
    ``toolConfig``.

    Raises :class:`ProtocolError` (body ``{"error": {"code", "message"}}``):
    400 for what cannot be mapped, 413 past ``max_messages`` UI messages or
    ``max_chars`` characters of text.

    >>> call = parse_chat_request(
    ...     b'{"id": "c1", "trigger": "submit-message", "messages": [{"id": "u1",'
    ...     b' "role": "user", "parts": [{"type": "text", "text": "Hi"}]}]}',
    ...     max_tokens=256, max_messages=50, max_chars=10_000)
    >>> call.messages
    [{'role': 'user', 'content': [{'text': 'Hi'}]}]
    >>> try:
    ...     parse_chat_request(b'{"messages": []}', max_tokens=256, max_messages=50,
    ...                        max_chars=10_000)
    ... except ProtocolError as exc:
    ...     print(exc.status, exc.body["error"]["code"])
    400 missing_messages
    """
    data = _load(body)
    trigger = data.get("trigger")
    if trigger is not None and trigger not in TRIGGERS:
        _refuse(
            400, "bad_request", f"trigger is {trigger!r}; expected one of {', '.join(TRIGGERS)}"
        )
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        _refuse(400, "missing_messages", 'send {"messages": [UIMessage, ...]} as useChat does')
    if len(messages) > max_messages:
        _refuse(
            413,
            "too_many_messages",
            f"{len(messages)} messages; this endpoint allows {max_messages}",
        )
    turns = _Turns(has_tools=bool(tools))
    for i, message in enumerate(messages):
        turns.add_message(message, f"messages[{i}]")
    if not turns.turns:
        _refuse(400, "missing_messages", "the messages hold no user or assistant text to answer")
    if turns.turns[0]["role"] != "user":
        _refuse(400, "bad_message", "the conversation must start with the user's turn")
    if turns.turns[-1]["role"] != "user":
        _refuse(400, "bad_message", "the conversation must end with the user's turn")
    if turns.chars > max_chars:
        _refuse(
            413,
            "prompt_too_long",
            f"the messages hold {turns.chars} characters; this endpoint allows {max_chars}",
        )
    return BedrockCall(
        messages=turns.turns,
        max_tokens=max_tokens,
        system="\n\n".join(turns.system) or None,
        request_options={"toolConfig": {"tools": [dict(t) for t in tools]}} if tools else {},
    )


def response_message_id(body: bytes, new_id: str) -> str:
    """The ``messageId`` the answer's ``start`` part must carry: ``new_id``, or, when
    the request ends with an assistant message (tool results sent back), its id.

    ``useChat`` continues that message (its ``lastMessage``) with the answer's
    parts; another id would make it a second message holding them all. As the
    SDK's ``getResponseUIMessageId`` (``get-response-ui-message-id.ts``).
    ``stream_parts(..., message_id=None)`` sends no id (the SDK's default).

    >>> response_message_id(b'{"messages": [{"id": "u1", "role": "user", "parts": []}]}', "m2")
    'm2'
    >>> response_message_id(b'{"messages": [{"id": "a1", "role": "assistant", "parts": []}]}',
    ...                     "m2")
    'a1'
    """
    messages = _load(body).get("messages")
    last = messages[-1] if isinstance(messages, list) and messages else None
    if isinstance(last, dict) and last.get("role") == "assistant":
        last_id = last.get("id")
        if isinstance(last_id, str) and last_id:
            return last_id
    return new_id


def _refuse(status: int, code: str, message: str) -> NoReturn:
    raise ProtocolError(status, {"error": {"code": code, "message": message}}, message)


def no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _load(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=no_constant)
    except UnicodeDecodeError:
        _refuse(400, "bad_json", "the body is not UTF-8 text")
    except (ValueError, RecursionError) as exc:
        _refuse(400, "bad_json", f"the body is not valid JSON: {exc}")
    if not isinstance(data, dict):
        _refuse(400, "bad_request", "the body must be a JSON object")
    return data


def _string(part: Mapping[str, Any], key: str, where: str) -> str:
    value = part.get(key)
    if not isinstance(value, str):
        _refuse(400, "bad_part", f"{where}.{key} must be a string")
    return value


class _Turns:
    """Converse turns, built one UI message at a time."""

    def __init__(self, *, has_tools: bool) -> None:
        self.has_tools = has_tools
        self.turns: list[dict[str, Any]] = []
        self.system: list[str] = []
        self.chars = 0

    def add(self, role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return
        if self.turns and self.turns[-1]["role"] == role:
            self.turns[-1]["content"].extend(blocks)
        else:
            self.turns.append({"role": role, "content": blocks})

    def add_message(self, message: Any, where: str) -> None:
        if not isinstance(message, dict):
            _refuse(400, "bad_message", f"{where} must be an object")
        role = message.get("role")
        if role not in ROLES:
            _refuse(
                400, "bad_message", f"{where}.role is {role!r}; expected system, user or assistant"
            )
        parts = message.get("parts")
        if not isinstance(parts, list):
            _refuse(400, "bad_message", f"{where}.parts must be a list (a UIMessage of AI SDK 5+)")
        content: list[dict[str, Any]] = []  # this step's blocks
        results: list[dict[str, Any]] = []  # and its tool results
        for j, part in enumerate(parts):
            at = f"{where}.parts[{j}]"
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                _refuse(400, "bad_part", f"{at} must be an object with a string type")
            kind = part["type"]
            if kind == "text":
                text = _string(part, "text", at)
                self.chars += len(text)
                if role == "system":
                    if text.strip():
                        self.system.append(text)
                elif text.strip():  # Converse refuses a blank text block
                    content.append({"text": text})
            elif role == "system" or kind in SKIPPED_PARTS or kind.startswith("data-"):
                continue  # a system message gives its text only, as the SDK's own mapping
            elif kind == "step-start":
                if role == "assistant":
                    self.add("assistant", content)
                    self.add("user", results)
                    content, results = [], []
            elif kind == "file":
                if role == "user":
                    content.append(_image(part, at))
            elif kind.startswith("tool-") or kind == "dynamic-tool":
                if role != "assistant":
                    _refuse(400, "bad_part", f"{at}: tool parts belong to assistant messages")
                call = self._tool(part, at)
                if call is not None:
                    content.append(call[0])
                    results.append(call[1])
            else:
                _refuse(400, "unsupported_part", f"{at}.type {kind!r} has no Converse equivalent")
        if role != "system":
            self.add(role, content)
            self.add("user", results)

    def _tool(
        self, part: Mapping[str, Any], at: str
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        call_id = _string(part, "toolCallId", at)
        state = _string(part, "state", at)
        name = _string(part, "toolName", at) if part["type"] == "dynamic-tool" else part["type"][5:]
        if not call_id or not name:
            _refuse(400, "bad_part", f"{at} needs a tool name and a toolCallId")
        if state in PENDING_STATES:
            return None
        if state not in RESULT_STATES:
            _refuse(400, "bad_part", f"{at}.state {state!r} is not a tool call state")
        if not self.has_tools:
            _refuse(400, "tools_not_configured", f"{at} is a tool call; this endpoint has no tools")
        tool_input = part.get("input")
        if tool_input is None:
            tool_input = {}
        if not isinstance(tool_input, dict):
            _refuse(400, "bad_part", f"{at}.input must be an object")
        self.chars += len(json.dumps(tool_input))
        if state == "output-available":
            output = part.get("output")
            status = "success"
            if isinstance(output, dict):
                content: list[dict[str, Any]] = [{"json": output}]
            elif isinstance(output, str) and output.strip():
                content = [{"text": output}]
            else:
                content = [{"text": json.dumps(output)}]
        elif state == "output-error":
            status, content = "error", [{"text": _string(part, "errorText", at) or "error"}]
        else:  # output-denied
            approval = part.get("approval")
            reason = approval.get("reason") if isinstance(approval, dict) else None
            denied = reason if isinstance(reason, str) and reason.strip() else DENIED
            status, content = "error", [{"text": denied}]
        self.chars += sum(
            len(c["text"]) if "text" in c else len(json.dumps(c["json"])) for c in content
        )
        use = {"toolUse": {"toolUseId": call_id, "name": name, "input": tool_input}}
        result = {"toolResult": {"toolUseId": call_id, "content": content, "status": status}}
        return use, result


def _image(part: Mapping[str, Any], at: str) -> dict[str, Any]:
    media_type = _string(part, "mediaType", at)
    url = _string(part, "url", at)
    image_format = IMAGE_FORMATS.get(media_type.lower())
    if image_format is None:
        _refuse(
            400,
            "unsupported_part",
            f"{at} is a {media_type} file; only images (png, jpeg, gif, webp) can be sent",
        )
    header, comma, payload = url.partition(",")
    if not (url.startswith("data:") and comma and header.endswith(";base64")):
        _refuse(
            400,
            "unsupported_part",
            f"{at}.url must be a base64 data: URL (this endpoint downloads nothing)",
        )
    try:
        raw = base64.b64decode(payload, validate=True)
    except binascii.Error:
        _refuse(400, "bad_part", f"{at}.url is not valid base64")
    return {"image": {"format": image_format, "source": {"bytes": raw}}}
