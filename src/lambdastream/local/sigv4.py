"""Check a request's SigV4 signature against the local credentials (sans-I/O).

Used by the Function URL with ``--auth AWS_IAM`` and by the Invoke API,
which AWS never serves unsigned. What is verified is the request as it was
received, not what the client says it sent:

- the body's own SHA-256 is signed; an ``x-amz-content-sha256`` header must
  equal it (``UNSIGNED-PAYLOAD`` is refused: Lambda does not accept unsigned
  payloads);
- every copy of a signed header is signed, joined with commas as AWS
  canonicalises them, so a copy added after signing breaks the signature;
- the path is signed exactly as received (no dot-segment or double-slash
  removal, which would let ``/a/../b`` pass for ``/b``), the query exactly
  as received, and a target with a fragment is refused;
- the date must be within AWS's five minutes of now, either way.

The canonical request, string to sign and signature are botocore's
(``SigV4Auth``), service ``lambda`` (unless told), the function's region. A refusal is an
:class:`AuthError` carrying the error type and message AWS gives; the
frontends turn it into their answer (the Function URL's 403 Forbidden, the
Invoke API's 403 with ``x-amzn-ErrorType``). Credentials and the
Authorization header are never logged.

Example::

    >>> from botocore.credentials import Credentials
    >>> from lambdastream.local.url_event import HttpRequest
    >>> verify = IamAuthorizer("us-east-1", Credentials("AKID", "secret"))
    >>> try:
    ...     verify.check(HttpRequest("GET", "/", [("Host", "127.0.0.1:9000")]))
    ... except AuthError as refused:
    ...     print(refused.error_type, "-", refused.message)
    MissingAuthenticationTokenException - Missing Authentication Token
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import hmac
import re
import time
from typing import Any
from urllib.parse import quote

from lambdastream.local.url_event import ACCOUNT_ID, HttpRequest

__all__ = ["LOCAL_USER_ARN", "AuthError", "IamAuthorizer"]

SERVICE = "lambda"  # the signing name of both Function URLs and the Invoke API
ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
# "A request must reach AWS within five minutes of the time stamp in the
# request" (IAM user guide, Signature Version 4), in both directions.
MAX_SKEW = datetime.timedelta(minutes=5)
# The identity every accepted signature maps to: the local credentials.
LOCAL_USER_ARN = f"arn:aws:iam::{ACCOUNT_ID}:user/local"

_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided."
    " Check your AWS Secret Access Key and signing method."
    " Consult the service documentation for details."
)
_BAD_TOKEN = "The security token included in the request is invalid."


class AuthError(Exception):
    """A request refused: ``error_type`` and ``message`` as AWS answers it."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message


@functools.cache
def _exact_path_signer() -> type:
    """botocore's signer, over the path as received.

    botocore removes dot segments and doubled slashes before signing, as AWS
    does for its own paths; here the path is passed to the function as sent,
    so a signature for ``/b`` must not admit ``/a/../b``. The path is still
    URI-encoded once more, as SigV4 wants for every service but S3.

    It also signs every header it is given (see ``headers_to_sign``).

    Made on first use: botocore takes ~0.2 s to import, which a ``lambdastream
    dev`` that checks no signature does not pay.
    """
    from botocore.auth import SigV4Auth

    class ExactPathSigV4(SigV4Auth):  # type: ignore[misc]
        def _normalize_url_path(self, path: str) -> str:
            return quote(path or "/", safe="/~")

        def headers_to_sign(self, request: Any) -> Any:
            # The request holds just the headers the client listed as signed:
            # all of them, even those botocore itself never signs (other SDKs
            # sign User-Agent, for one).
            return request.headers

    return ExactPathSigV4


