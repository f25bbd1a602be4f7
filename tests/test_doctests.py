"""Every example in the package's docstrings runs and shows what it says."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import lambdastream


def _modules() -> list[str]:
    names = ["lambdastream"]
    for info in pkgutil.walk_packages(lambdastream.__path__, "lambdastream."):
        if not info.name.endswith(".__main__"):  # entry points: importing one runs it
            names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
