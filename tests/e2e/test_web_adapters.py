"""The ASGI and WSGI adapters end to end, with apps written against the
specs alone (no framework): the real runtime under the real ``lambdastream
dev``, read over HTTP (a raw HTTP/1.1 client that keeps trailers and arrival
times) and through the Invoke API with boto3, with each entry point's event.

The frameworks themselves (FastAPI, sse-starlette, Flask) are compared with
uvicorn and werkzeug in tests/web/."""

from __future__ import annotations

import base64
import json
import time

import pytest
from h11client import request
from support import lambda_client, write_handler

from lambdastream.wire.integration import PRELUDE_DELIMITER

APPS = """
import asyncio, os, sys
from lambdastream.asgi import asgi
from lambdastream.wsgi import wsgi

STARTS = []
JSON = (b"content-type", b"application/json")


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        message = await receive()
        STARTS.append(os.getpid())
        scope["state"]["starts"] = len(STARTS)
        scope["state"]["shared"] = {"n": 0}
        await send({"type": "lifespan.startup.complete"})
        await receive()
        return
    # As Starlette does, route on the path below the root path (the stage).
    path = scope["path"][len(scope["root_path"]):]
    if path == "/scope":
        message = await receive()
        state = dict(scope["state"])
        scope["state"]["shared"]["n"] += 1
        scope["state"]["mine"] = "not shared"
        info = {k: scope[k] for k in ("method", "path", "root_path", "scheme", "http_version")}
        info.update(
            raw_path=scope["raw_path"].decode() if scope["raw_path"] else None,
            query=scope["query_string"].decode(),
            headers=[[k.decode(), v.decode()] for k, v in scope["headers"]],
            client=scope["client"], server=scope["server"],
            state=state,
            body=base64.b64encode(message["body"]).decode(),
            more_body=message["more_body"], pid=os.getpid(), starts_now=len(STARTS),
            entry=scope["aws.event"].get("requestContext", {}).get("stage"),
        )
        await respond(send, 200, json.dumps(info).encode(), [JSON])
    elif path == "/slow":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for word in (b"first ", b"second"):
            await send({"type": "http.response.body", "body": word, "more_body": True})
            await asyncio.sleep(0.6)
        await send({"type": "http.response.body", "body": b""})
    elif path == "/disconnect":
        # When does http.disconnect come? It must wait for the response.
        seen = []

        async def listen():
            await receive()  # the body
            seen.append(("disconnect", (await receive())["type"]))

        task = asyncio.ensure_future(listen())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for i in range(3):
            await asyncio.sleep(0.05)
            seen.append(("sent", i))
            await send({"type": "http.response.body", "body": b"%d" % i, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        await task
        record("disconnect", seen)
    elif path == "/cookies":
        await respond(send, 201, b"ok", [(b"set-cookie", b"a=1"), (b"Set-Cookie", b"b=2"),
                                        (b"x-multi", b"1"), (b"x-multi", b"2")])
    elif path == "/empty":
        headers = [(b"x-empty", b"yes")]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body"})
    elif path == "/raise-before-start":
        raise LookupError("secret detail")
    elif path == "/raise-after-start":
        await send({"type": "http.response.start", "status": 201, "headers": [(b"x-a", b"1")]})
        raise LookupError("after the start")
    elif path == "/raise-mid-body":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        await asyncio.sleep(0.01)
        raise LookupError("mid body")
    elif path == "/raise-after-complete":
        await respond(send, 200, b"complete")
        raise LookupError("after the response")
    elif path == "/no-start":
        return
    elif path == "/start-twice":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.start", "status": 200, "headers": []})
    elif path == "/body-first":
        await send({"type": "http.response.body", "body": b"x"})
    elif path == "/incomplete":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"half", "more_body": True})
    elif path == "/background":
        await respond(send, 200, b"answered")
        await asyncio.sleep(0.4)  # a background task, after the body
    elif path == "/binary":
        message = await receive()
        binary = (b"content-type", b"application/octet-stream")
        await respond(send, 200, message["body"][::-1], [binary])
    else:
        await respond(send, 404, b"not found")


async def respond(send, status, body, headers=()):
    await send({"type": "http.response.start", "status": status, "headers": list(headers)})
    await send({"type": "http.response.body", "body": body})


def record(name, value):
    # In a file of the task root: the test reads it whichever environment ran.
    path = os.path.join(os.environ["LAMBDA_TASK_ROOT"], name + ".json")
    with open(path + ".tmp", "w") as f:
        json.dump(value, f)
    os.replace(path + ".tmp", path)
import base64, json

handler = asgi(app)
buffered = asgi(app, response_mode="buffered")


async def failing_lifespan(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})
        return


def wsgi_app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/environ":
        body = environ["wsgi.input"].read()
        keys = ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_NAME",
                "SERVER_PORT", "CONTENT_TYPE", "CONTENT_LENGTH", "HTTP_COOKIE", "HTTP_X_A",
                "wsgi.url_scheme", "REMOTE_ADDR")
        info = {k: environ.get(k) for k in keys}
        info["body"] = body.decode("latin-1")
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(info).encode()]
    if path == "/slow":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return SlowBody()
    if path == "/write":
        write = start_response("200 OK", [])
        write(b"written ")
        return [b"returned"]
    if path == "/raise":
        raise LookupError("wsgi secret")
    if path == "/raise-mid-body":
        start_response("200 OK", [])
        return RaisingBody()
    if path == "/exc-info":
        start_response("200 OK", [("X-First", "1")])
        try:
            raise ValueError("replaced")
        except ValueError:
            start_response("503 Service Unavailable", [("X-Second", "1")], sys.exc_info())
        return [b"retry later"]
    start_response("404 Not Found", [])
    return [b"nope"]


class SlowBody:
    def __iter__(self):
        import time
        yield b"first "
        time.sleep(0.6)
        yield b"second"

    def close(self):
        record("closed-slow", True)


class RaisingBody:
    def __iter__(self):
        yield b"partial"
        raise LookupError("wsgi mid body")

    def close(self):
        record("closed-raising", True)


wsgi_handler = wsgi(wsgi_app)
"""

URL_EVENT = {
    "version": "2.0",
    "routeKey": "$default",
    "rawPath": "/scope",
    "rawQueryString": "a=1&b=%20",
    "cookies": ["c=1", "d=2"],
    "headers": {"host": "h.example", "x-forwarded-proto": "https", "x-forwarded-port": "443"},
    "requestContext": {
        "apiId": "abcdefghij",
        "domainName": "h.example",
        "http": {"method": "POST", "path": "/scope", "sourceIp": "9.8.7.6"},
        "stage": "$default",
    },
    "body": base64.b64encode(b"\x00\x01bin").decode(),
    "isBase64Encoded": True,
}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return write_handler(tmp_path_factory.mktemp("web"), APPS)


@pytest.fixture(scope="module")
def asgi_server(root):
    from support import start_dev

    server = start_dev("app.handler", root, "--name", "app")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def wsgi_server(root):
    from support import start_dev

    server = start_dev("app.wsgi_handler", root, "--name", "app")
    yield server
    server.stop()


def get(server, path, **kw):
    return request(server.url + path, **kw)


def recorded(root, name: str, timeout: float = 5.0) -> str:
    """What the app recorded under ``name`` (see ``record``), once it has."""
    path = root / f"{name}.json"
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"the app never recorded {name}"
        time.sleep(0.01)
    return path.read_text()


@pytest.mark.timeout(30)
def test_the_scope_carries_the_request_and_the_lifespan_state(asgi_server):
    reply = get(
        asgi_server,
        "/scope?x=1&x=2",
        method="POST",
        headers=[("Cookie", "s=1; t=2"), ("X-A", "one")],
        body=b"\x00payload",
    )
    assert reply.status == 200
    info = json.loads(reply.body)
    assert info["method"] == "POST"
    assert info["path"] == "/scope" and info["raw_path"] == "/scope"
    assert info["query"] == "x=1&x=2"
    assert info["scheme"] == "http"  # x-forwarded-proto of the local URL
    assert info["server"][1] == int(asgi_server.url.rsplit(":", 1)[1])
    assert info["client"][0] == "127.0.0.1"
    assert ["cookie", "s=1; t=2"] in info["headers"] and ["x-a", "one"] in info["headers"]
    assert base64.b64decode(info["body"]) == b"\x00payload" and info["more_body"] is False
    assert info["state"]["starts"] == 1


