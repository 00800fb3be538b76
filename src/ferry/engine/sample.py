"""Sample records of a scheme: one page of the live source, or the newest ledger rows.

Used by ``ferry preview``, ``ferry check`` and ``ferry validate --sample`` to check the
scheme's placeholders against real records (:mod:`ferry.transform.placeholder_check`), and by
``ferry preview --fill-response``. Nothing is stored but the calls' place in the vendor's rate
budget.

A live sample reads the first page of the first window that holds records: windows are walked
forward from the scheme's cursor (or ``window.start``) up to now, at most ``max_windows`` of
them, each asked for one page, so a scheme whose first windows are empty (a start long before
the data) still gets a sample. ``since``/``until`` choose where the walk starts and ends
(:func:`sample_windows`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ferry.connectors.base import Page, PageState, Rejected
from ferry.engine.collector import Collector
from ferry.engine.retry import RetryPolicy, call_with_retry
from ferry.engine.windows import Window, plan_windows
from ferry.errors import ConfigError
from ferry.scheme.model import Scheme
from ferry.store import Store
from ferry.transform.flatten import beat_flat

__all__ = [
    "MAX_WINDOWS",
    "SAMPLE_RECORDS",
    "WALK_RETRY",
    "Sample",
    "Walk",
    "ledger_sample",
    "live_sample",
    "sample_windows",
    "walk_windows",
    "window_page",
]

MAX_WINDOWS = 400
"""Windows asked for a page at most while looking for one that holds records."""
SAMPLE_RECORDS = 50
"""Records a placeholder check samples (one page of at most this many)."""
WALK_RETRY = RetryPolicy(attempts=3, base_delay=0.5, max_delay=2.0)
"""Retries of a sample's page call (throttled, 5xx, timeouts): a walk makes many calls."""


@dataclass
class Walk:
    """Windows walked to the first that holds records."""

    window: Window
    """The first window that holds records; the last one asked when none did."""
    request: dict[str, Any]
    """The rendered source request of :attr:`window`'s first page."""
    page: Page
    empty: list[Window] = field(default_factory=list)
    """Windows before :attr:`window` that held no record (all asked, when none did)."""
    left: int = 0
    """Planned windows not asked because ``max_windows`` was reached."""

    @property
    def found(self) -> bool:
        """Whether a window with records was found."""
        return bool(self.page.records)

    def describe_empty(self) -> str:
        """``3 empty windows skipped, [a, b) to [c, d)`` (or ``""``)."""
        if not self.empty:
            return ""
        n = len(self.empty)
        span = str(self.empty[0]) if n == 1 else f"{self.empty[0]} to {self.empty[-1]}"
        text = f"{n} empty window{'s' if n != 1 else ''} {'skipped' if self.found else 'asked'}: {span}"
        if self.left:
            text += f"; {self.left} later window{'s' if self.left != 1 else ''} not asked (--max-windows)"
        return text


@dataclass
class Sample:
    """Sampled records of a scheme."""

    origin: str
    """``live`` (one source page) or ``ledger`` (stored rows)."""
    records: list[dict[str, Any]]
    """As the source returned them (ledger rows: as stored, i.e. flattened)."""
    rows: list[dict[str, Any]]
    """As the target mapping sees them: beat-flattened."""
    walk: Walk | None = None
    """How a live sample's window was found."""

    def describe(self) -> str:
        """``5 records of window [a, b)`` or ``3 ledger rows``, for messages."""
        n = len(self.records)
        if self.origin == "ledger" or self.walk is None:
            return f"{n} ledger row{'s' if n != 1 else ''}"
        return f"{n} record{'s' if n != 1 else ''} of window {self.walk.window}"


