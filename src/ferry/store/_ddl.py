"""Schema changes that a migration interrupted half-way can run again.

MySQL and MariaDB commit every ``CREATE TABLE`` and ``CREATE INDEX`` on its own: a process killed
in the middle of a migration leaves some of its tables behind without the version stamp, and the
next run's migration would stop at "table already exists". The migrations create tables and
indexes through these helpers, which skip what is already there (on SQLite and PostgreSQL the
DDL is transactional and they change nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

__all__ = ["BIG_ID", "DT", "ID", "LONG_TEXT", "MEDIUM_TEXT", "create_index", "create_table", "table_options"]

ID = sa.String(191)
"""Scheme ids, record ids and numbers: 191 utf8mb4 characters fit a MySQL index."""
DT = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
LONG_TEXT = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
MEDIUM_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def table_options() -> dict[str, Any]:
    """MySQL/MariaDB: InnoDB, utf8mb4 and a binary collation without padding where the server
    has one, so ids compare byte for byte (``'a'`` and ``'a '`` differ); nothing elsewhere."""
    bind = op.get_bind()
    if bind.dialect.name not in ("mysql", "mariadb"):
        return {}
    if getattr(bind.dialect, "is_mariadb", False):
        collation = "utf8mb4_nopad_bin"
    elif (bind.dialect.server_version_info or (0,)) >= (8, 0):
        collation = "utf8mb4_0900_bin"
    else:
        collation = "utf8mb4_bin"
    return {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": collation}


def create_table(name: str, *columns: Any) -> None:
    """``op.create_table`` with :func:`table_options`, unless table ``name`` exists already."""
    if not sa.inspect(op.get_bind()).has_table(name):
        op.create_table(name, *columns, **table_options())


def create_index(name: str, table: str, columns: Sequence[str], **options: Any) -> None:
    """``op.create_index`` unless ``table`` has an index called ``name`` already."""
    if name not in {index["name"] for index in sa.inspect(op.get_bind()).get_indexes(table)}:
        op.create_index(name, table, list(columns), **options)