@pytest.mark.timeout(30)
def test_lifespan_runs_once_per_environment_and_state_is_copied_per_request(asgi_server):
    replies = [json.loads(get(asgi_server, "/scope").body) for _ in range(4)]
    for info in replies:
        # app.py builds two adapters at import (handler, buffered); only the
        # one the runtime serves starts, once per environment, and at init
        assert (info["state"]["starts"], info["starts_now"]) == (1, 1)
        assert "mine" not in info["state"]  # set by an earlier request, in its copy only
    by_environment: dict[int, list[int]] = {}
    for info in replies:
        by_environment.setdefault(info["pid"], []).append(info["state"]["shared"]["n"])
    # the copy is shallow, as uvicorn's: an object put in the state at
    # startup is the one every request of the environment sees
    for counts in by_environment.values():
        assert counts == sorted(counts) and len(set(counts)) == len(counts)


@pytest.mark.timeout(30)
def test_each_body_message_leaves_before_the_app_produces_the_next(asgi_server):
    reply = get(asgi_server, "/slow")
    assert reply.body == b"first second"
    (t_first, first), (t_last, _) = reply.chunks[0], reply.chunks[-1]
    assert first == b"first "
    assert t_last - t_first >= 0.5  # the first arrived while the app slept


@pytest.mark.timeout(30)
def test_disconnect_is_received_only_after_the_response_is_complete(asgi_server, root):
    assert get(asgi_server, "/disconnect").body == b"012"
    seen = json.loads(recorded(root, "disconnect"))
    assert seen == [["sent", 0], ["sent", 1], ["sent", 2], ["disconnect", "http.disconnect"]]


@pytest.mark.timeout(30)
def test_set_cookie_headers_become_cookies_and_repeats_are_joined(asgi_server):
    reply = get(asgi_server, "/cookies")
    assert reply.status == 201
    assert reply.all("set-cookie") == ["a=1", "b=2"]
    assert reply.header("x-multi") == "1, 2"


@pytest.mark.timeout(30)
def test_an_empty_body_still_sends_status_and_headers(asgi_server):
    reply = get(asgi_server, "/empty")
    assert (reply.status, reply.header("x-empty"), reply.body) == (204, "yes", b"")
    assert reply.complete


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "path", ["/raise-before-start", "/no-start", "/start-twice", "/body-first"]
)
def test_a_failure_before_the_response_starts_is_a_plain_500_and_logged(asgi_server, path):
    reply = get(asgi_server, path)
    assert (reply.status, reply.body) == (500, b"Internal Server Error")
    assert b"secret" not in reply.body
    asgi_server.wait_for_log(r"\[ERROR\] (LookupError|ASGIError)")
    assert get(asgi_server, "/scope").status == 200  # the next request is clean


@pytest.mark.timeout(30)
def test_the_logged_error_names_the_protocol_breach(asgi_server):
    get(asgi_server, "/start-twice")
    asgi_server.wait_for_log(r"ASGIError: http.response.start sent twice")
    get(asgi_server, "/no-start")
    asgi_server.wait_for_log(
        r"ASGIError: the ASGI app returned without sending http.response.start"
    )


@pytest.mark.timeout(30)
def test_a_failure_after_the_start_sends_the_status_then_the_error_trailers(asgi_server):
    reply = get(asgi_server, "/raise-after-start")
    assert (reply.status, reply.header("x-a"), reply.body) == (201, "1", b"")
    assert dict(reply.trailers)["lambda-runtime-function-error-type"] == "LookupError"
    assert get(asgi_server, "/scope").status == 200


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("path", "body"), [("/raise-mid-body", b"partial"), ("/incomplete", b"half")]
)
def test_a_failure_mid_body_ends_the_stream_with_trailers_exactly_once(asgi_server, path, body):
    reply = get(asgi_server, path)
    assert (reply.status, reply.body) == (200, body)
    types = [v for k, v in reply.trailers if k == "lambda-runtime-function-error-type"]
    assert types == ["LookupError" if path == "/raise-mid-body" else "ASGIError"]
    assert get(asgi_server, "/scope").status == 200


@pytest.mark.timeout(30)
def test_a_failure_after_the_response_is_only_logged(asgi_server):
    reply = get(asgi_server, "/raise-after-complete")
    assert (reply.status, reply.body, reply.trailers) == (200, b"complete", [])
    asgi_server.wait_for_log(r"LookupError: after the response")


