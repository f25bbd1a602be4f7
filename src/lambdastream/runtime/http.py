"""HTTP responses for Function URLs: status, headers, cookies, streamed body.

A handler returns a :class:`StreamingResponse`; the runtime sends Lambda's
HTTP integration prelude (JSON, then 8 NUL bytes) and then the body, one
chunk per item the body yields. :func:`sse` frames Server-Sent Events.
"""

from lambdastream.runtime.marshal import compact_json
from lambdastream.wire.integration import (
    HTTP_INTEGRATION_CONTENT_TYPE,
    PRELUDE_DELIMITER,
    frame_prelude,
    prelude_object,
)

# typing and collections.abc cost milliseconds of every cold start that
# imports StreamingResponse: annotations only, checked duck-typed at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import AsyncIterable, Iterable, Mapping
    from typing import Any

    Chunk = bytes | bytearray | memoryview | str
    HeaderInput = Mapping[str, str] | Iterable[tuple[str, str]] | None

__all__ = ["StreamingResponse", "format_event", "sse"]


class StreamingResponse:
    """An HTTP response whose body streams to the caller as it is produced.

    ``body`` is an iterable or async iterable of ``bytes`` or ``str`` (str is
    sent as UTF-8); each item becomes one chunk, sent the moment it is
    yielded. Status and headers travel with the first chunk, so an exception
    raised before the body yields anything is still reported as a plain
    invocation error (a 502 at a Function URL), not as a cut 200.

    Example::

        from lambdastream import StreamingResponse

        def handler(event, context):
            def body():
                yield "hello, "
                yield "world\\n"
            return StreamingResponse(body(), status_code=201,
                                     headers={"x-demo": "1"},
                                     cookies=["seen=1; Path=/"],
                                     media_type="text/plain")
    """

    __slots__ = ("body", "cookies", "headers", "status_code")

    def __init__(
        self,
        body: "Iterable[Chunk] | AsyncIterable[Chunk]" = (),
        status_code: int = 200,
        headers: "HeaderInput" = None,
        cookies: "Iterable[str] | None" = None,
        media_type: str | None = None,
    ) -> None:
        if isinstance(body, (bytes, bytearray, memoryview, str)):
            body = (body,)  # a whole body at once is one chunk
        elif isinstance(body, dict) or not (
            hasattr(body, "__iter__") or hasattr(body, "__aiter__")
        ):
            raise TypeError(
                "StreamingResponse body must be an iterable or async iterable of bytes or str, "
                f"not {type(body).__name__}"
            )
        self.body = body
        self.status_code = int(status_code)
        if not 100 <= self.status_code <= 599:
            raise ValueError(f"status_code must be 100-599, not {self.status_code}")
        merged: dict[str, str] = {}
        jar = list(cookies or ())
        pairs = headers.items() if hasattr(headers, "items") else (headers or ())  # type: ignore[union-attr]
        for name, value in pairs:
            key = str(name).lower()
            if key == "set-cookie":
                # Function URLs carry cookies in their own array, not as headers.
                jar.append(str(value))
            elif key in merged:
                merged[key] = f"{merged[key]}, {value}"
            else:
                merged[key] = str(value)
        media_type = media_type or getattr(body, "media_type", None)
        if media_type and "content-type" not in merged:
            merged["content-type"] = media_type
        self.headers = merged
        self.cookies = jar

    def prelude(self) -> bytes:
        """Return the HTTP integration prelude: JSON and the 8-NUL delimiter."""
        return frame_prelude(self._prelude_json())

    def _prelude_json(self) -> bytes:
        return compact_json(prelude_object(self.status_code, self.headers, self.cookies)).encode()

    def __lambda_answer__(self, reply) -> None:  # type: ignore[no-untyped-def]
        """Sent by the runtime when a handler returns this: the body streams after the prelude."""
        reply.stream_body(
            self.body, HTTP_INTEGRATION_CONTENT_TYPE, (self._prelude_json(), PRELUDE_DELIMITER)
        )


class sse:
    """Frame Server-Sent Events (``text/event-stream``) from plain items.

    Each item is a ``str`` (sent as ``data``), or a dict with any of
    ``data``, ``event``, ``id``, ``retry``, ``comment`` (``data`` that is not
    a string is sent as JSON). Multi-line data becomes several ``data:``
    lines. Works over iterables and async iterables alike. Passed to
    :class:`StreamingResponse`, it sets ``content-type: text/event-stream``.

    Example::

        from lambdastream import StreamingResponse, sse

        def handler(event, context):
            events = ({"event": "token", "data": t} for t in ["Hel", "lo"])
            return StreamingResponse(sse(events), headers={"cache-control": "no-cache"})
    """

    media_type = "text/event-stream"

    def __init__(self, events: "Iterable[Any] | AsyncIterable[Any]") -> None:
        self.events = events

    @property
    def is_async(self) -> bool:
        """Whether the events come from an async iterable (the runtime asks)."""
        return hasattr(self.events, "__aiter__")

    def __iter__(self):  # type: ignore[no-untyped-def]
        for item in self.events:  # type: ignore[union-attr]
            yield format_event(item)

    async def _aiter(self):  # type: ignore[no-untyped-def]
        if hasattr(self.events, "__aiter__"):
            async for item in self.events:  # type: ignore[union-attr]
                yield format_event(item)
        else:
            for item in self.events:
                yield format_event(item)

    def __aiter__(self):  # type: ignore[no-untyped-def]
        return self._aiter()


def format_event(item: "Any") -> str:
    """Return one Server-Sent Event, framed and ended by a blank line.

    >>> format_event({"event": "token", "data": "a\\nb"})
    'event: token\\ndata: a\\ndata: b\\n\\n'
    """
    if not isinstance(item, dict):
        return _data_lines(item) + "\n"
    out: list[str] = []
    if "comment" in item:
        out.extend(f": {line}\n" for line in _lines(str(item["comment"])))
    for field in ("id", "event"):
        if item.get(field) is not None:
            value = str(item[field])
            if "\n" in value or "\r" in value:
                raise ValueError(f"SSE {field} must be one line: {value!r}")
            out.append(f"{field}: {value}\n")
    if item.get("retry") is not None:
        out.append(f"retry: {int(item['retry'])}\n")
    if "data" in item:
        out.append(_data_lines(item["data"]))
    return "".join(out) + "\n"


def _data_lines(data: "Any") -> str:
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data).decode()
    elif not isinstance(data, str):
        data = compact_json(data)
    return "".join(f"data: {line}\n" for line in _lines(data))


def _lines(text: str) -> list[str]:
    # SSE treats CRLF, CR and LF alike as line ends; an empty string is one empty line.
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
