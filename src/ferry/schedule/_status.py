"""What the scheduler shows the console about one scheme: its jobs, next fires and last runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ferry.schedule._jobs import Job, next_slots
from ferry.scheme.model import Scheme

__all__ = ["Snapshot", "scheme_status"]

Key = tuple[str, str]


@dataclass(frozen=True)
class Snapshot:
    """The scheduler's state, copied under its lock."""

    slots: dict[Key, datetime]
    flights: set[Key]
    blocked: set[Key]
    queued: set[str]
    last: dict[Key, dict[str, Any]]


def scheme_status(
    scheme: Scheme, jobs: list[Job], now: datetime, switched_on: bool, seen: Snapshot
) -> dict[str, Any]:
    """One scheme's entry of :meth:`Scheduler.status` (``last_run`` ``None`` when it never ran here)."""
    entries = []
    for job in jobs:
        assert job.crontab is not None
        key = (scheme.id, job.name)
        entries.append(
            {
                "job": job.name,
                "crontab": job.crontab,
                "next_fires": next_slots(job.crontab, now, scheme.tz, 3),
                "last_slot": seen.slots.get(key),
                "running": key in seen.flights,
                "waiting": key in seen.blocked,
                "last_run": seen.last.get(key),
            }
        )
    mine = [run for (sid, _), run in seen.last.items() if sid == scheme.id]
    return {
        "scheme_id": scheme.id,
        "name": scheme.name,
        "enabled": scheme.enabled and switched_on,
        "queued": scheme.id in seen.queued,
        "running": sorted(job for (sid, job) in seen.flights if sid == scheme.id),
        "jobs": entries,
        "last_run": max(mine, key=lambda run: run["finished_at"]) if mine else None,
    }
