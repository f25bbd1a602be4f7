"""The Function URL event as AWS builds it, through the real ``lambdastream
dev``, its real runtime processes (ours and the official awslambdaric) and a
real HTTP client (httpx): the headers AWS adds and drops, one url-id, and the
caller's X-Ray trace continued into ``_X_AMZN_TRACE_ID``."""

from __future__ import annotations

import sys
from urllib.parse import urlsplit

import httpx
import pytest
from support import write_handler

from lambdastream.local.url_event import URL_ID

ECHO = """
import json, os

def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps({"event": event, "trace": os.environ.get("_X_AMZN_TRACE_ID")})}
"""

RUNTIMES = {
    "lambdastream": (),
    "awslambdaric": ("--bootstrap", f"{sys.executable} -m awslambdaric app.handler"),
}

CALLER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def fields(trace_id: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in trace_id.split(";"))


def seen(url: str, **kw) -> tuple[dict, str]:
    """What the function saw: its event and its ``_X_AMZN_TRACE_ID``."""
    with httpx.Client(timeout=20) as client:
        reply = client.request(kw.pop("method", "GET"), url, **kw)
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    return answer["event"], answer["trace"]


@pytest.mark.timeout(60)
def test_event_has_the_headers_aws_adds_and_none_of_the_hop_by_hop(dev_server, tmp_path):
    server = dev_server("app.handler", write_handler(tmp_path, ECHO))
    port = urlsplit(server.url).port

    def body():  # sent chunked: Transfer-Encoding must not reach the event
        yield b'{"a": '
        yield b"1}"

    event, trace = seen(
        server.url + "/p?x=1",
        method="POST",
        headers={
            "Connection": "keep-alive, X-Hop",
            "Keep-Alive": "timeout=5",
            "X-Hop": "for the next hop only",
            "X-Forwarded-For": "203.0.113.7",
            "X-Forwarded-Proto": "https",
            "Content-Type": "application/json",
        },
        content=body(),
    )
    headers = event["headers"]
    assert headers["x-forwarded-for"] == "203.0.113.7, 127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-port"] == str(port)
    for hop in ("connection", "keep-alive", "x-hop", "transfer-encoding"):
        assert hop not in headers, hop
    assert event["body"] == '{"a": 1}'
    # The address the client used, so absolute URLs built from it come back here.
    ctx = event["requestContext"]
    assert headers["host"] == ctx["domainName"] == f"127.0.0.1:{port}"
    assert ctx["apiId"] == ctx["domainPrefix"] == URL_ID
    # No caller trace: Lambda starts one, and the event's header names the same root.
    assert headers["x-amzn-trace-id"] == "Root=" + fields(trace)["Root"]


@pytest.mark.timeout(30)
def test_a_function_url_host_names_one_url_id_everywhere(dev_server, tmp_path):
    # A client that reaches the dev server by a Function URL's name (a hosts
    # entry, curl --connect-to) gets the event AWS would build for it.
    server = dev_server("app.handler", write_handler(tmp_path, ECHO))
    host = "2cxn22odiwguak4feg4jtt7cwm0ziblr.lambda-url.us-east-1.on.aws"
    event, _ = seen(server.url + "/", headers={"Host": host})
    ctx = event["requestContext"]
    assert event["headers"]["host"] == ctx["domainName"] == host
    assert ctx["apiId"] == ctx["domainPrefix"] == "2cxn22odiwguak4feg4jtt7cwm0ziblr"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_callers_trace_header_becomes_the_invocations_trace(dev_server, tmp_path, runtime):
    server = dev_server("app.handler", write_handler(tmp_path, ECHO), *RUNTIMES[runtime])
    event, trace = seen(server.url + "/", headers={"X-Amzn-Trace-Id": CALLER})
    got = fields(trace)
    assert got["Root"] == "1-5759e988-bd862e3fe1be46a994272793"
    assert got["Sampled"] == "1"
    # Lambda's own function segment is the parent of what the function records.
    assert len(got["Parent"]) == 16 and got["Parent"] != "53995c3f42cd8ad8"
    assert event["headers"]["x-amzn-trace-id"] == CALLER

    # A malformed header is no trace at all: a fresh one, in the event too.
    event, trace = seen(server.url + "/", headers={"X-Amzn-Trace-Id": "Root=1-nothex;Sampled=1"})
    got = fields(trace)
    assert got["Root"].startswith("1-") and len(got["Root"]) == 35
    assert got["Sampled"] == "0"
    assert event["headers"]["x-amzn-trace-id"] == "Root=" + got["Root"]

    # Each call without one starts its own trace.
    _, first = seen(server.url + "/")
    _, second = seen(server.url + "/")
    assert fields(first)["Root"] != fields(second)["Root"]
