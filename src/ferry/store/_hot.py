"""Hand-written SQL for the ledger's hot paths (upsert, claim, results), per backend.

Why not plain SQLAlchemy Core here: building and type-processing parameters row by row costs
more than SQLite's own work (measured: ~22k rows/s through Core against ~55k rows/s through
the driver on the same statements). These statements are therefore sent with
``Connection.exec_driver_sql`` — still inside the store's transaction — with values already
in the driver's form: one timestamp conversion per call, not per row and column.

Timestamps are written exactly as SQLAlchemy's own types write them (SQLite:
``'YYYY-MM-DD HH:MM:SS.ffffff'`` text, which sorts as time; MySQL/PostgreSQL: naive UTC
datetimes), so rows written here and rows written through :mod:`ferry.store._schema` mix.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

import sqlalchemy as sa

__all__ = ["LEDGER_FIELDS", "Hot", "hot_for", "hot_sql"]

LEDGER_FIELDS = (
    "scheme_id",
    "record_id",
    "number",
    "content",
    "content_hash",
    "status",
    "attempts",
    "next_attempt_at",
    "last_error",
    "target_response",
    "window_start",
    "window_end",
    "created_at",
    "updated_at",
    "delivered_at",
    "run_id",
)
"""Columns of a :class:`~ferry.store.LedgerRow`, in its field order."""

INSERT_FIELDS = (
    "scheme_id",
    "record_id",
    "number",
    "content",
    "content_hash",
    "status",
    "attempts",
    "requeue",
    "next_attempt_at",
    "window_start",
    "window_end",
    "run_id",
    "created_at",
    "updated_at",
)
_TIME_COLUMNS = tuple(i for i, name in enumerate(LEDGER_FIELDS) if name.endswith("_at") or "window" in name)


def _sqlite_to_db(value: datetime | None) -> Any:
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _sqlite_from_db(value: Any) -> datetime | None:
    # Appending the offset is ~8x faster than .replace(tzinfo=UTC) on CPython 3.11.
    return None if value is None else datetime.fromisoformat(value + "+00:00")


def _naive_to_db(value: datetime | None) -> Any:
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None)


def _naive_from_db(value: Any) -> datetime | None:
    return None if value is None else datetime.combine(value.date(), value.time(), UTC)


def _sqlite_literal(value: Any) -> str:
    """A SQL literal of a value Ferry made itself (a timestamp text, an int, a status)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool | int):
        return str(int(value))
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no SQLite literal for {type(value).__name__}")