@pytest.mark.timeout(30)
def test_background_work_runs_after_the_body_and_before_the_invocation_completes(root, dev_server):
    server = dev_server("app.handler", root, "--name", "app", "--concurrency", "1")
    assert get(server, "/scope").status == 200  # the one environment is up
    time.sleep(0.2)  # and waiting for its next event
    started = time.monotonic()
    assert get(server, "/background").body == b"answered"
    assert time.monotonic() - started < 0.4  # the caller did not wait for the work
    # the environment is still busy with it: the one allowed is taken
    assert get(server, "/scope").status == 429
    time.sleep(0.6)
    assert get(server, "/scope").status == 200


@pytest.mark.timeout(30)
def test_binary_bodies_pass_both_ways(asgi_server):
    payload = bytes(range(256)) * 4
    reply = get(asgi_server, "/binary", method="POST", body=payload)
    assert reply.body == payload[::-1]


def invoke(server, event, function="app"):
    lam = lambda_client(server.api_url)
    reply = lam.invoke(FunctionName=function, Payload=json.dumps(event).encode())
    return reply, reply["Payload"].read()


@pytest.mark.timeout(30)
def test_an_http_api_event_is_answered_buffered(asgi_server):
    event = dict(URL_EVENT, rawPath="/cookies")
    event["requestContext"] = dict(URL_EVENT["requestContext"], http={"method": "GET"})
    _, payload = invoke(asgi_server, event)
    answer = json.loads(payload)
    assert answer == {
        "statusCode": 201,
        "headers": {"x-multi": "1, 2"},
        "cookies": ["a=1", "b=2"],
        "body": "ok",
        "isBase64Encoded": False,
    }


@pytest.mark.timeout(30)
def test_a_function_url_event_in_buffered_mode_base64s_binary(root, dev_server):
    server = dev_server("app.buffered", root, "--name", "app")
    event = dict(URL_EVENT, rawPath="/binary", body=base64.b64encode(b"\xff\x00abc").decode())
    event["requestContext"] = dict(
        URL_EVENT["requestContext"], domainName="x.lambda-url.us-east-1.on.aws"
    )
    _, payload = invoke(server, event)
    answer = json.loads(payload)
    assert answer["isBase64Encoded"] is True
    assert base64.b64decode(answer["body"]) == b"cba\x00\xff"


