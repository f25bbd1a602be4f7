"""API-key authentication for clients that cannot sign requests (the OpenAI SDKs).

``AWS_IAM`` on the Function URL stays the default: every caller signs with
SigV4 and Lambda checks it before the function runs. OpenAI-compatible
clients send ``Authorization: Bearer <key>`` instead, so in API-key mode the
URL is public (``AuthType: NONE``) and the function checks the key itself:

- the key lives in Secrets Manager; ``CHAT_API_KEY_SECRET_ARN`` names the
  secret, read once per cold start (never per request, never logged). The
  secret is the key itself, or a JSON object with an ``api_key`` field (what
  the console's key/value form stores);
- the comparison takes the same time whatever the key sent
  (:func:`hmac.compare_digest` over SHA-256 digests, so not even the key's
  length leaks);
- a request without the right key gets 401 in OpenAI's error shape before
  anything else runs.

Example::

    auth = ApiKeyAuth("s3cr3t-key")
    auth.allows({"authorization": "Bearer s3cr3t-key"})   # True
    auth.allows({"authorization": "Bearer guess"})        # False
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from typing import Any

SECRET_VARIABLE = "CHAT_API_KEY_SECRET_ARN"
# Keys shorter than this are refused at init: a guessable key is no key.
MIN_KEY_LENGTH = 16


class AuthConfigError(Exception):
    """The API-key secret cannot be used: the function fails at init, not per request."""


class ApiKeyAuth:
    """Checks ``Authorization: Bearer <key>`` against one key, in constant time.

    >>> auth = ApiKeyAuth("0123456789abcdef")
    >>> auth.allows({"authorization": "Bearer 0123456789abcdef"})
    True
    >>> auth.allows({"authorization": "Bearer 0123456789abcdeF"}), auth.allows({})
    (False, False)
    """

    def __init__(self, key: str):
        if len(key) < MIN_KEY_LENGTH:
            raise AuthConfigError(
                f"the API key in {SECRET_VARIABLE} is shorter than {MIN_KEY_LENGTH} characters"
            )
        self._digest = hashlib.sha256(key.encode("utf-8")).digest()

    def allows(self, headers: Mapping[str, str]) -> bool:
        """Whether lower-cased request ``headers`` carry the key as a Bearer token."""
        scheme, _, token = headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer":
            token = ""
        sent = hashlib.sha256(token.strip().encode("utf-8", "surrogatepass")).digest()
        return hmac.compare_digest(sent, self._digest)


def key_from_secret(secret_string: str) -> str:
    """The key a secret holds: the string itself, or its JSON object's ``api_key``.

    >>> key_from_secret('{"api_key": "k"}'), key_from_secret("k")
    ('k', 'k')
    """
    text = secret_string.strip()
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except ValueError:
            raise AuthConfigError("the API-key secret is neither a key nor JSON") from None
        key = value.get("api_key") if isinstance(value, dict) else None
        if not isinstance(key, str):
            raise AuthConfigError('the API-key secret\'s JSON has no string "api_key"')
        return key
    return text


def from_env(
    env: Mapping[str, str], secrets_client: Callable[[], Any] | None = None
) -> ApiKeyAuth | None:
    """API-key mode when ``CHAT_API_KEY_SECRET_ARN`` is set (read from Secrets Manager); else None.

    ``secrets_client`` builds the boto3 client (default: ``secretsmanager``,
    which honours ``AWS_ENDPOINT_URL_SECRETS_MANAGER``).
    """
    arn = env.get(SECRET_VARIABLE, "").strip()
    if not arn:
        return None
    if secrets_client is None:

        def secrets_client() -> Any:
            import boto3

            return boto3.client("secretsmanager")

    from botocore.exceptions import BotoCoreError, ClientError

    try:
        answer = secrets_client().get_secret_value(SecretId=arn)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "ClientError")
        raise AuthConfigError(f"cannot read the API-key secret {arn}: {code}") from None
    except BotoCoreError as exc:
        raise AuthConfigError(f"cannot read the API-key secret {arn}: {exc}") from None
    secret = answer.get("SecretString")
    if not isinstance(secret, str):
        raise AuthConfigError(f"the API-key secret {arn} holds no SecretString")
    return ApiKeyAuth(key_from_secret(secret))
