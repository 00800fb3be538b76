"""The deliverer's side of the ledger: recover, claim, record results, replay.

Each function runs inside the caller's single transaction and issues bulk statements:
``claim`` is two ``SELECT``s (due ``error`` rows, oldest ``pending`` rows, both walking the
``(scheme_id, status, next_attempt_at)`` index) plus one ``UPDATE ... IN``;
``record_results`` is one ``UPDATE ... IN`` per distinct (status, retry time, run). Their SQL
text lives in :mod:`ferry.store._hot`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from ferry.store._hot import LEDGER_FIELDS, Hot, hot_sql
from ferry.store._models import (
    RECORD_STATUSES,
    RESULT_STATUSES,
    LedgerRow,
    RecordResult,
    selects_everything,
)
from ferry.store._schema import ledger, record_attempts
from ferry.store._sql import aware, chunks
from ferry.store.codec import loads, to_text

__all__ = [
    "ResultPlan",
    "any_due",
    "apply_results",
    "claim",
    "plan_results",
    "record_results",
    "recover_queued",
    "release",
    "replay",
    "row_to_ledger",
]

L = ledger
RESULT_CHUNK = 500
"""Most results per ``UPDATE`` (each may carry a 500-branch ``CASE``)."""
DUE, STATUS, UPDATED = (LEDGER_FIELDS.index(n) for n in ("next_attempt_at", "status", "updated_at"))
LEDGER_COLUMNS = tuple(L.c[name] for name in LEDGER_FIELDS)
"""The columns of a :class:`LedgerRow`, in field order, for SQLAlchemy selects."""


def row_to_ledger(values: Sequence[Any]) -> LedgerRow:
    """Build a :class:`LedgerRow` from values in ``LEDGER_FIELDS`` order (content still JSON text)."""
    fields: list[Any] = list(values)
    fields[3] = loads(fields[3])
    return LedgerRow(*fields)


def _back_to_pending(*where: Any, now: datetime) -> sa.Update:
    return (
        sa.update(L)
        .where(L.c.status == "queued", *where)
        .ordered_values(
            (L.c.attempts, sa.case((L.c.requeue, 0), else_=L.c.attempts)),
            (L.c.requeue, sa.false()),
            (L.c.updated_at, now),
            (L.c.status, "pending"),
        )
    )


def recover_queued(conn: sa.Connection, scheme_id: str, now: datetime) -> int:
    """Put rows left ``queued`` by a dead deliverer back to ``pending``; return how many."""
    return conn.execute(_back_to_pending(L.c.scheme_id == scheme_id, now=now)).rowcount


def release(conn: sa.Connection, scheme_id: str, record_ids: Sequence[str], now: datetime) -> int:
    """Put claimed rows this process will not deliver back to ``pending`` (as
    :func:`recover_queued` does for a dead deliverer's rows); return how many."""
    total = 0
    for part in chunks(list(record_ids)):
        stmt = _back_to_pending(L.c.scheme_id == scheme_id, L.c.record_id.in_(part), now=now)
        total += conn.execute(stmt).rowcount
    return total


def _fetchall(conn: sa.Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
    """All rows of a driver-level query as the driver's tuples (no per-row Row objects)."""
    result = conn.exec_driver_sql(sql, params)
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()


def claim(conn: sa.Connection, scheme_id: str, limit: int, now: datetime) -> list[LedgerRow]:
    """Mark up to ``limit`` due rows ``queued`` and return them, oldest due first."""
    aware(now, "now")
    if limit <= 0:
        return []
    hot = hot_sql(conn)
    at = hot.to_db(now)
    raw = _fetchall(conn, hot.due_errors, (scheme_id, at, limit))
    raw += _fetchall(conn, hot.due_pending, (scheme_id, limit))
    rows = hot.ledger_values(raw)
    floor = datetime.min.replace(tzinfo=UTC)
    rows.sort(key=lambda r: r[DUE] or floor)  # merge the two index-ordered lists
    del rows[limit:]
    for part in chunks([r[1] for r in rows]):
        conn.exec_driver_sql(hot.mark_queued(len(part)), (at, scheme_id, *hot.id_params(part)))
    claimed = []
    for values in rows:
        values[STATUS], values[UPDATED] = "queued", now
        claimed.append(row_to_ledger(values))
    return claimed


def any_due(conn: sa.Connection, scheme_id: str, now: datetime) -> bool:
    """Whether :func:`claim` would find a row (a read: no write lock taken)."""
    pending = sa.select(L.c.record_id).where(L.c.scheme_id == scheme_id, L.c.status == "pending").limit(1)
    errors = (
        sa.select(L.c.record_id)
        .where(L.c.scheme_id == scheme_id, L.c.status == "error", L.c.next_attempt_at <= now)
        .limit(1)
    )
    return conn.execute(pending).first() is not None or conn.execute(errors).first() is not None


ResultPlan = list[tuple[str, tuple[Any, ...], str, list[str]]]
"""Prepared result statements: (SQL, parameters, status, record ids)."""


def record_results(
    conn: sa.Connection,
    scheme_id: str,
    results: Sequence[RecordResult],
    now: datetime,
    rowids: Mapping[str, int] | None = None,
) -> None:
    """Apply delivery results; see :meth:`Store.record_results` for the contract."""
    apply_results(conn, scheme_id, plan_results(hot_sql(conn), scheme_id, results, now, rowids), now)


def plan_results(
    hot: Hot,
    scheme_id: str,
    results: Sequence[RecordResult],
    now: datetime,
    rowids: Mapping[str, int] | None = None,
) -> ResultPlan:
    """The statements recording ``results`` (built before the write transaction begins).

    Results are grouped by (status, retry time, run): one ``UPDATE ... IN`` per group and
    chunk, with the responses and errors inlined as ``CASE record_id WHEN ...`` when they
    differ within the group — so a batch costs a few statements on every backend.

    Raises:
        ValueError: a status is not a result status, or a retry time is naive.
    """
    at = hot.to_db(now)
    groups: dict[tuple[Any, ...], list[tuple[str, str | None, str | None]]] = defaultdict(list)
    latest = {result.record_id: result for result in results}
    # A target answers a whole statement at once: its rows share one response object, so
    # each distinct object is encoded once (all are alive here, so their ids are unique).
    texts: dict[int, str | None] = {}
    for rid, result in latest.items():
        if result.status not in RESULT_STATUSES:
            raise ValueError(
                f"result for record {rid!r}: status must be one of {', '.join(RESULT_STATUSES)} "
                f"(got {result.status!r})"
            )
        due = None
        if result.status == "error":
            due = aware(result.next_attempt_at, f"next_attempt_at of record {rid!r}") or now
        key = (result.status, hot.to_db(due), result.run_id)
        response = result.response
        try:
            text = texts[id(response)]
        except KeyError:
            text = texts[id(response)] = to_text(response)
        groups[key].append((rid, text, to_text(result.error)))
    plan: ResultPlan = []
    for (status, due, run), members in groups.items():
        for part in chunks(members, RESULT_CHUNK):
            ids = [m[0] for m in part]
            resp_sql, resp_params = _column_values(hot, part, 1)
            err_sql, err_params = _column_values(hot, part, 2)
            params = (at, due, status, at, *resp_params, *err_params, run, at, status, scheme_id)
            keys = [rowids.get(rid) for rid in ids] if rowids and hot.dialect == "sqlite" else None
            if keys is not None and None not in keys:  # SQLite rows the collector just inserted
                plan.append(
                    (hot.result(len(ids), resp_sql, err_sql, by_rowid=True), (*params, *keys), status, ids)
                )
            else:
                sql = hot.result(len(ids), resp_sql, err_sql)
                plan.append((sql, (*params, *hot.id_params(ids)), status, ids))
    return plan


def apply_results(conn: sa.Connection, scheme_id: str, plan: ResultPlan, now: datetime) -> None:
    """Run the statements of :func:`plan_results` inside the caller's write transaction."""
    for sql, params, status, ids in plan:
        conn.exec_driver_sql(sql, params)
        if status in ("error", "dead"):
            _remember_failures(conn, scheme_id, ids, status, now)


def _remember_failures(
    conn: sa.Connection, scheme_id: str, ids: list[str], status: str, now: datetime
) -> None:
    """Copy the failed rows' new state into ``record_attempts`` (rows re-queued meanwhile are
    ``pending`` again and skipped): their attempt number, error and next retry time."""
    source = sa.select(
        L.c.scheme_id,
        L.c.record_id,
        L.c.attempts,
        L.c.status,
        sa.literal(now, type_=record_attempts.c.at.type),
        L.c.run_id,
        L.c.last_error,
        L.c.next_attempt_at,
    ).where(L.c.scheme_id == scheme_id, L.c.record_id.in_(ids), L.c.status == status)
    columns = ["scheme_id", "record_id", "attempt", "status", "at", "run_id", "error", "next_attempt_at"]
    conn.execute(sa.insert(record_attempts).from_select(columns, source))


def _column_values(hot: Any, part: Sequence[tuple[Any, ...]], index: int) -> tuple[str, tuple[Any, ...]]:
    """One placeholder when all rows share the value, else a ``CASE record_id`` expression."""
    first = part[0][index]
    if all(member[index] == first for member in part):
        return hot.p, (first,)
    params: list[Any] = []
    for member in part:
        params += (member[0], member[index])
    return hot.case_by_id(len(part)), tuple(params)


def _replay_statuses(
    record_ids: Sequence[str] | None,
    status: str | Sequence[str] | None,
    window: tuple[datetime, datetime] | None,
) -> list[str]:
    """The statuses a replay selects, once its filter is known to select less than everything.

    Raises:
        ValueError: No filter, an id that is blank or only wildcards, or an unknown status.
    """
    if record_ids is None and status is None and window is None:
        raise ValueError("replay needs record_ids, status or window; refusing to replay a whole scheme")
    wild = next(filter(selects_everything, record_ids or ()), None)
    if wild is not None:
        raise ValueError(f"record id {wild!r} is blank or only wildcards; replay takes exact record ids")
    statuses = [status] if isinstance(status, str) else list(status or [])
    unknown = [s for s in statuses if s not in RECORD_STATUSES]
    if unknown:
        raise ValueError(f"unknown status {unknown[0]!r}; known: {', '.join(RECORD_STATUSES)}")
    return statuses


NEVER_REPLAYED = ("queued", "quarantined", "dropped")
"""Rows a replay leaves alone: in flight, or held by a quality rule (an operator releases them
through :mod:`ferry.store.quarantine`), or dropped by an operator."""


def _replay_where(
    scheme_id: str,
    statuses: Sequence[str],
    status: str | Sequence[str] | None,
    window: tuple[datetime, datetime] | None,
) -> list[Any]:
    where = [L.c.scheme_id == scheme_id, L.c.status.not_in(NEVER_REPLAYED)]
    if status is not None:
        where.append(L.c.status.in_(statuses))
    if window is not None:
        start, end = aware(window[0], "window[0]"), aware(window[1], "window[1]")
        where += [L.c.window_start >= start, L.c.window_start < end]
    return where


COLLECTED_DEAD_LETTER = sa.and_(L.c.status == "dead", L.c.attempts == 0)
"""A dead letter its collection made (no id, unreadable, an id the ledger cannot keep): dead
without a delivery attempt. There is nothing to deliver again; its fix is at the source."""


def replay(
    conn: sa.Connection,
    scheme_id: str,
    *,
    record_ids: Sequence[str] | None,
    status: str | Sequence[str] | None,
    window: tuple[datetime, datetime] | None,
    now: datetime,
) -> tuple[int, int]:
    """Send matching rows (never ``queued``, ``quarantined`` or ``dropped`` ones, never dead
    letters of collection) back to
    ``pending``; return ``(how many, how many dead letters of collection matched and stayed)``."""
    where = _replay_where(scheme_id, _replay_statuses(record_ids, status, window), status, window)
    values = {"status": "pending", "attempts": 0, "requeue": False, "next_attempt_at": now, "updated_at": now}
    parts = [None] if record_ids is None else chunks(list(dict.fromkeys(record_ids)))
    total = kept = 0
    for part in parts:
        scope = where if part is None else [*where, L.c.record_id.in_(part)]
        kept += conn.execute(sa.select(sa.func.count()).where(*scope, COLLECTED_DEAD_LETTER)).scalar_one()
        total += conn.execute(sa.update(L).where(*scope, ~COLLECTED_DEAD_LETTER).values(values)).rowcount
    return total, kept


def mark_collected_dead_letters(conn: sa.Connection, scheme_id: str, record_ids: Sequence[str]) -> None:
    """Mark rows its collection just stored as dead letters (:data:`COLLECTED_DEAD_LETTER`)."""
    for part in chunks(list(record_ids)):
        conn.execute(
            sa.update(L).where(L.c.scheme_id == scheme_id, L.c.record_id.in_(part)).values(attempts=0)
        )
