"""The lambdastream runtime: runs a Python handler on AWS Lambda, streaming.

Start it as ``python -m lambdastream.runtime [module.function]``. It uses the
standard library only and imports as little as it can: its import time is
every function's cold start. What only some handlers need (asyncio, logging
setup, tracebacks) is loaded when a handler needs it.

Handlers it runs, chosen by what the handler returns:

- a value (from a plain or ``async def`` function): a buffered response,
  JSON-encoded exactly as the managed Python runtime encodes it;
- a generator or async generator: a streamed response, one chunk per yield;
- a :class:`lambdastream.StreamingResponse`: an HTTP response (status,
  headers, cookies) for Function URLs, streaming its body.
"""
