"""The rules, each a function of the store at ``now`` returning :class:`Finding` s.

A finding says, for one subject (a scheme id, or ``connection:api``), whether the rule fires
and why, in one line with the counts. Subjects a rule looked at and found healthy come back
with ``firing=False`` (their summary becomes the recovery text); a subject that is not
returned at all is healthy too. Every query is an aggregate over an index
(:mod:`ferry.store.alert_queries`):

- ``run_failed``: per scheme, its latest finished runs (``ix_runs_scheme``), except those a
  shutdown stopped (error ``stopped: ...``).
- ``error_ratio``: runs finished in the window (found by bisecting the run ids on
  ``started_at``), their ``delivered``/``failed``/``dead`` counts summed per scheme.
- ``stalled``: per scheme, its latest successful collect, against the slots of its source
  crontab (croniter, in the scheme's time zone).
- ``dead_letters``: ``ledger`` rows of the watched schemes in status ``dead`` (``ix_ledger_due``),
  counting those that went dead in the window.
- ``schema_drift``: open events of ``schema_drift_events`` per scheme (``ix_schema_drift_scheme``),
  in :mod:`ferry.observe.alerts._drift_rule`.
- ``quality_failed``: per scheme, its latest finished run (``ix_runs_scheme``): firing while
  its error says a ``fail_window`` quality rule stopped it (``quality rule <name> failed ...``).
- ``api_error_burst``: API calls in the window (ids bisected on ``started_at``), per connection
  and API. Only calls with status ``error`` count; ``throttled`` ones (the vendor's rate limit,
  waited out) are shown in the summary but never make a burst.
- ``volume_anomaly`` and ``freshness``: the windows and counts the schemes' runs recorded, in
  :mod:`ferry.observe.alerts.volume` (imported when first evaluated).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ferry.observe.alerts._drift_rule import schema_drift
from ferry.observe.alerts.config import (
    ApiErrorBurstRule,
    DeadLettersRule,
    ErrorRatioRule,
    QualityFailedRule,
    RuleSpec,
    RunFailedRule,
    StalledRule,
)
from ferry.observe.alerts.messages import fmt_duration, redact_text
from ferry.store import alert_queries as q

if TYPE_CHECKING:
    from ferry.scheme.model import Scheme

__all__ = ["Finding", "RuleContext", "evaluate_rule"]

BISECT_SLACK = timedelta(minutes=10)
"""Rows are written a little after their ``started_at`` (buffered per page, several processes):
the id bisection starts this much earlier, and the exact time filter does the rest."""
LONGEST_RUN = timedelta(days=1)
"""A run finishing inside the window started at most this long before it (for the bisection)."""
RUN_HISTORY = 50
"""Latest runs read per scheme by ``run_failed`` (the streak shown stops there)."""
STOPPED = "stopped:"
"""Error prefix of a run ended by a shutdown or a lost lease (graceful; the next run resumes it):
``run_failed`` passes over such runs, so they neither fire nor end a streak."""


@dataclass(frozen=True)
class Finding:
    """What one rule says about one subject at one instant."""

    rule: str
    rule_type: str
    subject: str
    firing: bool
    summary: str
    severity: str
    hint: str = ""
    facts: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleContext:
    """What rules read besides the store: the instant and the schemes."""

    now: datetime
    scheme_ids: Sequence[str]
    """Enabled scheme ids (the store's, plus those of ``schemes``)."""
    schemes: Mapping[str, Scheme] = field(default_factory=dict)
    """Loaded schemes by id; ``stalled`` needs their crontabs."""
    timezone: str = "Asia/Shanghai"


def _ago(now: datetime, then: datetime | None, tz: str) -> str:
    if then is None:
        return "never"
    from zoneinfo import ZoneInfo

    return f"{then.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M:%S} ({fmt_duration(now - then)} ago)"


def _first_line(text: str | None, width: int = 300) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return redact_text(line if len(line) <= width else line[: width - 1] + "…")


def _finding(
    rule: RuleSpec, subject: str, firing: bool, summary: str, hint: str, facts: Mapping[str, Any]
) -> Finding:
    return Finding(rule.name, rule.type, subject, firing, summary, rule.severity, hint, facts)


# -- run_failed --------------------------------------------------------------------------------


def _run_failed(rule: RunFailedRule, conn: sa.Connection, ctx: RuleContext) -> list[Finding]:
    out = []
    for sid in ctx.scheme_ids:
        if not rule.watches(sid):
            continue
        rows = q.latest_runs(conn, sid, rule.kinds, RUN_HISTORY, skip_error=STOPPED)
        if not rows:
            continue
        streak = next((i for i, r in enumerate(rows) if r.status != "failed"), len(rows))
        last = rows[0]
        when = _ago(ctx.now, last.finished_at, ctx.timezone)
        if streak:
            more = "+" if streak == len(rows) == RUN_HISTORY else ""
            summary = (
                f"{streak}{more} failed run(s) in a row (连续失败 {streak}{more} 次); last run #{last.id} "
                f"({last.kind}) at {when}: {_first_line(last.error) or 'no error text'}"
            )
        else:
            summary = f"last run #{last.id} ({last.kind}) {last.status} at {when} (已恢复)"
        hint = f"ferry runs show {last.id}; ferry runs --scheme {sid}"
        facts = {"streak": streak, "run_id": last.id, "status": last.status}
        out.append(_finding(rule, sid, bool(streak), summary, hint, facts))
    return out


# -- error_ratio -------------------------------------------------------------------------------


def _error_ratio(rule: ErrorRatioRule, conn: sa.Connection, ctx: RuleContext) -> list[Finding]:
    window = fmt_duration(rule.window)
    return [
        _ratio_finding(rule, sid, delivered, failed, dead, window)
        for sid, (delivered, failed, dead) in sorted(_delivery_totals(rule, conn, ctx).items())
    ]


def _delivery_totals(rule: ErrorRatioRule, conn: sa.Connection, ctx: RuleContext) -> dict[str, list[int]]:
    """``{scheme_id: [delivered, failed, dead]}`` summed over the watched schemes' runs that
    finished in the rule's window."""
    since = ctx.now - rule.window
    first = q.first_run_since(conn, since - LONGEST_RUN - BISECT_SLACK)
    if first is None:
        return {}
    totals: dict[str, list[int]] = {}
    for sid, counts_text in q.finished_run_counts(conn, first, since, ctx.now):
        if sid not in ctx.scheme_ids or not rule.watches(sid):
            continue
        try:
            counts = json.loads(counts_text) if counts_text else {}
        except ValueError:
            continue
        bucket = totals.setdefault(sid, [0, 0, 0])
        for i, key in enumerate(("delivered", "failed", "dead")):
            bucket[i] += int(counts.get(key) or 0)
    return totals


def _ratio_finding(
    rule: ErrorRatioRule, sid: str, delivered: int, failed: int, dead: int, window: str
) -> Finding:
    bad, total = failed + dead, delivered + failed + dead
    ratio = bad / total if total else 0.0
    firing = total >= rule.min_records and ratio > rule.threshold
    summary = (
        f"{bad} of {total} deliveries failed in the last {window} ({ratio:.0%}, threshold "
        f"{rule.threshold:.0%}; 失败率 {ratio:.0%}): {failed} to retry, {dead} dead"
    )
    if not firing and total < rule.min_records:
        summary += f" (below min_records {rule.min_records})"
    hint = f"ferry records --scheme {sid} --status error"
    facts = {"failed": failed, "dead": dead, "delivered": delivered, "ratio": round(ratio, 4)}
    return _finding(rule, sid, firing, summary, hint, facts)


# -- stalled -----------------------------------------------------------------------------------


def _stalled(rule: StalledRule, conn: sa.Connection, ctx: RuleContext) -> list[Finding]:
    from croniter import croniter

    created = q.schemes_created(conn)
    out = []
    for sid, scheme in sorted(ctx.schemes.items()):
        expr = scheme.schedule.source
        if not expr or sid not in ctx.scheme_ids or not rule.watches(sid):
            continue
        slots = croniter(expr, (ctx.now - rule.grace).astimezone(scheme.tz))
        deadline = [slots.get_prev(datetime) for _ in range(rule.intervals)][-1]
        out.append(_stalled_finding(rule, sid, expr, deadline, q.latest_collect(conn, sid), created, ctx))
    return out


def _stalled_finding(
    rule: StalledRule,
    sid: str,
    expr: str,
    deadline: datetime,
    ok: tuple[datetime, str] | None,
    created: Mapping[str, datetime],
    ctx: RuleContext,
) -> Finding:
    """``ok``: the latest good (or running) collect's ``(started_at, status)``."""
    last = ok[0] if ok is not None else None
    since = last if last is not None else created.get(sid)
    firing = since is not None and since < deadline
    if ok is not None and ok[1] == "running":
        state = f"a collect is running since {_ago(ctx.now, last, ctx.timezone)}"
    else:
        state = f"last successful collect: {_ago(ctx.now, last, ctx.timezone)}"
    if firing:
        summary = (
            f"no successful collect in the last {rule.intervals} slots of '{expr}' "
            f"(已连续 {rule.intervals} 个周期未成功采集); {state}"
        )
    else:
        summary = f"collecting on schedule '{expr}'; {state}"
    hint = f"ferry runs --scheme {sid}; is `ferry serve` running and the scheme enabled?"
    facts = {"last_success": last.isoformat() if last else None, "deadline": deadline.isoformat()}
    return _finding(rule, sid, firing, summary, hint, facts)


# -- dead_letters ------------------------------------------------------------------------------


def _dead_letters(rule: DeadLettersRule, conn: sa.Connection, ctx: RuleContext) -> list[Finding]:
    watched = [sid for sid in ctx.scheme_ids if rule.watches(sid)]
    if not watched:
        return []
    found = q.dead_letter_counts(conn, watched, ctx.now - rule.window)
    window = fmt_duration(rule.window)
    out = []
    for sid in watched:
        total, new = found.get(sid, (0, 0))
        firing = new >= rule.min_count
        if firing:
            summary = (
                f"{new} record(s) went dead in the last {window} (新增死信 {new} 条); {total} dead in all"
            )
        else:
            summary = f"no new dead letters in the last {window}; {total} dead in all (可重放)"
        hint = f"ferry records --scheme {sid} --status dead; ferry replay {sid} --status dead"
        out.append(_finding(rule, sid, firing, summary, hint, {"new": new, "dead": total}))
    return out


# -- quality_failed ----------------------------------------------------------------------------

QUALITY_FAILED = "quality rule "
"""Error prefix of a run a ``fail_window`` quality rule stopped (:class:`~ferry.transform.quality.WindowFailed`)."""


def _quality_failed(rule: QualityFailedRule, conn: sa.Connection, ctx: RuleContext) -> list[Finding]:
    out = []
    for sid in ctx.scheme_ids:
        if not rule.watches(sid):
            continue
        rows = q.latest_runs(conn, sid, ("run", "collect", "deliver"), 1, skip_error=STOPPED)
        if not rows:
            continue
        last = rows[0]
        firing = (last.error or "").startswith(QUALITY_FAILED)
        when = _ago(ctx.now, last.finished_at, ctx.timezone)
        if firing:
            summary = f"run #{last.id} stopped by a quality rule (质量规则中止) at {when}: {_first_line(last.error)}"
        else:
            summary = (
                f"last run #{last.id} ({last.kind}) {last.status} at {when}: quality rules passed (已恢复)"
            )
        hint = f"ferry runs show {last.id}; fix the record at the source or the rule, then run again"
        out.append(_finding(rule, sid, firing, summary, hint, {"run_id": last.id, "status": last.status}))
    return out


# -- api_error_burst ---------------------------------------------------------------------------


def _api_error_burst(rule: ApiErrorBurstRule, conn: sa.Connection, ctx: RuleContext) -> list[Finding]:
    since = ctx.now - rule.window
    first = q.first_api_call_since(conn, since - BISECT_SLACK)
    if first is None:
        return []
    window = fmt_duration(rule.window)
    out = []
    for (connection, api), (calls, errs, throttled) in sorted(_api_totals(rule, conn, ctx, first).items()):
        firing = errs >= rule.errors
        summary = f"{errs} error(s) in {calls} call(s) to {api} on {connection} in the last {window}"
        if throttled:
            summary += f"; {throttled} throttled (rate limit waited out, not counted; 限流 {throttled} 次)"
        if firing:
            summary += f" (≥ {rule.errors}; 接口报错 {errs} 次)"
            summary += _last_api_error(conn, first, connection, api)
        hint = f"check connection {connection!r} and the vendor's status; ferry runs"
        facts = {"connection": connection, "api": api, "calls": calls, "errors": errs, "throttled": throttled}
        out.append(_finding(rule, f"{connection}:{api}"[:191], firing, summary, hint, facts))
    return out


def _api_totals(
    rule: ApiErrorBurstRule, conn: sa.Connection, ctx: RuleContext, first: int
) -> dict[tuple[str, str], list[int]]:
    """``{(connection, api): [calls, errors, throttled]}`` in the rule's window, of the watched
    schemes and connections. Only status ``error`` is an error: a throttling answer is pacing."""
    import fnmatch

    totals: dict[tuple[str, str], list[int]] = {}
    for connection, api, sid, calls, errs, throttled in q.api_call_totals(
        conn, first, ctx.now - rule.window, ctx.now
    ):
        if rule.schemes and not rule.watches(sid):
            continue
        if rule.connections and not any(fnmatch.fnmatchcase(connection, p) for p in rule.connections):
            continue
        bucket = totals.setdefault((connection, api), [0, 0, 0])
        bucket[0] += calls
        bucket[1] += errs
        bucket[2] += throttled
    return totals


def _last_api_error(conn: sa.Connection, first: int, connection: str, api: str) -> str:
    """``"; last: <code> <message>"`` of the newest error of ``connection``/``api`` (or "")."""
    last = q.last_api_error(conn, first, connection, api)
    if last is None:
        return ""
    code, message = last
    return f"; last: {code or '?'} {_first_line(message, 200)}".rstrip()


_EVALUATORS: dict[str, Any] = {
    "run_failed": _run_failed,
    "error_ratio": _error_ratio,
    "stalled": _stalled,
    "dead_letters": _dead_letters,
    "api_error_burst": _api_error_burst,
    "volume_anomaly": "ferry.observe.alerts.volume:volume_anomaly",
    "freshness": "ferry.observe.alerts.volume:freshness",
    "schema_drift": schema_drift,
    "quality_failed": _quality_failed,
}
"""Rule type -> evaluator, or ``"module:function"`` of one imported when first used."""


def _evaluator(rule_type: str) -> Any:
    found = _EVALUATORS[rule_type]
    if isinstance(found, str):
        import importlib

        module, name = found.split(":")
        found = _EVALUATORS[rule_type] = getattr(importlib.import_module(module), name)
    return found


def evaluate_rule(rule: RuleSpec, conn: sa.Connection, ctx: RuleContext) -> list[Finding]:
    """Evaluate ``rule`` in ``conn`` (a read transaction) at ``ctx.now``: one finding per subject looked at."""
    return list(_evaluator(rule.type)(rule, conn, ctx))
