"""What the alert rules (:mod:`ferry.observe.alerts.rules`) read: aggregates over indexes.

Each function runs in the caller's read transaction (``with store.transaction() as conn``), so
one rule sees one consistent store. Windows over ``runs`` and ``api_calls`` start at an id found
by bisecting the ids on a time column (:func:`first_id_since`), never by a scan.

The volume and freshness rules read the runs too, never the ledger (which may hold millions
of rows and has no index on its times): a run's ``windows`` carry each window's counts
(:func:`window_counts`) and its ``counts`` the records it found new (:func:`new_record_runs`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa

from ferry.store._schema import api_calls, ledger, runs, schemes
from ferry.store.codec import loads

__all__ = [
    "ApiTotals",
    "RunSummary",
    "WindowCount",
    "api_call_totals",
    "dead_letter_counts",
    "finished_run_counts",
    "first_api_call_since",
    "first_id_since",
    "first_run_since",
    "last_api_error",
    "latest_collect",
    "latest_runs",
    "new_record_runs",
    "schemes_created",
    "window_counts",
]


class RunSummary(NamedTuple):
    """One finished run as ``run_failed`` reads it."""

    id: int
    kind: str
    status: str
    error: str | None
    finished_at: datetime | None


class ApiTotals(NamedTuple):
    """Calls of one ``connection``/``api`` for one scheme in a window."""

    connection: str
    api: str
    scheme_id: str | None
    calls: int
    errors: int
    throttled: int


class WindowCount(NamedTuple):
    """One window of a finished run and one of its counts (see :func:`window_counts`)."""

    run_id: int
    start: datetime
    end: datetime
    records: int


def first_id_since(
    conn: sa.Connection, table: sa.Table, column: sa.Column[Any], since: datetime
) -> int | None:
    """An id such that the rows with ``column >= since`` are exactly those with ``id >=`` it, by bisection.

    About log2(rows) primary-key lookups instead of a scan; ``None`` when the table is empty.
    Ids may have gaps; times only need to be nearly ordered (subtract a slack from ``since``).
    """
    low, high = conn.execute(sa.select(sa.func.min(table.c.id), sa.func.max(table.c.id))).one()
    if high is None:
        return None
    low, high = int(low), int(high) + 1
    while low < high:
        mid = (low + high) // 2
        row = conn.execute(
            sa.select(table.c.id, column).where(table.c.id >= mid).order_by(table.c.id).limit(1)
        ).first()
        if row is None or row[1] >= since:
            high = mid
        else:
            low = min(int(row[0]) + 1, high)
    return low


def first_run_since(conn: sa.Connection, since: datetime) -> int | None:
    """:func:`first_id_since` over the runs' ``started_at``."""
    return first_id_since(conn, runs, runs.c.started_at, since)


def first_api_call_since(conn: sa.Connection, since: datetime) -> int | None:
    """:func:`first_id_since` over the API calls' ``started_at``."""
    return first_id_since(conn, api_calls, api_calls.c.started_at, since)


def latest_runs(
    conn: sa.Connection, scheme_id: str, kinds: Collection[str], limit: int, *, skip_error: str
) -> list[RunSummary]:
    """The scheme's newest finished runs of ``kinds`` (newest first, at most ``limit``),
    leaving out those whose error starts with ``skip_error``."""
    rows = conn.execute(
        sa.select(runs.c.id, runs.c.kind, runs.c.status, runs.c.error, runs.c.finished_at)
        .where(runs.c.scheme_id == scheme_id, runs.c.status != "running", runs.c.kind.in_(list(kinds)))
        .where(sa.or_(runs.c.error.is_(None), ~runs.c.error.startswith(skip_error)))
        .order_by(runs.c.id.desc())
        .limit(limit)
    )
    return [RunSummary(*row) for row in rows]


def finished_run_counts(
    conn: sa.Connection, first: int, since: datetime, until: datetime
) -> list[tuple[str, str | None]]:
    """``(scheme_id, counts JSON text)`` of the runs from id ``first`` on that finished in
    ``[since, until]``."""
    rows = conn.execute(
        sa.select(runs.c.scheme_id, runs.c.counts).where(
            runs.c.id >= first,
            runs.c.finished_at >= since,
            runs.c.finished_at <= until,
            runs.c.status != "running",
        )
    )
    return [(sid, counts) for sid, counts in rows]


def schemes_created(conn: sa.Connection) -> dict[str, datetime]:
    """``{scheme_id: created_at}`` of every stored scheme."""
    return {sid: at for sid, at in conn.execute(sa.select(schemes.c.id, schemes.c.created_at))}


