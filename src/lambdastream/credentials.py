"""The AWS credentials botocore finds on this machine (env, profile, SSO...).

``lambdastream dev`` and ``bedrock-local`` check SigV4 signatures against
them (:mod:`lambdastream.wire.sigv4`); botocore is imported only when a
signature is to be checked.

Example::

    credentials = local_credentials()   # None when there are none
"""

from __future__ import annotations

from lambdastream.wire.sigv4 import Credentials

__all__ = ["local_credentials"]


def local_credentials() -> Credentials | None:
    """The credentials botocore resolves here, frozen; ``None`` if there are none."""
    from botocore.exceptions import BotoCoreError
    from botocore.session import Session

    try:
        found = Session().get_credentials()
    except BotoCoreError:  # a broken profile means no credentials, not a crash
        return None
    if found is None:
        return None
    frozen = found.get_frozen_credentials()
    return Credentials(str(frozen.access_key), str(frozen.secret_key), frozen.token or None)
