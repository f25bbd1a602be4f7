"""lambdastream: stream responses from Python on AWS Lambda.

The public names are loaded lazily: ``import lambdastream`` happens inside
every function's cold start (the runtime is ``lambdastream.runtime``), so this
module must import nothing heavy.

Example::

    from lambdastream import StreamingResponse, sse

    def handler(event, context):
        return StreamingResponse(sse(f"tick {i}" for i in range(3)))
"""

import sys

__all__ = ["StreamingResponse", "sse", "stream_text"]
__version__ = "0.1.0"

_LAZY = {
    "StreamingResponse": "lambdastream.runtime.http",
    "sse": "lambdastream.runtime.http",
    "stream_text": "lambdastream.bedrock",
}

# `typing` costs ~5-20 ms of every cold start: annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

    from lambdastream.bedrock import stream_text
    from lambdastream.runtime.http import StreamingResponse, sse


def __getattr__(name: str) -> "Any":
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lambdastream' has no attribute {name!r}")
    # __import__, not importlib: importing importlib costs ~0.7 ms of a cold start.
    __import__(module)
    return getattr(sys.modules[module], name)
