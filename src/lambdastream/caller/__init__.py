"""The caller's side: ``lambdastream invoke`` and the client it reads answers with.

- :mod:`~lambdastream.caller.decode`: events and codecs (prelude, SSE errors,
  error trailers), pure;
- :mod:`~lambdastream.caller.transport`: a Function URL over HTTP/1.1, the
  Invoke API through boto3, both yielding those events;
- :mod:`~lambdastream.caller.command`: the ``lambdastream invoke`` command.
"""
