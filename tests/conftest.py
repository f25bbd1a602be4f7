"""Fixtures: the real ``lambdastream dev``, started per test (see ``support.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import DevServer, start_dev


@pytest.fixture
def dev_server() -> Iterator[Callable[..., DevServer]]:
    """Factory: ``dev_server(handler, root, *extra_args, env=None) -> DevServer``.

    Starts ``python -m lambdastream dev HANDLER --root ROOT --port 0
    --api-port 0 *extra_args``, waits until it prints both addresses, and
    stops it (SIGINT, then kill) at teardown.
    """
    started: list[DevServer] = []

    def start(
        handler: str, root: Path, *extra_args: str, env: dict[str, str] | None = None
    ) -> DevServer:
        server = start_dev(handler, root, *extra_args, env=env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses a ``strace`` fixture counts syscalls: mark it ``strace``, so that
    ``make check`` (no system packages) can leave it to ``make test``."""
    for item in items:
        if "strace" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.strace)
