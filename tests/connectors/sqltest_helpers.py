"""Test helper: a database under test with a sql connector and raw SQL on the side."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ferry.connectors.registry import build_target, parse_connection
from ferry.connectors.sql import SqlConnector


def dialect_of(url: str) -> str:
    """``mysql``, ``postgresql`` or ``sqlite``."""
    return url.split(":", 1)[0].split("+", 1)[0]


class Db:
    """A database under test: its URL, dialect, a connector and raw-SQL helpers."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.dialect = dialect_of(url)
        self.engine = sa.create_engine(url)
        spec = parse_connection({"type": "sql", "name": "testdb", "url": url}, path="test")
        self.connector: SqlConnector = build_target(spec)  # type: ignore[assignment]

    def run(self, *statements: str) -> None:
        with self.engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.exec_driver_sql(sql)]

    def close(self) -> None:
        self.connector.close()
        self.engine.dispose()
