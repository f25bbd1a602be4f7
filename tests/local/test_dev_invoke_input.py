"""The Invoke API's answers to payloads and function names Lambda refuses,
through real boto3: nothing reaches the function, nothing of ours breaks."""

from __future__ import annotations

import base64
import json

import pytest
from botocore.exceptions import ClientError
from support import lambda_client, write_handler

HANDLER = """
def handler(event, context):
    print("INVOKED")
    return {"echo": event}
"""


@pytest.fixture
def fn(dev_server, tmp_path):
    server = dev_server("app.handler", write_handler(tmp_path, HANDLER), "--region", "us-east-1")
    return server, lambda_client(server.api_url)


def refused(call, **kw) -> ClientError:
    with pytest.raises(ClientError) as err:
        result = call(**kw)
        for _ in result.get("EventStream", ()):  # a stream that (wrongly) began
            pass
    return err.value


@pytest.mark.timeout(60)
def test_deeply_nested_payload_is_invalid_request_content(fn):
    server, lam = fn
    deep = b"[" * 100_000 + b"]" * 100_000
    for call, kw in [
        (lam.invoke, {}),
        (lam.invoke, {"InvocationType": "Event"}),
        (lam.invoke_with_response_stream, {}),
    ]:
        err = refused(call, FunctionName="app", Payload=deep, **kw)
        assert err.response["Error"]["Code"] == "InvalidRequestContentException"
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert err.response["Error"]["Message"].startswith(
            "Could not parse request body into json: Could not parse payload into json:"
        )
    # The client context is JSON too (a header: deep, but within 64 KiB).
    context = base64.b64encode(b'{"custom": ' + b"[" * 5_000 + b"]" * 5_000 + b"}").decode()
    err = refused(lam.invoke, FunctionName="app", Payload=b"{}", ClientContext=context)
    assert err.response["Error"]["Code"] == "InvalidRequestContentException"
    # Still serving, and no traceback of ours anywhere.
    reply = lam.invoke(FunctionName="app", Payload=b"[[[1]]]")
    assert json.loads(reply["Payload"].read()) == {"echo": [[[1]]]}
    server.wait_for_log(r"^REPORT RequestId")
    logs = server.logs()
    assert "Traceback" not in logs and "RecursionError" not in logs
    assert logs.count("INVOKED") == 1


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "payload", [b"NaN", b"Infinity", b"-Infinity", b'{"x": NaN}', b"[1, Infinity]"]
)
def test_non_numbers_are_not_json(fn, payload):
    # RFC 8259 has no NaN or Infinity; Lambda's JSON parser refuses them.
    server, lam = fn
    for call in (lam.invoke, lam.invoke_with_response_stream):
        err = refused(call, FunctionName="app", Payload=payload)
        assert err.response["Error"]["Code"] == "InvalidRequestContentException"
    assert "INVOKED" not in server.logs()


OTHER = "arn:aws:lambda:us-east-1:999999999999:function:app"


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("name", "resource"),
    [
        ("999999999999:function:app", OTHER),
        ("999999999999:function:app:$LATEST", OTHER + ":$LATEST"),
        (OTHER, OTHER),
        (OTHER + ":$LATEST", OTHER + ":$LATEST"),
    ],
)
def test_another_accounts_function_is_access_denied(fn, name, resource):
    server, lam = fn
    for call in (lam.invoke, lam.invoke_with_response_stream):
        err = refused(call, FunctionName=name, Payload=b"{}")
        assert err.response["Error"]["Code"] == "AccessDeniedException"
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert err.response["Error"]["Message"] == (
            "User: arn:aws:iam::123456789012:user/local is not authorized to perform:"
            f" lambda:InvokeFunction on resource: {resource}"
            " because no resource-based policy allows the lambda:InvokeFunction action"
        )
    assert "INVOKED" not in server.logs()


@pytest.mark.timeout(30)
def test_function_names_of_our_account_and_region(fn):
    _, lam = fn
    for name in [
        "app",
        "app:$LATEST",
        "123456789012:function:app",
        "arn:aws:lambda:us-east-1:123456789012:function:app",
        "arn:aws:lambda:us-east-1:123456789012:function:app:$LATEST",
    ]:
        reply = lam.invoke(FunctionName=name, Payload=b"{}")
        assert json.loads(reply["Payload"].read()) == {"echo": {}}, name
    err = refused(
        lam.invoke, FunctionName="arn:aws:lambda:eu-west-1:123456789012:function:app", Payload=b"{}"
    )
    assert err.response["Error"]["Code"] == "ResourceNotFoundException"
    assert err.response["Error"]["Message"] == (
        "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"
    )
    err = refused(lam.invoke, FunctionName="app:v1", Payload=b"{}")
    assert err.response["Error"]["Message"] == (
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:app:v1"
    )
