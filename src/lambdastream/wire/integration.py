"""The HTTP integration response: a JSON prelude, 8 NUL bytes, then the body.

A function that streams to a Function URL or an API Gateway REST API sets
its status, headers and cookies by sending ``Content-Type:
application/vnd.awslambda.http-integration-response`` and starting its body
with a JSON object, then :data:`PRELUDE_DELIMITER`. This module holds the
protocol's constants and the prelude's shape; the JSON text is the caller's
to make (the runtime uses CPython's ``_json`` directly, not the ``json``
package, to keep cold starts short), and :mod:`lambdastream.wire.prelude`
reads it back.

Example::

    >>> import json
    >>> meta = prelude_object(201, {"content-type": "text/plain"}, ["a=1"])
    >>> frame_prelude(json.dumps(meta).encode())[-9:]
    b'}\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00'
"""

HTTP_INTEGRATION_CONTENT_TYPE = "application/vnd.awslambda.http-integration-response"
PRELUDE_DELIMITER = b"\0" * 8
# API Gateway (REST streaming) wants the prelude and its delimiter within
# the first 16 KiB of the body.
REST_PRELUDE_LIMIT = 16 * 1024

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any


def prelude_object(
    status: int, headers: "dict[str, str]", cookies: "list[str]"
) -> "dict[str, Any]":
    """The prelude's JSON object: ``statusCode``, ``headers`` and ``cookies`` (if any)."""
    meta: dict[str, Any] = {"statusCode": status, "headers": headers}
    if cookies:
        meta["cookies"] = cookies
    return meta


def frame_prelude(json_text: bytes) -> bytes:
    """The prelude as it starts the body: its JSON, then the delimiter.

    JSON escapes control characters, so valid JSON text never holds the NUL
    byte a reader would take for the delimiter.
    """
    if b"\0" in json_text:
        raise ValueError("a prelude may hold no NUL byte")
    return json_text + PRELUDE_DELIMITER
