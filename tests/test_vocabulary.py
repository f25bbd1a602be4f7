"""A constant of the protocol is defined once (style.md): in the runtime, which the rest imports."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "lambdastream"

# value as it would be written in source -> the one module that may write it
ONCE = {
    r'b"\\0" \* 8|b"\\x00" \* 8': "runtime/http.py",
    r'"application/vnd\.awslambda\.http-integration-response"': "runtime/http.py",
    r'"Lambda-Runtime-Function-Error-Type"|"lambda-runtime-function-error-type"': (
        "runtime/chunked.py"
    ),
    r'"Lambda-Runtime-Function-Error-Body"|"lambda-runtime-function-error-body"': (
        "runtime/chunked.py"
    ),
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


def test_module_names_tell_modules_apart():
    names = [p.name for p in SRC.rglob("*.py") if p.name != "__init__.py"]
    assert names.count("client.py") == 0
    assert [n for n in names if n.startswith("invoke")] == ["invoke_api.py"]
