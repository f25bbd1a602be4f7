"""A tool the tests drive that is missing fails the run under CI=true, and skips elsewhere."""

from __future__ import annotations

import pytest
from support import missing


@pytest.mark.parametrize(
    ("ci", "outcome"), [("true", pytest.fail.Exception), ("", pytest.skip.Exception)]
)
def test_a_missing_tool_fails_under_ci_and_skips_elsewhere(monkeypatch, ci, outcome):
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="chromium is missing"):
        missing("chromium", "make system-deps installs it")
