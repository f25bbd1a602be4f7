"""``handler = wsgi(app)`` for the Flask app of tests/web (``_HANDLER=flask_handler.handler``)."""

from flask_app import app

from lambdastream.wsgi import wsgi

handler = wsgi(app)