def latest_collect(conn: sa.Connection, scheme_id: str) -> tuple[datetime, str] | None:
    """``(started_at, status)`` of the scheme's newest collecting run that succeeded, partly
    succeeded or is running; ``None`` when there is none."""
    row = conn.execute(
        sa.select(runs.c.started_at, runs.c.status)
        .where(
            runs.c.scheme_id == scheme_id,
            runs.c.kind.in_(("run", "collect")),
            runs.c.status.in_(("succeeded", "partial", "running")),
        )
        .order_by(runs.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else (row.started_at, row.status)


def dead_letter_counts(
    conn: sa.Connection, scheme_ids: Sequence[str], since: datetime
) -> dict[str, tuple[int, int]]:
    """``{scheme_id: (dead rows, of those updated since since)}`` of the schemes that have any."""
    recent = sa.func.sum(sa.case((ledger.c.updated_at >= since, 1), else_=0))
    rows = conn.execute(
        sa.select(ledger.c.scheme_id, sa.func.count(), recent)
        .where(ledger.c.scheme_id.in_(list(scheme_ids)), ledger.c.status == "dead")
        .group_by(ledger.c.scheme_id)
    )
    return {sid: (int(total), int(new or 0)) for sid, total, new in rows}


def api_call_totals(conn: sa.Connection, first: int, since: datetime, until: datetime) -> list[ApiTotals]:
    """Calls, ``error`` calls and ``throttled`` calls per connection, API and scheme, of the
    calls from id ``first`` on that started in ``[since, until]``."""

    def status_is(value: str) -> Any:
        return sa.func.sum(sa.case((api_calls.c.status == value, 1), else_=0))

    rows = conn.execute(
        sa.select(
            api_calls.c.connection,
            api_calls.c.api,
            api_calls.c.scheme_id,
            sa.func.count(),
            status_is("error"),
            status_is("throttled"),
        )
        .where(api_calls.c.id >= first, api_calls.c.started_at >= since, api_calls.c.started_at <= until)
        .group_by(api_calls.c.connection, api_calls.c.api, api_calls.c.scheme_id)
    )
    return [
        ApiTotals(connection, api, sid, int(calls), int(errs or 0), int(throttled or 0))
        for connection, api, sid, calls, errs, throttled in rows
    ]


def last_api_error(
    conn: sa.Connection, first: int, connection: str, api: str
) -> tuple[str | None, str | None] | None:
    """``(error_code, error_message)`` of the newest ``error`` call of ``connection``/``api``
    from id ``first`` on; ``None`` when there is none."""
    row = conn.execute(
        sa.select(api_calls.c.error_code, api_calls.c.error_message)
        .where(
            api_calls.c.id >= first,
            api_calls.c.connection == connection,
            api_calls.c.api == api,
            api_calls.c.status == "error",
        )
        .order_by(api_calls.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else (row.error_code, row.error_message)


def window_counts(
    conn: sa.Connection, scheme_id: str, first: int, kinds: Collection[str], field: str
) -> list[WindowCount]:
    """Every window the scheme's finished runs of ``kinds`` from id ``first`` on recorded, with
    its figure ``field`` (e.g. ``stored``), oldest run first; windows without a readable
    start, end or figure are left out. One range read over ``ix_runs_scheme``."""
    rows = conn.execute(
        sa.select(runs.c.id, runs.c.windows)
        .where(
            runs.c.scheme_id == scheme_id,
            runs.c.id >= first,
            runs.c.status != "running",
            runs.c.kind.in_(list(kinds)),
            runs.c.windows.is_not(None),
        )
        .order_by(runs.c.id)
    )
    out: list[WindowCount] = []
    for run_id, text in rows:
        out += _window_counts(int(run_id), text, field)
    return out


def _window_counts(run_id: int, text: str, field: str) -> list[WindowCount]:
    try:
        windows = loads(text)
    except ValueError:
        return []
    out = []
    for window in windows if isinstance(windows, list) else []:
        try:
            start = datetime.fromisoformat(window["start"])
            end = datetime.fromisoformat(window["end"])
            count = int(window[field])
        except (KeyError, TypeError, ValueError):
            continue
        if start.tzinfo is not None and end > start:
            out.append(WindowCount(run_id, start, end, count))
    return out


def new_record_runs(
    conn: sa.Connection, scheme_id: str, *, first: int | None = None, limit: int | None = None
) -> list[tuple[datetime, int]]:
    """``(finished_at, new)`` of the scheme's finished collecting runs (``run``, ``collect``)
    that found new records, newest first: those from id ``first`` on, and at most ``limit``
    runs read (newest first, over ``ix_runs_scheme``)."""
    query = (
        sa.select(runs.c.finished_at, runs.c.counts)
        .where(
            runs.c.scheme_id == scheme_id,
            runs.c.status != "running",
            runs.c.kind.in_(("run", "collect")),
        )
        .order_by(runs.c.id.desc())
    )
    if first is not None:
        query = query.where(runs.c.id >= first)
    if limit is not None:
        query = query.limit(limit)
    out = []
    for finished_at, text in conn.execute(query):
        new = _count_of(text, "new")
        if new and finished_at is not None:
            out.append((finished_at, new))
    return out


def _count_of(text: str | None, key: str) -> int:
    try:
        value = loads(text)[key] if text else 0
        return int(value or 0)
    except (KeyError, TypeError, ValueError):
        return 0
