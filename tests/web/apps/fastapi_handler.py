"""``handler = asgi(app)`` for the FastAPI app of tests/web (``_HANDLER=fastapi_handler.handler``).

Kept apart from ``fastapi_app.py``: ``asgi(app)`` runs the app's lifespan
when it is called, so a module that builds it runs the lifespan once more
under uvicorn (see ``test_web_fastapi.py``).
"""

from fastapi_app import app

from lambdastream.asgi import asgi

handler = asgi(app)
