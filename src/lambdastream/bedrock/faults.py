"""Directives for ``bedrock-local``: faults and scripted behaviour, in a prompt or for all.

A directive is ``[[name]]`` or ``[[name:arg]]`` anywhere in the last user
message (per request), or ``--fault name:arg`` (every request):

============================== ==================================================
``[[throttle]]``, ``[[throttle:N]]`` the first N requests with this prompt (default 1)
                               get HTTP 429 ``ThrottlingException``
``[[error:Code]]``             HTTP error ``Code`` before the stream
                               (``ServiceUnavailableException``, ``ValidationException``, ...)
``[[stream-error:N]]``         after N tokens, a ``modelStreamErrorException`` event
``[[stream-error:N:code]]``    ... or another in-stream exception (``throttlingException``)
``[[latency:S]]``              first-token latency of S seconds for this request
``[[think]]``                  the scripted model reasons before answering
``[[tool:NAME]]``              the scripted model ends by calling tool NAME (its input
                               follows NAME's schema when the request offers NAME)
``[[echo]]``                   the scripted model answers ``You said: <the message>``
============================== ==================================================

Directives are removed from the text the model sees.

>>> directives, text = parse_directives("hi [[stream-error:2]] there")
>>> directives, text
([('stream-error', '2')], 'hi there')
"""

from __future__ import annotations

import re

_DIRECTIVE = re.compile(r"\s*\[\[([a-z-]+)(?::([^\]]*))?\]\]")

# AWS error code -> HTTP status, as bedrock-runtime's service model declares them.
HTTP_ERRORS = {
    "AccessDeniedException": 403,
    "ResourceNotFoundException": 404,
    "ThrottlingException": 429,
    "ModelTimeoutException": 408,
    "InternalServerException": 500,
    "ServiceUnavailableException": 503,
    "ValidationException": 400,
    "ServiceQuotaExceededException": 400,
    "ModelNotReadyException": 429,
    "ModelErrorException": 424,
    "ModelStreamErrorException": 424,
}

# In-stream exception members of ResponseStream / ConverseStreamOutput.
STREAM_ERRORS = (
    "modelStreamErrorException",
    "throttlingException",
    "validationException",
    "internalServerException",
    "serviceUnavailableException",
    "modelTimeoutException",
)

KNOWN = ("throttle", "error", "stream-error", "latency", "think", "tool", "echo")


class DirectiveError(ValueError):
    """A directive that cannot be obeyed (answered as ValidationException)."""


def parse_directives(text: str) -> tuple[list[tuple[str, str | None]], str]:
    """Directives found in ``text`` and the text without them."""
    found = [(m[1], m[2]) for m in _DIRECTIVE.finditer(text)]
    for name, arg in found:
        check(name, arg)
    return found, _DIRECTIVE.sub("", text).strip()


def parse_spec(spec: str) -> tuple[str, str | None]:
    """A command-line ``--fault`` value (``throttle:2``) as a directive."""
    name, _, arg = spec.partition(":")
    check(name, arg or None)
    return name, arg or None


def check(name: str, arg: str | None) -> None:
    if name not in KNOWN:
        raise DirectiveError(f"unknown directive {name!r}; known: {', '.join(KNOWN)}")
    if name == "error" and arg not in HTTP_ERRORS:
        raise DirectiveError(f"error:CODE needs one of {', '.join(HTTP_ERRORS)}")
    if name == "stream-error":
        count, _, code = (arg or "0").partition(":")
        if not count.isdigit() or (code and code not in STREAM_ERRORS):
            raise DirectiveError(f"stream-error:N[:code], code one of {', '.join(STREAM_ERRORS)}")
    if name == "throttle" and arg is not None and not arg.isdigit():
        raise DirectiveError("throttle:N needs a whole number")
    if name == "latency":
        try:
            float(arg or "")
        except ValueError:
            raise DirectiveError("latency:S needs a number of seconds") from None
    if name == "tool" and not arg:
        raise DirectiveError("tool:NAME needs a tool name")
