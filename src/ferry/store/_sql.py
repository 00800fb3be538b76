"""Small SQL helpers shared by the store modules: dialect upserts, chunking, time checks."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite

__all__ = ["IN_CHUNK", "aware", "chunks", "upsert", "utcnow"]

IN_CHUNK = 900
"""Most values bound into one ``IN (...)`` list (well under every backend's parameter limit)."""

T = TypeVar("T")


def utcnow() -> datetime:
    """The current instant, tz-aware UTC."""
    return datetime.now(UTC)


def aware(value: datetime | None, name: str) -> datetime | None:
    """Return ``value`` unchanged if it is ``None`` or tz-aware.

    Raises:
        ValueError: ``value`` is naive; the message names the argument.
    """
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(
            f"{name} must be a tz-aware datetime (got naive {value.isoformat()}); "
            "hint: attach a zone, e.g. value.replace(tzinfo=ZoneInfo('Asia/Shanghai'))"
        )
    return value


def chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """Yield consecutive slices of ``items`` of at most ``size`` elements."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def upsert(
    conn: sa.Connection,
    table: sa.Table,
    values: Mapping[str, Any],
    update: Sequence[str],
) -> None:
    """Insert ``values``; on a primary-key clash update only the columns in ``update``."""
    dialect = conn.dialect.name
    if dialect in ("mysql", "mariadb"):
        my_stmt = mysql.insert(table).values(dict(values))
        conn.execute(my_stmt.on_duplicate_key_update({c: my_stmt.inserted[c] for c in update}))
        return
    insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
    stmt = insert(table).values(dict(values))
    keys = [c.name for c in table.primary_key.columns]
    conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_={c: stmt.excluded[c] for c in update}))
