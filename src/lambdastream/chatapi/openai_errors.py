"""OpenAI's error bodies, and Bedrock's failures put into them.

Every error OpenAI's API answers is one JSON object,
``{"error": {"message", "type", "param", "code"}}``: ``type`` is
``invalid_request_error`` for the client's mistakes (401 and 404 included),
``requests`` for a rate limit, ``server_error`` for the server's; ``code`` is
a stable word or ``null``. openai-python reads ``body["error"]`` into the
exception it raises for the status (``BadRequestError`` for 400,
``AuthenticationError`` 401, ``NotFoundError`` 404, ``RateLimitError`` 429,
``InternalServerError`` 5xx: ``OpenAI._make_status_error`` in
``src/openai/_client.py``), and ``code``/``param`` onto it. Messages and codes
follow OpenAI's own, as recorded from the live API in envoyproxy/ai-gateway's
``tests/extproc/vcr/chat_completions_test.go`` (``model_not_found`` 404 with
``param: null``, ``empty_array``, ``unsupported_parameter``).

>>> invalid_request("Bad.", param="n", code="unsupported_value").body["error"]
{'message': 'Bad.', 'type': 'invalid_request_error', 'param': 'n', 'code': 'unsupported_value'}
"""

from __future__ import annotations

import re
from typing import Any

from lambdastream.chatapi.call import ProtocolError

__all__ = [
    "bedrock_error",
    "error_body",
    "invalid_api_key",
    "invalid_request",
    "invalid_type",
    "invalid_value",
    "json_kind",
    "missing_parameter",
    "model_not_found",
    "protocol_error",
    "server_error",
    "unsupported_parameter",
    "unsupported_value",
]

SERVER_ERROR_MESSAGE = "The server had an error while processing your request. Sorry about that!"


