"""The quality report: per scheme, per run or per day, where every record of its runs went.

Read from what each finished run keeps with it (its counts, :mod:`ferry.engine.counts`) and
from the quarantine holds (:mod:`ferry.store.quarantine`), so it needs no extra bookkeeping. A
row of the report (one run, or the runs of a scheme that started on one day) has these
buckets, in ledger rows::

    source total = fetched + flattened   = filtered + collected
    collected    = without id + rejected + repeated + unchanged + new + changed
    due          = delivered + quarantined + failed + pending    (failed: error + dead)
    quarantined  = the sum over the rules of the rows each held

Every record a run read is in exactly one of ``filtered`` and ``collected``; every row it took
up to deliver (``due``: its new and changed rows, and the rows of earlier runs it retried or an
operator released, plus its dead letters) in exactly one of ``delivered``, ``quarantined``,
``failed`` and ``pending``; every quarantined row is held by exactly one rule. ``dropped``
counts the rows a run held that an operator has dropped since (a part of ``quarantined``, as
the holds say now); ``warned`` (records that broke a ``warn`` rule and went on) and
``quality_failed`` (windows and batches a ``fail_window`` rule stopped) count rules, not rows.
Per rule: ``warned``, ``quarantined``, ``failed`` (the run's ``quality_rules``) and
``dropped``. :meth:`QualityRow.imbalance` checks the identities.

Runs recorded before the accounting existed (no ``due`` count) and runs still running are left
out. ``since``/``until`` select runs by when they started; days are calendar days in ``tz``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ferry.store._schema import quarantine_holds, runs
from ferry.store.codec import loads

if TYPE_CHECKING:
    from ferry.store import Store

__all__ = ["BUCKETS", "BY", "RULE_COUNTS", "QualityRow", "quality_report", "rule_totals", "totals"]

BY = ("run", "day")
"""How the report groups a scheme's runs."""
BUCKETS = (
    "fetched",
    "flattened",
    "filtered",
    "collected",
    "due",
    "quarantined",
    "delivered",
    "failed",
    "pending",
    "dropped",
    "warned",
    "quality_failed",
)
"""The counts of a report row, in the order the views show them (``source_total`` is
``fetched + flattened``)."""
RULE_COUNTS = ("warned", "quarantined", "failed", "dropped")
"""The counts of each rule of a report row."""
_COLLECTED = ("no_id", "rejected", "repeated", "unchanged", "new", "changed")
_FINISHED = ("succeeded", "partial", "failed")


