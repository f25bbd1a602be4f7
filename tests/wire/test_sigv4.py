"""The SigV4 check on its own (sans-I/O): requests signed by botocore's signer
at a chosen time, checked at another, with AWS's answers for each fault."""

from __future__ import annotations

import datetime
import hashlib
from urllib.parse import quote

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given
from hypothesis import strategies as st

from lambdastream.wire import sigv4
from lambdastream.wire.request import HttpRequest
from lambdastream.wire.sigv4 import AuthError, SigV4Verifier

NOW = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
HOST = "127.0.0.1:9000"
CREDS = Credentials("AKIDLOCAL", "local-secret")


def signed(
    method: str = "POST",
    target: str = "/2015-03-31/functions/app/invocations",
    body: bytes = b"{}",
    headers: list[tuple[str, str]] | None = None,
    *,
    when: datetime.datetime = NOW,
    creds: Credentials = CREDS,
    service: str = "lambda",
    region: str = "us-east-1",
) -> HttpRequest:
    """``HttpRequest`` as the server would receive botocore's signed request.

    Signed with botocore's own steps at ``when`` (add_auth takes the clock)."""
    aws = AWSRequest(method=method, url=f"http://{HOST}{target}", data=body)
    for name, value in headers or []:
        aws.headers[name] = value  # adds a copy: repeated headers stay repeated
    signer = SigV4Auth(creds, service, region)
    aws.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
    aws.headers["X-Amz-Date"] = aws.context["timestamp"]
    if creds.token:
        aws.headers["X-Amz-Security-Token"] = creds.token
    canonical = signer.canonical_request(aws)
    signature = signer.signature(signer.string_to_sign(aws, canonical), aws)
    names = signer.signed_headers(signer.headers_to_sign(aws))
    aws.headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={signer.scope(aws)}, SignedHeaders={names},"
        f" Signature={signature}"
    )
    return HttpRequest(method, target, [("Host", HOST), *aws.headers.items()], body)


def refusal(request: HttpRequest, at: datetime.datetime = NOW, creds=CREDS) -> tuple[str, str]:
    with pytest.raises(AuthError) as refused:
        _verifier(creds).check(request, now=at.timestamp())
    return refused.value.error_type, refused.value.message


def accepted(request: HttpRequest, at: datetime.datetime = NOW, creds=CREDS) -> bool:
    return _verifier(creds).check(request, now=at.timestamp()) == "AKIDLOCAL"


def test_five_minutes_either_way_to_the_second():
    minute = datetime.timedelta(minutes=1)
    second = datetime.timedelta(seconds=1)
    request = signed()
    assert accepted(request, at=NOW + 5 * minute)
    assert accepted(request, at=NOW - 5 * minute)
    assert refusal(request, at=NOW + 5 * minute + second) == (
        "InvalidSignatureException",
        "Signature expired: 20260102T030405Z is now earlier than 20260102T030406Z"
        " (20260102T030906Z - 5 min.)",
    )
    assert refusal(request, at=NOW - 5 * minute - second) == (
        "InvalidSignatureException",
        "Signature not yet current: 20260102T030405Z is still later than 20260102T030404Z"
        " (20260102T025904Z + 5 min.)",
    )


def test_the_body_is_what_is_signed():
    body = b'{"a": 1}'
    sha = hashlib.sha256(body).hexdigest()
    request = signed(body=body, headers=[("X-Amz-Content-SHA256", sha)])
    assert accepted(request)
    request.body = b'{"a": 2}'
    assert refusal(request) == (
        "InvalidSignatureException",
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    )
    unsigned = signed(body=body, headers=[("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD")])
    assert refusal(unsigned)[0] == "InvalidSignatureException"
    assert "Unsigned payloads are not accepted" in refusal(unsigned)[1]


def test_every_copy_of_a_signed_header_is_signed():
    # A client that sends (and signs) two copies passes; one more copy fails.
    request = signed(headers=[("X-User", "alice"), ("X-User", "bob")])
    assert accepted(request)
    request.headers.insert(1, ("x-user", "admin"))
    assert refusal(request)[0] == "InvalidSignatureException"


def test_the_path_is_signed_as_received():
    # botocore would sign both as /b: the function would see /a/../b.
    request = signed(target="/b")
    request.target = "/a/../b"
    assert refusal(request)[0] == "InvalidSignatureException"
    assert accepted(signed(target="/a%2Fb?x=%2F"))


def test_query_pairs_may_come_in_any_order_as_sigv4_sorts_them():
    request = signed(target="/f?b=2&a=1")
    request.target = "/f?a=1&b=2"
    assert accepted(request)


@pytest.mark.parametrize(
    ("authorization", "answer"),
    [
        (None, ("MissingAuthenticationTokenException", "Missing Authentication Token")),
        (
            "Bearer abc",
            (
                "IncompleteSignatureException",
                "Authorization header requires 'Credential' parameter. Authorization header"
                " requires 'Signature' parameter. Authorization header requires 'SignedHeaders'"
                " parameter.",
            ),
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKIDLOCAL/20260102/us-east-1/lambda/aws4_request,"
            " SignedHeaders=host, Signature=00, Signature=00",
            ("IncompleteSignatureException", "Authorization header requires 'Credential'"),
        ),
    ],
    ids=["none", "another-scheme", "a-field-twice"],
)
def test_malformed_authorization(authorization, answer):
    request = signed()
    request.headers = [(k, v) for k, v in request.headers if k.lower() != "authorization"]
    if authorization is not None:
        request.headers.append(("Authorization", authorization))
    error_type, message = refusal(request)
    assert error_type == answer[0] and message.startswith(answer[1])


