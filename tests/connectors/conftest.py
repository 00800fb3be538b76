"""Fixtures for SQL connector tests: a connector per database and raw SQL on the side."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqltest_helpers import Db


@pytest.fixture
def db(any_db_url: str) -> Iterator[Db]:
    """The same test on SQLite, MariaDB and PostgreSQL."""
    database = Db(any_db_url)
    yield database
    database.close()


@pytest.fixture
def mariadb(mariadb_url: str) -> Iterator[Db]:
    database = Db(mariadb_url)
    yield database
    database.close()


@pytest.fixture
def postgres(postgres_url: str) -> Iterator[Db]:
    database = Db(postgres_url)
    yield database
    database.close()


@pytest.fixture
def sqlite(sqlite_url: str) -> Iterator[Db]:
    database = Db(sqlite_url)
    yield database
    database.close()