class IamAuthorizer:
    """Verifies SigV4 signatures made with the local credentials."""

    def __init__(self, region: str, credentials: Any | None, service: str = SERVICE) -> None:
        """Check against ``credentials`` (botocore's); ``None``: refuse everything."""
        self.region = region
        self.service = service
        self.credentials = credentials.get_frozen_credentials() if credentials is not None else None

    @classmethod
    def with_local_credentials(cls, region: str, service: str = SERVICE) -> IamAuthorizer:
        """Check against the credentials botocore finds here (env, profile, SSO...)."""
        from botocore.exceptions import BotoCoreError
        from botocore.session import Session

        try:
            credentials = Session().get_credentials()
        except BotoCoreError:  # a broken profile means no credentials, not a crash
            credentials = None
        return cls(region, credentials, service)

    @property
    def has_credentials(self) -> bool:
        """Whether local credentials were found (without them, all is refused)."""
        return self.credentials is not None

    def __call__(self, request: HttpRequest) -> dict[str, Any]:
        """The Function URL's ``requestContext.authorizer``; raises :class:`AuthError`."""
        access_key = self.check(request)
        return {
            "iam": {
                "accessKey": access_key,
                "accountId": ACCOUNT_ID,
                "callerId": "LOCAL",
                "cognitoIdentity": None,
                "principalOrgId": None,
                "userArn": LOCAL_USER_ARN,
                "userId": "LOCAL",
            }
        }

    def check(self, request: HttpRequest, now: float | None = None) -> str:
        """The access key that signed ``request``; raises :class:`AuthError` if refused.

        ``now`` (seconds since the epoch) is the time the date is checked
        against; the current time if not given.
        """
        headers: dict[str, list[str]] = {}
        for name, value in request.headers:
            headers.setdefault(name.lower(), []).append(value)
        authorization = headers.get("authorization", [])
        if not authorization:
            # Query-string (presigned) authentication is not offered locally.
            raise AuthError("MissingAuthenticationTokenException", "Missing Authentication Token")
        if len(authorization) > 1:
            raise AuthError(
                "IncompleteSignatureException", "Only one Authorization header is allowed."
            )
        fields = _authorization_fields(authorization[0])
        dates = headers.get("x-amz-date", [])
        missing = [
            f"Authorization header requires '{name}' parameter."
            for name in ("Credential", "Signature", "SignedHeaders")
            if name not in fields
        ]
        if not dates:
            # The Date header is not taken here: botocore and the SDKs send X-Amz-Date.
            missing.append("Authorization header requires existence of a 'X-Amz-Date' header.")
        if missing:
            raise AuthError("IncompleteSignatureException", " ".join(missing))
        when = _amz_date(dates)
        amz_date = dates[0]
        scope = fields["Credential"].split("/")
        if len(scope) != 5:
            raise AuthError(
                "IncompleteSignatureException",
                "Credential must be ACCESS_KEY/YYYYMMDD/REGION/SERVICE/aws4_request.",
            )
        access_key, day, region, service, terminator = scope
        if terminator != TERMINATOR:
            raise AuthError(
                "InvalidSignatureException",
                f"Credential should be scoped with a valid terminator: '{TERMINATOR}',"
                f" not '{terminator}'.",
            )
        if service != self.service:
            raise AuthError(
                "InvalidSignatureException",
                f"Credential should be scoped to correct service: '{self.service}'.",
            )
        if region != self.region:
            raise AuthError(
                "InvalidSignatureException",
                f"Credential should be scoped to a valid region, not '{region}'.",
            )
        if day != amz_date[:8]:
            raise AuthError(
                "InvalidSignatureException",
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of"
                f" date from HTTP: '{day}' != '{amz_date[:8]}', from 'X-Amz-Date'.",
            )
        creds = self.credentials
        tokens = headers.get("x-amz-security-token", [])
        if (
            creds is None
            or not hmac.compare_digest(access_key.encode(), str(creds.access_key).encode())
            or tokens != ([creds.token] if creds.token else [])
        ):
            raise AuthError("UnrecognizedClientException", _BAD_TOKEN)
        _check_date(when, time.time() if now is None else now)
        signed = fields["SignedHeaders"].split(";")
        if "host" not in signed:
            raise AuthError(
                "IncompleteSignatureException",
                "'Host' must be a 'SignedHeader' in the AWS Authorization.",
            )
        _check_payload_hash(headers.get("x-amz-content-sha256"), request.body)
        target = request.target
        if not target.startswith("/") or "#" in target or any(n not in headers for n in signed):
            # An absolute-form target, a fragment (no part of a request target,
            # and dropped by the signer), or a signed header that did not come.
            raise AuthError("InvalidSignatureException", _MISMATCH)
        expected = self._signature(request, headers, signed, amz_date)
        if not hmac.compare_digest(expected.encode(), fields["Signature"].encode()):
            raise AuthError("InvalidSignatureException", _MISMATCH)
        return access_key

    def _signature(
        self,
        request: HttpRequest,
        headers: dict[str, list[str]],
        signed: list[str],
        amz_date: str,
    ) -> str:
        from botocore.awsrequest import AWSRequest

        aws_request = AWSRequest(
            method=request.method,
            # The netloc is never read (the signed Host header is); the
            # target gives the path and the query exactly as received.
            url=f"http://verify.invalid{request.target}",
            data=request.body,
        )
        # Every copy of each signed header, in the order received (setting a
        # header adds a copy): the signer joins them with commas, as AWS
        # canonicalises repeated headers.
        for name in signed:
            for value in headers[name]:
                aws_request.headers[name] = value
        aws_request.context["timestamp"] = amz_date
        signer = _exact_path_signer()(self.credentials, self.service, self.region)
        canonical = signer.canonical_request(aws_request)
        return signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)


