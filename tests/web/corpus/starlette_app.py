"""A plain Starlette app: JSON, text, HTML, a stream, a redirect, forms, cookies, 404."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route


async def home(request: Request) -> HTMLResponse:
    return HTMLResponse("<h1>Hello</h1>")


async def echo(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "query": dict(request.query_params),
            "length": len(body),
            "content_type": request.headers.get("content-type"),
        }
    )


async def form(request: Request) -> JSONResponse:
    data = await request.form()
    return JSONResponse({key: str(value) for key, value in data.items()})


async def text(request: Request) -> PlainTextResponse:
    response = PlainTextResponse("plain text ✓", headers={"x-custom": "yes"})
    response.set_cookie("session", "abc", httponly=True)
    response.set_cookie("theme", "dark", max_age=3600)
    return response


async def stream(request: Request) -> StreamingResponse:
    async def lines():
        for i in range(int(request.query_params.get("n", "50"))):
            yield f"line {i}\n"

    return StreamingResponse(lines(), media_type="text/plain")


async def moved(request: Request) -> RedirectResponse:
    return RedirectResponse(url="/text", status_code=307)


async def empty(request: Request) -> Response:
    return Response(status_code=204)


app = Starlette(
    routes=[
        Route("/", home),
        Route("/echo", echo, methods=["GET", "POST", "PUT"]),
        Route("/form", form, methods=["POST"]),
        Route("/text", text),
        Route("/stream", stream),
        Route("/moved", moved),
        Route("/empty", empty, methods=["DELETE"]),
    ]
)
