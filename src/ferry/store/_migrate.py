"""Running the Alembic migrations programmatically (no ``alembic.ini``).

Concurrent migrators (several workers starting at once on a fresh database) are serialized:
SQLite by the write lock of the ``BEGIN IMMEDIATE`` transaction the upgrade runs in,
PostgreSQL by a transaction-scoped advisory lock, MySQL/MariaDB by ``GET_LOCK`` taken on a
separate connection (:func:`mysql_lock`) and released only after the migration's transaction
has committed -- MySQL's DDL commits as it goes, but the last version stamp commits with the
transaction, and a second migrator must not read the version before that. A migrator that finds the schema at head does
nothing, so every process may call :func:`upgrade` on start.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from ferry.errors import FatalError

__all__ = ["VERSION_TABLE", "current_revision", "head_revision", "mysql_lock", "upgrade"]

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "ferry_alembic_version"
_PG_LOCK_KEY = 0x6665727279  # "ferry"
_MYSQL_LOCK = "ferry_store_migrate"
_LOCK_WAIT_S = 120


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    return config


@contextmanager
def mysql_lock(conn: sa.Connection) -> Iterator[None]:
    """Hold the store-wide migration lock on the MySQL/MariaDB connection ``conn``.

    Raises:
        FatalError: Another process held the lock for two minutes.
    """
    got = conn.execute(sa.text("SELECT GET_LOCK(:name, :wait)"), {"name": _MYSQL_LOCK, "wait": _LOCK_WAIT_S})
    if got.scalar() != 1:
        raise FatalError(
            f"store: another process has been migrating the store for {_LOCK_WAIT_S} s; "
            "try again when it has finished"
        )
    try:
        yield
    finally:
        conn.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": _MYSQL_LOCK})


def upgrade(conn: sa.Connection) -> None:
    """``alembic upgrade head`` on ``conn`` (already in a transaction).

    On MySQL/MariaDB the caller holds :func:`mysql_lock` on another connection until this
    transaction has committed; PostgreSQL takes its advisory lock here.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    config = _config()
    config.attributes["connection"] = conn
    command.upgrade(config, "head")


def current_revision(conn: sa.Connection) -> str | None:
    """The revision the database is at, or ``None`` if it was never migrated."""
    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def head_revision() -> str:
    """The newest revision shipped with this version of Ferry."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise FatalError(f"store: no migrations found in {MIGRATIONS}")
    return head
