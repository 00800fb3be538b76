"""Fixtures for the ``ferry`` command tests.

``shop`` builds the two SQLite files the fixture schemes in ``fixtures/`` read and write
(chosen through ``FERRY_CLI_SOURCE_DB`` / ``FERRY_CLI_TARGET_DB``); ``ferry`` invokes the CLI
in-process against the test's own store (``sqlite_url``), so no test touches ``./.ferry``.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ferry.cli.main import app
from ferry.store import Store, open_store

FIXTURES = Path(__file__).parent / "fixtures"

PRODUCTS = [
    ("A1", "IC-A1", "螺丝 M3", 1.5),
    ("A2", "IC-A2", "螺母 M3", 0.5),
    ("A3", "IC-A3", "垫片 M3", 0.1),
]


@dataclass
class Shop:
    """The source and target databases of the fixture schemes, and the scheme files."""

    source: Path
    target: Path
    schemes: Path

    def scheme(self, name: str = "products.yaml") -> str:
        return str(self.schemes / name)

    def add_product(self, sku: str, item_code: str | None, name: str, price: float = 1.0) -> None:
        with sqlite3.connect(self.source) as conn:
            conn.execute("INSERT INTO products VALUES (?, ?, ?, ?)", (sku, item_code, name, price))

    def copied(self) -> list[tuple[str, str, str]]:
        """Rows the target table holds, by SKU."""
        with sqlite3.connect(self.target) as conn:
            return conn.execute(
                "SELECT sku_id, item_code, sku_name FROM product_copy ORDER BY sku_id"
            ).fetchall()


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Shop:
    """Three products in the source, an empty target table, scheme files in a temp folder."""
    source, target = tmp_path / "shop.db", tmp_path / "warehouse.db"
    with sqlite3.connect(source) as conn:
        conn.execute(
            "CREATE TABLE products (sku_id TEXT PRIMARY KEY, item_code TEXT, sku_name TEXT, price REAL)"
        )
        conn.executemany("INSERT INTO products VALUES (?, ?, ?, ?)", PRODUCTS)
    with sqlite3.connect(target) as conn:
        conn.execute(
            "CREATE TABLE product_copy (sku_id TEXT PRIMARY KEY, item_code TEXT NOT NULL, sku_name TEXT)"
        )
    schemes = tmp_path / "schemes"
    shutil.copytree(FIXTURES, schemes)
    monkeypatch.setenv("FERRY_CLI_SOURCE_DB", str(source))
    monkeypatch.setenv("FERRY_CLI_TARGET_DB", str(target))
    return Shop(source, target, schemes)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never read a developer's FERRY_STORE_URL; a default store would live in the temp dir."""
    monkeypatch.delenv("FERRY_STORE_URL", raising=False)
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "160")


Invoke = Callable[..., Result]


@pytest.fixture
def ferry(sqlite_url: str) -> Invoke:
    """``ferry("records", "--json")`` runs the CLI against this test's store; returns the Result."""
    runner = CliRunner()

    def invoke(*args: str, store: str | None = sqlite_url) -> Result:
        prefix = ["--store", store] if store else []
        return runner.invoke(app, [*prefix, *args], catch_exceptions=False)

    return invoke


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    """The same store the ``ferry`` fixture uses, for arranging and asserting state."""
    st = open_store(sqlite_url)
    yield st
    st.close()
