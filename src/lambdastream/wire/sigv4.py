"""Check a request's SigV4 signature against known credentials (sans-I/O, standard library).

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

The canonical request, string to sign and signature are SigV4's, as
botocore's ``SigV4Auth`` computes them for every service but S3 (the path
URI-encoded once more, headers trimmed and joined, the query sorted), over
the path as received; tests/local/test_local_sigv4.py checks them against
botocore's. Service ``lambda`` unless told, the function's region. A refusal
is an :class:`AuthError` carrying the error type and message AWS gives; the
frontends turn it into their answer (the Function URL's 403 Forbidden, the
Invoke API's 403 with ``x-amzn-ErrorType``). Credentials and the
Authorization header are never logged.

Example::

    >>> from lambdastream.wire.request import HttpRequest
    >>> verify = SigV4Verifier("us-east-1", Credentials("AKID", "secret"))
    >>> try:
    ...     verify.check(HttpRequest("GET", "/", [("Host", "127.0.0.1:9000")]))
    ... except AuthError as refused:
    ...     print(refused.error_type, "-", refused.message)
    MissingAuthenticationTokenException - Missing Authentication Token
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from lambdastream.wire.request import HttpRequest

__all__ = ["AuthError", "Credentials", "SigV4Verifier", "canonical_request", "signature"]

SERVICE = "lambda"  # the signing name of both Function URLs and the Invoke API
ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
# "A request must reach AWS within five minutes of the time stamp in the
# request" (IAM user guide, Signature Version 4), in both directions.
MAX_SKEW = datetime.timedelta(minutes=5)
TIMESTAMP = "%Y%m%dT%H%M%SZ"  # X-Amz-Date, ISO 8601 basic format

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


@dataclass(frozen=True)
class Credentials:
    """The keys a signature is checked against (``token``: a session token, if any)."""

    access_key: str
    secret_key: str
    token: str | None = None

    def __repr__(self) -> str:  # never the secret, in a log or a traceback
        return f"Credentials(access_key={self.access_key!r}, ...)"


class SigV4Verifier:
    """Verifies SigV4 signatures made with one set of credentials."""

    def __init__(
        self, region: str, credentials: Credentials | None, service: str = SERVICE
    ) -> None:
        """Check against ``credentials``; ``None``: refuse everything."""
        self.region = region
        self.service = service
        self.credentials = credentials

    @property
    def has_credentials(self) -> bool:
        """Whether there are credentials to check against (without, all is refused)."""
        return self.credentials is not None

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
            or not hmac.compare_digest(access_key.encode(), creds.access_key.encode())
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
        payload_hash = _check_payload_hash(headers.get("x-amz-content-sha256"), request.body)
        target = request.target
        if not target.startswith("/") or "#" in target or any(n not in headers for n in signed):
            # An absolute-form target, a fragment (no part of a request target,
            # and dropped by a signer), or a signed header that did not come.
            raise AuthError("InvalidSignatureException", _MISMATCH)
        canonical = canonical_request(
            request.method, target, [(n, v) for n in signed for v in headers[n]], payload_hash
        )
        scope_text = f"{day}/{region}/{service}/{TERMINATOR}"
        expected = signature(creds.secret_key, amz_date, scope_text, canonical)
        if not hmac.compare_digest(expected.encode(), fields["Signature"].encode()):
            raise AuthError("InvalidSignatureException", _MISMATCH)
        return access_key


def canonical_request(
    method: str, target: str, signed_headers: list[tuple[str, str]], payload_hash: str
) -> str:
    """SigV4's canonical request over the path and query exactly as received.

    ``signed_headers``: (name, value) for every copy of every signed header,
    in the order received. No dot segment or doubled slash is removed (a
    signature for ``/b`` must not admit ``/a/../b``); the path is
    URI-encoded once more, as for every service but S3.

    >>> print(canonical_request("GET", "/a b/?z=1&a=2", [("Host", " h  1 ")], "e3b0"))
    GET
    /a%20b/
    a=2&z=1
    host:h 1
    <BLANKLINE>
    host
    e3b0
    """
    parts = urlsplit(f"http://verify.invalid{target}")
    path = quote(parts.path or "/", safe="/~")
    query_pairs = parts.query.split("&") if parts.query else []
    pairs = sorted(pair.partition("=")[::2] for pair in query_pairs)
    query = "&".join(f"{key}={value}" for key, value in pairs)
    values: dict[str, list[str]] = {}
    for name, value in signed_headers:
        # Trimall: no leading or trailing space, runs of spaces as one.
        values.setdefault(name.lower().strip(), []).append(" ".join(value.split()))
    names = sorted(values)
    lines = "".join(f"{name}:{','.join(values[name])}\n" for name in names)
    return f"{method}\n{path}\n{query}\n{lines}\n{';'.join(names)}\n{payload_hash}"


def signature(secret_key: str, amz_date: str, scope: str, canonical: str) -> str:
    """The hex signature of ``canonical``, made at ``amz_date`` within ``scope``."""
    string_to_sign = "\n".join(
        (ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest())
    )
    key = ("AWS4" + secret_key).encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


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
    try:
        if len(values) == 1 and _AMZ_DATE.fullmatch(values[0]):
            return datetime.datetime.strptime(values[0], TIMESTAMP).replace(
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
    current = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)

    def stamp(moment: datetime.datetime) -> str:
        return moment.strftime(TIMESTAMP)

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


def _check_payload_hash(values: list[str] | None, body: bytes) -> str:
    """The received body's SHA-256, which an ``x-amz-content-sha256`` header must equal.

    A signer takes the header as the payload hash when present: trusting it
    would let a body swapped after signing through.
    """
    digest = hashlib.sha256(body).hexdigest()
    if values is None:
        return digest
    if values == ["UNSIGNED-PAYLOAD"]:
        raise AuthError(
            "InvalidSignatureException",
            "Unsigned payloads are not accepted: x-amz-content-sha256 must be the"
            " SHA-256 of the request body.",
        )
    if len(values) != 1 or values[0].lower() != digest:
        raise AuthError(
            "InvalidSignatureException",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )
    return values[0]
