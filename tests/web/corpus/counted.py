"""The corpus apps as ``lambdastream dev`` serves them, each run counted.

``_HANDLER=counted.<app module>`` serves that module's ``app``, unchanged,
behind a middleware that appends the invocation's request id to
``$CORPUS_STATE_DIR/runs.log`` for every HTTP request it is given (the
lifespan passes through). Only the named app is imported (PEP 562).
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from lambdastream.wsgi import wsgi

WSGI_APPS = {"flask_stream"}


def record_run(request_id: str) -> None:
    path = os.path.join(os.environ["CORPUS_STATE_DIR"], "runs.log")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{request_id}\n".encode())
    finally:
        os.close(fd)


def counted_asgi(app: Any) -> Any:
    async def counted_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            record_run(scope["aws.context"].aws_request_id)
        await app(scope, receive, send)

    return counted_app


def counted_wsgi(app: Any) -> Any:
    def counted_app(environ: dict[str, Any], start_response: Any) -> Any:
        record_run(environ["aws.context"].aws_request_id)
        return app(environ, start_response)

    return wsgi(counted_app)


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    app = importlib.import_module(name).app
    return counted_wsgi(app) if name in WSGI_APPS else counted_asgi(app)
