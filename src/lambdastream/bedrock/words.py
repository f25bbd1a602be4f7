"""What the scripted model reads in a question: its subject, key words, names and numbers.

No language model here: a few rules over the words, enough for an answer
(and a tool call) that is about what was asked.

>>> read("How do I reverse a list in Python?").subject
'reverse a list in Python'
>>> read("What's the weather in Paris tomorrow?").names
['Paris']
>>> read("Why stream the answer?").key_words
['stream', 'answer']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A word keeps its inner dots, apostrophes, pluses and hyphens: Node.js, don't, 2+2, C++.
_WORD = re.compile(r"\w+(?:[.'\u2019+#-]\w+)*[+#]*")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")
# What a question starts with before its subject, longest first.
_LEADS = sorted(
    (
        "please",
        "hi",
        "hello",
        "hey",
        "ok",
        "okay",
        "so",
        "can you",
        "could you",
        "would you",
        "will you",
        "tell me about",
        "tell me",
        "explain",
        "describe",
        "write",
        "give me",
        "show me",
        "help me",
        "help me with",
        "i want to know",
        "i'd like to know",
        "what is",
        "what are",
        "what's",
        "what was",
        "what does",
        "what do",
        "why is",
        "why are",
        "why do",
        "why does",
        "why should i",
        "why would i",
        "why",
        "how is",
        "how are",
        "how do i",
        "how do you",
        "how does",
        "how can i",
        "how to",
        "how",
        "what",
        "who is",
        "who was",
        "when is",
        "when was",
        "where is",
        "which is",
        "is it",
        "is there",
        "should i",
        "can i",
        "does",
        "do",
        "did",
        "is",
        "are",
        "can",
        "should",
        "will",
        "would",
        "could",
        "the",
        "a",
        "an",
        "about",
        "me",
    ),
    key=len,
    reverse=True,
)
# Words that say nothing about the subject. One string, split: a list literal would run
# to a hundred lines.
STOP_WORDS = frozenset(
    """a about above after again all also am an and any are as at be because been before
    being below between both but by can could did do does doing don't down during each few
    for from further had has have having he her here hers him his how i i'd i'm if in into is
    it it's its itself just let let's me more most my no nor not now of off on once only or
    other our out over own please same she should so some such tell than that that's the
    their them then there these they this those through to too under until up very was we
    were what what's when where which while who whom why will with would you your yours
    explain describe give show write want know like need get make thanks thank hi hello hey
    ok okay really much many way ways thing things something anything use using""".split()  # noqa: SIM905
)
GREETINGS = frozenset({"hi", "hello", "hey", "yo", "hiya", "howdy", "greetings", "morning"})


@dataclass(frozen=True)
class Reading:
    """A question, read: ``subject`` (a phrase, may be empty), its key words, names, numbers."""

    text: str
    subject: str
    key_words: list[str]
    names: list[str]
    numbers: list[str]

    @property
    def is_greeting(self) -> bool:
        """Nothing asked: empty, or greeting words only."""
        words = [w.lower() for w in _WORD.findall(self.text)]
        return all(w in GREETINGS or w in STOP_WORDS for w in words)


def read(text: str) -> Reading:
    """Read ``text`` (one message) for what it is about."""
    words = _WORD.findall(text)
    key_words: list[str] = []
    for word in words:
        new = word.lower() not in (k.lower() for k in key_words)
        if new and word.lower() not in STOP_WORDS and (len(word) > 1 or word.isdigit()):
            key_words.append(word)
    # A capitalised word that does not start a sentence is a name (Paris, Python, AWS).
    names = [
        word
        for i, word in enumerate(words)
        if word[:1].isupper()
        and word.lower() not in STOP_WORDS
        and (i > 0 and not re.search(r"[.!?]\s*$", text[: text.find(word)]))
    ]
    return Reading(
        text,
        _subject(text, key_words),
        key_words,
        list(dict.fromkeys(names)),
        _NUMBER.findall(text),
    )


def _subject(text: str, key_words: list[str]) -> str:
    """The question without its lead-in and end punctuation, or its key words if long."""
    first = re.split(r"(?<=[.?!])\s+|\n", text.strip(), maxsplit=1)[0]
    subject = first.strip().rstrip("?!.:;, ")
    subject = re.sub(r"[\s,]+(please|thanks|thank you|for me)$", "", subject, flags=re.I)
    changed = True
    while changed:
        changed = False
        for lead in _LEADS:
            if re.match(rf"{re.escape(lead)}\b[\s,]*", subject, re.I):
                subject = re.sub(rf"^{re.escape(lead)}\b[\s,]*", "", subject, flags=re.I)
                changed = True
                break
    if len(subject.split()) > 8 or not any(c.isalnum() for c in subject):
        subject = " ".join(key_words[:5])
    return subject
