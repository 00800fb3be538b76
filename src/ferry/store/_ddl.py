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

__all__ = ["create_index", "create_table"]


def create_table(name: str, *columns: Any, **options: Any) -> None:
    """``op.create_table`` unless table ``name`` exists already."""
    if not sa.inspect(op.get_bind()).has_table(name):
        op.create_table(name, *columns, **options)


def create_index(name: str, table: str, columns: Sequence[str], **options: Any) -> None:
    """``op.create_index`` unless ``table`` has an index called ``name`` already."""
    if name not in {index["name"] for index in sa.inspect(op.get_bind()).get_indexes(table)}:
        op.create_index(name, table, list(columns), **options)
