"""A fetched page into the ledger: filtered, flattened, stored, counted once stored.

One ledger transaction per page. Records that cannot be stored as they are go into their
page as dead letters (:mod:`ferry.engine.dead_letters`), so they never hold the page back;
the window's cursor moves in the transaction of its last page (the collector says which).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ferry.connectors.base import Rejected
from ferry.engine.calls import CallLog
from ferry.engine.counts import RunCounts
from ferry.engine.dead_letters import PageKeeper, Row
from ferry.engine.drift import Held, quarantine_records
from ferry.engine.windows import Window
from ferry.errors import RecordError
from ferry.store import Hold, Store, UpsertResult
from ferry.transform.plan import SourcePlan
from ferry.transform.quality import QualityJudge, WindowFailed

__all__ = ["PageWriter"]


class PageWriter:
    """Turns each fetched page into ledger rows and stores them through ``upsert``."""

    def __init__(
        self,
        scheme_id: str,
        plan: SourcePlan,
        store: Store,
        counts: RunCounts,
        calls: CallLog,
        *,
        upsert: Callable[..., UpsertResult],
        on_change: str,
        run_id: int | None,
        judge: QualityJudge | None = None,
    ) -> None:
        """``judge``: the source ``quality`` rules, judging each ledger row of a page (after
        ``condition`` and ``beatFlat``) before it is stored (:meth:`rows`)."""
        self.scheme_id, self.plan, self.store, self.counts, self.calls = scheme_id, plan, store, counts, calls
        self.upsert = upsert
        """Stores a page (:meth:`Store.upsert_records`'s signature); a host's ``store_page``
        hands the new rows to a deliver loop as well (:mod:`ferry.engine.hosts`)."""
        self.on_change = on_change
        self.run_id = run_id
        self._page = RunCounts()
        """The collect counts of the page being read, added to :attr:`counts` once it is stored."""
        self.keeper = PageKeeper(plan.id_field, plan.number_field, plan.beat_flat, self._page)
        self.judge = judge if judge is not None and judge.rules else None
        self._holds: dict[str, Hold] = {}
        """The page's rows a source rule holds (stored ``quarantined`` with the page)."""

    def rows(
        self, records: list[dict[str, Any]], window: Window | None = None, held: Held | None = None
    ) -> list[Row]:
        """The ledger rows of a page: filtered, flattened, dead letters in their place, judged by
        the source quality rules; the records schema drift ``held`` (by ``id()``) are stored
        ``quarantined`` with their reason. The page's collect counts are added to the run's once
        it is stored (:meth:`commit`).

        Raises:
            WindowFailed: A row broke a ``fail_window`` rule: the page is not to be stored and
                the window's cursor not to move (counted in ``quality_failed``).
        """
        self.keeper.new_page()
        self._holds = {}
        page = self._page = self.keeper.counts = RunCounts()
        page.fetched = len(records)
        rows: list[Row] = []
        keeper, keep = self.keeper, self.plan.keep
        for record in records:
            if type(record) is Rejected:
                rows.append(keeper.rejected(record))
                continue
            kept = keep(record)
            if kept is None:
                page.filtered_out += 1
                continue
            first = len(rows)
            keeper.add(kept, rows)
            if held and id(record) in held:
                self._holds.update(quarantine_records(rows[first:], held[id(record)]))
        if self.judge is not None:
            self._judge(rows, window)
        return rows

    def _judge(self, rows: list[Row], window: Window | None) -> None:
        """Judge the page's rows (not its dead letters): count warnings, note holds, or stop."""
        judge, letters, page = self.judge, self.keeper.letters, self._page
        assert judge is not None
        judge.enter_window(None if window is None else (window.start, window.end))
        for row_id, _, content in rows:
            verdict = None if row_id in letters else judge.judge(content, row_id)
            if verdict is None:
                continue
            if verdict.action == "warn":
                page.warned += 1
                page.count_rules("warned", (v.rule for v in verdict.violations))
            elif verdict.action == "quarantine":
                self._holds[row_id] = verdict.first.hold()
            else:
                self.counts.add(quality_failed=1)
                self.counts.count_rules("failed", [verdict.first.rule])
                self.calls.flush()  # the page is not stored: its calls are logged on their own
                raise WindowFailed(verdict.first, row_id, f"in window {window}" if window else "")

    def commit(self, rows: list[Row], window: Window, cursor: tuple[str, datetime] | None) -> int:
        """Upsert one page (and move ``cursor`` with it); returns how many records were new."""
        page, self._page = self._page, RunCounts()
        if not rows:
            if cursor is not None:
                self.store.set_cursor(self.scheme_id, cursor[0], cursor[1])
            self.calls.flush()
            self._count(page, UpsertResult(), rows)
            return 0
        calls = self.calls.take()  # stored in the page's transaction: one write turn per page
        try:
            try:
                result = self._upsert(rows, window, cursor, calls)
            except RecordError:  # content with no JSON form: the rare path, row by row
                result = self._upsert(self.keeper.salvage(rows), window, cursor, calls)
        except BaseException:
            with contextlib.suppress(Exception):  # the run fails with the upsert's error
                self.store.log_api_calls(calls)
            raise
        self._count(page, result, rows)
        return result.new

    def _count(self, page: RunCounts, result: UpsertResult, rows: list[Row]) -> None:
        """Add a stored page's counts to the run's: the row counts of the upsert, and as
        ``repeated`` the rows whose id came again on the page (the store kept the last)."""
        stored = len(rows) - page.no_id - page.rejected  # dead letters are counted apart
        self.counts.add(
            fetched=page.fetched,
            flattened=page.flattened,
            filtered_out=page.filtered_out,
            no_id=page.no_id,
            rejected=page.rejected,
            repeated=stored - result.total,
            unchanged=result.unchanged,
            new=result.new,
            changed=result.changed,
            due=page.due + result.quarantined,
            dead=page.dead,
            quarantined=result.quarantined,
            warned=page.warned,
        )
        self.counts.merge_rules(page.quality_rules)
        self.counts.count_rules("quarantined", (self._holds[rid].rule for rid in result.held))

    def _upsert(
        self,
        rows: list[Row],
        window: Window,
        cursor: tuple[str, datetime] | None,
        calls: list[dict[str, Any]],
    ) -> UpsertResult:
        held = {"holds": self._holds} if self._holds else {}
        return self.upsert(
            self.scheme_id,
            rows,
            id_check=self.plan.id_check,
            on_change=self.on_change,
            window=(window.start, window.end),
            run_id=self.run_id,
            cursor=cursor,
            dead_letters=self.keeper.results(self.run_id),
            calls=calls,
            **held,
        )
