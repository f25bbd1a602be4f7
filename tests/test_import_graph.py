"""The package import graph: the walls between packages, and no cycles.

Every ``import`` of ``lambdastream`` in the source counts, a lazy one inside
a function or one for type checking included: a dependency is a dependency,
whenever it loads. The walls:

- ``lambdastream.wire`` (the protocols) imports nothing of ours;
- ``lambdastream.runtime`` (it ships in every function) imports only itself
  and ``wire``;
- ``httpserver`` knows nothing of ``local`` (the local Lambda) and
  ``bedrock`` nothing of ``local``;
- packages import each other without a cycle, and so do the modules of each
  package.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "lambdastream"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """The ``lambdastream`` modules ``path`` imports (a name imported from a package
    counts as its submodule when one of that name exists)."""
    found: set[str] = set()
    this = module_name(path)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("lambdastream"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = this.split(".")[: -node.level or None]
                if path.name == "__init__.py":
                    base = this.split(".")[: len(this.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if not module.startswith("lambdastream"):
                continue
            found.add(module)
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                if sub in MODULES:
                    found.add(sub)
    found.discard(this)
    return found


MODULES = {module_name(p) for p in PACKAGE.rglob("*.py")}
GRAPH = {module_name(p): imports_of(p) for p in PACKAGE.rglob("*.py")}


def unit(module: str) -> str:
    """The package a module belongs to (``lambdastream.local``), or the module itself."""
    parts = module.split(".")
    if len(parts) > 1 and f"lambdastream.{parts[1]}" in MODULES and (PACKAGE / parts[1]).is_dir():
        return f"lambdastream.{parts[1]}"
    return module


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@pytest.mark.parametrize(
    ("package", "allowed"),
    [
        ("lambdastream.wire", ["lambdastream.wire"]),
        ("lambdastream.runtime", ["lambdastream.runtime", "lambdastream.wire"]),
    ],
)
def test_a_package_imports_only_what_it_may(package, allowed):
    stray = {
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        if _in(module, package)
        for target in targets
        if not any(_in(target, a) for a in allowed) and target != "lambdastream"
    }
    assert not stray, sorted(stray)


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("lambdastream.httpserver", "lambdastream.local"),
        ("lambdastream.httpserver", "lambdastream.bedrock"),
        ("lambdastream.bedrock", "lambdastream.local"),
        ("lambdastream.caller", "lambdastream.local"),
    ],
)
def test_the_walls_between_packages_hold(package, forbidden):
    through = {
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        if _in(module, package)
        for target in targets
        if _in(target, forbidden)
    }
    assert not through, sorted(through)


def test_packages_import_each_other_without_a_cycle():
    edges: dict[str, set[str]] = defaultdict(set)
    for module, targets in GRAPH.items():
        for target in targets:
            if unit(target) != unit(module) and target != "lambdastream":
                edges[unit(module)].add(unit(target))
    assert cycles(edges) == []


def test_the_modules_of_each_package_import_each_other_without_a_cycle():
    edges: dict[str, set[str]] = defaultdict(set)
    for module, targets in GRAPH.items():
        for target in targets:
            if unit(target) == unit(module) and target in MODULES and target != unit(module):
                edges[module].add(target)
    assert cycles(edges) == []


def test_the_graph_is_read_at_all():
    # The walls above are only as good as the reading: spot-check it.
    assert "lambdastream.wire.chunks" in GRAPH["lambdastream.runtime.api_client"]
    assert "lambdastream.wire.request" in GRAPH["lambdastream.httpserver.reader"]
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
