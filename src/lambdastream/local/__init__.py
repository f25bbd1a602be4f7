"""The local Lambda behind ``lambdastream dev``.

The path of one chunk: ``runtime_api.py`` (the runtime's socket, chunked
framing via ``chunked.py``) -> ``invocation.py`` (the streaming core) ->
``function_url.py`` (prelude via ``prelude.py``) or ``invoke_api.py`` (event
stream) -> the client. ``environments.py`` runs the runtime processes;
``command.py`` wires it all to the command line.
"""
