"""StreamingResponse prelude and Server-Sent Events framing (pure)."""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambdastream import StreamingResponse, sse
from lambdastream.runtime.http import format_event
from lambdastream.wire.integration import PRELUDE_DELIMITER


def test_prelude_carries_status_headers_and_cookies():
    response = StreamingResponse(
        [],
        status_code=201,
        headers={"X-Custom": "probe", "Set-Cookie": "a=1; Path=/"},
        cookies=["b=2"],
        media_type="text/plain",
    )
    raw = response.prelude()
    assert raw.endswith(PRELUDE_DELIMITER)
    meta = json.loads(raw[: -len(PRELUDE_DELIMITER)])
    assert meta == {
        "statusCode": 201,
        "headers": {"x-custom": "probe", "content-type": "text/plain"},
        "cookies": ["b=2", "a=1; Path=/"],
    }


def test_repeated_headers_are_joined():
    response = StreamingResponse([], headers=[("Vary", "a"), ("vary", "b")])
    assert response.headers == {"vary": "a, b"}


@given(st.dictionaries(st.text(min_size=1), st.text(), max_size=5), st.lists(st.text(), max_size=3))
def test_prelude_never_contains_nul_before_the_delimiter(headers, cookies):
    raw = StreamingResponse([], headers=headers, cookies=cookies).prelude()
    assert raw.index(PRELUDE_DELIMITER) == len(raw) - len(PRELUDE_DELIMITER)
    assert b"\0" not in raw[: -len(PRELUDE_DELIMITER)]


def test_sse_sets_the_event_stream_media_type():
    response = StreamingResponse(sse(["x"]))
    assert response.headers["content-type"] == "text/event-stream"


def test_sse_frames_strings_dicts_and_multiline_data():
    frames = list(
        sse(
            [
                "hello",
                {"event": "token", "id": 7, "data": "a\r\nb\rc"},
                {"data": {"k": [1, 2]}},
                {"comment": "keep-alive"},
                {"retry": 1500, "data": ""},
            ]
        )
    )
    assert frames == [
        "data: hello\n\n",
        "id: 7\nevent: token\ndata: a\ndata: b\ndata: c\n\n",
        'data: {"k":[1,2]}\n\n',
        ": keep-alive\n\n",
        "retry: 1500\ndata: \n\n",
    ]


def test_sse_rejects_a_multiline_event_name():
    with pytest.raises(ValueError, match="one line"):
        format_event({"event": "a\nb", "data": "x"})


def test_sse_over_an_async_iterable():
    async def events():
        yield "one"
        yield {"event": "end", "data": "two"}

    async def collect():
        return [frame async for frame in sse(events())]

    assert asyncio.run(collect()) == ["data: one\n\n", "event: end\ndata: two\n\n"]


@given(st.text())
def test_sse_data_round_trips_through_a_parser(text):
    frame = format_event({"data": text})
    lines = frame[:-1].split("\n")[:-1]
    assert all(line.startswith("data: ") for line in lines)
    parsed = "\n".join(line[len("data: ") :] for line in lines)
    assert parsed == text.replace("\r\n", "\n").replace("\r", "\n")


def test_a_whole_body_is_one_chunk():
    assert list(StreamingResponse(b"all at once").body) == [b"all at once"]
    assert list(StreamingResponse("text").body) == ["text"]


@pytest.mark.parametrize("body", [{"a": 1}, 42, None])
def test_a_body_that_cannot_stream_is_refused_at_once(body):
    with pytest.raises(TypeError, match="iterable or async iterable of bytes or str"):
        StreamingResponse(body)


@pytest.mark.parametrize("status", [99, 600, 1000])
def test_status_code_must_be_an_http_status(status):
    with pytest.raises(ValueError, match="100-599"):
        StreamingResponse([], status_code=status)
