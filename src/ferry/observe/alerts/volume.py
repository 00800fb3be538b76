"""The ``volume_anomaly`` and ``freshness`` rules: is a scheme's data arriving as it should?

``volume_anomaly`` judges each watched scheme's newest window (by end) against the comparable
windows of the last ``days`` (:func:`ferry.observe.anomaly.comparable_history`, then
:func:`~ferry.observe.anomaly.assess`); it reads the windows the scheme's runs recorded
(``runs.windows``, from the first run id of the period found by bisection, then over
``ix_runs_scheme``), never the ledger. A window read again (an omissionRemedy sweep, a retried
run) counts once, as its newest run saw it. A scheme without enough comparable history gets no
finding (no verdict, no recovery either).

``freshness`` finds, per watched scheme, the newest finished collecting run whose counts say it
found new records (``runs.counts``); the data is as old as the active time since that run
finished (or since the scheme was created, when no run found any), see :func:`active_elapsed`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from ferry.observe.alerts.config import WEEKDAYS, FreshnessRule, VolumeAnomalyRule
from ferry.observe.alerts.messages import fmt_duration
from ferry.observe.alerts.rules import BISECT_SLACK, LONGEST_RUN, Finding, RuleContext
from ferry.observe.alerts.rules import _ago as ago
from ferry.observe.alerts.rules import _finding as make_finding
from ferry.observe.anomaly import History, Verdict, assess, comparable_history
from ferry.store import alert_queries as q

__all__ = ["COUNTED", "active_elapsed", "freshness", "volume_anomaly"]

COUNTED = "stored"
"""The window figure judged: records collected after the condition (see :class:`VolumeAnomalyRule`)."""
COLLECTING = ("run", "collect")
"""Run kinds whose windows are judged."""
LAST_NEW_HISTORY = 500
"""Runs read back (newest first) to say when a stale scheme last found a new record."""


def _zone(sid: str, ctx: RuleContext) -> tzinfo:
    scheme = ctx.schemes.get(sid)
    return scheme.tz if scheme is not None else ZoneInfo(ctx.timezone)


# -- volume_anomaly ----------------------------------------------------------------------------


def volume_anomaly(rule: VolumeAnomalyRule, conn: sa.Connection, ctx: RuleContext) -> list[Finding]:
    """One finding per watched scheme whose newest window has enough comparable history."""
    first = q.first_run_since(conn, ctx.now - timedelta(days=rule.days) - LONGEST_RUN - BISECT_SLACK)
    if first is None:
        return []
    out = []
    for sid in ctx.scheme_ids:
        if not rule.watches(sid):
            continue
        windows = _latest_reads(q.window_counts(conn, sid, first, COLLECTING, COUNTED))
        if not windows:
            continue
        target = max(windows, key=lambda w: (w.end, w.run_id))
        history = comparable_history(
            target, windows, tz=_zone(sid, ctx), days=rule.days, min_samples=rule.min_samples
        )
        if not history.basis:
            continue
        verdict = assess(
            target.records,
            history.counts,
            threshold=rule.threshold,
            min_spread=rule.min_spread,
            zero_when_median_at_least=rule.zero_when_median_at_least,
            direction=rule.direction,
        )
        out.append(_volume_finding(rule, sid, target, history, verdict, ctx))
    return out


def _latest_reads(windows: Sequence[q.WindowCount]) -> list[q.WindowCount]:
    """Each ``[start, end)`` once, as the newest run that read it counted it."""
    newest: dict[tuple[datetime, datetime], q.WindowCount] = {}
    for window in windows:
        key = (window.start, window.end)
        if key not in newest or window.run_id > newest[key].run_id:
            newest[key] = window
    return list(newest.values())


def _volume_finding(
    rule: VolumeAnomalyRule,
    sid: str,
    target: q.WindowCount,
    history: History,
    verdict: Verdict,
    ctx: RuleContext,
) -> Finding:
    tz = _zone(sid, ctx)
    span = f"[{target.start.astimezone(tz):%m-%d %H:%M}, {target.end.astimezone(tz):%m-%d %H:%M})"
    usual = (
        f"usual {verdict.median:.0f} (median of {verdict.samples} {history.basis} windows, "
        f"z {verdict.z:+.1f}, threshold {rule.threshold:g})"
    )
    if verdict.reason == "zero":
        summary = (
            f"window {span} collected 0 records where the median is {verdict.median:.0f} "
            f"(≥ {rule.zero_when_median_at_least:g}; 数据量为零): {usual}"
        )
    elif verdict.anomalous:
        way, zh = ("fewer", "骤降") if verdict.z < 0 else ("more", "激增")
        summary = f"window {span} collected {target.records} records, far {way} than {usual} (数据量{zh})"
    else:
        summary = f"window {span} collected {target.records} records; {usual} (数据量正常)"
    hint = f"ferry runs show {target.run_id}; compare with the vendor's own count for the window"
    facts = {
        "run_id": target.run_id,
        "count": target.records,
        "median": round(verdict.median, 3),
        "z": round(verdict.z, 3),
        "samples": verdict.samples,
        "basis": history.basis,
        "reason": verdict.reason,
    }
    return make_finding(rule, sid, verdict.anomalous, summary, hint, facts)


# -- freshness ---------------------------------------------------------------------------------


def active_elapsed(
    since: datetime,
    now: datetime,
    *,
    tz: tzinfo,
    hours: tuple[time, time] | None = None,
    days: Sequence[str] = WEEKDAYS,
    enough: timedelta | None = None,
) -> timedelta:
    """The active time in ``[since, now)``: the part inside ``hours`` (``(from, to)``, wrapping
    midnight when ``to <= from``; ``None``: all day) on ``days`` (``mon`` .. ``sun``, of the
    day the active period starts on), in ``tz``. Counting walks back from ``now`` one day at a
    time and stops once it passes ``enough``, so a long-stale scheme costs no more than a fresh one.
    """
    total = timedelta(0)
    day = now.astimezone(tz).date() + timedelta(days=1)
    first = since.astimezone(tz).date() - timedelta(days=1)
    while day >= first and (enough is None or total <= enough):
        if WEEKDAYS[day.weekday()] in days:
            start, end = _active_span(day, hours, tz)
            overlap = min(end, now) - max(start, since)
            total += max(overlap, timedelta(0))
        day -= timedelta(days=1)
    return total


def _active_span(day: date, hours: tuple[time, time] | None, tz: tzinfo) -> tuple[datetime, datetime]:
    """The active period that starts on ``day``, as aware datetimes."""
    begin, finish = hours if hours is not None else (time(0), time(0))
    start = datetime.combine(day, begin, tz)
    end = datetime.combine(day, finish, tz)
    if end <= start:
        end += timedelta(days=1)
    return start, end


def freshness(rule: FreshnessRule, conn: sa.Connection, ctx: RuleContext) -> list[Finding]:
    """One finding per watched scheme that exists in the store (a run or its definition)."""
    first = q.first_run_since(conn, ctx.now - rule.max_age - LONGEST_RUN - BISECT_SLACK)
    created = q.schemes_created(conn)
    out = []
    for sid in ctx.scheme_ids:
        if not rule.watches(sid):
            continue
        found = q.new_record_runs(conn, sid, first=first) if first is not None else []
        if not found:  # stale: say when it last found any, reading a bounded number of runs
            found = q.new_record_runs(conn, sid, limit=LAST_NEW_HISTORY)
        last = found[0] if found else None
        since = last[0] if last is not None else created.get(sid)
        if since is None:
            continue
        age = active_elapsed(
            since, ctx.now, tz=_zone(sid, ctx), hours=rule.hours, days=rule.active_days, enough=rule.max_age
        )
        out.append(_freshness_finding(rule, sid, last, since, age, ctx))
    return out


def _freshness_finding(
    rule: FreshnessRule,
    sid: str,
    last: tuple[datetime, int] | None,
    since: datetime,
    age: timedelta,
    ctx: RuleContext,
) -> Finding:
    firing = age > rule.max_age
    limit = fmt_duration(rule.max_age)
    active = f" of active time ({rule.active_hours})" if rule.active_hours else ""
    if last is None:
        state = (
            f"none of its latest {LAST_NEW_HISTORY} runs found a new record; "
            f"scheme created {ago(ctx.now, since, ctx.timezone)}"
        )
    else:
        state = f"last new records ({last[1]}) collected by a run ending {ago(ctx.now, since, ctx.timezone)}"
    if firing:
        summary = f"no new record for more than {limit}{active} (超过 {limit} 没有新数据); {state}"
    else:
        summary = f"new records within {limit}{active} (数据新鲜); {state}"
    hint = f"ferry runs --scheme {sid}; check the source has data and the scheme's condition"
    facts = {
        "last_new": since.isoformat(),
        "active_age_s": int(age.total_seconds()),
        "new": last[1] if last else 0,
    }
    return make_finding(rule, sid, firing, summary, hint, facts)