@dataclass
class QualityRow:
    """One row of the report: one run (``by="run"``) or one scheme's runs of one day."""

    scheme_id: str
    key: str
    """The run's id, or the day (``YYYY-MM-DD``)."""
    started_at: datetime
    """When the (first) run started."""
    runs: int = 0
    status: str | None = None
    """The run's status (``None`` for a day)."""
    fetched: int = 0
    flattened: int = 0
    filtered: int = 0
    collected: int = 0
    due: int = 0
    quarantined: int = 0
    delivered: int = 0
    failed: int = 0
    pending: int = 0
    dropped: int = 0
    warned: int = 0
    quality_failed: int = 0
    rules: dict[str, dict[str, int]] = field(default_factory=dict)
    """``{rule: {"warned", "quarantined", "failed", "dropped": n}}``, by rule name."""

    @property
    def source_total(self) -> int:
        """The rows the source gave: ``fetched + flattened``."""
        return self.fetched + self.flattened

    def add_run(self, counts: Mapping[str, Any]) -> None:
        """Add one run's stored counts (as :meth:`RunCounts.as_dict` kept them)."""

        def n(name: str) -> int:
            value = counts.get(name)
            return value if isinstance(value, int) and not isinstance(value, bool) else 0

        self.runs += 1
        self.fetched += n("fetched")
        self.flattened += n("flattened")
        self.filtered += n("filtered_out")
        self.collected += sum(n(name) for name in _COLLECTED)
        self.due += n("due")
        self.quarantined += n("quarantined")
        self.delivered += n("delivered")
        self.failed += n("failed") + n("dead")
        self.pending += n("pending")
        self.warned += n("warned")
        self.quality_failed += n("quality_failed")
        rules = counts.get("quality_rules")
        if isinstance(rules, Mapping):
            for rule, kinds in rules.items():
                if isinstance(kinds, Mapping):
                    self.add_rule(str(rule), kinds)

    def add_rule(self, rule: str, kinds: Mapping[str, Any]) -> None:
        """Add counts of ``rule`` (keys of :data:`RULE_COUNTS`; others are ignored)."""
        mine = self.rules.setdefault(rule, dict.fromkeys(RULE_COUNTS, 0))
        for kind in RULE_COUNTS:
            value = kinds.get(kind)
            if isinstance(value, int) and not isinstance(value, bool):
                mine[kind] += value

    def imbalance(self) -> list[str]:
        """The identities of the module docstring that do not hold (empty when all do)."""
        problems = []
        if self.source_total != self.filtered + self.collected:
            problems.append(
                f"source total {self.source_total} ≠ filtered {self.filtered} + collected {self.collected}"
            )
        ended = self.delivered + self.quarantined + self.failed + self.pending
        if self.due != ended:
            problems.append(
                f"due {self.due} ≠ delivered {self.delivered} + quarantined {self.quarantined} + "
                f"failed {self.failed} + pending {self.pending}"
            )
        held = sum(kinds["quarantined"] for kinds in self.rules.values())
        if held != self.quarantined:
            problems.append(f"quarantined {self.quarantined} ≠ {held} held by the rules")
        return problems

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (``started_at`` as ISO text, rules sorted by name)."""
        out: dict[str, Any] = {"scheme_id": self.scheme_id, "key": self.key, "runs": self.runs}
        out["status"] = self.status
        out["started_at"] = self.started_at.isoformat()
        out["source_total"] = self.source_total
        out.update({name: getattr(self, name) for name in BUCKETS})
        out["rules"] = {rule: dict(self.rules[rule]) for rule in sorted(self.rules)}
        out["balanced"] = not self.imbalance()
        return out


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _runs(
    store: Store, scheme_id: str | None, since: datetime | None, until: datetime | None
) -> list[tuple[int, str, str, datetime, dict[str, Any]]]:
    """``(id, scheme, status, started_at, counts)`` of the finished runs selected, oldest first."""
    query = sa.select(runs.c.id, runs.c.scheme_id, runs.c.status, runs.c.started_at, runs.c.counts).where(
        runs.c.status.in_(_FINISHED), runs.c.counts.is_not(None)
    )
    if scheme_id is not None:
        query = query.where(runs.c.scheme_id == scheme_id)
    if since is not None:
        query = query.where(runs.c.started_at >= since)
    if until is not None:
        query = query.where(runs.c.started_at < until)
    with store.transaction() as conn:
        found = conn.execute(query.order_by(runs.c.id)).all()
    out = []
    for run_id, sid, status, started, text in found:
        counts = loads(text) if text else {}
        if isinstance(counts, dict) and "due" in counts:
            out.append((int(run_id), str(sid), str(status), _aware(started), counts))
    return out


def _dropped(store: Store, run_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """``{run_id: {rule: rows}}``: the rows each run held that an operator dropped since."""
    H = quarantine_holds
    out: dict[int, dict[str, int]] = {}
    with store.transaction() as conn:
        for start in range(0, len(run_ids), 500):
            part = run_ids[start : start + 500]
            query = (
                sa.select(H.c.run_id, H.c.rule, sa.func.count())
                .where(H.c.run_id.in_(part), H.c.state == "dropped")
                .group_by(H.c.run_id, H.c.rule)
            )
            for run_id, rule, count in conn.execute(query):
                out.setdefault(int(run_id), {})[str(rule)] = int(count)
    return out


def _key(by: str, run_id: int, started: datetime, tz: tzinfo) -> str:
    if by == "run":
        return str(run_id)
    day: date = started.astimezone(tz).date()
    return day.isoformat()


def quality_report(
    store: Store,
    *,
    scheme_id: str | None = None,
    by: str = "run",
    since: datetime | None = None,
    until: datetime | None = None,
    tz: tzinfo = UTC,
) -> list[QualityRow]:
    """The report's rows, per scheme then per run or day in time order (see the module docstring).

    Args:
        scheme_id: Only this scheme (default: every scheme).
        by: ``run`` or ``day`` (:data:`BY`).
        since: Runs started at or after this (tz-aware).
        until: Runs started before this (tz-aware).
        tz: Where a day begins and ends (``by="day"``).

    Raises:
        ValueError: ``by`` is not one of :data:`BY`.
    """
    if by not in BY:
        raise ValueError(f"by must be one of {', '.join(BY)} (got {by!r})")
    found = _runs(store, scheme_id, since, until)
    dropped = _dropped(store, [run[0] for run in found])
    rows: dict[tuple[str, str], QualityRow] = {}
    for run_id, sid, status, started, counts in found:
        key = _key(by, run_id, started, tz)
        row = rows.get((sid, key))
        if row is None:
            row = rows[(sid, key)] = QualityRow(sid, key, started, status=status if by == "run" else None)
        row.add_run(counts)
        for rule, n in dropped.get(run_id, {}).items():
            row.dropped += n
            row.add_rule(rule, {"dropped": n})
    return sorted(rows.values(), key=lambda r: (r.scheme_id, r.started_at))


def totals(rows: Iterable[QualityRow], scheme_id: str = "", key: str = "total") -> QualityRow | None:
    """The sum of ``rows`` as one row (``None`` when there are none); the identities hold for
    it when they hold for each row."""
    rows = list(rows)
    if not rows:
        return None
    out = QualityRow(scheme_id, key, min(r.started_at for r in rows))
    for row in rows:
        out.runs += row.runs
        for name in BUCKETS:
            setattr(out, name, getattr(out, name) + getattr(row, name))
        for rule, kinds in row.rules.items():
            out.add_rule(rule, kinds)
    return out


def rule_totals(conn: sa.Connection) -> dict[tuple[str, str], dict[str, int]]:
    """``{(scheme_id, rule): {"warned", "quarantined", "failed": n}}`` summed over the finished
    runs that counted a rule, in the caller's transaction (the metrics read it at each scrape;
    only runs whose counts name a rule are read)."""
    named = sa.or_(*(runs.c.counts.like(f'%"quality_rules":{gap}{{"%') for gap in ("", " ")))
    query = sa.select(runs.c.scheme_id, runs.c.counts).where(runs.c.status.in_(_FINISHED), named)
    out: dict[tuple[str, str], dict[str, int]] = {}
    for sid, text in conn.execute(query):
        rules = (loads(text) or {}).get("quality_rules")
        for rule, kinds in (rules if isinstance(rules, dict) else {}).items():
            mine = out.setdefault((str(sid), str(rule)), dict.fromkeys(RULE_COUNTS[:3], 0))
            for kind in mine:
                value = kinds.get(kind) if isinstance(kinds, dict) else None
                mine[kind] += value if isinstance(value, int) and not isinstance(value, bool) else 0
    return out
