"""One invocation: call the handler, then answer buffered or streamed.

What the handler returns decides the answer: a generator or async generator
streams one chunk per yield; a StreamingResponse streams with an HTTP
prelude; anything else is encoded as a buffered JSON response. A coroutine
(an ``async def`` handler) is awaited first. Whatever happens, the
invocation is answered: a failure before the first byte goes to
``/invocation/{id}/error``, one after it ends the stream with Lambda's error
trailers.
"""

import os
import sys

from lambdastream.runtime import logs
from lambdastream.runtime.api_client import ResponseStream, RuntimeAPIError, RuntimeClient
from lambdastream.runtime.context import LambdaContext
from lambdastream.runtime.marshal import decode_event, encode_result
from lambdastream.wire.chunks import error_body_room

STREAM_CONTENT_TYPE = "application/octet-stream"


# The types of generator, async generator and coroutine objects, without
# importing `types` or `inspect` on the cold-start path.
def _gen():  # type: ignore[no-untyped-def]
    yield


async def _agen():  # type: ignore[no-untyped-def]
    yield


async def _coro() -> None:
    pass


GeneratorType = type(_gen())
AsyncGeneratorType = type(_agen())
_probe = _coro()
CoroutineType = type(_probe)
_probe.close()
del _probe

_loop = None


def run_coroutine(coro):  # type: ignore[no-untyped-def]
    """Run ``coro`` on the process's one event loop (created on first use).

    asyncio costs ~35 ms to import: only handlers that are async pay it, and
    once per process, not per invocation.
    """
    global _loop
    if _loop is None:
        import asyncio

        _loop = asyncio.new_event_loop()
        asyncio.set_event_loop(_loop)
    return _loop.run_until_complete(coro)


def handle(client: RuntimeClient, handler, next_answer) -> None:  # type: ignore[no-untyped-def]
    """Serve the invocation in ``next_answer`` (a ``/next`` response) with ``handler``.

    The invocation gets exactly one answer: the handler's result or error,
    an error if the handler returned without answering, or, when the
    connection to the Runtime API broke on the way, an error posted on a
    fresh one. Raises :class:`AnswerLost` when even that fails: the runtime
    must then exit, since asking ``/next`` again would be handed the same
    invocation, and its handler would run twice.
    """
    headers = next_answer.headers
    request_id = headers.get("lambda-runtime-aws-request-id", "")
    invocation_id = headers.get("lambda-runtime-invocation-id")
    # The trace id travels with the invocation (its context). The variable is
    # set too, for the X-Ray SDK, which reads it on every call: this process
    # runs one invocation at a time, so it is this invocation's, a worker's
    # among Managed Instances' processes included (docs/managed-instances.md).
    trace_id = headers.get("lambda-runtime-trace-id")
    if trace_id is not None:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)
    logs.request_id = request_id
    logs.tenant_id = headers.get("lambda-runtime-aws-tenant-id")

    reply = Reply(client, request_id, invocation_id)
    try:
        try:
            context = LambdaContext(
                request_id,
                int(headers.get("lambda-runtime-deadline-ms") or 0),
                headers.get("lambda-runtime-invoked-function-arn"),
                headers.get("lambda-runtime-client-context"),
                headers.get("lambda-runtime-cognito-identity"),
                logs.tenant_id,
                trace_id,
            )
            event = decode_event(next_answer.body, headers.get("content-type"))
            result = handler(event, context)
            if type(result) is CoroutineType:
                result = run_coroutine(result)
            kind = type(result)
            if kind is GeneratorType:
                reply.stream(result, STREAM_CONTENT_TYPE)
            elif kind is AsyncGeneratorType:
                run_coroutine(reply.stream_async(result, STREAM_CONTENT_TYPE))
            elif hasattr(kind, "__lambda_answer__"):
                # An answer that sends itself: a StreamingResponse (http.py),
                # a web app's exchange (asgi_server.py).
                result.__lambda_answer__(reply)
            else:
                body, content_type = encode_result(result)
                reply.buffered(body, content_type)
        except RuntimeAPIError:
            raise
        except Exception as exc:
            if reply.answered:
                # The answer is out (a web app failing after its response):
                # the error is the log's alone.
                from lambdastream.runtime.errors import error_from_exception, log_error

                log_error(error_from_exception(exc, request_id), logs.LOG_FORMAT)
            else:
                reply.error(exc)
        if not reply.answered:
            reply.error(_fault(NO_RESPONSE, NO_RESPONSE_MESSAGE))
    except RuntimeAPIError as exc:
        reply.lost(exc)
    # SystemExit and KeyboardInterrupt are not caught: as on the managed
    # runtime, the process ends and Lambda reports Runtime.ExitError.


