"""SigV4 as ``lambdastream dev`` checks it, end to end: valid requests made by
botocore's own signer, then altered on the wire (swapped body,
UNSIGNED-PAYLOAD, a duplicated header, a skewed date, another target), sent
with h11 or raw sockets; and the Invoke API, which AWS never serves
unsigned, signed whenever it listens beyond loopback or with --auth AWS_IAM."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import re
import socket
from typing import Any
from urllib.parse import urlsplit

import boto3
import h11
import pytest
from botocore import UNSIGNED
from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from h11client import Reply, request
from support import lambda_client, write_handler

ECHO = """
import json
def handler(event, context):
    print("INVOKED")
    if "requestContext" in event:  # a Function URL event: show what arrived
        seen = {k: event.get(k) for k in ("rawPath", "rawQueryString", "headers", "body")}
        return {"statusCode": 200, "body": json.dumps(seen)}
    return {"echo": event}

def stream(event, context):
    print("INVOKED")
    yield "streamed"
"""
KEY, SECRET = "AKIDLOCALTEST", "local-secret-key"
KEYS = {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET}
INVOKE_PATH = "/2015-03-31/functions/app/invocations"
STREAM_PATH = "/2021-11-15/functions/app/response-streaming-invocations"
# A second loopback address: the dev server sees it as another host.
OTHER_HOST = "127.0.0.2"


def sign(
    method: str,
    url: str,
    body: bytes = b"",
    headers: list[tuple[str, str]] | None = None,
    *,
    when: datetime.datetime | None = None,
    key: str = KEY,
    secret: str = SECRET,
    unsigned_payload: bool = False,
) -> list[tuple[str, str]]:
    """The headers botocore's SigV4 signer adds for this request (Host aside:
    the client sends it). ``when`` signs at another time than now;
    ``unsigned_payload`` makes botocore sign ``UNSIGNED-PAYLOAD`` as it does
    for a client with payload signing off."""
    aws = AWSRequest(method=method, url=url, data=body, headers=dict(headers or []))
    signer = SigV4Auth(Credentials(key, secret), "lambda", "us-east-1")
    if unsigned_payload:
        aws.context["payload_signing_enabled"] = False
    if when is None:
        signer.add_auth(aws)
    else:
        # add_auth with the clock set to ``when``, from the signer's public steps.
        aws.context["timestamp"] = when.strftime(SIGV4_TIMESTAMP)
        aws.headers["X-Amz-Date"] = aws.context["timestamp"]
        canonical = signer.canonical_request(aws)
        signature = signer.signature(signer.string_to_sign(aws, canonical), aws)
        signed = signer.signed_headers(signer.headers_to_sign(aws))
        aws.headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={signer.scope(aws)}, "
            f"SignedHeaders={signed}, Signature={signature}"
        )
    return [(k, v) for k, v in aws.headers.items() if k.lower() != "host"]


def raw_request(
    url: str,
    target: str,
    method: str = "GET",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    source: str | None = None,
) -> Reply:
    """One request over a raw socket with h11: ``target`` exactly as given
    (a fragment too), from ``source`` (another loopback address) if given."""
    parts = urlsplit(url)
    assert parts.hostname and parts.port
    conn = h11.Connection(h11.CLIENT)
    all_headers = [("Host", parts.netloc), *(headers or []), ("Content-Length", str(len(body)))]
    with socket.create_connection(
        (parts.hostname, parts.port), timeout=10, source_address=(source, 0) if source else None
    ) as sock:
        sock.sendall(conn.send(h11.Request(method=method, target=target, headers=all_headers)))
        sock.sendall(conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage()))
        reply: Reply | None = None
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(sock.recv(65536))
            elif isinstance(event, h11.Response):
                reply = Reply(
                    event.status_code,
                    [(k.decode().lower(), v.decode("latin-1")) for k, v in event.headers],
                )
            elif isinstance(event, h11.Data):
                assert reply is not None
                reply.chunks.append((0.0, bytes(event.data)))
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                assert reply is not None
                return reply


def boto(api_url: str, *, key: str = KEY, secret: str = SECRET, unsigned: bool = False) -> Any:
    """A real boto3 Lambda client for ``api_url``, signing with ``key``/``secret``
    (or not at all: ``unsigned``)."""
    options: dict[str, Any] = {"signature_version": UNSIGNED} if unsigned else {}
    return boto3.client(
        "lambda",
        endpoint_url=api_url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=30, **options),
    )


def reports(server) -> int:
    """How many invocations have ended (each one's REPORT line)."""
    return server.logs().count("REPORT RequestId")


def assert_forbidden(reply: Reply) -> None:
    assert reply.status == 403, (reply.status, reply.body)
    assert json.loads(reply.body) == {"Message": "Forbidden"}


@pytest.fixture
def iam_url(dev_server, tmp_path):
    """A Function URL with --auth AWS_IAM (the local credentials: KEY/SECRET)."""
    return dev_server("app.handler", write_handler(tmp_path, ECHO), "--auth", "AWS_IAM", env=KEYS)


# ------------------------------------------------ the Function URL's signatures


@pytest.mark.timeout(30)
def test_valid_signatures_pass_within_aws_five_minutes(iam_url):
    server = iam_url
    url = server.url + "/path?b=2&a=1"
    body = b'{"x": 1}'
    sha = hashlib.sha256(body).hexdigest()
    now = datetime.datetime.now(datetime.timezone.utc)
    accepted = [
        request(url, method="POST", headers=sign("POST", url, body), body=body),
        # As the chat page sends it (CloudFront OAC asks for it): the body's hash.
        request(url, "POST", sign("POST", url, body, [("x-amz-content-sha256", sha)]), body),
        request(url, headers=sign("GET", url, headers=[("X-User", "alice")])),
        request(url, headers=sign("GET", url, when=now - datetime.timedelta(minutes=4))),
        request(url, headers=sign("GET", url, when=now + datetime.timedelta(minutes=4))),
    ]
    for reply in accepted:
        assert reply.status == 200, reply.body
    seen = json.loads(accepted[2].body)
    assert seen["headers"]["x-user"] == "alice"
    assert (seen["rawPath"], seen["rawQueryString"]) == ("/path", "b=2&a=1")


@pytest.mark.timeout(30)
def test_a_body_swapped_after_signing_is_refused(iam_url):
    server = iam_url
    url = server.url + "/"
    signed_body, sent_body = b'{"amount": 1}', b'{"amount": 1000000}'
    sha = hashlib.sha256(signed_body).hexdigest()
    # The client's x-amz-content-sha256 says what it signed; the body is another.
    with_hash = sign("POST", url, signed_body, [("x-amz-content-sha256", sha)])
    assert_forbidden(request(url, "POST", with_hash, sent_body))
    # Without the header, the signature covers the body's own hash.
    assert_forbidden(request(url, "POST", sign("POST", url, signed_body), sent_body))
    assert_forbidden(request(url, "POST", with_hash, b""))  # the body dropped
    ok = request(url, "POST", sign("POST", url, sent_body), sent_body)
    assert ok.status == 200
    assert base64.b64decode(json.loads(ok.body)["body"]) == sent_body
    server.wait_for_log(r"^REPORT RequestId")
    assert server.logs().count("INVOKED") == 1


@pytest.mark.timeout(30)
def test_unsigned_payload_is_refused(iam_url):
    # "Lambda doesn't support unsigned payloads" (CloudFront's OAC guide).
    server = iam_url
    url = server.url + "/"
    headers = sign("POST", url, b"anything", unsigned_payload=True)
    assert ("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD") in headers
    assert_forbidden(request(url, "POST", headers, b'{"any": "body"}'))
    assert_forbidden(request(url, "GET", sign("GET", url, unsigned_payload=True)))
    assert "INVOKED" not in server.logs()


@pytest.mark.timeout(30)
def test_a_signed_header_sent_twice_is_refused(iam_url):
    server = iam_url
    url = server.url + "/"
    headers = sign("GET", url, headers=[("X-User", "alice")])
    assert_forbidden(request(url, headers=[("X-User", "admin"), *headers]))  # prepended
    assert_forbidden(request(url, headers=[*headers, ("X-User", "admin")]))  # appended
    auth = [h for h in headers if h[0] == "Authorization"]
    assert_forbidden(request(url, headers=[*headers, *auth]))  # two Authorization headers
    date = [h for h in headers if h[0] == "X-Amz-Date"]
    assert_forbidden(request(url, headers=[*date, *headers]))  # two dates
    ok = request(url, headers=headers)
    assert ok.status == 200 and json.loads(ok.body)["headers"]["x-user"] == "alice"
    server.wait_for_log(r"^REPORT RequestId")
    assert server.logs().count("INVOKED") == 1


@pytest.mark.timeout(30)
@pytest.mark.parametrize("minutes", [-6, 6], ids=["6-minutes-old", "6-minutes-ahead"])
def test_a_date_beyond_aws_five_minutes_is_refused(iam_url, minutes):
    server = iam_url
    url = server.url + "/"
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
    assert_forbidden(request(url, headers=sign("GET", url, when=when)))
    assert "INVOKED" not in server.logs()
    why = "Signature expired" if minutes < 0 else "Signature not yet current"
    server.wait_for_log(rf"Function URL: 403 .*InvalidSignatureException: {why}")


@pytest.mark.timeout(30)
def test_a_target_altered_after_signing_is_refused(iam_url):
    server = iam_url
    base = server.url
    signed = sign("GET", base + "/b?x=1")
    for target in [
        "/b?x=1#admin",  # a fragment: the signer drops it, the function would see it
        "/a/../b?x=1",  # dot segments: the signer removes them, the function would not
        "//b?x=1",  # a doubled slash: likewise
        "/b?x=1&x=2",  # another value
        "/b?x=2",
        "/b",
        "/%62?x=1",  # /b, encoded otherwise
    ]:
        assert_forbidden(raw_request(base, target, headers=signed))
    # Encoded slashes are signed as sent: a%2Fb is not a/b.
    signed = sign("GET", base + "/a%2Fb")
    assert_forbidden(request(base + "/a/b", headers=signed))
    assert request(base + "/a%2Fb", headers=signed).status == 200
    server.wait_for_log(r"^REPORT RequestId")
    assert server.logs().count("INVOKED") == 1


@pytest.mark.timeout(30)
def test_refusals_are_logged_without_secrets(iam_url):
    server = iam_url
    url = server.url + "/"
    assert_forbidden(request(url))
    assert_forbidden(request(url, headers=sign("GET", url, secret="wrong")))
    assert_forbidden(request(url, headers=sign("GET", url, key="AKIDOTHER")))
    server.wait_for_log(r"Function URL: 403 .*MissingAuthenticationTokenException")
    server.wait_for_log(r"Function URL: 403 .*InvalidSignatureException: The request signature")
    server.wait_for_log(r"Function URL: 403 .*UnrecognizedClientException")
    assert SECRET not in server.logs() and "Signature=" not in server.logs()


# ------------------------------------------------------- the Invoke API's signatures


@pytest.mark.timeout(60)
def test_invoke_api_beyond_loopback_requires_signatures(dev_server, tmp_path):
    """--host 0.0.0.0 with --auth NONE: the Function URL is open (and said so),
    the Invoke API is not: AWS serves it signed only."""
    root = write_handler(tmp_path, ECHO)
    server = dev_server("app.handler", root, "--host", "0.0.0.0", env=KEYS)
    api_port = urlsplit(server.api_url).port
    api = f"http://{OTHER_HOST}:{api_port}"
    for path in (INVOKE_PATH, STREAM_PATH):
        reply = raw_request(api, path, "POST", body=b'{"x": 1}', source=OTHER_HOST)
        assert reply.status == 403, reply.body
        assert reply.header("x-amzn-errortype") == "MissingAuthenticationTokenException"
        assert json.loads(reply.body) == {"message": "Missing Authentication Token"}

    # boto3 with the local credentials: both operations work, from another host.
    lam = boto(api)
    assert json.loads(lam.invoke(FunctionName="app", Payload=b'{"x": 1}')["Payload"].read()) == {
        "echo": {"x": 1}
    }
    events = list(lam.invoke_with_response_stream(FunctionName="app")["EventStream"])
    assert events[-1] == {"InvokeComplete": {}}
    for client, code in [
        (boto(api, secret="wrong"), "InvalidSignatureException"),
        (boto(api, key="AKIDOTHER"), "UnrecognizedClientException"),
        (boto(api, unsigned=True), "MissingAuthenticationTokenException"),
    ]:
        for call in (client.invoke, client.invoke_with_response_stream):
            with pytest.raises(ClientError) as err:
                call(FunctionName="app", Payload=b"{}")
            assert err.value.response["Error"]["Code"] == code
            assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    server.wait_for_log(r"^REPORT RequestId(.|\n)*^REPORT RequestId")
    assert server.logs().count("INVOKED") == 2  # the two signed calls alone

    # The Function URL is open to other hosts, as the startup warning says.
    url_port = urlsplit(server.url).port
    open_url = raw_request(f"http://{OTHER_HOST}:{url_port}", "/", source=OTHER_HOST)
    assert open_url.status == 200
    logs = server.logs()
    assert re.search(rf"WARNING: .*Function URL.*port {url_port}.*open to anyone", logs)
    assert re.search(rf"Invoke API.*port {api_port}.*SigV4", logs)


@pytest.mark.timeout(60)
def test_invoke_api_with_aws_iam_takes_boto3_with_the_right_credentials_only(dev_server, tmp_path):
    root = write_handler(tmp_path, ECHO)
    server = dev_server("app.handler", root, "--auth", "AWS_IAM", env=KEYS)
    lam = boto(server.api_url)
    reply = lam.invoke(FunctionName="app", Payload=b'{"x": 1}', LogType="Tail")
    assert json.loads(reply["Payload"].read()) == {"echo": {"x": 1}}
    events = list(lam.invoke_with_response_stream(FunctionName="app")["EventStream"])
    assert events[-1] == {"InvokeComplete": {}}
    assert lam.invoke(FunctionName="app", InvocationType="DryRun")["StatusCode"] == 204
    for client, code in [
        (boto(server.api_url, secret="wrong"), "InvalidSignatureException"),
        (boto(server.api_url, key="AKIDOTHER"), "UnrecognizedClientException"),
        (boto(server.api_url, unsigned=True), "MissingAuthenticationTokenException"),
        (lambda_client(server.api_url), "UnrecognizedClientException"),  # the suite's dummy keys
    ]:
        for call in (client.invoke, client.invoke_with_response_stream):
            with pytest.raises(ClientError) as err:
                call(FunctionName="app", Payload=b"{}")
            assert err.value.response["Error"]["Code"] == code
    # An unsigned Event would run later: it is refused before it is queued.
    with pytest.raises(ClientError):
        boto(server.api_url, unsigned=True).invoke(
            FunctionName="app", InvocationType="Event", Payload=b"{}"
        )
    # Over 6 MiB the body is not kept, so no signature can be checked: an
    # unsigned caller is told to sign, a signed one that it is too large.
    big = b'"' + b"x" * (6 * 1024 * 1024) + b'"'
    unsigned_big = request(server.api_url + INVOKE_PATH, "POST", body=big)
    assert unsigned_big.status == 403
    assert unsigned_big.header("x-amzn-errortype") == "MissingAuthenticationTokenException"
    with pytest.raises(lam.exceptions.RequestTooLargeException):
        lam.invoke(FunctionName="app", Payload=big)
    # A body swapped under a valid signature, on the wire.
    body = b'{"x": 1}'
    signed = sign("POST", server.api_url + INVOKE_PATH, body)
    swapped = request(server.api_url + INVOKE_PATH, "POST", signed, b'{"x": 2}')
    assert swapped.status == 403
    assert swapped.header("x-amzn-errortype") == "InvalidSignatureException"
    server.wait_for_log(r"^REPORT RequestId(.|\n)*^REPORT RequestId")
    assert server.logs().count("INVOKED") == 2


@pytest.mark.timeout(60)
def test_invoke_api_on_loopback_without_auth_takes_signed_and_unsigned(dev_server, tmp_path):
    server = dev_server("app.handler", write_handler(tmp_path, ECHO))
    for lam in (
        boto(server.api_url, unsigned=True),
        boto(server.api_url, secret="anything"),
        lambda_client(server.api_url),
    ):
        reply = lam.invoke(FunctionName="app", Payload=b'{"x": 1}')
        assert json.loads(reply["Payload"].read()) == {"echo": {"x": 1}}
    assert "WARNING" not in server.logs()


@pytest.mark.timeout(30)
def test_repeated_qualifier_cannot_be_reordered_into_another_meaning(dev_server, tmp_path):
    # SigV4 sorts repeated query keys: ?Qualifier=A&Qualifier=B and its
    # reordering carry the same signature. The Invoke API takes one Qualifier.
    server = dev_server("app.handler", write_handler(tmp_path, ECHO), "--auth", "AWS_IAM", env=KEYS)
    path = INVOKE_PATH + "?Qualifier=%24LATEST&Qualifier=7"
    signed = sign("POST", server.api_url + path, b"{}")
    for target in (path, INVOKE_PATH + "?Qualifier=7&Qualifier=%24LATEST"):
        reply = request(server.api_url + target, "POST", signed, b"{}")
        assert reply.status == 400, reply.body
        assert reply.header("x-amzn-errortype") == "InvalidParameterValueException"
    assert "INVOKED" not in server.logs()


# ---------------------------------------------------------- the startup warning


@pytest.mark.timeout(30)
def test_startup_says_which_ports_are_open_to_whom(dev_server, tmp_path):
    root = write_handler(tmp_path, ECHO)
    server = dev_server("app.handler", root, "--host", "0.0.0.0", "--bedrock-local", env=KEYS)
    url_port, api_port = urlsplit(server.url).port, urlsplit(server.api_url).port
    server.wait_for_log(r"Invoke API \(port")
    logs = server.logs()
    warning = re.search(r"^WARNING: listening on 0\.0\.0\.0 .*$", logs, re.M)
    assert warning and "--auth AWS_IAM" in warning.group(0)
    assert re.search(rf"Function URL.*port {url_port}.*open to anyone", logs)
    assert re.search(rf"Invoke API.*port {api_port}.*SigV4", logs)
    bedrock = re.search(r"local Bedrock: http://127\.0\.0\.1:(\d+)", logs)
    assert bedrock and "127.0.0.1 only" in logs
    # It is bound to loopback's first address only: another host cannot reach it.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((OTHER_HOST, int(bedrock.group(1))), timeout=5).close()


@pytest.mark.timeout(30)
def test_startup_with_aws_iam_beyond_loopback_leaves_nothing_open(dev_server, tmp_path):
    root = write_handler(tmp_path, ECHO)
    server = dev_server("app.handler", root, "--host", "0.0.0.0", "--auth", "AWS_IAM", env=KEYS)
    server.wait_for_log(r"Function URL and Invoke API.*SigV4")
    assert "open to anyone" not in server.logs() and "WARNING" not in server.logs()


@pytest.mark.timeout(30)
def test_startup_beyond_loopback_without_credentials_warns_that_all_is_refused(
    dev_server, tmp_path
):
    root = write_handler(tmp_path, ECHO)
    nothing = str(tmp_path / "none")
    env = {
        "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
        "AWS_PROFILE": "", "AWS_SHARED_CREDENTIALS_FILE": nothing, "AWS_CONFIG_FILE": nothing,
        "AWS_EC2_METADATA_DISABLED": "true",  # no instance metadata: loopback only
    }  # fmt: skip
    server = dev_server("app.handler", root, "--host", "0.0.0.0", env=env)
    server.wait_for_log(r"WARNING: no local AWS credentials.*Invoke API.*403")
    with pytest.raises(ClientError) as err:
        boto(server.api_url).invoke(FunctionName="app", Payload=b"{}")
    assert err.value.response["Error"]["Code"] == "UnrecognizedClientException"
