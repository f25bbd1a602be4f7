"""Web frameworks people run on Lambda, under the real ``lambdastream dev``,
read by a real HTTP client (httpx), against what they promise elsewhere.

- Mangum with a FastAPI app: what httpx gets through the dev server's
  Function URL must equal what it gets from the same app under uvicorn over
  HTTP (status, content type, cookies, body; a redirect's Location points at
  the server that answered, and following it lands there).
- Powertools' ``LambdaFunctionUrlResolver``: what its documentation promises
  (docs.aws.amazon.com/powertools/python/latest/core/event_handler/api_gateway/:
  dynamic routes, query strings, headers, cookies, ``json_body``, fine
  grained ``Response`` with cookies, and 404 ``{"statusCode": 404,
  "message": "Not found"}`` for an unmatched route).

Both are buffered handlers (neither streams); the dev server's event must be
the one AWS builds for them to behave as on AWS.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from support import write_handler

FASTAPI_APP = """
import hashlib

from fastapi import Body, FastAPI, Query, Request, Response
from fastapi.responses import RedirectResponse
from mangum import Mangum

app = FastAPI()


@app.get("/items/{item_id}", name="read_item")
def read_item(item_id: int, q: str | None = None, tag: list[str] = Query(default=[])):
    return {"item_id": item_id, "q": q, "tags": tag}


@app.get("/files/{name:path}")
def read_file(name: str):
    return {"name": name}


@app.get("/moved")
def moved(request: Request):
    # An absolute URL built from the request, as url_for builds it.
    target = request.url_for("read_item", item_id=7).include_query_params(q="moved")
    return RedirectResponse(str(target), status_code=307)


@app.get("/whoami")
def whoami(request: Request):
    return {"url": str(request.url), "scheme": request.url.scheme,
            "client": request.client.host if request.client else None,
            "x_custom": request.headers.get("x-custom")}


@app.get("/cookies")
def cookies(request: Request, response: Response):
    response.set_cookie("flavour", "oatmeal", path="/")
    response.set_cookie("session", "abc123", httponly=True)
    return {"got": dict(request.cookies)}


@app.post("/echo")
def echo(payload: dict = Body(...)):
    return {"echo": payload}


@app.post("/upload")
async def upload(request: Request):
    data = await request.body()
    return Response(hashlib.sha256(data).digest() + data[:64],
                    media_type="application/octet-stream",
                    headers={"x-length": str(len(data))})


handler = Mangum(app, lifespan="off")
"""

POWERTOOLS_APP = """
from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response, content_types
from aws_lambda_powertools.shared.cookies import Cookie

app = LambdaFunctionUrlResolver()


@app.get("/todos/<todo_id>")
def get_todo(todo_id: str):
    event = app.current_event
    return {"todo_id": todo_id,
            "q": event.get_query_string_value(name="q", default_value="none"),
            "query": event.query_string_parameters,
            "agent": event.get_header_value(name="X-Agent", case_sensitive=False),
            "cookies": event.cookies}


@app.post("/todos")
def create_todo():
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON,
                    body={"created": app.current_event.json_body},
                    headers={"x-custom": "yes"},
                    cookies=[Cookie(name="todo", value="42", path="/", secure=False)])


def handler(event, context):
    return app.resolve(event, context)
"""

BINARY = bytes(range(256)) * 64  # 16 KiB, every byte value


@pytest.fixture
def uvicorn_app(tmp_path: Path) -> Iterator[str]:
    """The FastAPI app under uvicorn on a free loopback port; yields its base URL."""
    root = write_handler(tmp_path / "uvicorn", FASTAPI_APP, name="webapp.py")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "webapp:app", "--host", "127.0.0.1", "--port", "0",
         "--app-dir", str(root), "--no-access-log"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    found: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in iter(proc.stderr.readline, b""):
            match = re.search(rb"Uvicorn running on (http://\S+)", line)
            if match and not found:
                found.append(match.group(1).decode())
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        ready.wait(30)
        assert found, "uvicorn did not start"
        yield found[0]
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_script(base: str) -> list[dict[str, Any]]:
    """What a client of the FastAPI app sees, each URL the app built made relative to ``base``."""
    seen: list[dict[str, Any]] = []

    def record(reply: httpx.Response) -> None:
        location = reply.headers.get("location")
        seen.append(
            {
                "request": f"{reply.request.method} {reply.request.url.raw_path.decode()}",
                "status": reply.status_code,
                "content-type": reply.headers.get("content-type"),
                "set-cookie": sorted(reply.headers.get_list("set-cookie")),
                "location": location.replace(base, "BASE") if location else None,
                "x-length": reply.headers.get("x-length"),
                "body": reply.content.replace(base.encode(), b"BASE"),
            }
        )

    with httpx.Client(base_url=base, timeout=30) as client:
        record(client.get("/items/5", params=[("q", "a b+c"), ("tag", "x"), ("tag", "y")]))
        record(client.get("/items/not-a-number"))
        record(client.get("/files/a%20b/c+d%2Fe"))
        record(client.get("/no/such/route"))
        record(client.get("/whoami?x=1", headers={"X-Custom": "v"}))
        record(client.get("/moved"))
        record(client.get("/items/7/"))  # redirect_slashes: an absolute URL too
        record(client.get("/cookies"))
        record(client.get("/cookies"))  # the cookies set come back
        record(client.post("/echo", json={"k": ["v", 1, None], "ü": "ok"}))
        record(
            client.post(
                "/upload",
                content=BINARY,
                headers={"content-type": "application/octet-stream"},
            )
        )
    return seen


@pytest.mark.timeout(120)
def test_fastapi_through_mangum_answers_as_under_uvicorn(dev_server, tmp_path, uvicorn_app):
    root = write_handler(tmp_path / "lambda", FASTAPI_APP, name="webapp.py")
    server = dev_server("webapp.handler", root, "--timeout", "30")
    expected = run_script(uvicorn_app)
    got = run_script(server.url)
    for want, have in zip(expected, got, strict=True):
        if want["content-type"] is None:
            # Mangum itself labels a response that has none application/json
            # (HTTPGateway.__call__ in mangum/handlers/api_gateway.py), on AWS too.
            assert have["content-type"] == "application/json", want["request"]
            have = {**have, "content-type": None}
        assert have == want, want["request"]

    # What the comparison rests on, checked where it matters.
    by_request = {entry["request"]: entry for entry in got}
    assert by_request["GET /whoami?x=1"]["body"] == (
        b'{"url":"BASE/whoami?x=1","scheme":"http","client":"127.0.0.1","x_custom":"v"}'
    )
    assert by_request["GET /moved"]["location"] == "BASE/items/7?q=moved"
    second = [e for e in got if e["request"] == "GET /cookies"][1]
    assert second["body"] == b'{"got":{"flavour":"oatmeal","session":"abc123"}}'
    upload = by_request["POST /upload"]
    assert upload["body"] == hashlib.sha256(BINARY).digest() + BINARY[:64]
    assert upload["x-length"] == str(len(BINARY))

    # Following the app's own redirects lands on the dev server, which answers.
    with httpx.Client(timeout=30, follow_redirects=True) as client:
        for path in ("/moved", "/items/7/"):
            reply = client.get(server.url + path)
            assert reply.status_code == 200
            assert reply.history and reply.history[0].status_code == 307
            assert urlsplit(str(reply.url)).netloc == urlsplit(server.url).netloc
            assert reply.json()["item_id"] == 7


@pytest.mark.timeout(60)
def test_powertools_function_url_resolver_keeps_its_promises(dev_server, tmp_path):
    server = dev_server("app.handler", write_handler(tmp_path, POWERTOOLS_APP), "--timeout", "30")
    with httpx.Client(base_url=server.url, timeout=30) as client:
        client.cookies.set("session", "s1")
        client.cookies.set("theme", "dark")
        reply = client.get(
            "/todos/17", params=[("q", "milk & eggs"), ("page", "2")], headers={"X-Agent": "a/1"}
        )
        assert reply.status_code == 200
        assert reply.headers["content-type"] == "application/json"
        body = reply.json()
        assert body["todo_id"] == "17"
        assert body["q"] == "milk & eggs"
        assert body["query"] == {"q": "milk & eggs", "page": "2"}
        assert body["agent"] == "a/1"
        assert sorted(body["cookies"]) == ["session=s1", "theme=dark"]

        assert client.get("/todos/17").json()["q"] == "none"  # the default

        created = client.post("/todos", json={"title": "buy milk", "done": False})
        assert created.status_code == 201
        assert created.headers["content-type"] == "application/json"
        assert created.headers["x-custom"] == "yes"
        assert created.headers.get_list("set-cookie") == ["todo=42; Path=/"]
        assert created.json() == {"created": {"title": "buy milk", "done": False}}
        assert client.cookies.get("todo") == "42"

        missing = client.get("/nothing/here")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/json"
        assert missing.json() == {"statusCode": 404, "message": "Not found"}
        # A known path with another method is no route either.
        assert client.delete("/todos/17").status_code == 404