def error_body(
    status: int,
    message: str,
    *,
    type: str | None = None,  # OpenAI's field name
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    """OpenAI's error object; ``type`` defaults from the status.

    ``invalid_request_error`` for 4xx, ``requests`` for 429 (OpenAI's type for
    a request rate limit), ``server_error`` for 5xx.

    >>> error_body(500, "Oops.")
    {'error': {'message': 'Oops.', 'type': 'server_error', 'param': None, 'code': None}}
    >>> error_body(429, "Slow down.", code="rate_limit_exceeded")["error"]["type"]
    'requests'
    """
    if type is None:
        type = "requests" if status == 429 else "server_error" if status >= 500 else None
    return {
        "error": {
            "message": message,
            "type": type or "invalid_request_error",
            "param": param,
            "code": code,
        }
    }


def protocol_error(
    status: int,
    message: str,
    *,
    type: str | None = None,  # OpenAI's field name
    param: str | None = None,
    code: str | None = None,
) -> ProtocolError:
    """A :class:`ProtocolError` whose body is :func:`error_body`'s.

    >>> error = protocol_error(503, "Busy.")
    >>> error.status, error.body["error"]["type"]
    (503, 'server_error')
    """
    body = error_body(status, message, type=type, param=param, code=code)
    return ProtocolError(status, body, message)


def invalid_request(
    message: str, *, param: str | None = None, code: str | None = None
) -> ProtocolError:
    """A 400 ``invalid_request_error``: the request cannot be served as sent.

    >>> invalid_request("Missing required parameter: 'messages'.", param="messages",
    ...                 code="missing_required_parameter").status
    400
    """
    return protocol_error(400, message, param=param, code=code)


def json_kind(value: Any) -> str:
    """How OpenAI's messages name a JSON value's type.

    >>> json_kind([]), json_kind(1.5), json_kind(None)
    ('an array', 'a decimal', 'null')
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def invalid_type(param: str, expected: str, value: Any) -> ProtocolError:
    """400 ``invalid_type``, worded as OpenAI words it.

    >>> invalid_type("messages", "an array", "hi").message
    "Invalid type for 'messages': expected an array, but got a string instead."
    """
    message = (
        f"Invalid type for '{param}': expected {expected}, but got {json_kind(value)} instead."
    )
    return invalid_request(message, param=param, code="invalid_type")


def missing_parameter(param: str, why: str = "") -> ProtocolError:
    """400 ``missing_required_parameter``.

    >>> missing_parameter("messages").message
    "Missing required parameter: 'messages'."
    """
    message = f"Missing required parameter: '{param}'.{why}"
    return invalid_request(message, param=param, code="missing_required_parameter")


def invalid_value(param: str, message: str) -> ProtocolError:
    """400 ``invalid_value``: a value OpenAI itself would refuse.

    >>> invalid_value("stop", "Invalid 'stop': empty.").body["error"]["code"]
    'invalid_value'
    """
    return invalid_request(message, param=param, code="invalid_value")


def unsupported_value(param: str, why: str) -> ProtocolError:
    """400 ``unsupported_value``: valid for OpenAI, not servable on Bedrock.

    >>> unsupported_value("n", "must be 1 here.").message
    "Unsupported value: 'n' must be 1 here."
    """
    message = f"Unsupported value: '{param}' {why}"
    return invalid_request(message, param=param, code="unsupported_value")


def unsupported_parameter(param: str, why: str = "") -> ProtocolError:
    """400 ``unsupported_parameter``, OpenAI's words for a parameter a model does not take.

    >>> unsupported_parameter("logit_bias").message
    "Unsupported parameter: 'logit_bias' is not supported with this model."
    """
    message = f"Unsupported parameter: '{param}' is not supported with this model.{why}"
    return invalid_request(message, param=param, code="unsupported_parameter")


def invalid_api_key(key: str | None) -> ProtocolError:
    """OpenAI's 401: no key (``code`` null), or a wrong one (``invalid_api_key``).

    A wrong key is shown as OpenAI shows it: only its last four characters.

    >>> invalid_api_key("sk-not-the-right-one").body["error"]["message"]
    'Incorrect API key provided: sk-****-one.'
    >>> invalid_api_key(None).body["error"]["code"] is None
    True
    """
    if not key:
        message = (
            "You didn't provide an API key. You need to provide your API key in an"
            " Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        )
        return protocol_error(401, message)
    shown = (key[:3] + "****" + key[-4:]) if len(key) >= 12 else "****"
    message = f"Incorrect API key provided: {shown}."
    return protocol_error(401, message, code="invalid_api_key")


def model_not_found(model: str) -> ProtocolError:
    """OpenAI's 404 for a model it does not serve (``param`` null, as OpenAI sends it).

    >>> model_not_found("gpt-4o").message
    'The model `gpt-4o` does not exist or you do not have access to it.'
    """
    message = f"The model `{model}` does not exist or you do not have access to it."
    return protocol_error(404, message, code="model_not_found")


def server_error() -> ProtocolError:
    """A 500 that says nothing of the server's internals (an unexpected exception).

    >>> server_error().body["error"]["type"]
    'server_error'
    """
    return protocol_error(500, SERVER_ERROR_MESSAGE)


# Bedrock's error codes, lower-cased (HTTP errors name the shape, ThrottlingException;
# errors inside a stream the member, throttlingException) -> (status, OpenAI code).
_BEDROCK: dict[str, tuple[int, str | None]] = {
    "throttlingexception": (429, "rate_limit_exceeded"),
    "servicequotaexceededexception": (429, "rate_limit_exceeded"),
    "validationexception": (400, None),
    "accessdeniedexception": (403, None),
    "resourcenotfoundexception": (404, "model_not_found"),
    "modeltimeoutexception": (504, None),
    "serviceunavailableexception": (503, None),
    "modelnotreadyexception": (503, None),
    "internalserverexception": (500, None),
    "modelerrorexception": (500, None),
    "modelstreamerrorexception": (500, None),
}
_TOO_LONG = re.compile(
    r"too long|too many (input )?tokens|context (length|window)|exceeds? the max", re.IGNORECASE
)


def bedrock_error(code: str, message: str) -> ProtocolError:
    """Bedrock's failure (an AWS error code and message) as OpenAI's error.

    Throttling and quota are 429 ``rate_limit_exceeded`` (openai-python
    retries them); an input Bedrock finds too long is 400
    ``context_length_exceeded``; a timeout 504, a connection failure 502,
    the other server-side failures 500/503; an unknown code 500. The message
    ends with the AWS code, for whoever reads the logs. AccessDeniedException
    is a 403 that does not repeat Bedrock's message (it names the function's
    role and account).

    >>> error = bedrock_error("ThrottlingException", "Too many requests")
    >>> error.status, error.body["error"]["code"], error.message
    (429, 'rate_limit_exceeded', 'Too many requests (Bedrock: ThrottlingException)')
    >>> bedrock_error("validationException", "Input is too long.").body["error"]["code"]
    'context_length_exceeded'
    """
    status, openai_code = _BEDROCK.get(code.lower(), (0, None))
    if not status:
        lowered = code.lower()
        status = 504 if "timeout" in lowered else 502 if "connection" in lowered else 500
    param = None
    if code.lower() == "accessdeniedexception":
        message = "This server's AWS credentials may not invoke the model on Bedrock."
    elif status == 400 and _TOO_LONG.search(message):
        openai_code, param = "context_length_exceeded", "messages"
    text = f"{message or 'Bedrock failed the request'} (Bedrock: {code})"
    return protocol_error(status, text, param=param, code=openai_code)
