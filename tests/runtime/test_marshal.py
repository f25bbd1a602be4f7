"""Buffered results are encoded byte for byte as awslambdaric encodes them."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import pytest
from awslambdaric.lambda_runtime_marshaller import to_json
from hypothesis import given
from hypothesis import strategies as st

from lambdastream.runtime.errors import RuntimeFault
from lambdastream.runtime.marshal import compact_json, decode_event, encode_result, loads

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.decimals(allow_nan=False, allow_infinity=False, places=None)
)
json_like = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(json_like)
def test_encoding_matches_awslambdaric(value):
    body, content_type = encode_result(value)
    assert content_type == "application/json"
    assert body.decode() == to_json(value)


@pytest.mark.parametrize(
    "value",
    [
        {"price": Decimal("1.10"), "big": Decimal("12345678901234567890.000001")},
        [Decimal("-0"), Decimal("1E+3"), math.inf, -math.inf],
        "caf\u00e9 \u2603",
        {"nested": [{"a": Decimal("0.1")}]},
    ],
)
def test_edge_values_match_awslambdaric(value):
    assert encode_result(value)[0].decode() == to_json(value)


def test_nan_decimal_is_nan_like_awslambdaric():
    assert encode_result([Decimal("NaN")])[0] == b"[NaN]"


def test_bytes_are_returned_raw():
    assert encode_result(b"\x00\xff") == (b"\x00\xff", "application/unknown")


def test_unserializable_result_is_a_marshal_error():
    with pytest.raises(RuntimeFault) as info:
        encode_result({"s": {1, 2}})
    assert info.value.error_type == "Runtime.MarshalError"
    assert (
        info.value.message
        == "Unable to marshal response: Object of type set is not JSON serializable"
    )


def test_event_that_is_not_json_is_an_unmarshal_error():
    with pytest.raises(RuntimeFault) as info:
        decode_event(b"{nope", "application/json")
    assert info.value.error_type == "Runtime.UnmarshalError"


def test_event_of_another_content_type_is_passed_raw():
    assert decode_event(b"raw", "application/octet-stream") == b"raw"


# The codec calls json's C accelerator directly; json itself is the reference.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
padding = st.sampled_from(["", " ", "\n", "\t \r\n", "\u00a0", "\x0b"])


def _json_loads_outcome(data):
    try:
        return ("ok", json.loads(data))
    except Exception as exc:
        return ("error", type(exc), str(exc))


def _loads_outcome(data):
    try:
        return ("ok", loads(data))
    except Exception as exc:
        return ("error", type(exc), str(exc))


def _same(a, b):
    # NaN is never equal to itself: compare through json's own encoding.
    if a[0] == "ok" and b[0] == "ok":
        return json.dumps(a[1]) == json.dumps(b[1])
    return a == b


@given(json_values, padding, padding)
def test_loads_decodes_as_json_loads(value, before, after):
    text = before + json.dumps(value) + after
    for data in (text, text.encode("utf-8", "surrogatepass")):
        assert _same(_loads_outcome(data), _json_loads_outcome(data))


@given(st.binary(max_size=40) | st.text(max_size=40))
def test_loads_fails_as_json_loads_fails(data):
    assert _same(_loads_outcome(data), _json_loads_outcome(data))


@pytest.mark.parametrize(
    "data",
    [
        b"\xef\xbb\xbf{}",
        "\ufeff{}",
        '{"a": 1} x',
        '{"a": 1}{"b": 2}',
        "[1, 2",
        "",
        "   ",
        "NaN",
        "-Infinity",
        '"\ud800"',
        '{"a": 1}'.encode("utf-16"),
        '{"a": 1}'.encode("utf-32-le"),
        bytearray(b"[1]"),
    ],
)
def test_loads_edge_inputs_match_json_loads(data):
    assert _same(_loads_outcome(data), _json_loads_outcome(data))


@given(json_values)
def test_compact_json_is_json_dumps_with_compact_separators(value):
    assert compact_json(value) == json.dumps(value, separators=(",", ":"))


def test_compact_json_refuses_what_json_refuses():
    with pytest.raises(TypeError, match="Object of type set is not JSON serializable"):
        compact_json({"s": {1}})


def test_an_error_made_to_fit_keeps_a_short_message_and_the_innermost_frames():
    # A deep web framework stack and a short message: the frames go, the
    # message stays (it was cut to nothing once).
    import json

    from lambdastream.runtime.errors import error_json_within, make_error

    frames = [
        f'  File "/lib/framework/layer{i}.py", line {i}, in call\n    await app()\n'
        for i in range(60)
    ]
    error = json.loads(error_json_within(make_error("boom", "RuntimeError", frames), 2000))
    assert error["errorMessage"] == "boom"
    assert error["stackTrace"][-1] == frames[-1]
    assert error["stackTrace"][0].endswith("outer frames left out)")
