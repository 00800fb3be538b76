"""Synthetic order volume: four weeks of hourly windows with a weekly pattern, stored as runs.

Weekdays peak at 10:00-11:00 and 20:00-21:00 (about 120 orders an hour), nights are quiet
(3 an hour), weekends run at 40 % of a weekday. Each hour's count wobbles by about 8 %
(a fixed seed: every run of the tests sees the same history).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from ferry.engine.window_report import WindowReport
from ferry.store import Store
from ferry.store._schema import runs

TZ = ZoneInfo("Asia/Shanghai")
HOUR = timedelta(hours=1)
NOW = datetime(2024, 6, 3, 11, 5, tzinfo=TZ)  # a Monday, just after the 10:00-11:00 window closed
"""The instant the rules are evaluated at: the newest window is [10:00, 11:00) of Monday 3 June."""
TARGET = NOW.replace(minute=0) - HOUR
"""Start of the newest window (its count is chosen by each test)."""

DAY_SHAPE = [3, 3, 3, 3, 3, 4, 8, 20, 45, 80, 120, 110, 90, 95, 100, 95, 85, 80, 90, 105, 120, 100, 50, 12]
"""Weekday orders per hour, from 00:00 to 23:00."""
WEEKEND = 0.4


@dataclass(frozen=True)
class Hour:
    """One synthetic window."""

    start: datetime
    records: int

    @property
    def end(self) -> datetime:
        return self.start + HOUR


def usual(start: datetime) -> float:
    """The pattern's expected count of the window starting at ``start``."""
    local = start.astimezone(TZ)
    return DAY_SHAPE[local.hour] * (WEEKEND if local.weekday() >= 5 else 1.0)


def history(weeks: int = 4, *, end: datetime = TARGET, seed: int = 15) -> list[Hour]:
    """Hourly windows from ``weeks`` weeks before ``end`` up to it (``end`` excluded)."""
    rng = random.Random(seed)
    start = end - timedelta(weeks=weeks)
    out = []
    at = start
    while at < end:
        out.append(Hour(at, max(0, round(usual(at) * rng.gauss(1.0, 0.08)))))
        at += HOUR
    return out


def store_windows(store: Store, scheme: str, hours: list[Hour], *, kind: str = "run") -> list[int]:
    """Record each window as the engine does: one finished run per window, started five minutes
    after the window closed, whose ``windows`` is the window's report (``stored`` its count)."""
    if store.get_scheme(scheme) is None:
        store.save_scheme(scheme, scheme, {})
    rows = []
    for hour in hours:
        report = WindowReport(
            window=f"[{hour.start}, {hour.end})",
            start=hour.start,
            end=hour.end,
            pages=1,
            fetched=hour.records,
            stored=hour.records,
            total=hour.records,
        )
        started = (hour.end + timedelta(minutes=5)).astimezone(UTC)
        rows.append(
            {
                "scheme_id": scheme,
                "kind": kind,
                "status": "succeeded",
                "started_at": started,
                "finished_at": started + timedelta(seconds=20),
                "counts": json.dumps({"fetched": hour.records, "new": hour.records}),
                "windows": json.dumps([report.as_dict()]),
            }
        )
    with store.transaction(write=True) as conn:
        for row in rows:  # one at a time: ids in time order, as runs are started
            conn.execute(sa.insert(runs).values(**row))
    with store.transaction() as conn:
        return [
            int(i) for i in conn.execute(sa.select(runs.c.id).where(runs.c.scheme_id == scheme)).scalars()
        ]