# The invocation's error when its handler returned and nothing answered it
# (an adapter's bug, or an answer object that sent nothing).
NO_RESPONSE = "Runtime.NoResponse"
NO_RESPONSE_MESSAGE = "The handler returned without sending a response or an error"
# Posted when the connection broke while the answer was on its way.
RESPONSE_INTERRUPTED = "Runtime.ResponseInterrupted"


class AnswerLost(RuntimeAPIError):
    """Neither the answer to an invocation nor an error for it reached the Runtime API."""


def _fault(error_type: str, message: str) -> Exception:
    from lambdastream.runtime.fault import RuntimeFault

    return RuntimeFault(error_type, message)


class Reply:
    """The answer to one invocation, sent at most once."""

    __slots__ = ("answered", "client", "invocation_id", "prelude", "request_id", "stream_")

    def __init__(self, client: RuntimeClient, request_id: str, invocation_id: str | None) -> None:
        self.client = client
        self.request_id = request_id
        self.invocation_id = invocation_id
        self.stream_: ResponseStream | None = None
        # An HTTP response's prelude and its delimiter, sent with the first chunk.
        self.prelude: tuple[bytes, bytes] | None = None
        # The Runtime API has answered our response or error: nothing more to send.
        self.answered = False

    def buffered(self, body: bytes, content_type: str) -> None:
        answer = self.client.post_response(self.request_id, body, content_type, self.invocation_id)
        self.answered = True
        _check(answer, "response")

    def stream_body(
        self,
        body,  # type: ignore[no-untyped-def]
        content_type: str,
        prelude: "tuple[bytes, bytes] | None" = None,
    ) -> None:
        """Stream ``body``, an iterable or an async iterable, as ``content_type``.

        ``prelude`` (its JSON, its delimiter) leaves with the first body chunk:
        an exception raised before the body yields anything is still a clean
        invocation error.
        """
        self.prelude = prelude
        if getattr(body, "is_async", hasattr(body, "__aiter__") and not hasattr(body, "__iter__")):
            run_coroutine(self.stream_async(body, content_type))
        else:
            self.stream(body, content_type)

    def stream(self, body, content_type: str) -> None:  # type: ignore[no-untyped-def]
        self._open(content_type)
        items = iter(body)
        for item in items:
            if self.send_first(item):
                break
        else:
            self.finish()
            return
        # The hot loop: one pass per yield, kept to the conversion and the send.
        write = self._stream().chunk_writer()
        for item in items:
            data = item if type(item) is bytes else as_bytes(item)
            if data:
                write(data)
        self.finish()

    async def stream_async(self, body, content_type: str) -> None:  # type: ignore[no-untyped-def]
        self._open(content_type)
        turn = TurnWriter(self)
        write = turn.write
        try:
            async for item in body:
                data = item if type(item) is bytes else as_bytes(item)
                if data:
                    write(data)
        except BaseException:
            # What the failing turn wrote still leaves, before the trailers.
            turn.flush()
            raise
        self.finish(turn.take())

    def open_stream(self, content_type: str, prelude: "tuple[bytes, bytes]") -> None:
        """Open a stream of ``content_type`` whose ``prelude`` (JSON, delimiter) comes first.

        The prelude leaves with the first chunk (or with :meth:`finish`).
        """
        self.prelude = prelude
        self._open(content_type)

    def send(self, chunks: "list[bytes]") -> None:
        """Send non-empty ``chunks`` in one write, with any pending prelude."""
        self._stream().write(*self._after_prelude(chunks))

    def commit(self) -> None:
        """Send the pending prelude now: the status is the caller's to see."""
        pieces = self._after_prelude([])
        if pieces:
            self._stream().write(*pieces)

    def _after_prelude(self, chunks: "list[bytes]") -> "list[bytes]":
        # The prelude and its delimiter go before the first bytes, once.
        if self.prelude is None:
            return chunks
        prelude, self.prelude = self.prelude, None
        return [*prelude, *chunks]

    def _open(self, content_type: str) -> ResponseStream:
        self.stream_ = self.client.open_stream(self.request_id, content_type, self.invocation_id)
        return self.stream_

    def _stream(self) -> ResponseStream:
        assert self.stream_ is not None, "the stream is not open"
        return self.stream_

    def send_first(self, item) -> bool:  # type: ignore[no-untyped-def]
        """Send the first non-empty item, with the request head and any prelude.

        Returns whether it sent something: empty items are skipped, so the
        prelude waits for the first real chunk.
        """
        data = as_bytes(item)
        if not data:
            return False
        self._stream().write(*self._after_prelude([data]))
        return True

    def finish(self, chunks: "list[bytes] | None" = None) -> None:
        """End the stream; ``chunks`` (the last ones) leave with its end, in one write."""
        # An empty body still owes the caller its status and headers.
        answer = self._stream().finish(*self._after_prelude(chunks or []))
        self.answered = True
        _check(answer, "response")

    def error(self, exc: BaseException) -> None:
        """Report ``exc``: as an error post, or as trailers once streaming began."""
        from lambdastream.runtime.errors import error_from_exception, error_json, log_error

        error = error_from_exception(exc, self.request_id)
        log_error(error, logs.LOG_FORMAT)
        error_type = error["errorType"] or "Unhandled"
        if self.stream_ is not None and self.stream_.started:
            import base64

            from lambdastream.runtime.errors import error_json_within

            # Trailers: what Lambda takes of them (4 KiB in all), in base64.
            room = error_body_room(error_type) // 4 * 3
            body = error_json_within(error, room)
            answer = self.stream_.fail(error_type, base64.b64encode(body).decode())
        else:
            path = f"invocation/{self.request_id}/error"
            body = error_json(error)
            answer = self.client.post_error(path, body, error_type, self.invocation_id)
        self.answered = True
        _check(answer, "error")

    def lost(self, exc: RuntimeAPIError) -> None:
        """The connection broke while answering: report the invocation as failed, once.

        The handler has run; it is never run again. The error goes to
        ``/invocation/{id}/error`` on a fresh connection. If that fails, or
        the Runtime API refuses it (the invocation is no longer waiting for
        this runtime), :class:`AnswerLost` tells the runtime to exit.
        """
        from lambdastream.runtime.errors import error_json, make_error

        message = f"The connection to the Runtime API failed while answering: {exc}"
        sys.stderr.write(f"lambdastream.runtime: {self.request_id}: {message}\n")
        sys.stderr.flush()
        self.client.reset()
        body = error_json(make_error(message, RESPONSE_INTERRUPTED, [], self.request_id))
        path = f"invocation/{self.request_id}/error"
        try:
            answer = self.client.post_error(path, body, RESPONSE_INTERRUPTED, self.invocation_id)
        except RuntimeAPIError as again:
            raise AnswerLost(f"could not report {self.request_id} as failed: {again}") from None
        if answer.status >= 300:
            detail = answer.body.decode("utf-8", "replace")[:300]
            raise AnswerLost(
                f"the Runtime API refused the error for {self.request_id} ({answer.status}): "
                f"{detail}"
            )
        self.answered = True