def _authorization_fields(value: str) -> dict[str, str]:
    """``Credential``, ``SignedHeaders``, ``Signature`` of an AWS4-HMAC-SHA256 header.

    Another scheme, or a field given twice, gives no fields at all.
    """
    scheme, _, rest = value.strip().partition(" ")
    if scheme != ALGORITHM:
        return {}
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, sep, val = part.strip().partition("=")
        if not sep or key in fields:
            return {}
        fields[key] = val
    return fields


def _amz_date(values: list[str]) -> datetime.datetime:
    """The one ``X-Amz-Date`` (``20260102T030405Z``), as a UTC datetime."""
    from botocore.auth import SIGV4_TIMESTAMP

    try:
        if len(values) == 1 and _AMZ_DATE.fullmatch(values[0]):
            return datetime.datetime.strptime(values[0], SIGV4_TIMESTAMP).replace(
                tzinfo=datetime.timezone.utc
            )
    except ValueError:  # the right shape, but no such date (month 13...)
        pass
    raise AuthError(
        "IncompleteSignatureException",
        f"Date must be in ISO-8601 'basic format'. Got '{', '.join(values)}'.",
    )


def _check_date(when: datetime.datetime, now: float) -> None:
    """Refuse a date more than five minutes from ``now``, in AWS's words."""
    from botocore.auth import SIGV4_TIMESTAMP

    current = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)

    def stamp(moment: datetime.datetime) -> str:
        return moment.strftime(SIGV4_TIMESTAMP)

    if when < current - MAX_SKEW:
        raise AuthError(
            "InvalidSignatureException",
            f"Signature expired: {stamp(when)} is now earlier than {stamp(current - MAX_SKEW)}"
            f" ({stamp(current)} - 5 min.)",
        )
    if when > current + MAX_SKEW:
        raise AuthError(
            "InvalidSignatureException",
            f"Signature not yet current: {stamp(when)} is still later than"
            f" {stamp(current + MAX_SKEW)} ({stamp(current)} + 5 min.)",
        )


def _check_payload_hash(values: list[str] | None, body: bytes) -> None:
    """An ``x-amz-content-sha256`` header must be the received body's SHA-256.

    botocore's signer takes the header as the payload hash when present:
    trusting it would let a body swapped after signing through.
    """
    if values is None:
        return
    if values == ["UNSIGNED-PAYLOAD"]:
        raise AuthError(
            "InvalidSignatureException",
            "Unsigned payloads are not accepted: x-amz-content-sha256 must be the"
            " SHA-256 of the request body.",
        )
    if len(values) != 1 or values[0].lower() != hashlib.sha256(body).hexdigest():
        raise AuthError(
            "InvalidSignatureException",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )
