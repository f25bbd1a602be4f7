"""--auth AWS_IAM, --cors-*, --watch and --bind warnings, end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from h11client import request
from support import REPO, write_handler

ECHO = """
import json
def handler(event, context):
    print("INVOKED")
    return {"statusCode": 200, "headers": {"Access-Control-Allow-Origin": "https://evil.example"},
            "body": json.dumps(event["requestContext"].get("authorizer"))}
"""
KEYS = {"AWS_ACCESS_KEY_ID": "AKIDLOCALTEST", "AWS_SECRET_ACCESS_KEY": "local-secret-key"}


def signed(url, method="GET", body=b"", key="AKIDLOCALTEST", secret="local-secret-key",
           service="lambda", region="us-east-1"):  # fmt: skip
    aws = AWSRequest(method=method, url=url, data=body)
    SigV4Auth(Credentials(key, secret), service, region).add_auth(aws)
    headers = [(k, v) for k, v in aws.headers.items() if k.lower() != "host"]
    return request(url, method=method, headers=headers, body=body)


@pytest.mark.timeout(30)
def test_iam_auth_accepts_only_valid_signatures(dev_server, tmp_path):
    server = dev_server("app.handler", write_handler(tmp_path, ECHO), "--auth", "AWS_IAM", env=KEYS)
    ok = signed(server.url + "/path?a=1", method="POST", body=b'{"x": 1}')
    assert ok.status == 200, ok.body
    assert json.loads(ok.body)["iam"]["accessKey"] == "AKIDLOCALTEST"
    # The function's output reaches the log a moment after its answer.
    server.wait_for_log(r"^REPORT RequestId")
    invoked = server.logs().count("INVOKED")
    assert invoked == 1

    refused = [
        request(server.url + "/"),  # unsigned
        signed(server.url + "/", secret="wrong"),
        signed(server.url + "/", key="AKIDOTHER"),
        signed(server.url + "/", service="s3"),
        signed(server.url + "/", region="eu-west-1"),
    ]
    tampered_url = server.url + "/x"
    aws = AWSRequest(method="GET", url=tampered_url)
    SigV4Auth(Credentials(*KEYS.values()), "lambda", "us-east-1").add_auth(aws)
    headers = [(k, v) for k, v in aws.headers.items() if k.lower() != "host"]
    refused.append(request(server.url + "/y", headers=headers))  # signature for another path
    for reply in refused:
        assert reply.status == 403
        assert json.loads(reply.body) == {"Message": "Forbidden"}
    assert server.logs().count("INVOKED") == invoked
    assert "local-secret-key" not in server.logs()
    assert "Signature=" not in server.logs()


@pytest.mark.timeout(30)
def test_binding_beyond_loopback_without_auth_warns(dev_server, tmp_path):
    server = dev_server("app.handler", write_handler(tmp_path, ECHO), "--host", "0.0.0.0")
    server.wait_for_log(r"WARNING: listening on 0\.0\.0\.0 .*--auth AWS_IAM")


@pytest.mark.timeout(30)
def test_cors_preflight_and_response_headers(dev_server, tmp_path):
    server = dev_server(
        "app.handler", write_handler(tmp_path, ECHO),
        "--cors-origin", "https://app.example", "--cors-methods", "GET,POST",
        "--cors-headers", "content-type", "--cors-max-age", "600",
        "--cors-expose-headers", "x-request-id",
    )  # fmt: skip
    pre = request(
        server.url + "/",
        method="OPTIONS",
        headers=[("Origin", "https://app.example"), ("Access-Control-Request-Method", "POST")],
    )
    assert pre.status == 200
    assert pre.header("access-control-allow-origin") == "https://app.example"
    assert pre.header("access-control-allow-methods") == "GET,POST"
    assert pre.header("access-control-allow-headers") == "content-type"
    assert pre.header("access-control-max-age") == "600"
    assert "INVOKED" not in server.logs()  # answered without the function

    reply = request(server.url + "/", headers=[("Origin", "https://app.example")])
    assert reply.all("access-control-allow-origin") == ["https://app.example"]
    assert reply.header("access-control-expose-headers") == "x-request-id"

    other = request(server.url + "/", headers=[("Origin", "https://other.example")])
    assert other.header("access-control-allow-origin") is None


@pytest.mark.timeout(30)
def test_watch_restarts_environments_on_change(dev_server, tmp_path):
    root = write_handler(tmp_path, "def handler(event, context):\n    return 'v1'\n")
    server = dev_server("app.handler", root, "--watch")
    assert request(server.url + "/").body == b'"v1"'
    # Same size, same second: a cached .pyc must not win over the new source.
    write_handler(tmp_path, "def handler(event, context):\n    return 'v2'\n")
    server.wait_for_log(r"change detected \(app\.py\)")
    assert request(server.url + "/").body == b'"v2"'


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--cors-expose-headers", "日本"),
        ("--cors-expose-headers", "x-a\r\nx-b: 1"),
        ("--cors-headers", "content-type\n"),
        ("--cors-methods", "GET\x1b"),
        ("--cors-origin", "https://a.example\r\nSet-Cookie: x=1"),
    ],
    ids=["non-latin-1", "crlf", "lf", "escape", "origin-crlf"],
)
def test_cors_value_that_cannot_be_a_header_is_refused_at_startup(tmp_path, flag, value):
    root = write_handler(tmp_path, ECHO)
    args = [] if flag == "--cors-origin" else ["--cors-origin", "*"]
    done = subprocess.run(
        [sys.executable, "-m", "lambdastream", "dev", "app.handler", "--root", str(root),
         "--port", "0", "--api-port", "0", *args, flag, value],
        capture_output=True, text=True, timeout=20, cwd=str(REPO), stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 2, done
    assert "Function URL" not in done.stdout  # it never listened
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, done.stderr
    assert f"argument {flag}:" in errors[0]
    assert "cannot be sent as an HTTP header value" in errors[0]
