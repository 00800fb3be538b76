"""Reconciliation: re-scan a range of the source and compare it with the ledger, window by window.

``reconcile`` pages through every window of ``[since, until)`` exactly as the collector does
(same request, condition filter and beatFlat) but writes nothing, then reports per window:

- **source**: records the source returns now (and the API's own total, when it reports one);
- **ledger**: how many of those the ledger holds (``source = ledger + missing``);
- **delivered**: of those, how many are ``finished``;
- **missing**: ids the source returns that the ledger has never seen -- records a past
  collection lost;
- **changed**: ids in the ledger whose content differs from the source's now;
- **extra**: ledger rows collected in the range (their collecting window starts in it) that
  the source no longer returns anywhere in the range (deleted, or modified since and now
  past ``until``); each is shown in the window where its collecting window starts.

With ``repair`` the missing records (and, with ``on_change: redeliver``, the changed ones) are
written to the ledger as ``pending`` -- exactly what collecting would have done -- so the next
delivery sends them. Nothing else is ever written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ferry.connectors.base import SourceConnector
from ferry.engine.collector import Collector, Progress
from ferry.engine.counts import RunCounts
from ferry.engine.windows import Window, plan_windows
from ferry.scheme.model import Scheme
from ferry.store import RecordResult, Store
from ferry.store.codec import content_hash
from ferry.transform.plan import compile_scheme

__all__ = ["ReconcileReport", "WindowCheck", "reconcile"]


@dataclass
class WindowCheck:
    """One window's comparison."""

    window: Window
    source: int = 0
    source_total: int | None = None
    ledger: int = 0
    delivered: int = 0
    missing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    repaired: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (ids listed, at most 100 of each)."""
        return {
            "window": str(self.window),
            "source": self.source,
            "source_total": self.source_total,
            "ledger": self.ledger,
            "delivered": self.delivered,
            "missing": len(self.missing),
            "changed": len(self.changed),
            "extra": len(self.extra),
            "repaired": self.repaired,
            "missing_ids": self.missing[:100],
            "changed_ids": self.changed[:100],
            "extra_ids": self.extra[:100],
        }


@dataclass
class ReconcileReport:
    """Every window of a reconciliation."""

    scheme_id: str
    since: datetime
    until: datetime
    windows: list[WindowCheck] = field(default_factory=list)

    @property
    def missing(self) -> int:
        """Records the source has that the ledger never saw."""
        return sum(len(w.missing) for w in self.windows)

    @property
    def changed(self) -> int:
        """Records whose ledger content differs from the source's."""
        return sum(len(w.changed) for w in self.windows)

    @property
    def extra(self) -> int:
        """Ledger records the source no longer returns for their window."""
        return sum(len(w.extra) for w in self.windows)

    @property
    def repaired(self) -> int:
        """Records written to the ledger by ``repair``."""
        return sum(w.repaired for w in self.windows)


def reconcile(
    scheme: Scheme,
    store: Store,
    source: SourceConnector,
    *,
    since: datetime,
    until: datetime,
    repair: bool = False,
    progress: Progress | None = None,
) -> ReconcileReport:
    """Compare the source with the ledger over ``[since, until)``; see the module docstring.

    Windows follow the scheme's ``step`` and the connector's maximum span; ``lookback`` and
    ``lag`` do not apply (the range is exactly what was asked for).
    """
    collector = Collector(scheme, source, store, RunCounts(), progress=progress)
    windows = plan_windows(
        now=until,
        cursor=None,
        start=since,
        step=scheme.window.step,
        lookback=timedelta(0),
        lag=timedelta(0),
        max_span=scheme.window.max_span,
        connector_max=source.limits.max_window,
    )
    report = ReconcileReport(scheme.id, since, until)
    returned: set[str] = set()
    for index, window in enumerate(windows):
        if progress is not None:
            progress("window", window=window, index=index, total=len(windows))
        check, seen, letters = _read_window(collector, window)
        _compare(store, scheme.id, check, seen)
        returned.update(seen)
        if repair:
            redeliver = check.changed if scheme.settings.on_change == "redeliver" else []
            check.repaired = _repair(store, scheme, window, check.missing + redeliver, seen, letters)
        report.windows.append(check)
    for check in report.windows:
        held = store.window_states(scheme.id, check.window.start, check.window.end)
        check.extra = sorted(rid for rid in held if rid not in returned)
    return report


_Seen = dict[str, tuple[str | None, dict[str, Any]]]


def _read_window(collector: Collector, window: Window) -> tuple[WindowCheck, _Seen, dict[str, str]]:
    """Read every page of ``window`` as a run would, storing nothing: the window's check (its
    API total), the records by id, and the dead letters a run would store (id -> reason)."""
    check = WindowCheck(window)
    seen: _Seen = {}
    letters: dict[str, str] = {}
    for _, page, rows in collector.pages(window):
        collector.calls.flush()  # no page is stored here: log its API calls now
        if page.total is not None:
            check.source_total = page.total
        for rid, number, content in collector.keeper.salvage(rows):
            seen[rid] = (number, content)
        letters.update(collector.keeper.letters)
    check.source = len(seen)
    return check, seen, letters


def _compare(store: Store, scheme_id: str, check: WindowCheck, seen: _Seen) -> None:
    """Fill ``check`` with what the ledger holds of ``seen``: missing, changed, delivered."""
    states = store.ledger_states(scheme_id, list(seen))
    check.ledger = len(states)
    check.delivered = sum(1 for _, status in states.values() if status == "finished")
    check.missing = [rid for rid in seen if rid not in states]
    check.changed = [
        rid for rid, (_, content) in seen.items() if rid in states and states[rid][0] != content_hash(content)
    ]


def _repair(
    store: Store,
    scheme: Scheme,
    window: Window,
    todo: list[str],
    seen: _Seen,
    letters: dict[str, str],
) -> int:
    """Store the records ``todo`` lists as a run would (its dead letters dead); how many."""
    if not todo:
        return 0
    result = store.upsert_records(
        scheme.id,
        [(rid, seen[rid][0], seen[rid][1]) for rid in todo],
        id_check=compile_scheme(scheme).source.id_check,
        on_change=scheme.settings.on_change,
        window=(window.start, window.end),
        dead_letters=[
            RecordResult(record_id=rid, status="dead", error=letters[rid]) for rid in todo if rid in letters
        ],
    )
    return result.new + result.redelivered
