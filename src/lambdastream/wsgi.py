"""Run a WSGI app (Flask, Django) on Lambda, streaming: ``handler = wsgi(app)``.

The adapter lives in the runtime (``lambdastream.runtime.wsgi_server``,
standard library only), so the layer carries it and ``_HANDLER=main.app``
can name a Flask app itself; this is its public name.

Example::

    from flask import Flask
    from lambdastream.wsgi import wsgi

    app = Flask(__name__)

    @app.get("/")
    def hello():
        return {"hello": "world"}

    handler = wsgi(app)
"""

from lambdastream.runtime.web_event import InvalidEvent
from lambdastream.runtime.wsgi_server import WSGIError, WSGIHandler, build_environ, wsgi

__all__ = ["InvalidEvent", "WSGIError", "WSGIHandler", "build_environ", "wsgi"]
