"""The import graph: layers one way, and no cycle inside the engine.

Every ``import`` counts, including those inside functions and under ``TYPE_CHECKING``: a
dependency is a dependency, whenever it is loaded.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
LAYERS = {
    "store": 0,
    "connectors": 1,
    "transform": 2,
    "expr": 2,
    "engine": 3,
    "console": 4,
    "schedule": 4,
    "cli": 5,
}
"""cli → console/schedule → engine → transform/expr → connectors → store: a package may import
its own layer and those below it, never one above."""


def _name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    files = {_name(path): path for path in (SRC / "ferry").rglob("*.py")}
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in files.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.ImportFrom)
                and node.level == 0
                and (node.module or "").startswith("ferry")
            ):
                module = node.module or ""
                for alias in node.names:  # `from package import module` depends on the module
                    sub = f"{module}.{alias.name}"
                    graph[name].add(sub if sub in files else module)
            elif isinstance(node, ast.Import):
                graph[name] |= {alias.name for alias in node.names if alias.name.startswith("ferry")}
        graph[name] = {target for target in graph[name] if target in files and target != name}
    return graph


def _cycles(graph: dict[str, set[str]], nodes: set[str]) -> list[list[str]]:
    """The strongly connected components of more than one module among ``nodes`` (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in nodes:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return found


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 else None


def test_the_engine_imports_no_cycle() -> None:
    graph = _graph()
    engine = {name for name in graph if name.startswith("ferry.engine")}
    assert len(engine) > 10
    assert _cycles(graph, engine) == []


def test_packages_import_their_own_layer_or_those_below_only() -> None:
    upward = [
        f"{name} -> {target}"
        for name, targets in _graph().items()
        for target in targets
        if (low := _layer(name)) is not None and (high := _layer(target)) is not None and high > low
    ]
    assert upward == []


def test_the_checks_can_fail() -> None:
    graph = {"ferry.engine.a": {"ferry.engine.b"}, "ferry.engine.b": {"ferry.engine.a"}}
    assert _cycles(graph, set(graph)) == [["ferry.engine.a", "ferry.engine.b"]]
    assert _layer("ferry.store._store") == 0 and _layer("ferry.cli.run") == 5
