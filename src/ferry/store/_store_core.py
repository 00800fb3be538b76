"""The store's engine, transactions and lifecycle: what every :class:`~ferry.store.Store` method
stands on (the methods themselves are in ``_store_ledger`` and ``_store``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Self

import sqlalchemy as sa

from ferry._redact import remember_secrets
from ferry.store import _migrate
from ferry.store._checkpoint import Checkpointer
from ferry.store._engine import BUSY_TIMEOUT_MS, WRITE_OPTION, create_store_engine, dialect_of, resolve_url
from ferry.store._errors import guarded, translate
from ferry.store._hot import hot_for
from ferry.store._write_lock import writer_lock

__all__ = ["StoreCore"]


class StoreCore:
    """One database: its engine, the SQLite writer lock and checkpointer, one transaction per call.

    Attributes:
        url: The store URL with any password masked (safe to log).
        dialect: ``'sqlite'``, ``'mysql'`` (MySQL or MariaDB) or ``'postgresql'``.
    """

    def __init__(self, url: str | None = None, *, checkpoints: bool = True) -> None:
        """``checkpoints=False``: this process runs no WAL checkpointer thread (see
        :mod:`ferry.store._checkpoint`) -- for a child whose parent writes the same store."""
        parsed = resolve_url(url)
        remember_secrets([parsed.password or ""])  # masked wherever a message quotes it
        self.url: str = parsed.render_as_string(hide_password=True)
        self.dialect: str = dialect_of(parsed)
        self._engine = create_store_engine(parsed)
        self._opener = os.getpid()
        self._writer = (
            writer_lock(parsed.database, BUSY_TIMEOUT_MS / 1000) if self.dialect == "sqlite" else None
        )
        self._checkpointer = (
            Checkpointer(parsed.database, self._writer, BUSY_TIMEOUT_MS / 1000)
            if self._writer is not None and parsed.database and checkpoints
            else None
        )
        self._hot = hot_for(self.dialect)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release every pooled connection. The store cannot be used afterwards."""
        if self._checkpointer is not None:
            self._checkpointer.close()
        self._engine.dispose()
        if self._writer is not None:
            self._writer.close()

    @property
    def shared_across_processes(self) -> bool:
        """Whether another process (a forked deliver child) can open this same store: every
        database but an in-memory SQLite one."""
        if self.dialect != "sqlite":
            return True
        database = self._engine.url.database or ""
        return database not in ("", ":memory:") and "mode=memory" not in self.url

    def reopen(self, *, checkpoints: bool | None = None) -> Self:
        """A new store on the same database, for use in a forked child process.

        The child must not touch the parent's pooled connections (SQLite and the drivers are
        not fork-safe); this drops them from the child's view without closing them. Called in
        a process other than the one that opened this store (a forked child), the new store
        runs no WAL checkpointer: the opener's thread checkpoints for both. ``checkpoints``
        (deprecated; decided by the process now) forces the choice either way.
        """
        self._engine.dispose(close=False)
        if checkpoints is None:
            checkpoints = os.getpid() == self._opener
        return type(self)(self._engine.url.render_as_string(hide_password=False), checkpoints=checkpoints)

    @contextmanager
    def _tx(self, write: bool = False) -> Iterator[sa.Connection]:
        """One transaction: committed on normal exit, rolled back on any exception. On SQLite
        a writer first takes its turn on the store's :class:`~ferry.store._write_lock.WriterLock`."""
        turn = self._writer.held() if write and self._writer is not None else nullcontext()
        with self._engine.connect() as conn:
            if write:
                conn.execution_options(**{WRITE_OPTION: True})
            with turn, conn.begin():
                yield conn
        if write and self._checkpointer is not None:
            self._checkpointer.wrote()

    @contextmanager
    def transaction(self, write: bool = False) -> Iterator[sa.Connection]:
        """One transaction for the store's public query modules (:mod:`ferry.store.reports`,
        :mod:`ferry.store.incidents` ...), which read and write through it.

        Committed on normal exit, rolled back on any exception; database errors leave as
        Ferry errors (:class:`~ferry.errors.RetriableError` when busy or disconnected).
        """
        try:
            with self._tx(write=write) as conn:
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise translate(exc, "using the store") from exc

    # -- schema ------------------------------------------------------------------------------

    def migrate(self) -> None:
        """Upgrade the schema to the newest revision (``alembic upgrade head``); idempotent.

        Safe to call from several processes at once (see :mod:`ferry.store._migrate`).

        Raises:
            FatalError: A migration failed or the database cannot be reached.
        """
        try:
            if self._engine.dialect.name in ("mysql", "mariadb"):
                with self._engine.connect() as lock_conn, _migrate.mysql_lock(lock_conn):
                    self._upgrade()
            else:
                self._upgrade()
        except sa.exc.SQLAlchemyError as exc:
            raise translate(exc, f"migrating {self.url}") from exc

    def _upgrade(self) -> None:
        with self._tx(write=True) as conn:
            _migrate.upgrade(conn)

    @guarded("reading the schema revision")
    def current_revision(self) -> str | None:
        """The schema revision the database is at, or ``None`` if it was never migrated."""
        with self._tx() as conn:
            return _migrate.current_revision(conn)

    @staticmethod
    def head_revision() -> str:
        """The newest schema revision this version of Ferry knows."""
        return _migrate.head_revision()