# What a turn may gather before it is sent anyway: a loop that never yields
# still streams, in pieces this big.
TURN_LIMIT = 64 * 1024


class TurnWriter:
    """Chunks written in one event-loop turn leave together, in one send.

    As the Node.js client does (its socket is corked until the next tick),
    the first write of a turn schedules a flush with ``call_soon``: every
    chunk written before the code yields to the loop goes out in that one
    send, each with its own chunk framing. A chunk never waits for a later
    one, only for its own turn to end; a turn that gathers ``TURN_LIMIT``
    bytes sends them at once.
    """

    __slots__ = ("_call_soon", "error", "pending", "reply", "scheduled", "size")

    def __init__(self, reply: Reply) -> None:
        import asyncio

        self.reply = reply
        self._call_soon = asyncio.get_running_loop().call_soon
        self.pending: list[bytes] = []
        self.size = 0
        self.scheduled = False
        # A failed send from the loop's callback, raised to the writer's
        # next call instead of into the loop's exception handler.
        self.error: BaseException | None = None

    def write(self, data: bytes) -> None:
        """Queue ``data`` (non-empty bytes) for the end of this turn."""
        if self.error is not None:
            raise self.error
        self.pending.append(data)
        self.size += len(data)
        if self.size >= TURN_LIMIT:
            self.flush()
        elif not self.scheduled:
            self.scheduled = True
            self._call_soon(self._flush_soon)

    def take(self) -> "list[bytes]":
        """Hand over what this turn gathered, unsent (to leave with the stream's end)."""
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        pending = self.pending
        self.pending = []
        self.size = 0
        return pending

    def flush(self) -> None:
        """Send what this turn gathered, now."""
        pending = self.take()
        if pending:
            self.reply.send(pending)

    def _flush_soon(self) -> None:
        self.scheduled = False
        try:
            self.flush()
        except BaseException as exc:
            self.error = exc


def as_bytes(item) -> bytes:  # type: ignore[no-untyped-def]
    """The bytes to send for one yielded item (``str`` as UTF-8)."""
    if type(item) is bytes:
        return item
    if isinstance(item, str):
        return item.encode()
    if isinstance(item, (bytes, bytearray, memoryview)):
        return bytes(item)
    raise TypeError(f"a streaming handler must yield bytes or str, not {type(item).__name__}")


def _check(answer, what: str) -> None:  # type: ignore[no-untyped-def]
    if answer.status >= 300:
        detail = answer.body.decode("utf-8", "replace")[:500]
        sys.stdout.write(f"[ERROR] Runtime API rejected the {what} ({answer.status}): {detail}\n")
        sys.stdout.flush()
