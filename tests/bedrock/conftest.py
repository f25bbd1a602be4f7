"""Fixtures: one real bedrock-local server per module, and real boto3 clients for it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support import bedrock_client

from lambdastream.bedrock.local_server import BackgroundServer, start_background


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with start_background(
        first_token_latency=0.001, tokens_per_second=2000, script="echo"
    ) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: BackgroundServer) -> Any:
    return bedrock_client(server.url)
