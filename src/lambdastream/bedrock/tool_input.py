"""A tool call's input that satisfies the tool's JSON Schema, filled from the question.

The scripted model calls tools as a real model does: with every property
the schema declares (required ones included), each of its declared type,
within its bounds, an ``enum`` or ``const`` value where the schema names
them. Strings come from the question: a name for a place or a person, the
subject for a query, key words elsewhere. JSON Schema keywords handled:
``type`` (or a list of types), ``properties``, ``required``, ``items``,
``prefixItems``, ``minItems``, ``enum``, ``const``, ``default``,
``anyOf``/``oneOf`` (the first that is not ``null``), ``allOf`` (merged),
``$ref`` to ``#/$defs`` or ``#/definitions``, ``minimum``, ``maximum``,
``exclusiveMinimum``, ``exclusiveMaximum``, ``multipleOf``, ``minLength``,
``maxLength``, ``pattern`` (tried, not solved), and ``format`` (``date``,
``date-time``, ``time``, ``email``, ``uri``, ``uuid``).

>>> from lambdastream.bedrock.words import read
>>> schema = {"type": "object", "required": ["location"], "properties": {
...     "location": {"type": "string"},
...     "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
...     "days": {"type": "integer", "minimum": 1, "maximum": 7}}}
>>> arguments(schema, read("What's the weather in Paris for 3 days?"))
{'location': 'Paris', 'unit': 'celsius', 'days': 3}
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from lambdastream.bedrock.words import Reading

Schema = Mapping[str, Any]

# Property names whose value is a name (a place, a person, a thing the user named).
_NAME_HINTS = ("city", "location", "place", "country", "region", "name", "person", "user", "who")
# ... and whose value is what the question asks about.
_QUERY_HINTS = ("query", "question", "search", "topic", "subject", "prompt", "text", "input", "q")
_FORMATS = {
    "date": "2025-01-15",
    "date-time": "2025-01-15T09:30:00Z",
    "time": "09:30:00",
    "email": "someone@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "3f2b8c1e-7d4a-4b6e-9c2f-1a5d8e7b6c40",
    "hostname": "example.com",
}


def arguments(schema: Schema, reading: Reading) -> Any:
    """A value for ``schema`` (a tool's input schema: an object, usually)."""
    return _Filler(schema, reading).value(schema, "", 0)


class _Filler:
    def __init__(self, root: Schema, reading: Reading) -> None:
        self.root = root
        self.reading = reading

    def value(self, schema: Any, name: str, depth: int) -> Any:
        if not isinstance(schema, Mapping) or depth > 16:
            return self._string({}, name, 0)
        schema = self._resolve(schema)
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return schema["enum"][0]
        if "default" in schema:
            return schema["default"]
        options = schema.get("anyOf") or schema.get("oneOf")
        if options:
            chosen = next((o for o in options if self._resolve(o).get("type") != "null"), None)
            return self.value(chosen or options[0], name, depth + 1)
        kind = self._kind(schema)
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, name, depth)
        if kind == "integer":
            return self._number(schema, integer=True)
        if kind == "number":
            return self._number(schema, integer=False)
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return self._string(schema, name, depth)

    def _resolve(self, schema: Schema) -> Schema:
        """``schema`` with its ``$ref`` followed and its ``allOf`` merged."""
        for _ in range(16):
            ref = schema.get("$ref")
            if not isinstance(ref, str) or not ref.startswith("#/"):
                break
            target: Any = self.root
            for key in ref[2:].split("/"):
                target = target.get(key, {}) if isinstance(target, Mapping) else {}
            schema = {**{k: v for k, v in schema.items() if k != "$ref"}, **target}
        parts = schema.get("allOf")
        if parts:
            merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
            for raw in parts:
                part = self._resolve(raw) if isinstance(raw, Mapping) else {}
                properties = {**merged.get("properties", {}), **part.get("properties", {})}
                required = [*merged.get("required", []), *part.get("required", [])]
                merged = {**part, **merged, "properties": properties, "required": required}
            schema = merged
        return schema

    def _kind(self, schema: Schema) -> str:
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), kind[0] if kind else None)
        if isinstance(kind, str):
            return kind
        if "properties" in schema or "required" in schema:
            return "object"
        if "items" in schema or "prefixItems" in schema:
            return "array"
        return "string"

    def _object(self, schema: Schema, depth: int) -> dict[str, Any]:
        properties = schema.get("properties") or {}
        names = list(properties)
        names += [n for n in schema.get("required") or [] if n not in properties]
        return {n: self.value(properties.get(n, {}), n, depth + 1) for n in names}

    def _array(self, schema: Schema, name: str, depth: int) -> list[Any]:
        prefix = schema.get("prefixItems") or []
        items = schema.get("items", {})
        count = max(len(prefix), int(schema.get("minItems", 1)))
        count = min(count, int(schema.get("maxItems", count)))
        out = []
        for i in range(count):
            item = prefix[i] if i < len(prefix) else items
            value = self.value(item, name, depth + 1)
            if schema.get("uniqueItems") and value in out:
                value = self._distinct(item, value, i)
            out.append(value)
        return out

    def _distinct(self, schema: Any, value: Any, i: int) -> Any:
        """Another value than ``value`` for an array whose items must differ."""
        schema = self._resolve(schema) if isinstance(schema, Mapping) else {}
        if schema.get("enum") and i < len(schema["enum"]):
            return schema["enum"][i]
        if isinstance(value, bool):
            return not value
        if isinstance(value, (int, float)):
            return value + i
        if isinstance(value, str):
            words = [*self.reading.key_words, "more", "other"]
            return words[i % len(words)] if words[i % len(words)] != value else f"{value} {i}"
        return value

    def _number(self, schema: Schema, *, integer: bool) -> int | float:
        low = schema.get("minimum")
        high = schema.get("maximum")
        step = schema.get("multipleOf")
        exclusive_low = schema.get("exclusiveMinimum")
        exclusive_high = schema.get("exclusiveMaximum")
        tiny = 1 if integer else 1e-6

        def fits(x: float) -> bool:
            return (
                (low is None or x >= low)
                and (high is None or x <= high)
                and (not isinstance(exclusive_low, (int, float)) or x > exclusive_low)
                and (not isinstance(exclusive_high, (int, float)) or x < exclusive_high)
                and (not step or math.isclose(x / step, round(x / step)))
                and (not integer or float(x).is_integer())
            )

        # A number the question says first; then 1, the bounds, and around them.
        candidates = [float(n) for n in self.reading.numbers] + [1.0]
        for bound in (low, exclusive_low, high, exclusive_high):
            if isinstance(bound, (int, float)) and not isinstance(bound, bool):
                candidates += [bound, bound + tiny, bound - tiny]
        if step:
            base = low if isinstance(low, (int, float)) else 0
            candidates.append(math.ceil(base / step) * step)
        found = next((x for x in candidates if fits(x)), candidates[0])
        return int(found) if integer else float(found)

    def _string(self, schema: Schema, name: str, depth: int) -> str:
        reading = self.reading
        form = schema.get("format")
        if form in _FORMATS:
            return _FORMATS[form]
        words = name.lower().replace("-", "_").split("_")
        if any(hint in words or name.lower().endswith(hint) for hint in _NAME_HINTS) and (
            reading.names
        ):
            text = reading.names[0]
        elif any(hint in words for hint in _QUERY_HINTS):
            text = reading.subject or reading.text
        else:
            text = " ".join(reading.key_words[:3]) or reading.subject or reading.text
        text = text or "example"
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            text = _matching(pattern, [text, *reading.key_words, *reading.numbers]) or text
        low = int(schema.get("minLength", 0))
        high = schema.get("maxLength")
        if len(text) < low:
            text = (text + " ") * (low // (len(text) + 1) + 1)
            text = text[: max(low, len(text.rstrip()))]
        if isinstance(high, int):
            text = text[:high]
        return text


def _matching(pattern: str, candidates: list[str]) -> str | None:
    """The first candidate the pattern finds (JSON Schema patterns are not anchored)."""
    try:
        compiled = re.compile(pattern)
    except re.error:
        return None
    return next((c for c in candidates if compiled.search(c)), None)
