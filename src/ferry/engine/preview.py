"""Dry run: fetch one page (or read ledger rows), map and pack them, write nothing.

Used by ``ferry preview`` and the console. Lookups read other schemes' ledgers but nothing
is stored, no cursor moves and the target is never called.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ferry.connectors.base import Delivery, Page, Rejected, SourceConnector
from ferry.engine.collector import Collector
from ferry.engine.counts import RunCounts
from ferry.engine.deliverer import Deliverer
from ferry.engine.retry import RetryPolicy
from ferry.engine.sample import (
    MAX_WINDOWS,
    WALK_RETRY,
    Sample,
    Walk,
    flattened,
    sample_windows,
    walk_windows,
    window_page,
)
from ferry.engine.windows import Window
from ferry.scheme.model import Scheme
from ferry.store import LedgerRow, Store
from ferry.transform.packing import pack
from ferry.transform.plan import compile_scheme

__all__ = ["PreviewResult", "first_page", "preview"]


@dataclass
class PreviewResult:
    """What a run would send, and which sample records would fail."""

    window: Window | None
    request: dict[str, Any] | None
    records: list[tuple[str, dict[str, Any]]]
    deliveries: list[Delivery]
    failures: dict[str, str] = field(default_factory=dict)
    counts: RunCounts = field(default_factory=RunCounts)
    walk: Walk | None = None
    """How the window was found: the empty windows skipped (``None`` from the ledger)."""
    sample: Sample | None = None
    """The sampled records (for the placeholder check and ``--fill-response``)."""


def first_page(
    collector: Collector, now: datetime, limit: int, *, retry: RetryPolicy | None = None
) -> tuple[Window, dict[str, Any], Page]:
    """Fetch the first page (at most ``limit`` records) of the current window: the first window
    the ledger's cursor plans up to ``now``, else the last ``window.step`` before ``now``.

    Nothing is stored but the call's place in the vendor's rate budget. ``retry`` retries
    transient failures (5xx, timeouts, refused connections).
    """
    scheme = collector.scheme
    windows = collector.plan(now)
    window = windows[0] if windows else Window(now - scheme.window.step, now)
    request, page = window_page(collector, window, limit, retry=retry)
    return window, request, page


def preview(
    scheme: Scheme,
    store: Store,
    *,
    limit: int = 5,
    source: SourceConnector | None = None,
    from_ledger: bool = False,
    now: datetime | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    max_windows: int = MAX_WINDOWS,
) -> PreviewResult:
    """Map up to ``limit`` sample records of ``scheme`` to target payloads without writing.

    From the source, the first page of the first window that holds records is mapped: the
    windows a run would read now (``since``/``until`` choose others, as
    :func:`~ferry.engine.sample.sample_windows` says), at most ``max_windows`` of them asked.
    """
    at = now or datetime.now(UTC)
    counts = RunCounts()
    deliverer = Deliverer(scheme, None, store, counts)
    if from_ledger:
        rows = store.find_records(scheme.id, limit=limit)
        contents = [dict(row.content) for row in rows]
        live = _Live(None, Sample("ledger", contents, contents), {}, rows)
    else:
        assert source is not None, "preview from the source needs a source connector"
        collector = Collector(scheme, source, store, counts)
        live = _live(collector, at, limit, since, until, max_windows)
    batch = deliverer.prepare(live.rows, at)
    target = compile_scheme(scheme).target
    deliveries = pack(
        target.operation,
        target.api,
        target.method,
        batch.items,
        deliverer.options(at),
        whole_batch=target.whole_batch,
        on_no_match=scheme.settings.on_no_match,
    )
    window = live.walk.window if live.walk is not None else None
    request = live.walk.request if live.walk is not None else None
    return PreviewResult(
        window,
        request,
        batch.items,
        deliveries,
        {**live.dead, **batch.failures},
        counts,
        walk=live.walk,
        sample=live.sample,
    )


@dataclass
class _Live:
    """A live preview's page: how its window was found, its rows, its dead letters."""

    walk: Walk | None
    sample: Sample
    dead: dict[str, str]
    """Sample records a run would keep as dead letters: id -> reason."""
    rows: list[LedgerRow]


def _live(
    collector: Collector,
    at: datetime,
    limit: int,
    since: datetime | None,
    until: datetime | None,
    max_windows: int,
) -> _Live:
    scheme = collector.scheme
    windows = sample_windows(collector, at, since=since, until=until)
    walk = walk_windows(collector, windows, limit, max_windows=max_windows, retry=WALK_RETRY)
    page = walk.page
    sample = collector.writer.rows(page.records)[:limit]
    letters = collector.keeper.letters
    dead = {rid: letters[rid] for rid, _, _ in sample if rid in letters}
    window = walk.window
    rows = [
        LedgerRow(
            scheme_id=scheme.id,
            record_id=rid,
            number=number,
            content=content,
            content_hash="",
            status="pending",
            attempts=0,
            next_attempt_at=None,
            last_error=None,
            target_response=None,
            window_start=window.start,
            window_end=window.end,
            created_at=at,
            updated_at=at,
            delivered_at=None,
        )
        for rid, number, content in sample
        if rid not in dead
    ]
    records = [dict(r) for r in page.records[:limit] if type(r) is not Rejected]
    return _Live(walk, Sample("live", records, flattened(scheme, records), walk), dead, rows)