@pytest.mark.timeout(30)
def test_a_rest_event_streams_a_prelude_with_multi_value_headers(asgi_server):
    event = {
        "resource": "/{proxy+}",
        "path": "/cookies",
        "httpMethod": "GET",
        "headers": {"Host": "abc.execute-api.us-east-1.amazonaws.com"},
        "multiValueHeaders": {"Host": ["abc.execute-api.us-east-1.amazonaws.com"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "requestContext": {
            "stage": "prod",
            "path": "/prod/cookies",
            "identity": {"sourceIp": "1.1.1.1"},
        },
        "body": None,
        "isBase64Encoded": False,
    }
    _, payload = invoke(asgi_server, event)
    prelude, _, body = payload.partition(PRELUDE_DELIMITER)
    assert json.loads(prelude) == {
        "statusCode": 201,
        "headers": {},
        "multiValueHeaders": {"x-multi": ["1", "2"], "set-cookie": ["a=1", "b=2"]},
    }
    assert body == b"ok"


@pytest.mark.timeout(30)
def test_a_rest_events_stage_is_the_root_path(asgi_server):
    event = {
        "resource": "/{proxy+}",
        "path": "/scope",
        "httpMethod": "GET",
        "headers": {"Host": "abc.execute-api.us-east-1.amazonaws.com"},
        "multiValueHeaders": None,
        "multiValueQueryStringParameters": {"x": ["1", "2"]},
        "requestContext": {
            "stage": "prod",
            "path": "/prod/scope",
            "identity": {"sourceIp": "1.1.1.1"},
        },
        "body": None,
    }
    _, payload = invoke(asgi_server, event)
    info = json.loads(payload.partition(PRELUDE_DELIMITER)[2])
    assert (info["root_path"], info["path"], info["query"]) == ("/prod", "/prod/scope", "x=1&x=2")
    assert info["server"] == ["abc.execute-api.us-east-1.amazonaws.com", 443]


@pytest.mark.timeout(30)
def test_an_alb_event_gets_a_status_description_and_multi_value_headers(asgi_server):
    event = {
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:..."}},
        "httpMethod": "GET",
        "path": "/cookies",
        "multiValueQueryStringParameters": {},
        "multiValueHeaders": {"host": ["lb.example"]},
        "body": "",
        "isBase64Encoded": False,
    }
    _, payload = invoke(asgi_server, event)
    answer = json.loads(payload)
    assert answer["statusDescription"] == "201 Created"
    assert answer["multiValueHeaders"] == {"x-multi": ["1", "2"], "set-cookie": ["a=1", "b=2"]}


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("event", "error"),
    [
        (dict(URL_EVENT, body="not base64!!"), "not base64"),
        ({"Records": [{"eventSource": "aws:sqs"}]}, "not an HTTP request"),
    ],
)
def test_an_event_that_is_not_a_valid_http_request_is_a_clear_invocation_error(
    asgi_server, event, error
):
    reply, payload = invoke(asgi_server, event)
    document = json.loads(payload)
    assert reply["FunctionError"] == "Unhandled"
    assert document["errorType"] == "InvalidEvent" and error in document["errorMessage"]
    assert get(asgi_server, "/scope").status == 200


@pytest.mark.timeout(30)
def test_a_failing_lifespan_startup_is_an_init_error(root, dev_server):
    server = dev_server("app.failing_lifespan", root, "--name", "app")
    reply = get(server, "/")
    assert reply.status == 502
    server.wait_for_log(r"LifespanError: the app's lifespan startup failed: no database")


@pytest.mark.timeout(30)
def test_handler_may_name_the_app_itself(root, dev_server):
    server = dev_server("app.app", root, "--name", "app")
    info = json.loads(get(server, "/scope").body)
    assert (info["state"]["starts"], info["starts_now"]) == (1, 1)  # only the one it serves


# -- WSGI ---------------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_the_wsgi_environ_carries_the_request(wsgi_server):
    reply = get(
        wsgi_server,
        "/environ?q=%20x",
        method="POST",
        headers=[("Content-Type", "text/plain"), ("Cookie", "a=1"), ("X-A", "b")],
        body=b"form body",
    )
    info = json.loads(reply.body)
    assert info["REQUEST_METHOD"] == "POST" and info["PATH_INFO"] == "/environ"
    assert info["QUERY_STRING"] == "q=%20x" and info["SCRIPT_NAME"] == ""
    assert (info["CONTENT_TYPE"], info["CONTENT_LENGTH"]) == ("text/plain", "9")
    assert (info["HTTP_COOKIE"], info["HTTP_X_A"]) == ("a=1", "b")
    assert info["body"] == "form body" and info["wsgi.url_scheme"] == "http"
    assert info["REMOTE_ADDR"] == "127.0.0.1"


@pytest.mark.timeout(30)
def test_each_wsgi_block_leaves_when_yielded_and_close_is_called(wsgi_server, root):
    reply = get(wsgi_server, "/slow")
    assert reply.body == b"first second"
    assert reply.chunks[-1][0] - reply.chunks[0][0] >= 0.5
    assert recorded(root, "closed-slow") == "true"


@pytest.mark.timeout(30)
def test_the_legacy_write_callable_sends_before_the_iterable(wsgi_server):
    assert get(wsgi_server, "/write").body == b"written returned"


@pytest.mark.timeout(30)
def test_a_wsgi_failure_before_the_body_is_a_plain_500(wsgi_server):
    reply = get(wsgi_server, "/raise")
    assert (reply.status, reply.body) == (500, b"Internal Server Error")
    wsgi_server.wait_for_log(r"LookupError: wsgi secret")


@pytest.mark.timeout(30)
def test_a_wsgi_failure_mid_body_ends_with_trailers_and_still_closes(wsgi_server, root):
    reply = get(wsgi_server, "/raise-mid-body")
    assert reply.body == b"partial"
    assert dict(reply.trailers)["lambda-runtime-function-error-type"] == "LookupError"
    assert recorded(root, "closed-raising") == "true"


@pytest.mark.timeout(30)
def test_start_response_with_exc_info_replaces_unsent_headers(wsgi_server):
    reply = get(wsgi_server, "/exc-info")
    assert (reply.status, reply.header("x-second"), reply.header("x-first")) == (503, "1", None)
    assert reply.body == b"retry later"
