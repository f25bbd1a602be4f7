"""The Invoke API's trace header and client context, through real boto3.

boto3 sends ``X-Amzn-Trace-Id`` itself when it runs inside a function
(botocore's ``add_recursion_detection_header``: ``AWS_LAMBDA_FUNCTION_NAME``
and ``_X_AMZN_TRACE_ID`` set), which is how one function's trace reaches the
next: the test sets those two variables, as a function's environment has them.
"""

from __future__ import annotations

import base64
import json

import pytest
from botocore.exceptions import ClientError
from support import lambda_client, write_handler

HANDLER = """
import json, os

def handler(event, context):
    print("INVOKED")
    return {"trace": os.environ.get("_X_AMZN_TRACE_ID")}
"""

CALLER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def fields(trace_id: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in trace_id.split(";"))


@pytest.fixture
def fn(dev_server, tmp_path):
    server = dev_server("app.handler", write_handler(tmp_path, HANDLER))
    return server, lambda_client(server.api_url)


def traces(lam) -> list[str]:
    """The function's ``_X_AMZN_TRACE_ID`` through invoke and the stream."""
    reply = lam.invoke(FunctionName="app", Payload=b"{}")
    buffered = json.loads(reply["Payload"].read())["trace"]
    events = lam.invoke_with_response_stream(FunctionName="app", Payload=b"{}")["EventStream"]
    payload = b"".join(e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e)
    return [buffered, json.loads(payload)["trace"]]


@pytest.mark.timeout(60)
def test_a_calling_functions_trace_continues(fn, monkeypatch):
    _, lam = fn
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "caller")
    monkeypatch.setenv("_X_AMZN_TRACE_ID", CALLER)
    for trace in traces(lam):
        got = fields(trace)
        assert got["Root"] == "1-5759e988-bd862e3fe1be46a994272793"
        assert got["Sampled"] == "1"
        assert len(got["Parent"]) == 16 and got["Parent"] != "53995c3f42cd8ad8"


@pytest.mark.timeout(60)
def test_without_a_valid_trace_header_each_call_starts_a_trace(fn, monkeypatch):
    _, lam = fn
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "caller")
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-short;Sampled=1")
    malformed = traces(lam)
    monkeypatch.delenv("_X_AMZN_TRACE_ID")
    absent = traces(lam)
    roots = {fields(t)["Root"] for t in malformed + absent}
    assert len(roots) == 4 and not any("5759e988" in root for root in roots)
    assert all(fields(t)["Sampled"] == "0" for t in malformed + absent)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("context", [b"[1, 2]", b'"text"', b"42", b"null", b"true"])
def test_client_context_that_is_not_a_json_object_is_refused(fn, context):
    # Runtimes read it as an object (awslambdaric's make_obj_from_dict calls
    # .get on it); Lambda refuses anything else before running the function.
    server, lam = fn
    encoded = base64.b64encode(context).decode()
    for call, kw in [
        (lam.invoke, {}),
        (lam.invoke, {"InvocationType": "Event"}),
        (lam.invoke_with_response_stream, {}),
    ]:
        with pytest.raises(ClientError) as err:
            call(FunctionName="app", Payload=b"{}", ClientContext=encoded, **kw)
        error = err.value.response
        assert error["Error"]["Code"] == "InvalidRequestContentException"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert error["Error"]["Message"] == (
            "Client context must be a valid Base64-encoded JSON object."
        )
    # An object is taken; the refused ones never ran.
    ok = base64.b64encode(b'{"custom": {"k": "v"}}').decode()
    assert lam.invoke(FunctionName="app", Payload=b"{}", ClientContext=ok)["StatusCode"] == 200
    server.wait_for_log(r"^REPORT RequestId")
    assert server.logs().count("INVOKED") == 1
