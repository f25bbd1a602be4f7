"""Run a WSGI app (Flask, Django) on Lambda, streaming: ``handler = wsgi(app)``.

The adapter lives in the runtime (``lambdastream.runtime.wsgi_server``,
standard library only), so the layer carries it and ``_HANDLER=main.app``
can name a Flask app itself; this is its public name.

Example (``main.py``, with ``_HANDLER=main.handler``, or ``main.app``)::

    from flask import Flask, Response
    from lambdastream.wsgi import wsgi

    app = Flask(__name__)

    @app.get("/")
    def hello():
        return {"hello": "world"}

    @app.get("/count")
    def count():
        return Response((f"{i}\\n" for i in range(3)), mimetype="text/plain")

    handler = wsgi(app)
"""

from lambdastream.runtime.web_event import InvalidEvent
from lambdastream.runtime.wsgi_server import WSGIError, WSGIHandler, build_environ, wsgi

__all__ = ["InvalidEvent", "WSGIError", "WSGIHandler", "build_environ", "wsgi"]
