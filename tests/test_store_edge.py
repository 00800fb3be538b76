"""The store owns its edge: no module outside ``ferry.store`` imports a private store module.

Callers see :class:`ferry.store.Store` and the store's public modules (``leases``,
``incidents``, ``alert_queries``, ``reports``, ``users``, ``codec``), never its tables, its
SQLite rowids or its checkpointer. Every import counts: at module level or inside a function,
``import ferry.store._x``, ``from ferry.store._x import y``, ``from ferry.store import _x`` and
their relative spellings.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "ferry"
STORE = PACKAGE / "store"

STILL_PRIVATE: set[str] = set()
"""Modules allowed to import the store's private modules for now (none)."""


def _package_of(path: Path, root: Path) -> list[str]:
    """``ferry/console/_auth.py`` -> ``["ferry", "console"]``: where its relative imports start."""
    return list(path.relative_to(root).parts[:-1])


def _absolute(node: ast.ImportFrom, path: Path, root: Path) -> str:
    """The module a ``from ... import`` reads from, relative spellings resolved."""
    if not node.level:
        return node.module or ""
    package = _package_of(path, root)
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _private(name: str) -> bool:
    parts = name.split(".")
    return parts[:2] == ["ferry", "store"] and len(parts) > 2 and parts[2].startswith("_")


def private_store_imports(path: Path, root: Path = SRC) -> list[str]:
    """Every private store module ``path`` (under ``root``) imports, as ``line: module``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if _private(alias.name)]
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node, path, root)
            names = [module, *(f"{module}.{alias.name}" for alias in node.names)]
            found += [(node.lineno, name) for name in names if _private(name)][:1]
    return [f"{line}: {name}" for line, name in sorted(found)]


def _outside_the_store() -> dict[str, list[str]]:
    return {
        path.relative_to(SRC).as_posix(): imports
        for path in sorted(PACKAGE.rglob("*.py"))
        if STORE not in path.parents and (imports := private_store_imports(path))
    }


def test_no_module_outside_the_store_imports_a_private_store_module() -> None:
    leaks = {name: found for name, found in _outside_the_store().items() if name not in STILL_PRIVATE}
    assert not leaks, f"use ferry.store's public API instead: {leaks}"


def test_the_allowlist_names_only_modules_that_still_import_privately() -> None:
    stale = STILL_PRIVATE - set(_outside_the_store())
    assert not stale, f"these no longer import private store modules; drop them from STILL_PRIVATE: {stale}"


def test_every_spelling_of_a_private_import_is_found(tmp_path: Path) -> None:
    package = tmp_path / "ferry" / "console"
    package.mkdir(parents=True)
    module = package / "_probe.py"
    module.write_text(
        "import ferry.store\n"
        "from ferry.store import Store, codec\n"
        "from ferry.store.leases import acquire_lease\n"
        "import ferry.store._schema\n"
        "from ferry.store._models import RECORD_STATUSES\n"
        "from ferry.store import _state\n"
        "from ..store import _sql\n"
        "def late():\n"
        "    from ferry.store._schema import ledger\n",
        encoding="utf-8",
    )
    assert private_store_imports(module, tmp_path) == [
        "4: ferry.store._schema",
        "5: ferry.store._models",
        "6: ferry.store._state",
        "7: ferry.store._sql",
        "9: ferry.store._schema",
    ]
