"""Fixtures: one real bedrock-local server per module, and real boto3 clients for it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lambdastream.bedrock.local import BackgroundServer, start_background


def bedrock_client(url: str, *, botocore_retries: int = 1) -> Any:
    """A real boto3 bedrock-runtime client with dummy credentials.

    ``botocore_retries=1`` turns botocore's own retries off, so a test sees
    what lambdastream's retry policy does on its own.
    """
    import boto3
    from botocore.config import Config

    return boto3.client(
        "bedrock-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(retries={"total_max_attempts": botocore_retries}, read_timeout=10),
    )


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with start_background(first_token_latency=0.001, tokens_per_second=2000) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: BackgroundServer) -> Any:
    return bedrock_client(server.url)
