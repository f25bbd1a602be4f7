"""Wire cost, counted (not timed): syscalls per buffered invocation and
writes per streamed chunk of the real runtime process, under strace."""

from __future__ import annotations

import shutil
import sys

import pytest
from support import missing

from bench.runtime_api_stub import base_env
from bench.syscalls import CHUNKS_PER_STREAM, HANDLERS, per_invocation


@pytest.fixture(autouse=True)
def strace() -> None:
    if shutil.which("strace") is None:
        missing("strace", "make system-deps installs it")


@pytest.fixture
def root(tmp_path):
    (tmp_path / "app.py").write_text(HANDLERS)
    return str(tmp_path)


@pytest.mark.timeout(60)
def test_a_buffered_invocation_costs_at_most_five_syscalls(root):
    command = [sys.executable, "-m", "lambdastream.runtime", "app.buffered"]
    total, detail = per_invocation(command, base_env(root, "app.buffered"), root, 20)
    assert total <= 5, detail


@pytest.mark.timeout(60)
def test_each_streamed_chunk_is_exactly_one_write(root):
    command = [sys.executable, "-m", "lambdastream.runtime", "app.streamed"]
    _, detail = per_invocation(command, base_env(root, "app.streamed"), root, 5)
    writes = sum(detail.get(name, 0) for name in ("sendto", "sendmsg", "write", "writev"))
    # every chunk, plus the last chunk that ends the stream and the GET for the next event
    assert writes == CHUNKS_PER_STREAM + 2, detail
