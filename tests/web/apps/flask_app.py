"""The Flask app of tests/web: served by werkzeug and by ``lambdastream dev``.

``_HANDLER=flask_app.app`` (the Flask app itself) and
``flask_handler.handler`` (``wsgi(app)``) both serve it. Streamed chunks
carry the time they were produced, so that a client can tell each one
arrived before the next was made.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any

from flask import (
    Flask,
    Response,
    jsonify,
    make_response,
    redirect,
    request,
    send_file,
    stream_with_context,
    url_for,
)

app = Flask(__name__)


@app.get("/json")
def json_route() -> Any:
    return jsonify(nested={"list": [1, 2.5, None, True], "text": "ünïcode ✓"}, args=request.args)


@app.get("/items/<int:item_id>")
def item(item_id: int) -> Any:
    return {"item_id": item_id, "q": request.args.get("q"), "tags": request.args.getlist("tag")}


@app.get("/stream")
def stream() -> Response:
    n = request.args.get("n", 4, type=int)
    delay = request.args.get("delay", 0.3, type=float)

    def generate() -> Iterator[str]:
        for i in range(n):
            yield f"plain chunk {i} produced {time.time():.6f}\n"
            time.sleep(delay)
        yield "end\n"

    return Response(generate(), mimetype="text/plain", headers={"x-stream": "plain"})


@app.get("/stream/context")
def stream_context() -> Response:
    n = request.args.get("n", 4, type=int)
    delay = request.args.get("delay", 0.3, type=float)

    @stream_with_context
    def generate() -> Iterator[str]:
        # The request is still there while the body is produced.
        who = request.args.get("who", "nobody")
        for i in range(n):
            yield f"context chunk {i} for {who} produced {time.time():.6f}\n"
            time.sleep(delay)
        yield f"end {request.path}\n"

    return Response(generate(), mimetype="text/plain", headers={"x-stream": "context"})


@app.get("/stream/cut")
def stream_cut() -> Response:
    def generate() -> Iterator[bytes]:
        yield b"first part\n"
        time.sleep(0.1)
        yield b"second part\n"
        time.sleep(0.1)
        raise RuntimeError("boom after the first byte")

    return Response(generate(), mimetype="text/plain")


@app.post("/form")
def form() -> Any:
    return {
        "content_type": request.mimetype,
        "form": {key: request.form.getlist(key) for key in sorted(request.form)},
    }


@app.post("/upload")
def upload() -> Any:
    files = {}
    for key in sorted(request.files):
        storage = request.files[key]
        data = storage.read()
        files[key] = {
            "filename": storage.filename,
            "content_type": storage.content_type,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    return {"fields": {k: request.form.getlist(k) for k in sorted(request.form)}, "files": files}


@app.get("/download")
def download() -> Response:
    return send_file("assets/report.csv", as_attachment=True, download_name="report ✓.csv")


@app.get("/cookies")
def cookies() -> Response:
    response = make_response({"got": dict(sorted(request.cookies.items()))})
    response.set_cookie("flavour", "oatmeal", path="/")
    response.set_cookie("session", "abc123", httponly=True, samesite="Strict")
    response.delete_cookie("gone")
    return response


@app.get("/redirect")
def moved() -> Response:
    return redirect(url_for("item", item_id=7, q="moved"), code=302)


@app.get("/fail")
def fail() -> None:
    raise RuntimeError("boom in a Flask view")
