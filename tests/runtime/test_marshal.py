"""Buffered results are encoded byte for byte as awslambdaric encodes them."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from awslambdaric.lambda_runtime_marshaller import to_json
from hypothesis import given
from hypothesis import strategies as st

from lambdastream.runtime.errors import RuntimeFault
from lambdastream.runtime.marshal import decode_event, encode_result

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
