"""What the scheduler runs for a scheme, and when: its jobs and their cron slots.

A scheme has up to three scheduled jobs, one per crontab it sets (QEasy sets source and
target schedules separately):

========================  ==========================================  ===================
job                       run                                         leases (phases)
========================  ==========================================  ===================
``source``                collect; also delivers (streaming, as       ``collect`` (and
                          ``ferry run`` does) when there is no        ``deliver`` when it
                          ``schedule.target``                         delivers)
``target``                deliver what is due                         ``deliver``
``omissionRemedy``        the 补漏 sweep (``remedy``); delivers like  as ``source``
                          ``source`` does
``manual``                "run now" (:meth:`Scheduler.trigger`):      ``collect`` and
                          collect and deliver                         ``deliver``
``startup``               once at start (``ferry serve``), lookup     ``collect`` and
                          schemes first: collect and deliver          ``deliver``
========================  ==========================================  ===================

So a QEasy-style scheme with only a source crontab still gets its records delivered, and
a scheme with both crontabs collects and delivers on their own rhythms. The
``omissionRemedy`` crontab is ``schedule.omissionRemedy``, else the source metadata's
``omissionRemedy.crontab``.

Slots are cron fire times in the scheme's time zone (``settings.timezone``). A job is due
when its latest slot at or before now is later than the last slot it fired: however many
slots were missed, that is one run (misfire handling).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from ferry.scheme.model import Scheme

__all__ = [
    "COLLECT",
    "DELIVER",
    "MANUAL",
    "STARTUP",
    "Job",
    "jobs_of",
    "latest_slot",
    "manual_job",
    "next_slots",
    "startup_job",
]

COLLECT, DELIVER = "collect", "deliver"
MANUAL = "manual"
STARTUP = "startup"
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class Job:
    """One scheduled (or manual) job of one scheme."""

    scheme_id: str
    name: str
    """``source``, ``target``, ``omissionRemedy``, ``manual`` or ``startup``."""
    crontab: str | None
    collect: bool
    deliver: bool
    remedy: bool = False

    @property
    def phases(self) -> tuple[str, ...]:
        """The leases the run needs: ``collect`` and/or ``deliver``."""
        return ((COLLECT,) if self.collect else ()) + ((DELIVER,) if self.deliver else ())

    @property
    def kinds(self) -> tuple[str, ...]:
        """Run kinds whose leftover ``running`` rows this job's leases make stale (see leases)."""
        kinds: list[str] = ["run"]
        if self.collect:
            kinds.append("collect")
        if self.deliver:
            kinds.append("deliver")
        return tuple(kinds)


def jobs_of(scheme: Scheme) -> list[Job]:
    """The scheduled jobs of ``scheme`` (none when it sets no crontab)."""
    schedule = scheme.schedule
    streams = schedule.target is None  # no deliver schedule: collecting runs deliver too
    jobs: list[Job] = []
    if schedule.source:
        jobs.append(Job(scheme.id, "source", schedule.source, collect=True, deliver=streams))
    if schedule.target:
        jobs.append(Job(scheme.id, "target", schedule.target, collect=False, deliver=True))
    remedy = scheme.source_meta.omissionRemedy if scheme.source_meta is not None else None
    remedy_cron = schedule.omissionRemedy or (remedy.crontab if remedy is not None else None)
    if remedy_cron:
        jobs.append(Job(scheme.id, "omissionRemedy", remedy_cron, collect=True, deliver=streams, remedy=True))
    return jobs


def manual_job(scheme: Scheme) -> Job:
    """The "run now" job: collect and deliver, as ``ferry run`` does."""
    return Job(scheme.id, MANUAL, None, collect=True, deliver=True)


def startup_job(scheme: Scheme) -> Job:
    """The run at start (``ferry serve``): collect and deliver once, as ``ferry run`` does."""
    return Job(scheme.id, STARTUP, None, collect=True, deliver=True)


def latest_slot(crontab: str, now: datetime, tz: ZoneInfo) -> datetime:
    """The latest fire time of ``crontab`` at or before ``now``, in ``tz`` (tz-aware)."""
    it = croniter(crontab, now.astimezone(tz) + _TICK)
    slot: datetime = it.get_prev(datetime)
    return slot


def next_slots(crontab: str, now: datetime, tz: ZoneInfo, count: int = 1) -> list[datetime]:
    """The next ``count`` fire times of ``crontab`` strictly after ``now``, in ``tz``."""
    it = croniter(crontab, now.astimezone(tz))
    return [it.get_next(datetime) for _ in range(count)]