def window_page(
    collector: Collector, window: Window, limit: int, *, retry: RetryPolicy | None = None
) -> tuple[dict[str, Any], Page]:
    """Fetch the first page (at most ``limit`` records) of ``window``: ``(request, page)``.

    ``retry`` retries transient failures (5xx, timeouts, refused connections).
    """
    source = collector.source
    state = PageState(index=0, page_size=min(collector.page_size, max(limit, 1)))
    variables = {
        "LAST_SYNC_TIME": window.start,
        "CURRENT_TIME": window.end,
        **state.variables(source.limits.page_base),
    }
    request = collector.render(variables, now=window.end)

    def fetch() -> Page:  # within the vendor's call budget, shared with any run going on
        return collector.pacer.run(
            lambda: source.fetch(collector.meta.api, collector.meta.method, request, state)
        )

    page = call_with_retry(fetch, retry) if retry is not None else fetch()
    return request, page


def sample_windows(
    collector: Collector, now: datetime, *, since: datetime | None = None, until: datetime | None = None
) -> list[Window]:
    """The windows a sample walks, oldest first.

    - neither: the windows a run would read now (from the cursor or ``window.start``, with the
      scheme's lookback and lag), else the last ``window.step`` before now;
    - ``until`` alone: the same, with ``until`` in place of now;
    - ``since`` alone: from ``since`` up to now less the lag, in steps of ``window.step``;
    - both: exactly ``[since, until)`` (split only where ``max_span`` or the connector's longest
      window says so).

    Raises:
        ConfigError: ``since`` is not before ``until``.
    """
    spec = collector.scheme.window
    if since is not None and until is not None and since >= until:
        raise ConfigError(
            f"--since {since.isoformat(sep=' ')} is not before --until {until.isoformat(sep=' ')}"
        )
    end = until or now
    if since is None:
        return collector.plan(end) or [Window(end - spec.step, end)]
    exact = until is not None
    return plan_windows(
        now=end,
        cursor=None,
        start=since,
        step=end - since if exact else spec.step,
        lag=timedelta(0) if exact else spec.lag,
        max_span=spec.max_span,
        connector_max=collector.source.limits.max_window,
    ) or [Window(since, end)]


def walk_windows(
    collector: Collector,
    windows: Sequence[Window],
    limit: int,
    *,
    max_windows: int = MAX_WINDOWS,
    retry: RetryPolicy | None = None,
) -> Walk:
    """Ask each window for its first page until one holds records (at most ``max_windows``)."""
    if not windows:
        raise ValueError("walk_windows needs at least one window")
    asked = list(windows[: max(max_windows, 1)])
    empty: list[Window] = []
    for window in asked:
        request, page = window_page(collector, window, limit, retry=retry)
        if page.records:
            return Walk(window, request, page, empty)
        empty.append(window)
    return Walk(asked[-1], request, page, empty, left=len(windows) - len(asked))


def flattened(scheme: Scheme, records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records as ledger rows hold them: split by the source's ``beatFlat`` arrays."""
    meta = scheme.source_meta
    arrays = tuple(meta.beatFlat) if meta is not None else ()
    return [row for record in records for _, row in beat_flat("", record, arrays)]


def live_sample(
    collector: Collector,
    now: datetime,
    *,
    limit: int = SAMPLE_RECORDS,
    since: datetime | None = None,
    until: datetime | None = None,
    max_windows: int = MAX_WINDOWS,
    retry: RetryPolicy | None = None,
) -> Sample:
    """One page of the first window with records (see the module docstring)."""
    windows = sample_windows(collector, now, since=since, until=until)
    walk = walk_windows(collector, windows, limit, max_windows=max_windows, retry=retry)
    records = [dict(r) for r in walk.page.records[:limit] if type(r) is not Rejected]
    return Sample("live", records, flattened(collector.scheme, records), walk)


def ledger_sample(scheme: Scheme, store: Store, *, limit: int = SAMPLE_RECORDS) -> Sample:
    """The scheme's ``limit`` most recently updated ledger rows (their content as stored)."""
    rows = [dict(row.content) for row in store.find_records(scheme.id, limit=limit)]
    return Sample("ledger", rows, rows)
