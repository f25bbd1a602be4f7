"""Encode a buffered result exactly as the managed Python runtime does.

awslambdaric encodes with simplejson: ``allow_nan``, ``Decimal`` written as
its exact digits, ``ensure_ascii`` off only on python3.12+ execution
environments, and ``bytes`` returned raw as ``application/unknown``. The
standard library's encoder has no raw-JSON hook, so a Decimal is written
as a marked string and the mark is replaced after encoding; the cost is
paid only by results that hold Decimals.
"""

import json
import os

_DECIMAL_MARK = "\x00lambdastream-decimal:"
_ENCODED_MARK = json.dumps(_DECIMAL_MARK)[1:-1]  # as it appears inside JSON text

_UNICODE_ENVS = {
    "AWS_Lambda_python3.12",
    "AWS_Lambda_python3.13",
    "AWS_Lambda_python3.14",
    "AWS_Lambda_python3.15",
}


def _default(obj: object) -> object:
    if type(obj).__name__ == "Decimal" and hasattr(obj, "is_nan"):
        if obj.is_nan():
            return float("nan")
        return _DECIMAL_MARK + str(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


_encoder = json.JSONEncoder(
    ensure_ascii=os.environ.get("AWS_EXECUTION_ENV") not in _UNICODE_ENVS,
    allow_nan=True,
    default=_default,
)


def encode_result(result: object) -> tuple[bytes, str]:
    """Return the response body and content type for a handler's return value.

    >>> encode_result({"ok": True})
    (b'{"ok": true}', 'application/json')
    """
    if isinstance(result, (bytes, bytearray)):
        return bytes(result), "application/unknown"
    try:
        text = _encoder.encode(result)
    except Exception as exc:  # any encoding failure is the user's result, not ours
        from lambdastream.runtime.errors import RuntimeFault

        raise RuntimeFault("Runtime.MarshalError", f"Unable to marshal response: {exc}") from None
    if _ENCODED_MARK in text:
        text = _unmark_decimals(text)
    return text.encode(), "application/json"


def _unmark_decimals(text: str) -> str:
    quote_mark = '"' + _ENCODED_MARK
    out = []
    pos = 0
    while (start := text.find(quote_mark, pos)) != -1:
        end = text.index('"', start + len(quote_mark))
        out.append(text[pos:start])
        out.append(text[start + len(quote_mark) : end])
        pos = end + 1
    out.append(text[pos:])
    return "".join(out)


def decode_event(body: bytes, content_type: str | None) -> object:
    """Decode the event as awslambdaric does: JSON unless told otherwise."""
    if content_type not in (None, "application/json"):
        return body
    try:
        return json.loads(body)
    except Exception as exc:
        from lambdastream.runtime.errors import RuntimeFault

        raise RuntimeFault("Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}") from None
