"""Finding the store URL and building a SQLAlchemy engine tuned for each backend.

URL resolution, first match wins: the explicit ``url`` argument, ``$FERRY_STORE_URL``, then
``sqlite:///$FERRY_HOME/ferry.db`` (``FERRY_HOME`` defaults to ``./.ferry`` and is created).
``mysql://``/``mariadb://`` mean PyMySQL and ``postgres(ql)://`` means psycopg 3.

SQLite: WAL journal (readers never block the writer and vice versa), ``synchronous=NORMAL``
(durable across a process crash; a power cut may drop the last commits, never half of one),
``busy_timeout`` 30 s and foreign keys on; the WAL is copied back into the file by a thread
of each writing process (:mod:`ferry.store._checkpoint`), not inside a writer's commit.
Transactions are begun by us, not by pysqlite: writers use ``BEGIN IMMEDIATE`` so a second
process waits for the write lock (up to the busy timeout) instead of failing with "database is
locked" when its read lock cannot be upgraded.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

from ferry.errors import ConfigError
from ferry.store._checkpoint import AUTOCHECKPOINT_PAGES, WAL_SIZE_LIMIT

__all__ = ["BUSY_TIMEOUT_MS", "create_store_engine", "dialect_of", "resolve_url"]

BUSY_TIMEOUT_MS = 30_000
WRITE_OPTION = "ferry_write"
"""Execution option marking a connection whose transactions write (SQLite: BEGIN IMMEDIATE)."""

_DRIVERS = {
    "sqlite": "sqlite",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
}
_DIALECTS = {"sqlite": "sqlite", "mysql": "mysql", "mariadb": "mysql", "postgresql": "postgresql"}


def resolve_url(url: str | None = None) -> URL:
    """Return the store URL to use, with the default driver filled in.

    Raises:
        ConfigError: The URL cannot be parsed, names an unsupported database, or points
            SQLite into a directory that does not exist.
    """
    raw = url or os.environ.get("FERRY_STORE_URL") or _default_url()
    scheme, sep, rest = raw.partition("://")
    if not sep:
        raise ConfigError(
            f"store URL {raw!r} is not a URL\n  hint: use e.g. sqlite:///path/ferry.db, "
            "mysql+pymysql://user:pw@host/db or postgresql+psycopg://user@host/db"
        )
    scheme = _DRIVERS.get(scheme.lower(), scheme)
    try:
        parsed = make_url(f"{scheme}://{rest}")
    except sa.exc.ArgumentError as exc:
        raise ConfigError(f"store URL cannot be parsed: {exc}") from exc
    dialect = dialect_of(parsed)
    if dialect == "sqlite":
        _check_sqlite_path(parsed)
    elif dialect == "mysql" and "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return parsed


def dialect_of(url: URL) -> str:
    """``'sqlite'``, ``'mysql'`` (also MariaDB) or ``'postgresql'``.

    Raises:
        ConfigError: Another database was named.
    """
    backend = url.get_backend_name()
    try:
        return _DIALECTS[backend]
    except KeyError:
        raise ConfigError(
            f"unsupported store database {backend!r}; supported: sqlite, mysql/mariadb, postgresql"
        ) from None


def _default_url() -> str:
    home = Path(os.environ.get("FERRY_HOME") or ".ferry").expanduser()
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create FERRY_HOME directory {str(home)!r}: {exc.strerror}\n"
            "  hint: set FERRY_HOME to a writable directory or FERRY_STORE_URL to another store"
        ) from exc
    return f"sqlite:///{home.resolve() / 'ferry.db'}"


def _check_sqlite_path(url: URL) -> None:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return
    parent = Path(database).expanduser().parent
    if not parent.is_dir():
        raise ConfigError(
            f"store URL points to {database!r} but directory {str(parent)!r} does not exist\n"
            "  hint: create the directory or fix FERRY_STORE_URL"
        )


def create_store_engine(url: URL) -> Engine:
    """Build the engine for ``url`` (see the module docstring for per-backend settings)."""
    dialect = dialect_of(url)
    if dialect == "sqlite":
        return _sqlite_engine(url)
    if dialect == "mysql":
        return sa.create_engine(url, pool_pre_ping=True, pool_recycle=3600, isolation_level="READ COMMITTED")
    # psycopg prepares a statement after 5 runs and PostgreSQL may then pin a generic plan
    # chosen while the ledger was small (a sequential scan); always plan with the values.
    return sa.create_engine(
        url, pool_pre_ping=True, connect_args={"options": "-c plan_cache_mode=force_custom_plan"}
    )


def _use_wal(cursor: Any) -> None:
    """Switch the file to WAL (persistent, so usually already done). Changing the journal mode
    while another connection opens the same new file answers "database is locked" at once,
    without the busy timeout, so the switch is retried for up to the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _sqlite_engine(url: URL) -> Engine:
    engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
    file_backed = (url.database or ":memory:") != ":memory:"

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see module doc)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if file_backed:
                _use_wal(cursor)
                # Checkpoints run in a thread (ferry.store._checkpoint); this is the safety net.
                cursor.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")
                cursor.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine
