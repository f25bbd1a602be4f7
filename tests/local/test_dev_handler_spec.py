"""``lambdastream dev main:app``: a web app named as uvicorn names it. The CLI
passes ``module:attr`` to the runtime as ``module.attr``; the runtime serves
an ASGI or WSGI app found there as one."""

from __future__ import annotations

import re

import pytest
from h11client import request
from support import write_handler

from lambdastream.cli import build_parser

# A bare ASGI 3 app: no framework, so that only the spelling is under test.
ASGI_APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": f"asgi {scope['path']}".encode()})
"""


def parse(*argv: str):
    return build_parser(["dev", *argv]).parse_args(["dev", *argv])


@pytest.mark.parametrize(
    ("spec", "handler"),
    [
        ("main:app", "main.app"),
        ("pkg.web:app", "pkg.web.app"),
        ("a.b.c:_private", "a.b.c._private"),
        ("app.handler", "app.handler"),  # Lambda's spelling goes through unchanged
        ("src/app.handler", "src/app.handler"),
    ],
)
def test_module_colon_attr_reaches_the_runtime_as_module_dot_attr(spec, handler):
    assert parse(spec).handler == handler


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("main:", "both sides of ':' must be named"),
        (":app", "both sides of ':' must be named"),
        ("main:app:x", "it has more than one ':'"),
        ("main:app.state", "'app.state' is not a Python name"),
        ("main:create_app()", "'create_app()' is not a Python name"),
        ("my-app:app", "'my-app' is not a dotted module name"),
        ("pkg..web:app", "'pkg..web' is not a dotted module name"),
        ("src/main:app", "'src/main' is not a dotted module name"),
    ],
)
def test_a_bad_spec_is_refused_saying_what_to_write(spec, why, capsys):
    with pytest.raises(SystemExit) as exit_:
        parse(spec)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"{spec!r} is not module:attribute ({why}" in err, err
    assert "module:attribute (main:app, pkg.web:app)" in err


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("spec", "module"), [("main:app", "main.py"), ("pkg.web:app", "pkg/web.py")]
)
def test_dev_serves_an_app_named_module_colon_attr(dev_server, tmp_path, spec, module):
    root = write_handler(tmp_path, ASGI_APP, name=module)
    if "/" in module:
        (tmp_path / "pkg" / "__init__.py").write_text("")
    server = dev_server(spec, root)
    server.wait_for_log(rf"function [\w-]+ \({re.escape(spec.replace(':', '.'))}\)")
    reply = request(server.url + "/hello")
    assert reply.status == 200, reply.body
    assert reply.body == b"asgi /hello"
