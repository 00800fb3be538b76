"""Running the Alembic migrations programmatically (no ``alembic.ini``).

Concurrent migrators (several workers starting at once on a fresh database) are serialized:
SQLite by the write lock of the ``BEGIN IMMEDIATE`` transaction the upgrade runs in,
PostgreSQL by a transaction-scoped advisory lock, MySQL/MariaDB by ``GET_LOCK`` (released
before the connection returns to the pool). A migrator that finds the schema at head does
nothing, so every process may call :func:`upgrade` on start.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from ferry.errors import FatalError

__all__ = ["VERSION_TABLE", "current_revision", "head_revision", "upgrade"]

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "ferry_alembic_version"
_PG_LOCK_KEY = 0x6665727279  # "ferry"
_MYSQL_LOCK = "ferry_store_migrate"
_LOCK_WAIT_S = 120


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    return config


def upgrade(conn: sa.Connection) -> None:
    """``alembic upgrade head`` on ``conn`` (already in a transaction), under the migration lock.

    Raises:
        FatalError: Another process held the MySQL migration lock for two minutes.
    """
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    elif dialect in ("mysql", "mariadb"):
        got = conn.execute(
            sa.text("SELECT GET_LOCK(:name, :wait)"), {"name": _MYSQL_LOCK, "wait": _LOCK_WAIT_S}
        )
        if got.scalar() != 1:
            raise FatalError(
                f"store: another process has been migrating the store for {_LOCK_WAIT_S} s; "
                "try again when it has finished"
            )
    config = _config()
    config.attributes["connection"] = conn
    try:
        command.upgrade(config, "head")
    finally:
        if dialect in ("mysql", "mariadb"):
            conn.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": _MYSQL_LOCK})


def current_revision(conn: sa.Connection) -> str | None:
    """The revision the database is at, or ``None`` if it was never migrated."""
    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def head_revision() -> str:
    """The newest revision shipped with this version of Ferry."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise FatalError(f"store: no migrations found in {MIGRATIONS}")
    return head
