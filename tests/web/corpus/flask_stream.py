"""Flask: ``stream_with_context`` streaming lines that read the request."""

import time

from flask import Flask, Response, request, stream_with_context

app = Flask(__name__)


@app.get("/stream")
def stream():
    count = int(request.args.get("n", "10"))

    @stream_with_context
    def generate():
        for i in range(count):
            yield f"{request.args.get('prefix', 'line')} {i}\n"
            time.sleep(0.01)

    return Response(generate(), mimetype="text/plain")


@app.post("/echo")
def echo():
    return {"json": request.get_json(), "args": request.args}


@app.get("/missing-page")
def missing():
    return "gone", 410
