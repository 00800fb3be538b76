"""COLLECT: page through the source per window, filter, flatten and upsert into the ledger.

One ledger transaction per page; the window cursor is written in the same transaction as
the window's last page, so the cursor never passes a page that is not committed
(invariant 1). A record that cannot be stored as it is goes into its page as a dead letter
(:mod:`ferry.engine.dead_letters`), so it never holds the page or the window back.
Re-reading a window after a crash is harmless: upserts are keyed by (scheme, record id) and
``idCheck`` decides what a known id means (invariant 2).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ferry.connectors.base import Page, PageState, Rejected, SourceConnector
from ferry.engine.calls import CallLog
from ferry.engine.counts import RunCounts
from ferry.engine.dead_letters import Row
from ferry.engine.drift import DriftWatch
from ferry.engine.pacing import RateSharing, pacer_for
from ferry.engine.page_writer import PageWriter
from ferry.engine.retry import RetryPolicy, call_with_retry
from ferry.engine.window_report import WindowReport
from ferry.engine.windows import Window, plan_windows
from ferry.errors import FatalError, RetriableError
from ferry.expr import EvalContext, InMemoryLookups
from ferry.expr.paths import resolve_path
from ferry.scheme.model import Scheme
from ferry.store import Store, UpsertResult
from ferry.transform.plan import Plan, compile_scheme
from ferry.transform.quality import QualityJudge

if TYPE_CHECKING:
    from ferry.engine.events import RunLog

__all__ = ["Collector", "Progress", "Row"]

Progress = Callable[..., None]

MAX_PAGES_PER_WINDOW = 100_000
VERIFY_PASSES = 2
"""Re-reads of a window whose records fell short of the API's total."""


@dataclass
class _Reading:
    """One window being read: its report, the passes so far, the distinct ids they saw and
    where the cursor goes once the window is done."""

    window: Window
    report: WindowReport
    cursor_kind: str | None
    end: datetime
    """The window's end, or earlier when the vendor's clock is behind (:meth:`Collector._cursor_end`)."""
    seen: set[Any] = field(default_factory=set)
    passes: int = 0
    """0 on the first read, then the number of the re-read."""

    def short(self) -> int:
        """How many distinct records are missing from the API's total (0 without a total)."""
        total = self.report.total
        return 0 if total is None else max(total - len(self.seen), 0)


def source_judge(plan: Plan, store: Store, scheme: Scheme) -> QualityJudge | None:
    """The judge of the scheme's source ``quality`` rules for one run (``None`` without any),
    with the run's lookup index for ``lookup`` and ``expr`` rules (loaded on first use)."""
    if not plan.quality.source:
        return None
    lookups = InMemoryLookups(store.iter_lookup_rows, default_scheme=scheme.settings.lookup_scheme)
    return QualityJudge(plan.quality.source, lookups, scheme.tz)


