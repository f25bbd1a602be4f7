"""Who calls the local Lambda: its account, its user, and SigV4 with the local credentials.

Every accepted signature maps to one identity, the local user, in the one
local account (``123456789012``, the account AWS's documentation uses).

Example::

    >>> LOCAL_USER_ARN
    'arn:aws:iam::123456789012:user/local'
"""

from __future__ import annotations

from typing import Any

from lambdastream.wire.request import HttpRequest
from lambdastream.wire.sigv4 import SERVICE, SigV4Verifier

__all__ = ["ACCOUNT_ID", "LOCAL_USER_ARN", "IamAuthorizer"]

ACCOUNT_ID = "123456789012"
LOCAL_USER_ARN = f"arn:aws:iam::{ACCOUNT_ID}:user/local"


class IamAuthorizer(SigV4Verifier):
    """SigV4 with the local credentials, and the caller as a Function URL event names it."""

    @classmethod
    def with_local_credentials(cls, region: str, service: str = SERVICE) -> IamAuthorizer:
        """Check against the credentials botocore finds here (env, profile, SSO...)."""
        from lambdastream.credentials import local_credentials

        return cls(region, local_credentials(), service)

    def __call__(self, request: HttpRequest) -> dict[str, Any]:
        """The Function URL's ``requestContext.authorizer``; raises ``AuthError``."""
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
