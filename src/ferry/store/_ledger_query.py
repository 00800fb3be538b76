"""Read-only ledger queries: counts, search, single rows and the lookup stream."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ferry.store._ledger_deliver import LEDGER_COLUMNS, row_to_ledger
from ferry.store._models import RECORD_STATUSES, LedgerRow, Waiting, selects_everything
from ferry.store._schema import ledger, record_attempts
from ferry.store._sql import aware, chunks
from ferry.store.codec import loads

__all__ = [
    "count_by_status",
    "find_records",
    "get_record",
    "ledger_states",
    "lookup_chunk",
    "record_history",
    "waiting",
    "window_states",
    "window_totals",
]

L = ledger


def count_by_status(conn: sa.Connection, scheme_id: str) -> dict[str, int]:
    """Rows per status, every status present (0 when none)."""
    counts = dict.fromkeys(RECORD_STATUSES, 0)
    query = sa.select(L.c.status, sa.func.count()).where(L.c.scheme_id == scheme_id).group_by(L.c.status)
    for status, count in conn.execute(query):
        counts[status] = int(count)
    return counts


def waiting(conn: sa.Connection, scheme_id: str) -> Waiting:
    """The scheme's undelivered rows by kind, and the oldest run that last failed one.

    The counts read the ``ix_ledger_due`` index only; the oldest run reads the failing rows,
    which are few next to the ledger.
    """
    counts = count_by_status(conn, scheme_id)
    failing = counts["error"] + counts["dead"]
    since = None
    if failing:
        since = conn.execute(
            sa.select(sa.func.min(L.c.run_id)).where(
                L.c.scheme_id == scheme_id, L.c.status.in_(("error", "dead"))
            )
        ).scalar()
    return Waiting(
        pending=counts["pending"] + counts["queued"],
        error=counts["error"],
        dead=counts["dead"],
        failing_since=None if since is None else int(since),
        quarantined=counts["quarantined"],
    )


def _match(column: sa.Column[Any], pattern: str) -> sa.ColumnElement[bool]:
    """Exact match, or prefix match when ``pattern`` ends with ``*``.

    The prefix test is ``LIKE`` (index-friendly on MySQL/PostgreSQL) AND an exact
    ``substr`` comparison, so it is case-sensitive on SQLite too, whose ``LIKE`` is not.
    """
    if not pattern.endswith("*"):
        return column == pattern
    prefix = pattern[:-1]
    if not prefix:
        return sa.true()
    return sa.and_(
        column.startswith(prefix, autoescape=True),
        sa.func.substr(column, 1, len(prefix)) == prefix,
    )


def find_records(
    conn: sa.Connection,
    scheme_id: str | None,
    *,
    status: str | Sequence[str] | None,
    record_id: str | None,
    number: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
) -> list[LedgerRow]:
    """Search the ledger; see :meth:`Store.find_records`."""
    where: list[sa.ColumnElement[bool]] = []
    if scheme_id is not None:
        where.append(L.c.scheme_id == scheme_id)
    if status is not None:
        statuses = [status] if isinstance(status, str) else list(status)
        unknown = [s for s in statuses if s not in RECORD_STATUSES]
        if unknown:
            raise ValueError(f"unknown status {unknown[0]!r}; known: {', '.join(RECORD_STATUSES)}")
        where.append(L.c.status.in_(statuses))
    if not selects_everything(record_id):
        where.append(_match(L.c.record_id, str(record_id)))
    if not selects_everything(number):
        where.append(_match(L.c.number, str(number)))
    if since is not None:
        where.append(L.c.updated_at >= aware(since, "since"))
    if until is not None:
        where.append(L.c.updated_at < aware(until, "until"))
    query = (
        sa.select(*LEDGER_COLUMNS)
        .where(*where)
        .order_by(L.c.updated_at.desc(), L.c.scheme_id, L.c.record_id)
        .limit(max(limit, 0))
        .offset(max(offset, 0))
    )
    return [row_to_ledger(row) for row in conn.execute(query)]


def get_record(conn: sa.Connection, scheme_id: str, record_id: str) -> LedgerRow | None:
    """One row by key, or ``None``."""
    query = sa.select(*LEDGER_COLUMNS).where(L.c.scheme_id == scheme_id, L.c.record_id == record_id)
    row = conn.execute(query).first()
    return None if row is None else row_to_ledger(row)


def ledger_states(conn: sa.Connection, scheme_id: str, ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """``{record_id: (content_hash, status)}`` for those of ``ids`` in the ledger."""
    found: dict[str, tuple[str, str]] = {}
    for part in chunks(list(dict.fromkeys(ids))):
        query = sa.select(L.c.record_id, L.c.content_hash, L.c.status).where(
            L.c.scheme_id == scheme_id, L.c.record_id.in_(part)
        )
        found.update({rid: (digest, status) for rid, digest, status in conn.execute(query)})
    return found


def window_states(conn: sa.Connection, scheme_id: str, start: datetime, end: datetime) -> dict[str, str]:
    """``{record_id: status}`` of the rows last collected in a window starting in ``[start, end)``."""
    query = sa.select(L.c.record_id, L.c.status).where(
        L.c.scheme_id == scheme_id,
        L.c.window_start >= aware(start, "start"),
        L.c.window_start < aware(end, "end"),
    )
    return {rid: status for rid, status in conn.execute(query)}


def window_totals(
    conn: sa.Connection, scheme_id: str, spans: Sequence[tuple[datetime, datetime]]
) -> list[tuple[int, int]]:
    """Per span ``[start, end)``: ``(rows whose window_start is in it, of those finished)``.

    One grouped scan of the scheme's rows from the first start to the last end (counted by
    window start and status), not one query per span: the ledger has no index on the window.
    """
    if not spans:
        return []
    query = (
        sa.select(L.c.window_start, L.c.status, sa.func.count())
        .where(
            L.c.scheme_id == scheme_id,
            L.c.window_start >= aware(min(start for start, _ in spans), "start"),
            L.c.window_start < aware(max(end for _, end in spans), "end"),
        )
        .group_by(L.c.window_start, L.c.status)
    )
    groups = [(at, status == "finished", int(n)) for at, status, n in conn.execute(query) if at is not None]
    return [_span_total(groups, start, end) for start, end in spans]


def _span_total(
    groups: Sequence[tuple[datetime, bool, int]], start: datetime, end: datetime
) -> tuple[int, int]:
    inside = [(finished, n) for at, finished, n in groups if start <= at < end]
    return sum(n for _, n in inside), sum(n for finished, n in inside if finished)


def record_history(conn: sa.Connection, scheme_id: str, record_id: str) -> list[dict[str, Any]]:
    """The failed attempts of one record, oldest first (see :meth:`Store.record_history`)."""
    A = record_attempts
    query = (
        sa.select(A.c.attempt, A.c.status, A.c.at, A.c.run_id, A.c.error, A.c.next_attempt_at)
        .where(A.c.scheme_id == scheme_id, A.c.record_id == record_id)
        .order_by(A.c.id)
    )
    return [dict(row._mapping) for row in conn.execute(query)]


def lookup_chunk(conn: sa.Connection, scheme_id: str, after: str | None, size: int) -> list[dict[str, Any]]:
    """Up to ``size`` rows ``{"id", "number", "content"}`` with ids after ``after``, in id order."""
    query = sa.select(L.c.record_id, L.c.number, L.c.content).where(L.c.scheme_id == scheme_id)
    if after is not None:
        query = query.where(L.c.record_id > after)
    query = query.order_by(L.c.record_id).limit(size)
    return [{"id": rid, "number": num, "content": loads(body)} for rid, num, body in conn.execute(query)]


def iter_chunks(fetch: Any, size: int) -> Iterator[dict[str, Any]]:
    """Drive ``fetch(after, size)`` until a short chunk, yielding rows one by one."""
    after: str | None = None
    while True:
        chunk = fetch(after, size)
        yield from chunk
        if len(chunk) < size:
            return
        after = chunk[-1]["id"]
