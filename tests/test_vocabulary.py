"""A constant of the protocol is defined once (style.md), in lambdastream.wire."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "lambdastream"

# value as it would be written in source -> the one module that may write it
ONCE = {
    r'b"\\0" \* 8|b"\\x00" \* 8': "wire/integration.py",
    r'"application/vnd\.awslambda\.http-integration-response"': "wire/integration.py",
    r'"Lambda-Runtime-Function-Error-Type"|"lambda-runtime-function-error-type"': (
        "wire/chunks.py"
    ),
    r'"Lambda-Runtime-Function-Error-Body"|"lambda-runtime-function-error-body"': (
        "wire/chunks.py"
    ),
    r'"application/vnd\.amazon\.eventstream"': "wire/eventstream.py",
}
# Framing written in one module only (it may write it more than once).
ONLY_IN = {
    r"%x\\r\\n": "wire/chunks.py",  # a chunk's size line
    r'b"0\\r\\n': "wire/chunks.py",  # the last chunk
    r"AWS4-HMAC-SHA256": "wire/sigv4.py",
}


@pytest.mark.parametrize("pattern", ONCE)
def test_each_protocol_constant_is_written_once(pattern):
    where = [
        f"{path.relative_to(SRC)}:{n}"
        for path in SRC.rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(pattern, line) and not line.lstrip().startswith("#")
    ]
    assert len(where) == 1 and where[0].startswith(ONCE[pattern] + ":"), where


@pytest.mark.parametrize("pattern", ONLY_IN)
def test_protocol_framing_is_written_in_one_module(pattern):
    where = {
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        for line in path.read_text().splitlines()
        if re.search(pattern, line) and not line.lstrip().startswith("#")
    }
    assert where == {ONLY_IN[pattern]}, where


def test_module_names_tell_modules_apart():
    names = [p.name for p in SRC.rglob("*.py") if p.name != "__init__.py"]
    assert names.count("client.py") == 0
    assert [n for n in names if n.startswith("invoke")] == ["invoke_api.py"]


def test_no_module_is_much_over_500_lines():
    # Small modules with one job (style.md): past ~500 lines a module does two.
    long = {
        str(path.relative_to(SRC)): n
        for path in SRC.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > 520
    }
    assert not long, long
