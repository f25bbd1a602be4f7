"""Answer a web request whole, or with a plain 500: what both web adapters share.

The ASGI and WSGI adapters stream what their apps send; when an app's answer
is known all at once (a buffered entry point, or a failure before anything
left) it goes out here, in the shape the request's entry point wants.
"""

from lambdastream.runtime import logs
from lambdastream.runtime.answer import Reply
from lambdastream.runtime.web_event import WebRequest, buffered_answer, stream_prelude
from lambdastream.wire.integration import HTTP_INTEGRATION_CONTENT_TYPE, PRELUDE_DELIMITER

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterable

# What uvicorn and werkzeug answer for an app that failed before its
# response started: nothing of the failure leaves the process.
INTERNAL_ERROR = b"Internal Server Error"
INTERNAL_ERROR_HEADERS = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", b"%d" % len(INTERNAL_ERROR)),
]


def open_stream(
    reply: Reply, request: WebRequest, status: int, headers: "Iterable[tuple[bytes, bytes]]"
) -> None:
    """Open the HTTP integration stream: the status and headers leave with the first chunk."""
    prelude = stream_prelude(request, status, headers)
    reply.open_stream(HTTP_INTEGRATION_CONTENT_TYPE, (prelude, PRELUDE_DELIMITER))


def answer_whole(
    reply: Reply,
    request: WebRequest,
    status: int,
    headers: "Iterable[tuple[bytes, bytes]]",
    body: "list[bytes]",
) -> None:
    """Send a whole response: streamed in one write, or as the buffered JSON answer."""
    if request.streams:
        open_stream(reply, request, status, headers)
        reply.finish([b for b in body if b])
    else:
        from lambdastream.runtime.marshal import compact_json

        answer = buffered_answer(request, status, headers, b"".join(body))
        reply.buffered(compact_json(answer).encode(), "application/json")


def answer_internal_error(reply: Reply, request: WebRequest, exc: BaseException) -> None:
    """Log ``exc`` as Lambda logs errors, and answer a plain 500."""
    log_exception(exc, reply.request_id)
    answer_whole(reply, request, 500, INTERNAL_ERROR_HEADERS, [INTERNAL_ERROR])


def log_exception(exc: BaseException, request_id: str) -> None:
    """Log ``exc`` in Lambda's error format, with the request id."""
    from lambdastream.runtime.errors import error_from_exception, log_error

    log_error(error_from_exception(exc, request_id), logs.LOG_FORMAT)