class Hot:
    """The hot-path statements and value converters of one backend.

    Id lists: ``record_id IN (?, ?, ...)`` on SQLite and MySQL; on PostgreSQL
    ``record_id IN (SELECT unnest(CAST(%s AS text[])))`` with the ids as one array, because
    without fresh statistics (a ledger that grew in its first run, before autovacuum) the
    planner prefers scanning the whole scheme over 500 primary-key probes (measured: 400 ms
    against 5 ms per page).
    """

    def __init__(self, dialect: str) -> None:
        p = "?" if dialect == "sqlite" else "%s"
        self.p = p
        self.dialect = dialect
        self.to_db: Callable[[datetime | None], Any] = _sqlite_to_db if dialect == "sqlite" else _naive_to_db
        self.from_db: Callable[[Any], datetime | None] = (
            _sqlite_from_db if dialect == "sqlite" else _naive_from_db
        )
        self.false = "0" if dialect in ("sqlite", "mysql") else "FALSE"
        lock = "" if dialect == "sqlite" else " FOR UPDATE SKIP LOCKED"
        columns = ", ".join(LEDGER_FIELDS)

        self.insert = (
            f"INSERT INTO ledger ({', '.join(INSERT_FIELDS)}) VALUES ({', '.join([p] * len(INSERT_FIELDS))})"
        )
        # MySQL applies SET left to right, each assignment seeing the earlier ones: requeue
        # reads the old content_hash and status, and status is assigned last.
        # Params: hash, now, number, content, hash, window_start, window_end, run_id, now, scheme, id.
        self.redeliver = (
            "UPDATE ledger SET "
            f"requeue = CASE WHEN status = 'queued' THEN (requeue OR content_hash <> {p}) ELSE {self.false} END, "
            "attempts = CASE WHEN status = 'queued' THEN attempts ELSE 0 END, "
            f"next_attempt_at = CASE WHEN status = 'queued' THEN next_attempt_at ELSE {p} END, "
            f"number = {p}, content = {p}, content_hash = {p}, window_start = {p}, window_end = {p}, "
            f"run_id = COALESCE({p}, run_id), updated_at = {p}, "
            "status = CASE WHEN status = 'queued' THEN status ELSE 'pending' END "
            f"WHERE scheme_id = {p} AND record_id = {p}"
        )
        # MySQL: new and redelivered rows in ONE multi-row statement (PyMySQL batches
        # INSERT ... VALUES ... ON DUPLICATE KEY UPDATE, but runs UPDATEs one round trip each).
        # Unqualified names are the existing row, VALUES(x) the row we sent.
        self.insert_or_redeliver = (
            f"{self.insert} ON DUPLICATE KEY UPDATE "
            "requeue = IF(status = 'queued', requeue OR content_hash <> VALUES(content_hash), 0), "
            "attempts = IF(status = 'queued', attempts, 0), "
            "next_attempt_at = IF(status = 'queued', next_attempt_at, VALUES(next_attempt_at)), "
            "number = VALUES(number), content = VALUES(content), content_hash = VALUES(content_hash), "
            "window_start = VALUES(window_start), window_end = VALUES(window_end), "
            "run_id = COALESCE(VALUES(run_id), run_id), updated_at = VALUES(updated_at), "
            "status = IF(status = 'queued', status, 'pending')"
        )
        # Params: scheme, (now,) limit.
        self.due_errors = (
            f"SELECT {columns} FROM ledger WHERE scheme_id = {p} AND status = 'error' "
            f"AND next_attempt_at <= {p} ORDER BY next_attempt_at LIMIT {p}{lock}"
        )
        self.due_pending = (
            f"SELECT {columns} FROM ledger WHERE scheme_id = {p} AND status = 'pending' "
            f"ORDER BY next_attempt_at LIMIT {p}{lock}"
        )

    def insert_page(
        self, status: str, at: Any, window_start: Any, window_end: Any, run_id: int | None
    ) -> str | None:
        """SQLite: the ``INSERT`` of a page's new rows with the values they all share as
        literals (status, attempts, requeue, due/created/updated time, window, run); params
        per row: scheme, id, number, content, hash. Other backends: ``None`` (use ``insert``)."""
        if self.dialect != "sqlite":
            return None
        shared = {
            "status": status,
            "attempts": 0,
            "requeue": 0,
            "next_attempt_at": at,
            "window_start": window_start,
            "window_end": window_end,
            "run_id": run_id,
            "created_at": at,
            "updated_at": at,
        }
        values = ["?"] * 5 + [_sqlite_literal(shared[name]) for name in INSERT_FIELDS[5:]]
        return f"INSERT INTO ledger ({', '.join(INSERT_FIELDS)}) VALUES ({', '.join(values)})"

    def in_ids(self, count: int) -> str:
        """``IN (...)`` for ``count`` ids, filled by :meth:`id_params`."""
        if self.dialect == "postgresql":
            return "IN (SELECT unnest(CAST(%s AS text[])))"
        return f"IN ({', '.join([self.p] * count)})"

    def id_params(self, ids: Sequence[str]) -> tuple[Any, ...]:
        """The parameters of :meth:`in_ids`."""
        return (list(ids),) if self.dialect == "postgresql" else tuple(ids)

    def select_known(self, count: int) -> str:
        """``(record_id, content_hash, status)`` of known ids; params: scheme, ids."""
        return (
            "SELECT record_id, content_hash, status FROM ledger "
            f"WHERE scheme_id = {self.p} AND record_id {self.in_ids(count)}"
        )

    def mark_queued(self, count: int) -> str:
        """``UPDATE`` setting ``count`` rows ``queued``; params: now, scheme, ids."""
        return (
            f"UPDATE ledger SET status = 'queued', updated_at = {self.p} "
            f"WHERE scheme_id = {self.p} AND record_id {self.in_ids(count)}"
        )

    def case_by_id(self, count: int) -> str:
        """``CASE record_id WHEN ? THEN ? ... END``; params: id, value, id, value, ..."""
        return f"CASE record_id {' '.join([f'WHEN {self.p} THEN {self.p}'] * count)} END"

    def result(self, count: int, response: str, error: str, *, by_rowid: bool = False) -> str:
        """The result ``UPDATE`` for ``count`` rows with one status, retry time and run.

        ``response``/``error`` are a placeholder or a :meth:`case_by_id` expression.
        Params: now, due, status, now, response(s), error(s), run_id, now, status, scheme, ids
        (SQLite ``rowid`` values instead of record ids with ``by_rowid``: direct seeks into
        the table instead of one primary-key index lookup per row).
        Like ``redeliver``, ``status`` and ``requeue`` come last for MySQL.
        """
        p = self.p
        # by rowid: "+scheme_id" keeps the check but no index on it (else SQLite walks the
        # scheme's rows in ix_ledger_number instead of seeking each rowid)
        scheme = f"+scheme_id = {p}" if by_rowid else f"scheme_id = {p}"
        where = f"rowid IN ({', '.join([p] * count)})" if by_rowid else f"record_id {self.in_ids(count)}"
        return (
            "UPDATE ledger SET "
            "attempts = CASE WHEN requeue THEN 0 ELSE attempts + 1 END, "
            f"next_attempt_at = CASE WHEN requeue THEN {p} ELSE {p} END, "
            f"delivered_at = CASE WHEN {p} = 'finished' THEN {p} ELSE delivered_at END, "
            f"target_response = {response}, last_error = COALESCE({error}, last_error), "
            f"run_id = COALESCE({p}, run_id), updated_at = {p}, "
            f"status = CASE WHEN requeue THEN 'pending' ELSE {p} END, "
            f"requeue = {self.false} "
            f"WHERE {scheme} AND {where}"
        )

    def ledger_values(self, rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
        """Raw ``LEDGER_FIELDS`` rows with their timestamps converted to aware datetimes.

        Rows of one page share most timestamps, so each distinct value is converted once.
        """
        seen: dict[Any, datetime | None] = {None: None}
        convert = self.from_db
        out = []
        for row in rows:
            values = list(row)
            for index in _TIME_COLUMNS:
                raw = values[index]
                try:
                    values[index] = seen[raw]
                except KeyError:
                    values[index] = seen[raw] = convert(raw)
            out.append(values)
        return out


@cache
def _hot(dialect: str) -> Hot:
    return Hot(dialect)


def hot_for(dialect: str) -> Hot:
    """The (cached) :class:`Hot` statements of a backend (``sqlite``, ``mysql``, ``postgresql``)."""
    return _hot("mysql" if dialect == "mariadb" else dialect)


def hot_sql(conn: sa.Connection) -> Hot:
    """The (cached) :class:`Hot` statements for ``conn``'s backend."""
    return hot_for(conn.dialect.name)
