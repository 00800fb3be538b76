"""Fixtures for the store tests: a migrated store on each backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ferry.store import Store, open_store


@pytest.fixture
def store(any_db_url: str) -> Iterator[Store]:
    """A freshly migrated store on SQLite, MariaDB and PostgreSQL in turn."""
    opened = open_store(any_db_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Store]:
    """A freshly migrated SQLite store (for SQLite-only behaviour: pragmas, file locking)."""
    opened = open_store(sqlite_url)
    try:
        yield opened
    finally:
        opened.close()