class Collector:
    """Collects one scheme's source windows into the ledger."""

    def __init__(
        self,
        scheme: Scheme,
        source: SourceConnector,
        store: Store,
        counts: RunCounts,
        *,
        run_id: int | None = None,
        progress: Progress | None = None,
        retry: RetryPolicy | None = None,
        after_page: Callable[[], None] | None = None,
        upsert: Callable[..., UpsertResult] | None = None,
        stop: Callable[[], str | None] | None = None,
        log: RunLog | None = None,
        rates: RateSharing | None = None,
    ) -> None:
        """``stop`` returns a reason once the run must end: checked after every committed
        page (a checkpoint), it makes the collector raise ``FatalError(reason)``. ``log``
        receives one event per committed window and per verification re-read."""
        whole = compile_scheme(scheme)
        plan = whole.source
        meta = plan.meta
        self.scheme = scheme
        self.meta = meta
        self.source = source
        self.store = store
        self.counts = counts
        self.run_id = run_id
        self.progress = progress or (lambda *a, **k: None)
        self.retry = retry or RetryPolicy()
        self.after_page = after_page
        self.stop = stop
        self.log = log
        self.details: list[WindowReport] = []
        """The reports of the windows :meth:`collect` completed so far."""
        self.keep = plan.keep
        self.request = plan.request
        self.other = plan.other
        self.remedy_request = plan.remedy
        self.page_size = self._page_size()
        self.calls = CallLog(store, scheme.id, run_id, source.name)
        self.writer = PageWriter(
            scheme.id,
            plan,
            store,
            counts,
            self.calls,
            upsert=upsert or store.upsert_records,
            on_change=scheme.settings.on_change,
            run_id=run_id,
            judge=source_judge(whole, store, scheme),
        )
        """Stores each page (through ``upsert``: a host's ``store_page`` hands it over too)."""
        self.keeper = self.writer.keeper
        self.drift = DriftWatch(
            scheme.id, scheme.settings.schema_drift, plan.id_field, store, run_id=run_id, log=log
        )
        """Checks each fetched page's fields and types (``settings.schema_drift``)."""
        self.pacer = pacer_for(source, source.limits, store, rates)

    def _page_size(self) -> int:
        limits = self.source.limits
        size = self.scheme.settings.page_size
        if size is None and self.meta.pagination:
            size = (
                int(self.meta.pagination.get("pageSize") or self.meta.pagination.get("page_size") or 0)
                or None
            )
        size = size or limits.default_page_size
        return min(size, limits.max_page_size) if limits.max_page_size else size

    def plan(self, now: datetime) -> list[Window]:
        w = self.scheme.window
        return plan_windows(
            now=now,
            cursor=self.store.get_cursor(self.scheme.id, "main"),
            start=w.start,
            step=w.step,
            lookback=w.lookback,
            lag=w.lag,
            max_span=w.max_span,
            connector_max=self.source.limits.max_window,
        )

    def collect(self, now: datetime) -> list[WindowReport]:
        """Collect every planned window; returns their reports for the run record."""
        self.details = details = []
        windows = self.plan(now)
        for i, window in enumerate(windows):
            self._checkpoint()
            self.progress("window", window=window, index=i, total=len(windows))
            details.append(self.collect_window(window, cursor_kind="main"))
        return details

    def _checkpoint(self) -> None:
        """Raise ``FatalError`` when a stop was asked (called where everything is committed)."""
        reason = self.stop() if self.stop is not None else None
        if reason:
            raise FatalError(reason)

    def remedy(self, now: datetime) -> WindowReport:
        """The omissionRemedy sweep: the source request with ``takeOverRequest`` fields replaced."""
        if self.remedy_request is None:
            raise FatalError(f"scheme {self.scheme.id} has no omissionRemedy.takeOverRequest to sweep with")
        saved, self.request = self.request, self.remedy_request
        try:
            end = now - self.scheme.window.lag
            before = self.counts.new
            report = self.collect_window(Window(end - self.scheme.window.step, end), cursor_kind=None)
            found = self.counts.new - before  # every new record here was missed by the main windows
            self.counts.recovered += found - (report.recovered or 0)
            report.recovered = found
            return report
        finally:
            self.request = saved

    def pages(self, window: Window) -> Iterator[tuple[PageState, Page, list[Row]]]:
        """Page through one window: ``(state, page, rows)`` per page, rows filtered and flattened.

        The API calls of a page stay in :attr:`calls` for the page's upsert to store (a caller
        that stores no page calls ``self.calls.flush()``).

        Raises:
            FatalError: Paging does not end (too many pages, or a page repeating the last one),
                or the source keeps failing after the retry policy's attempts.
        """
        limits = self.source.limits
        state: PageState | None = PageState(index=0, page_size=self.page_size)
        previous_ids: list[str] | None = None
        while state is not None:
            if state.index >= MAX_PAGES_PER_WINDOW:
                raise FatalError(
                    f"window {window}: more than {MAX_PAGES_PER_WINDOW} pages; paging does not end"
                )
            variables = {
                "LAST_SYNC_TIME": window.start,
                "CURRENT_TIME": window.end,
                **state.variables(limits.page_base),
            }
            request = self.render(variables, now=window.end)
            try:
                page = self._fetch(request, state)
                held = self.drift.check(page.records, window, last=page.next is None)
            except BaseException:
                self.calls.flush()  # the failed attempts are logged even though no page follows
                raise
            rows = self.writer.rows(page.records, window, held)
            ids = [r[0] for r in rows]
            if previous_ids is not None and ids and ids == previous_ids and page.next is not None:
                raise FatalError(
                    f"window {window}: page {state.index} repeats the previous page; paging loops"
                )
            previous_ids = ids
            yield state, page, rows
            state = page.next

    def collect_window(self, window: Window, *, cursor_kind: str | None) -> WindowReport:
        """Page through one window; commit each page; move the cursor once the window is complete.

        The cursor moves in the transaction of the window's last page -- unless the API reported
        a total and fewer distinct records came than the largest total it reported (records
        moved while paging shift the offsets, so a pager skips some): then the window is read
        again (``settings.verify_totals``, at most :data:`VERIFY_PASSES` times) and the cursor
        moves after that.
        """
        started = time.monotonic()
        read = _Reading(window, WindowReport.of(window), cursor_kind, window.end)
        new_before = self.counts.new
        for _ in self._passes(read):
            for state, page, rows in self.pages(window):
                self._take_page(read, state, page, rows)
        if read.passes and cursor_kind:
            self.store.set_cursor(self.scheme.id, cursor_kind, read.end)
        report = read.report
        report.short = read.short() or None
        self.counts.windows += 1
        report.seconds = round(time.monotonic() - started, 3)
        if self.log is not None:
            self._log_window(window, report, self.counts.new - new_before, cursor_kind)
        return report

    def _passes(self, read: _Reading) -> Iterator[int]:
        """The passes over a window: the first read (pass 0), then a re-read while the distinct
        records fall short of the API's total, at most :data:`VERIFY_PASSES` times."""
        yield read.passes
        while self._reread_due(read):
            read.passes += 1
            self.counts.verified += 1
            self.progress("verify", window=read.window, short=read.short())
            if self.log is not None:
                self.log.warning(
                    f"window {read.window}: {read.short()} records short of the API's total "
                    f"{read.report.total}; reading it again (pass {read.passes})"
                )
            yield read.passes

    def _reread_due(self, read: _Reading) -> bool:
        """Whether the window is to be read again: verifying, short, and passes left."""
        return bool(self.scheme.settings.verify_totals and read.short() and read.passes < VERIFY_PASSES)

    def _take_page(self, read: _Reading, state: PageState, page: Page, rows: list[Row]) -> None:
        """Store one page of a pass. Pass 0 moves the cursor with the window's last page unless
        the window is to be read again; a re-read counts the new records it stores as recovered."""
        first = read.passes == 0
        if first and state.index == 0:  # the vendor's clock as the window's first answer told it
            read.end = self._cursor_end(read.window, read.report)
        self._note_total(read, page)
        last = page.next is None
        new = self.writer.commit(rows, read.window, self._page_cursor(read, last))
        if not first:
            self.counts.recovered += new
            read.report.recovered = (read.report.recovered or 0) + new
        self._page_done(read.window, state, page, rows, read.report)
        if not (first and last):  # after the first pass's last page, the window is not done
            self._checkpoint()

    def _note_total(self, read: _Reading, page: Page) -> None:
        """Keep the largest total the API reported (records modified out of the window lower it)
        and the distinct ids read, which are only ever compared with a total."""
        if page.total is not None:
            read.report.total = max(page.total, read.report.total or 0)
        if page.total is not None or read.passes:
            read.seen.update(self._raw_ids(page.records))

    def _page_cursor(self, read: _Reading, last: bool) -> tuple[str, datetime] | None:
        """The cursor to move with a page: with the first pass's last page, unless re-read."""
        if not (last and read.cursor_kind) or read.passes or self._reread_due(read):
            return None
        return (read.cursor_kind, read.end)

    def _log_window(self, window: Window, report: WindowReport, new: int, cursor_kind: str | None) -> None:
        assert self.log is not None
        total = "" if report.total is None else f", API total {report.total}"
        text = (
            f"window {window} committed{' (cursor moved)' if cursor_kind else ''}: {report.pages} pages, "
            f"{report.fetched} fetched, {report.stored} stored, {new} new{total}"
        )
        if report.recovered:
            text += f"; {report.recovered} recovered by re-reading"
        if report.short:
            self.log.warning(f"{text}; still {report.short} short of the total")
        else:
            self.log.info(text)

    def _cursor_end(self, window: Window, report: WindowReport) -> datetime:
        """Where the cursor may go once ``window`` is read: its end, but never past the vendor's
        own clock (as its first page's ``Date`` header told it) less the lag and a second.

        A vendor whose clock is behind Ferry's stamps a record it changes after this read with a
        time before the window's end; the next window starts early enough to see it
        (``settings.follow_vendor_clock``; the held-back seconds are in the window's report).
        A source without a clock (:meth:`SourceConnector.vendor_time` is ``None``) holds nothing back.
        """
        vendor_now = self.source.vendor_time() if self.scheme.settings.follow_vendor_clock else None
        if vendor_now is None:
            return window.end
        limit = vendor_now - self.scheme.window.lag - timedelta(seconds=1)
        if limit >= window.end:
            return window.end
        held = (window.end - limit).total_seconds()
        report.held_back_s = round(held, 1)
        if self.log is not None:
            self.log.warning(
                f"window {window}: the vendor's clock is {held:.0f} s behind the window's end; "
                f"the cursor stops at {limit.isoformat()} so the next window re-reads that span"
            )
        return limit

    def _page_done(
        self, window: Window, state: PageState, page: Page, rows: list[Row], report: WindowReport
    ) -> None:
        self.counts.pages += 1
        report.pages += 1
        report.fetched += len(page.records)
        report.stored += len(rows)
        self.progress("page", window=window, page=state.index, records=len(page.records), counts=self.counts)
        if self.after_page is not None:
            self.after_page()

    def _raw_ids(self, records: list[dict[str, Any]]) -> list[Any]:
        """Source ids of ``records`` (before filtering), for comparing with the API's total."""
        key = self.meta.id
        if not key:
            return []
        return [
            record.raw if type(record) is Rejected else str(resolve_path(record, key)) for record in records
        ]

    def render(self, variables: dict[str, Any], *, now: datetime) -> dict[str, Any]:
        """The request for one page: ``otherRequest`` (FormId, FilterString ...) and ``request``.

        Both are rendered with the window and paging ``variables``; a ``request`` field wins
        over an ``otherRequest`` field of the same name.
        """
        ctx = EvalContext(row={}, variables=variables, tz=self.scheme.tz, now=now)
        request = self.request.map(ctx)
        if not self.meta.otherRequest:
            return request
        return {**self.other.map(ctx), **request}

    def _fetch(self, request: dict[str, Any], state: PageState) -> Page:
        def on_retry(attempt: int, exc: Exception) -> None:
            self.counts.retries += 1
            self.progress("retry", attempt=attempt, error=str(exc))

        def fetch() -> Page:
            return self.pacer.run(
                lambda: self.calls.timed(
                    self.meta.api,
                    lambda: self.source.fetch(self.meta.api, self.meta.method, request, state),
                    lambda page: len(page.records),
                )
            )

        try:
            return call_with_retry(
                fetch,
                self.retry,
                on_retry=on_retry,
            )
        except RetriableError as exc:
            raise FatalError(
                f"source {self.source.name}: giving up after {self.retry.attempts} attempts: {exc}"
            ) from exc