def test_scope_key_and_token():
    assert refusal(signed(service="s3")) == (
        "InvalidSignatureException",
        "Credential should be scoped to correct service: 'lambda'.",
    )
    assert refusal(signed(region="eu-west-1")) == (
        "InvalidSignatureException",
        "Credential should be scoped to a valid region, not 'eu-west-1'.",
    )
    invalid = (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )
    assert refusal(signed(creds=Credentials("AKIDOTHER", "local-secret"))) == invalid
    assert refusal(signed(), creds=None) == invalid  # no local credentials: all refused
    with_token = Credentials("AKIDLOCAL", "local-secret", "session-token")
    assert accepted(signed(creds=with_token), creds=with_token)
    assert refusal(signed(), creds=with_token) == invalid  # the token missing
    assert refusal(signed(creds=with_token)) == invalid  # a token we do not have
    wrong_secret = signed(creds=Credentials("AKIDLOCAL", "wrong"))
    assert refusal(wrong_secret)[0] == "InvalidSignatureException"
    assert refusal(wrong_secret)[1].startswith("The request signature we calculated")


def test_a_date_that_is_not_the_scope_date():
    request = signed()
    request.headers = [
        (k, "20260103T030405Z" if k == "X-Amz-Date" else v) for k, v in request.headers
    ]
    assert refusal(request, at=datetime.datetime(2026, 1, 3, 3, 4, 5, tzinfo=NOW.tzinfo)) == (
        "InvalidSignatureException",
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from"
        " HTTP: '20260102' != '20260103', from 'X-Amz-Date'.",
    )


def test_malformed_values_are_refusals_not_crashes():
    request = signed()
    request.headers = [
        (k, v.replace("Signature=", "Signature=é") if k == "Authorization" else v)
        for k, v in request.headers
    ]
    assert refusal(request)[0] == "InvalidSignatureException"
    request = signed()
    request.headers = [
        (k, "20261332T250000Z" if k == "X-Amz-Date" else v) for k, v in request.headers
    ]
    assert refusal(request) == (
        "IncompleteSignatureException",
        "Date must be in ISO-8601 'basic format'. Got '20261332T250000Z'.",
    )
    request = signed(creds=Credentials("AKIDLOCALé", "local-secret"))
    assert refusal(request)[0] == "UnrecognizedClientException"


def test_headers_botocore_never_signs_are_checked_when_another_sdk_signs_them():
    class SignsUserAgent(SigV4Auth):  # as SDKs that sign User-Agent do
        def headers_to_sign(self, request):
            headers = super().headers_to_sign(request)
            headers["user-agent"] = request.headers["User-Agent"]
            return headers

    aws = AWSRequest(method="GET", url=f"http://{HOST}/", headers={"User-Agent": "sdk/1"})
    signer = SignsUserAgent(CREDS, "lambda", "us-east-1")
    aws.context["timestamp"] = NOW.strftime("%Y%m%dT%H%M%SZ")
    aws.headers["X-Amz-Date"] = aws.context["timestamp"]
    signature = signer.signature(signer.string_to_sign(aws, signer.canonical_request(aws)), aws)
    names = signer.signed_headers(signer.headers_to_sign(aws))
    assert names == "host;user-agent;x-amz-date"
    aws.headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={signer.scope(aws)}, SignedHeaders={names},"
        f" Signature={signature}"
    )
    request = HttpRequest("GET", "/", [("Host", HOST), *aws.headers.items()], b"")
    assert accepted(request)
    request.headers = [(k, "evil/2" if k == "User-Agent" else v) for k, v in request.headers]
    assert refusal(request)[0] == "InvalidSignatureException"


def _verifier(creds: Credentials | None) -> SigV4Verifier:
    """Our verifier, over the same keys botocore signed with (None: no credentials)."""
    if creds is None:
        return SigV4Verifier("us-east-1", None)
    keys = sigv4.Credentials(creds.access_key, creds.secret_key, creds.token)
    return SigV4Verifier("us-east-1", keys)


# Path segments, query pairs and header values botocore signs; no dot
# segment or doubled slash (botocore removes those before signing, we do not).
_SEGMENT = st.text(
    st.characters(codec="utf-8", exclude_characters="/?#%"), min_size=1, max_size=8
).filter(lambda s: s not in (".", ".."))
_QUERY_PART = st.text(st.sampled_from("abcXYZ09-_.~%2F+="), max_size=6)
_VALUE = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20)


@given(
    path=st.lists(_SEGMENT, max_size=4),
    query=st.lists(st.tuples(_QUERY_PART, _QUERY_PART), max_size=4),
    headers=st.lists(st.tuples(st.sampled_from(["X-A", "x-b", "X-Custom"]), _VALUE), max_size=4),
    method=st.sampled_from(["GET", "POST", "PUT"]),
    body=st.binary(max_size=64),
)
def test_any_request_botocore_signs_is_accepted_and_a_changed_one_refused(
    path, query, headers, method, body
):
    target = "/" + "/".join(quote(segment, safe="") for segment in path)
    if query:
        target += "?" + "&".join(f"{k}={v}" for k, v in query)
    request = signed(method, target, body, headers)
    assert _verifier(CREDS).check(request, now=NOW.timestamp()) == "AKIDLOCAL"
    tampered = HttpRequest(method, target, request.headers, body + b"!")
    with pytest.raises(AuthError):
        _verifier(CREDS).check(tampered, now=NOW.timestamp())
