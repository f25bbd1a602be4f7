"""The chat protocols clients already speak, served from Bedrock's typed events.

- :mod:`lambdastream.chatapi.openai_chat`: OpenAI's chat completions
  (``POST /v1/chat/completions``, streamed as ``chat.completion.chunk``
  Server-Sent Events or buffered), and ``GET /v1/models``; the request's
  parameters in ``openai_request``, its messages in ``openai_messages``,
  error bodies in ``openai_errors``.
- :mod:`lambdastream.chatapi.ui_stream`: the Vercel AI SDK's UI message
  stream, v1 (``POST /api/chat``, what ``useChat`` reads); the posted
  ``UIMessage`` objects in ``ui_messages``.

Each module is pure: a request body (bytes) becomes a
:class:`~lambdastream.chatapi.call.BedrockCall` or a
:class:`~lambdastream.chatapi.call.ProtocolError` in the protocol's own
error shape, and the events of :func:`lambdastream.bedrock.stream_text`
become the protocol's bytes. Sockets, routes and authentication are the
caller's (the chat example, ``examples/chat/app.py``).
"""
