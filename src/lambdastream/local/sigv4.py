"""``--auth AWS_IAM``: check a Function URL request's SigV4 signature.

The signature is recomputed with botocore's signer from the local
credentials (service ``lambda``, the function's region) over exactly the
headers the client signed. Anything else (unsigned, another key, a bad
signature, a stale date, another service or region) is refused; the caller
answers 403 ``{"Message":"Forbidden"}`` and the function never runs.
Credentials and the Authorization header are never logged.

Example::

    authorize = IamAuthorizer(region="us-east-1")
    authorizer = authorize(request)   # requestContext.authorizer, or None
"""

from __future__ import annotations

import datetime
import hmac
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import BotoCoreError
from botocore.session import Session

from lambdastream.local.url_event import ACCOUNT_ID, HttpRequest

__all__ = ["IamAuthorizer"]

_MAX_SKEW = datetime.timedelta(minutes=15)


class IamAuthorizer:
    """Verifies SigV4 signatures made with the local credentials."""

    def __init__(self, region: str, credentials: Any | None = None) -> None:
        self.region = region
        creds = credentials
        if creds is None:
            try:
                creds = Session().get_credentials()
            except BotoCoreError:  # a broken profile means no credentials, not a crash
                creds = None
        self.credentials = creds.get_frozen_credentials() if creds is not None else None

    @property
    def has_credentials(self) -> bool:
        """Whether local credentials were found (without them, all is refused)."""
        return self.credentials is not None

    def __call__(self, request: HttpRequest) -> dict[str, Any] | None:
        creds = self.credentials
        if creds is None:
            return None
        headers = {k.lower(): v for k, v in request.headers}
        parsed = _parse_authorization(headers.get("authorization", ""))
        if parsed is None:
            return None
        access_key, date, region, service, signed, signature = parsed
        amz_date = headers.get("x-amz-date", "")
        if (
            access_key != creds.access_key
            or service != "lambda"
            or region != self.region
            or not amz_date.startswith(date)
            or "host" not in signed
            or any(name not in headers for name in signed)
        ):
            return None
        if creds.token and headers.get("x-amz-security-token") != creds.token:
            return None
        try:
            when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
                tzinfo=datetime.timezone.utc
            )
        except ValueError:
            return None
        if abs(datetime.datetime.now(datetime.timezone.utc) - when) > _MAX_SKEW:
            return None
        expected = self._signature(request, headers, signed, amz_date, creds)
        if not hmac.compare_digest(expected, signature):
            return None
        return {
            "iam": {
                "accessKey": access_key,
                "accountId": ACCOUNT_ID,
                "callerId": "LOCAL",
                "cognitoIdentity": None,
                "principalOrgId": None,
                "userArn": f"arn:aws:iam::{ACCOUNT_ID}:user/local",
                "userId": "LOCAL",
            }
        }

    def _signature(
        self,
        request: HttpRequest,
        headers: dict[str, str],
        signed: list[str],
        amz_date: str,
        creds: Any,
    ) -> str:
        url = f"http://{headers['host']}{request.target}"
        aws_request = AWSRequest(
            method=request.method,
            url=url,
            headers={name: headers[name] for name in signed},
            data=request.body,
        )
        aws_request.context["timestamp"] = amz_date
        signer = SigV4Auth(creds, "lambda", self.region)
        canonical = signer.canonical_request(aws_request)
        return signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)


def _parse_authorization(value: str) -> tuple[str, str, str, str, list[str], str] | None:
    scheme, _, rest = value.partition(" ")
    if scheme != "AWS4-HMAC-SHA256":
        return None
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, sep, val = part.strip().partition("=")
        if sep:
            fields[key] = val
    try:
        access_key, date, region, service, terminator = fields["Credential"].split("/")
        signed = fields["SignedHeaders"].split(";")
        signature = fields["Signature"]
    except (KeyError, ValueError):
        return None
    if terminator != "aws4_request":
        return None
    return access_key, date, region, service, signed, signature
