"""The README's Python examples in the Bedrock section at least compile, as a reader copies them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = "## Stream a Bedrock model"


def bedrock_python_blocks() -> list[str]:
    """The ```python blocks from the Bedrock section's heading to the next ``## `` heading."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n{SECTION}")
    end = text.find("\n## ", start + 1)
    section = text[start : end if end >= 0 else len(text)]
    return re.findall(r"^```python\n(.*?)^```", section, re.S | re.M)


def test_the_bedrock_section_has_python_examples():
    assert len(bedrock_python_blocks()) >= 2


@pytest.mark.parametrize("index", range(len(bedrock_python_blocks())))
def test_bedrock_python_example_compiles(index):
    compile(bedrock_python_blocks()[index], f"README.md (Bedrock example {index + 1})", "exec")
