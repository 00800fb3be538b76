"""Read-only store queries the console needs beyond :class:`~ferry.store.Store`'s own.

Every query is bounded: activity is counted in one scan per table with one ``CASE`` per
hour (portable across SQLite, MySQL/MariaDB and PostgreSQL), API latencies come from at
most :data:`API_CALL_LIMIT` recent calls, histories from the newest rows.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from ferry.store import Store
from ferry.store._models import RECORD_STATUSES
from ferry.store._schema import (
    alert_incidents,
    alert_notices,
    api_calls,
    ledger,
    record_attempts,
    runs,
)
from ferry.store.codec import loads

__all__ = [
    "API_CALL_LIMIT",
    "Activity",
    "ApiBucket",
    "ApiStat",
    "activity",
    "alert_history",
    "api_stats",
    "last_runs",
    "percentile",
    "status_by_scheme",
]

API_CALL_LIMIT = 50_000
"""Most API calls read for the latency statistics (the newest ones)."""


@dataclass
class Activity:
    """Records in, delivered and failed per hour; ``hours[i]`` starts bucket ``i``."""

    hours: list[datetime]
    received: list[int]
    delivered: list[int]
    failed: list[int]


def _hour_floor(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


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


def activity(store: Store, now: datetime, hours: int = 24) -> Activity:
    """Hourly counts over the last ``hours`` up to ``now`` (the current hour included).

    ``received``: ledger rows created; ``delivered``: rows whose last delivery was then;
    ``failed``: failed delivery attempts (``record_attempts``).
    """
    end = _hour_floor(now) + timedelta(hours=1)
    edges = [end - timedelta(hours=hours - i) for i in range(hours + 1)]
    with store.transaction() as conn:
        received = _bucket_counts(conn, ledger.c.created_at, edges)
        delivered = _bucket_counts(conn, ledger.c.delivered_at, edges, ledger.c.status == "finished")
        failed = _bucket_counts(conn, record_attempts.c.at, edges)
    return Activity(edges[:-1], received, delivered, failed)


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
    return out


def last_runs(store: Store) -> dict[str, dict[str, Any]]:
    """The newest run of every scheme, as :meth:`Store.get_run` returns it."""
    newest = sa.select(sa.func.max(runs.c.id)).group_by(runs.c.scheme_id).scalar_subquery()
    query = sa.select(runs).where(runs.c.id.in_(newest))
    with store.transaction() as conn:
        return {row.scheme_id: _run_dict(row) for row in conn.execute(query)}


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q`` percentile (0-100) of ``values``, ``None`` when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(math.ceil(q / 100 * len(ordered)), 1)
    return float(ordered[min(rank, len(ordered)) - 1])


@dataclass
class ApiBucket:
    """One time bucket of one API's calls."""

    start: datetime
    calls: int = 0
    errors: int = 0
    throttled: int = 0
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None


@dataclass
class ApiStat:
    """Calls, errors, throttled calls and latency percentiles (ms) of one ``connection`` + ``api``.

    ``errors`` are calls with status ``error``; a throttling answer (status ``throttled``: the
    vendor's rate limit, waited out) is counted in ``throttled`` instead.
    """

    connection: str
    api: str
    calls: int = 0
    errors: int = 0
    throttled: int = 0
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    buckets: list[ApiBucket] = field(default_factory=list)

    @property
    def error_rate(self) -> float:
        """Errors / calls (0 when there were no calls)."""
        return self.errors / self.calls if self.calls else 0.0


def _status(calls: list[tuple[datetime, int | None, str]], status: str) -> int:
    return sum(1 for call in calls if call[2] == status)


def api_stats(
    store: Store, now: datetime, *, hours: int = 24, buckets: int = 24, limit: int = API_CALL_LIMIT
) -> list[ApiStat]:
    """Per ``(connection, api)``: calls, errors, throttled calls and p50/p95/p99 latency over the last ``hours``,
    overall and in ``buckets`` equal time buckets, from the newest ``limit`` calls."""
    since = now - timedelta(hours=hours)
    width = timedelta(hours=hours) / buckets
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
    grouped: dict[tuple[str, str], list[tuple[datetime, int | None, str]]] = defaultdict(list)
    with store.transaction() as conn:
        for connection, api, started, duration, status in conn.execute(query):
            grouped[(connection, api)].append((started, duration, status))
    stats = []
    for (connection, api), calls in sorted(grouped.items()):
        stat = ApiStat(connection, api, calls=len(calls), errors=_status(calls, "error"))
        stat.throttled = _status(calls, "throttled")
        durations = [float(c[1]) for c in calls if c[1] is not None]
        stat.p50, stat.p95, stat.p99 = (percentile(durations, q) for q in (50, 95, 99))
        per: list[list[tuple[datetime, int | None, str]]] = [[] for _ in range(buckets)]
        for call in calls:
            index = min(int((call[0] - since) / width), buckets - 1)
            per[max(index, 0)].append(call)
        for i, members in enumerate(per):
            times = [float(c[1]) for c in members if c[1] is not None]
            stat.buckets.append(
                ApiBucket(
                    since + width * i,
                    calls=len(members),
                    errors=_status(members, "error"),
                    throttled=_status(members, "throttled"),
                    p50=percentile(times, 50),
                    p95=percentile(times, 95),
                    p99=percentile(times, 99),
                )
            )
        stats.append(stat)
    return stats


def alert_history(store: Store, limit: int = 200) -> list[dict[str, Any]]:
    """The newest ``limit`` incidents, each with the ``notices`` it keeps (its latest, oldest
    first) and ``notice_count`` (all of them)."""
    query = sa.select(alert_incidents).order_by(alert_incidents.c.id.desc()).limit(limit)
    with store.transaction() as conn:
        incidents = [row._asdict() for row in conn.execute(query)]
        ids = [incident["id"] for incident in incidents]
        notices: dict[int, list[dict[str, Any]]] = defaultdict(list)
        if ids:
            rows = conn.execute(
                sa.select(alert_notices)
                .where(alert_notices.c.incident_id.in_(ids))
                .order_by(alert_notices.c.id)
            )
            for row in rows:
                notices[row.incident_id].append(row._asdict())
    for incident in incidents:
        incident["notices"] = notices.get(incident["id"], [])
    return incidents
