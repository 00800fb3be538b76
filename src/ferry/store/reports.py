"""Aggregates over the store for the Prometheus metrics and the console.

The metric queries (:mod:`ferry.observe.metrics`) run in the caller's read transaction
(``with store.transaction() as conn``), so one scrape sees one consistent store; each is one
grouped query, the ledger read only through its ``ix_ledger_due`` index, durations and
latencies bucketed in SQL. The console's (:mod:`ferry.console`) take the store and are
bounded: activity counted in one scan per table with one ``CASE`` per hour (portable across
SQLite, MySQL/MariaDB and PostgreSQL), API calls from the newest ``limit`` only.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ferry.store import _state
from ferry.store._models import RECORD_STATUSES
from ferry.store._schema import alert_incidents, api_calls, ledger, record_attempts, runs
from ferry.store.codec import loads

if TYPE_CHECKING:
    from ferry.store import Store

__all__ = [
    "FINISHED_RUNS",
    "api_call_groups",
    "hourly_activity",
    "last_runs",
    "last_successes",
    "ledger_counts",
    "open_alerts",
    "recent_api_calls",
    "run_count_sums",
    "run_counts",
    "run_durations",
    "scheme_flags",
    "status_by_scheme",
]

FINISHED_RUNS = ("succeeded", "partial", "failed")


def _json_count(column: Any, key: str, dialect: str) -> Any:
    """SQL for the integer ``key`` of the JSON text ``column`` (0 when absent), summed."""
    if dialect == "postgresql":
        value = sa.func.json_extract_path_text(sa.cast(column, sa.JSON), key)
    else:  # SQLite and MySQL/MariaDB share json_extract
        value = sa.func.json_extract(column, f"$.{key}")
    return sa.func.coalesce(sa.func.sum(sa.cast(value, sa.BigInteger)), 0)


def _seconds_between(start: Any, end: Any, dialect: str) -> Any:
    """SQL for ``end - start`` in seconds (float) on this dialect."""
    if dialect == "sqlite":
        # julianday() is a double of ~2.46e6 days: rounding to the millisecond drops its noise.
        return sa.func.round((sa.func.julianday(end) - sa.func.julianday(start)) * 86400.0, 3)
    if dialect in ("mysql", "mariadb"):
        return sa.func.timestampdiff(sa.text("MICROSECOND"), start, end) / 1_000_000.0
    return sa.extract("epoch", end - start)


def _buckets(value: Any, bounds: Sequence[float]) -> list[Any]:
    """``SUM(CASE WHEN value <= b THEN 1 ELSE 0 END)`` per bound: cumulative bucket counts."""
    return [sa.func.sum(sa.case((value <= bound, 1), else_=0)) for bound in bounds]


# -- metrics (in the caller's transaction) ------------------------------------------------------


def scheme_flags(conn: sa.Connection) -> dict[str, bool]:
    """``{scheme_id: enabled}`` of every scheme, by id."""
    return _state.scheme_flags(conn)


def ledger_counts(conn: sa.Connection, now: datetime) -> list[tuple[str, str, int, int]]:
    """``(scheme_id, status, rows, error rows due at now)`` per scheme and status."""
    due = sa.func.sum(
        sa.case((sa.and_(ledger.c.status == "error", ledger.c.next_attempt_at <= now), 1), else_=0)
    )
    query = sa.select(ledger.c.scheme_id, ledger.c.status, sa.func.count(), due).group_by(
        ledger.c.scheme_id, ledger.c.status
    )
    return [
        (sid, status, int(count), int(due_count or 0))
        for sid, status, count, due_count in conn.execute(query)
    ]


def run_counts(conn: sa.Connection) -> list[tuple[str, str, str, int]]:
    """``(scheme_id, kind, status, runs)`` per scheme, kind and status (``running`` included)."""
    group = (runs.c.scheme_id, runs.c.kind, runs.c.status)
    query = sa.select(*group, sa.func.count()).group_by(*group)
    return [(sid, kind, status, int(count)) for sid, kind, status, count in conn.execute(query)]


def run_durations(
    conn: sa.Connection, bounds: Sequence[float]
) -> list[tuple[str, str, int, float, list[int]]]:
    """``(scheme_id, kind, finished runs, their seconds summed, cumulative runs <= each bound)``."""
    seconds = _seconds_between(runs.c.started_at, runs.c.finished_at, conn.dialect.name)
    query = (
        sa.select(
            runs.c.scheme_id, runs.c.kind, sa.func.count(), sa.func.sum(seconds), *_buckets(seconds, bounds)
        )
        .where(runs.c.finished_at.is_not(None), runs.c.status.in_(FINISHED_RUNS))
        .group_by(runs.c.scheme_id, runs.c.kind)
    )
    return [
        (sid, kind, int(count), float(sum_s or 0), [int(c or 0) for c in cells])
        for sid, kind, count, sum_s, *cells in conn.execute(query)
    ]


def last_successes(conn: sa.Connection) -> list[tuple[str, str, datetime]]:
    """``(scheme_id, kind, finished_at)`` of the newest succeeded or partial run of each."""
    query = (
        sa.select(runs.c.scheme_id, runs.c.kind, sa.func.max(runs.c.finished_at))
        .where(runs.c.status.in_(("succeeded", "partial")))
        .group_by(runs.c.scheme_id, runs.c.kind)
    )
    return [(sid, kind, finished) for sid, kind, finished in conn.execute(query) if finished is not None]


def run_count_sums(conn: sa.Connection, names: Sequence[str]) -> list[tuple[str, list[int]]]:
    """``(scheme_id, [sum of each of names over its finished runs' counts])``, by scheme."""
    sums = [_json_count(runs.c.counts, name, conn.dialect.name) for name in names]
    query = (
        sa.select(runs.c.scheme_id, *sums)
        .where(runs.c.status.in_(FINISHED_RUNS), runs.c.counts.is_not(None))
        .group_by(runs.c.scheme_id)
        .order_by(runs.c.scheme_id)
    )
    return [(sid, [int(v or 0) for v in values]) for sid, *values in conn.execute(query)]


def api_call_groups(conn: sa.Connection, bounds_ms: Sequence[float]) -> list[tuple[Any, ...]]:
    """Per connection, API, status and error code: ``(connection, api, status, error_code,
    calls, records, timed calls, their milliseconds summed, *cumulative timed calls <= each
    bound)``."""
    group = (api_calls.c.connection, api_calls.c.api, api_calls.c.status, api_calls.c.error_code)
    ms = api_calls.c.duration_ms
    query = sa.select(
        *group,
        sa.func.count(),
        sa.func.sum(api_calls.c.records),
        sa.func.count(ms),
        sa.func.sum(ms),
        *_buckets(ms, bounds_ms),
    ).group_by(*group)
    return [
        (connection, api, status, code, int(count), int(recs or 0), int(timed), float(sum_ms or 0),
         *(int(c or 0) for c in cells))
        for connection, api, status, code, count, recs, timed, sum_ms, *cells in conn.execute(query)
    ]  # fmt: skip


def open_alerts(conn: sa.Connection) -> list[tuple[str, int]]:
    """``(rule, open incidents)`` per rule that has any."""
    query = (
        sa.select(alert_incidents.c.rule, sa.func.count())
        .where(alert_incidents.c.status == "open")
        .group_by(alert_incidents.c.rule)
    )
    return [(rule, int(count)) for rule, count in conn.execute(query)]


# -- console ------------------------------------------------------------------------------------


def _bucket_counts(
    conn: sa.Connection, column: sa.Column[Any], edges: Sequence[datetime], where: Any = None
) -> list[int]:
    cells = [
        sa.func.sum(sa.case((sa.and_(column >= lo, column < hi), 1), else_=0))
        for lo, hi in itertools.pairwise(edges)
    ]
    query = sa.select(*cells).where(column >= edges[0], column < edges[-1])
    if where is not None:
        query = query.where(where)
    row = conn.execute(query).first()
    return [int(v or 0) for v in (row or [])] or [0] * (len(edges) - 1)


def hourly_activity(store: Store, edges: Sequence[datetime]) -> tuple[list[int], list[int], list[int]]:
    """Per bucket ``[edges[i], edges[i+1])``: ledger rows created (received), rows whose last
    delivery finished then (delivered), failed delivery attempts (failed)."""
    with store.transaction() as conn:
        received = _bucket_counts(conn, ledger.c.created_at, edges)
        delivered = _bucket_counts(conn, ledger.c.delivered_at, edges, ledger.c.status == "finished")
        failed = _bucket_counts(conn, record_attempts.c.at, edges)
    return received, delivered, failed


def status_by_scheme(store: Store) -> dict[str, dict[str, int]]:
    """``{scheme_id: {status: rows}}`` with every status present."""
    query = sa.select(ledger.c.scheme_id, ledger.c.status, sa.func.count()).group_by(
        ledger.c.scheme_id, ledger.c.status
    )
    out: dict[str, dict[str, int]] = {}
    with store.transaction() as conn:
        for scheme_id, status, count in conn.execute(query):
            out.setdefault(scheme_id, dict.fromkeys(RECORD_STATUSES, 0))[status] = int(count)
    return out


def _run_dict(row: sa.Row[Any]) -> dict[str, Any]:
    out = row._asdict()
    out["counts"] = loads(out["counts"]) if out.get("counts") else {}
    out["windows"] = loads(out["windows"]) if out.get("windows") else []
    out["placeholders"] = loads(out["placeholders"]) if out.get("placeholders") else None
    return out


def last_runs(store: Store) -> dict[str, dict[str, Any]]:
    """The newest run of every scheme, as :meth:`Store.get_run <ferry.store.Store.get_run>` returns it."""
    newest = sa.select(sa.func.max(runs.c.id)).group_by(runs.c.scheme_id).scalar_subquery()
    query = sa.select(runs).where(runs.c.id.in_(newest))
    with store.transaction() as conn:
        return {row.scheme_id: _run_dict(row) for row in conn.execute(query)}


def recent_api_calls(
    store: Store, since: datetime, limit: int
) -> list[tuple[str, str, datetime, int | None, str]]:
    """``(connection, api, started_at, duration_ms, status)`` of the newest ``limit`` calls
    started at or after ``since``, newest first."""
    query = (
        sa.select(
            api_calls.c.connection,
            api_calls.c.api,
            api_calls.c.started_at,
            api_calls.c.duration_ms,
            api_calls.c.status,
        )
        .where(api_calls.c.started_at >= since)
        .order_by(api_calls.c.id.desc())
        .limit(limit)
    )
    with store.transaction() as conn:
        return [(c, a, started, duration, status) for c, a, started, duration, status in conn.execute(query)]
