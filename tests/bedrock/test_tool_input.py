"""The scripted model's tool input on schemas as tools write them: ``jsonschema`` accepts it."""

from __future__ import annotations

import jsonschema
import pytest

from lambdastream.bedrock.tool_input import arguments
from lambdastream.bedrock.words import read

SCHEMAS = {
    "empty": {},
    "no properties, required names": {"type": "object", "required": ["a", "b"]},
    "type list": {"type": "object", "properties": {"x": {"type": ["null", "integer"]}}},
    "const and int enum": {
        "type": "object",
        "properties": {"v": {"const": "v1"}, "level": {"enum": [3, 5, 8]}},
        "required": ["v", "level"],
    },
    "all of": {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            {"properties": {"b": {"type": "number", "exclusiveMaximum": 0}}, "required": ["b"]},
        ]
    },
    "definitions ref": {
        "definitions": {"Point": {"type": "array", "prefixItems": [{"type": "number"}] * 2}},
        "type": "object",
        "properties": {"at": {"$ref": "#/definitions/Point"}},
        "required": ["at"],
    },
    "bounds": {
        "type": "object",
        "properties": {
            "n": {"type": "integer", "exclusiveMinimum": 10, "maximum": 12},
            "step": {"type": "integer", "minimum": 7, "multipleOf": 5},
            "ratio": {"type": "number", "minimum": 0.25, "maximum": 0.5},
        },
        "required": ["n", "step", "ratio"],
    },
    "strings": {
        "type": "object",
        "properties": {
            "code": {"type": "string", "pattern": "^[A-Z][a-z]+$"},
            "long": {"type": "string", "minLength": 40},
            "short": {"type": "string", "maxLength": 3},
            "when": {"type": "string", "format": "date-time"},
            "mail": {"type": "string", "format": "email"},
        },
        "required": ["code", "long", "short", "when", "mail"],
    },
    "nested arrays": {
        "type": "object",
        "properties": {
            "matrix": {
                "type": "array",
                "minItems": 2,
                "items": {"type": "array", "minItems": 2, "items": {"type": "integer"}},
            },
            "flags": {"type": "array", "items": {"type": "boolean"}, "maxItems": 0},
        },
        "required": ["matrix", "flags"],
    },
    "one of objects": {
        "oneOf": [
            {
                "type": "object",
                "properties": {"kind": {"const": "circle"}, "r": {"type": "number"}},
                "required": ["kind", "r"],
            },
            {
                "type": "object",
                "properties": {"kind": {"const": "square"}},
                "required": ["kind"],
            },
        ]
    },
}


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_the_input_satisfies_the_schema(name):
    value = arguments(SCHEMAS[name], read("Show me the Rome forecast for 2 days"))
    jsonschema.validate(value, SCHEMAS[name])


def test_strings_come_from_the_question():
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "query": {"type": "string"}},
    }
    assert arguments(schema, read("What's on in Rome this weekend?")) == {
        "city": "Rome",
        "query": "on in Rome this weekend",
    }
