"""What the console shows beyond :class:`~ferry.store.Store`'s own reads, shaped for its pages.

The queries are the store's (:mod:`ferry.store.reports`, :mod:`ferry.store.incidents`), and
every one is bounded: activity is counted in one scan per table with one ``CASE`` per hour,
API latencies come from at most :data:`API_CALL_LIMIT` recent calls, histories from the
newest rows.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ferry.store import Store, reports
from ferry.store.incidents import alert_history
from ferry.store.reports import last_runs, status_by_scheme

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


def activity(store: Store, now: datetime, hours: int = 24) -> Activity:
    """Hourly counts over the last ``hours`` up to ``now`` (the current hour included).

    ``received``: ledger rows created; ``delivered``: rows whose last delivery was then;
    ``failed``: failed delivery attempts (``record_attempts``).
    """
    end = _hour_floor(now) + timedelta(hours=1)
    edges = [end - timedelta(hours=hours - i) for i in range(hours + 1)]
    received, delivered, failed = reports.hourly_activity(store, edges)
    return Activity(edges[:-1], received, delivered, failed)


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


Call = tuple[datetime, int | None, str]
"""One API call as the statistics read it: ``(started_at, duration_ms, status)``."""


def api_stats(
    store: Store, now: datetime, *, hours: int = 24, buckets: int = 24, limit: int = API_CALL_LIMIT
) -> list[ApiStat]:
    """Per ``(connection, api)``: calls, errors, throttled calls and p50/p95/p99 latency over the last ``hours``,
    overall and in ``buckets`` equal time buckets, from the newest ``limit`` calls."""
    since = now - timedelta(hours=hours)
    width = timedelta(hours=hours) / buckets
    grouped: dict[tuple[str, str], list[Call]] = defaultdict(list)
    for connection, api, started, duration, status in reports.recent_api_calls(store, since, limit):
        grouped[(connection, api)].append((started, duration, status))
    stats = []
    for (connection, api), calls in sorted(grouped.items()):
        stat = ApiStat(connection, api, calls=len(calls), errors=_status(calls, "error"))
        stat.throttled = _status(calls, "throttled")
        durations = [float(c[1]) for c in calls if c[1] is not None]
        stat.p50, stat.p95, stat.p99 = (percentile(durations, q) for q in (50, 95, 99))
        per: list[list[Call]] = [[] for _ in range(buckets)]
        for call in calls:
            index = min(int((call[0] - since) / width), buckets - 1)
            per[max(index, 0)].append(call)
        stat.buckets = [_bucket(since + width * i, members) for i, members in enumerate(per)]
        stats.append(stat)
    return stats


def _bucket(start: datetime, members: list[Call]) -> ApiBucket:
    times = [float(c[1]) for c in members if c[1] is not None]
    return ApiBucket(
        start,
        calls=len(members),
        errors=_status(members, "error"),
        throttled=_status(members, "throttled"),
        p50=percentile(times, 50),
        p95=percentile(times, 95),
        p99=percentile(times, 99),
    )
