"""Exceptions raised by :mod:`lambdastream.bedrock`.

``BedrockStreamError`` carries the AWS error code; the Lambda runtime reports
it like any exception raised by a handler, so a failure after the first token
becomes a mid-stream error (error trailers) rather than a silent truncation.

Example::

    try:
        for piece in stream_text(client, model_id, prompt="hi").text():
            yield piece
    except BedrockStreamError as exc:
        log.warning("model stream failed: %s (%s)", exc.code, exc.message)
"""

from __future__ import annotations


class BedrockError(Exception):
    """Base class of this package's errors."""


class UnsupportedModelError(BedrockError, ValueError):
    """The model id belongs to no family the InvokeModel path knows."""


class BedrockStreamError(BedrockError):
    """Bedrock failed the call: before the stream (after retries) or inside it.

    ``code`` is the AWS error code as botocore reports it
    (``ThrottlingException`` for HTTP errors, ``modelStreamErrorException``
    for errors inside the stream). ``after_first_token`` tells whether the
    caller had already received part of the answer.
    """

    def __init__(
        self, code: str, message: str, *, after_first_token: bool, attempts: int = 1
    ) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.after_first_token = after_first_token
        self.attempts = attempts
