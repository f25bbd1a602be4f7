"""Encode results and decode events exactly as the managed Python runtime does.

awslambdaric encodes with simplejson: ``allow_nan``, ``Decimal`` written as
its exact digits, ``ensure_ascii`` off only on python3.12+ execution
environments, and ``bytes`` returned raw as ``application/unknown``. The
standard library's encoder has no raw-JSON hook, so a Decimal is written
as a marked string and the mark is replaced after encoding; the cost is
paid only by results that hold Decimals.

The codec is the one ``json`` itself uses, CPython's ``_json`` accelerator,
called the way ``json.loads`` and ``json.JSONEncoder.encode`` call it. The
``json`` package is not imported: it pulls in ``re``, ``enum``,
``functools`` and ``collections``, ~6 ms of every cold start for a handler
that never touches JSON itself. Anything unusual (a decode error, an
encoding other than UTF-8, an interpreter without ``_json``) goes to
``json`` itself, so results and error messages are json's own.
"""

import os

# What `json.dumps("\x00lambdastream-decimal:")[1:-1]` gives: the mark as it
# appears inside JSON text, with ensure_ascii on or off.
_DECIMAL_MARK = "\x00lambdastream-decimal:"
_ENCODED_MARK = "\\u0000lambdastream-decimal:"
# JSON's whitespace (RFC 8259): what json.decoder's WHITESPACE pattern skips.
_WHITESPACE = " \t\n\r"

_UNICODE_ENVS = {
    "AWS_Lambda_python3.12",
    "AWS_Lambda_python3.13",
    "AWS_Lambda_python3.14",
    "AWS_Lambda_python3.15",
}
_ENSURE_ASCII = os.environ.get("AWS_EXECUTION_ENV") not in _UNICODE_ENVS


def _not_serializable(obj: object) -> object:
    # json.JSONEncoder.default's own error.
    raise TypeError(f"Object of type {obj.__class__.__name__} is not JSON serializable")


def _default(obj: object) -> object:
    if type(obj).__name__ == "Decimal" and hasattr(obj, "is_nan"):
        if obj.is_nan():
            return float("nan")
        return _DECIMAL_MARK + str(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


_CONSTANTS = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}


class _DecoderSettings:
    """The attributes ``_json.make_scanner`` reads: a default JSONDecoder's."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__


# `typing` costs milliseconds of a cold start: annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable
    from typing import Any

_scan: "Callable[[str, int], tuple[Any, int]] | None" = None
_encode_parts: "Callable[[object, int], Any] | None" = None
_compact_parts: "Callable[[object, int], Any] | None" = None
try:
    import _json

    _scan = _json.make_scanner(_DecoderSettings())  # type: ignore[arg-type]
    # json.JSONEncoder(ensure_ascii=..., allow_nan=True, default=_default).encode,
    # as its one-shot path builds it: (markers, default, encoder, indent,
    # key_separator, item_separator, sort_keys, skipkeys, allow_nan).
    _encode_str = _json.encode_basestring_ascii if _ENSURE_ASCII else _json.encode_basestring
    _encode_parts = _json.make_encoder(
        {}, _default, _encode_str, None, ": ", ", ", False, False, True
    )
    # json.dumps(obj, separators=(",", ":")).
    _compact_parts = _json.make_encoder(
        {}, _not_serializable, _json.encode_basestring_ascii, None, ":", ",", False, False, True
    )
except (ImportError, AttributeError, TypeError):  # pragma: no cover - not CPython as we know it
    _scan = _encode_parts = _compact_parts = None


def compact_json(obj: object) -> str:
    r"""``json.dumps(obj, separators=(",", ":"))``, without importing ``json``.

    >>> compact_json({"statusCode": 200, "headers": {"x": "caf\u00e9"}})
    '{"statusCode":200,"headers":{"x":"caf\\u00e9"}}'
    """
    if _compact_parts is None:  # pragma: no cover
        import json

        return json.dumps(obj, separators=(",", ":"))
    if isinstance(obj, str):
        return _json.encode_basestring_ascii(obj)  # type: ignore[no-any-return]
    return "".join(_compact_parts(obj, 0))


def _encode(result: object) -> str:
    if _encode_parts is None:  # pragma: no cover
        import json

        return json.JSONEncoder(
            ensure_ascii=_ENSURE_ASCII, allow_nan=True, default=_default
        ).encode(result)
    if isinstance(result, str):
        return _encode_str(result)  # type: ignore[no-any-return]
    # The encoder keeps no state between calls but its circular-reference
    # markers, which it empties on the way out, even on error.
    return "".join(_encode_parts(result, 0))


def encode_result(result: object) -> tuple[bytes, str]:
    """Return the response body and content type for a handler's return value.

    >>> encode_result({"ok": True})
    (b'{"ok": true}', 'application/json')
    """
    if isinstance(result, (bytes, bytearray)):
        return bytes(result), "application/unknown"
    try:
        text = _encode(result)
    except Exception as exc:  # any encoding failure is the user's result, not ours
        from lambdastream.runtime.fault import RuntimeFault

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


def loads(data: "bytes | str") -> object:
    """``json.loads(data)``, without importing ``json`` when all goes well.

    >>> loads(b' {"a": [1, 2.5, null, NaN]} ')
    {'a': [1, 2.5, None, nan]}
    """
    if _scan is not None:
        try:
            if type(data) is bytes:
                # json.loads detects UTF-16/32 and BOMs; those go to json itself.
                if data[:1] in (b"\xef", b"\xfe", b"\xff") or b"\x00" in data[:4]:
                    raise ValueError
                text = data.decode("utf-8", "surrogatepass")
            elif type(data) is str and not data.startswith("\ufeff"):
                text = data
            else:
                raise ValueError
            start = len(text) - len(text.lstrip(_WHITESPACE))
            value, end = _scan(text, start)
            if end == len(text) or not text[end:].strip(_WHITESPACE):
                return value
        except Exception:  # json below raises json's own error
            pass
    import json

    return json.loads(data)


def decode_event(body: bytes, content_type: str | None) -> object:
    """Decode the event as awslambdaric does: JSON unless told otherwise."""
    if content_type not in (None, "application/json"):
        return body
    try:
        return loads(body)
    except Exception as exc:
        from lambdastream.runtime.fault import RuntimeFault

        raise RuntimeFault("Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}") from None
