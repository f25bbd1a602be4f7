"""Reasoning written inline in the text, between tags (DeepSeek's ``<think>``, gpt-oss's).

>>> splitter = TagSplitter("<think>", "</think>")
>>> splitter.feed("<think>hm</thi") + splitter.feed("nk>\\n\\nYes.")
[(True, 'hm'), (False, 'Yes.')]
"""

from __future__ import annotations

from lambdastream.bedrock.events import ReasoningDelta, StreamEvent, TextDelta


class TagSplitter:
    """Splits text with inline ``<think>...</think>``-style tags into reasoning and text.

    Tags may be split across chunks, so a suffix that could begin a tag is
    held back until the next piece decides it.
    """

    def __init__(self, open_tag: str, close_tag: str) -> None:
        self.open_tag, self.close_tag = open_tag, close_tag
        self.inside = False
        self.pending = ""
        self.strip_next = False

    def feed(self, text: str) -> list[tuple[bool, str]]:
        """Return ``(is_reasoning, text)`` pieces that are certain so far."""
        data = self.pending + text
        self.pending = ""
        out: list[tuple[bool, str]] = []
        while data:
            tag = self.close_tag if self.inside else self.open_tag
            at = data.find(tag)
            if at >= 0:
                self._emit(out, data[:at])
                data = data[at + len(tag) :]
                self.inside = not self.inside
                # Models put a blank line after their reasoning; it is not answer text.
                self.strip_next = not self.inside
                continue
            keep = next(
                (
                    n
                    for n in range(min(len(tag) - 1, len(data)), 0, -1)
                    if tag.startswith(data[-n:])
                ),
                0,
            )
            self._emit(out, data[: len(data) - keep])
            self.pending = data[len(data) - keep :]
            break
        return out

    def flush(self) -> list[tuple[bool, str]]:
        out: list[tuple[bool, str]] = []
        self._emit(out, self.pending)
        self.pending = ""
        return out

    def _emit(self, out: list[tuple[bool, str]], text: str) -> None:
        if self.strip_next and not self.inside:
            text = text.lstrip("\n")
            if text:
                self.strip_next = False
        if text:
            out.append((self.inside, text))


def split_events(splitter: TagSplitter, text: str) -> list[StreamEvent]:
    """Typed events of one piece of tagged text."""
    return [
        ReasoningDelta(piece) if inside else TextDelta(piece)
        for inside, piece in splitter.feed(text)
    ]


def flush_events(splitter: TagSplitter | None) -> list[StreamEvent]:
    """Typed events of what the splitter still holds at the end of the stream."""
    if splitter is None:
        return []
    return [ReasoningDelta(t) if inside else TextDelta(t) for inside, t in splitter.flush()]


def inline(tags: tuple[str, str], reasoning: str, text: str, separator: str = "") -> str:
    """A whole answer's text with its reasoning inline, as the streamed chunks spell it."""
    if not reasoning:
        return text
    return f"{tags[0]}{reasoning}{tags[1]}{separator}{text}"
