"""Dry run: fetch one page (or read ledger rows), map and pack them, write nothing.

Used by ``ferry preview`` and the console. Lookups read other schemes' ledgers but nothing
is stored, no cursor moves and the target is never called.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ferry.connectors.base import Delivery, Page, PageState, SourceConnector
from ferry.engine.collector import Collector
from ferry.engine.counts import RunCounts
from ferry.engine.deliverer import Deliverer
from ferry.engine.retry import RetryPolicy, call_with_retry
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


def first_page(
    collector: Collector, now: datetime, limit: int, *, retry: RetryPolicy | None = None
) -> tuple[Window, dict[str, Any], Page]:
    """Fetch the first page (at most ``limit`` records) of the current window: the first window
    the ledger's cursor plans up to ``now``, else the last ``window.step`` before ``now``.

    Nothing is stored but the call's place in the vendor's rate budget. ``retry`` retries
    transient failures (5xx, timeouts, refused connections).
    """
    scheme, source = collector.scheme, collector.source
    windows = collector.plan(now)
    window = windows[0] if windows else Window(now - scheme.window.step, now)
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
    return window, request, page


def preview(
    scheme: Scheme,
    store: Store,
    *,
    limit: int = 5,
    source: SourceConnector | None = None,
    from_ledger: bool = False,
    now: datetime | None = None,
) -> PreviewResult:
    """Map up to ``limit`` sample records of ``scheme`` to target payloads without writing."""
    at = now or datetime.now(UTC)
    counts = RunCounts()
    deliverer = Deliverer(scheme, None, store, counts)
    window: Window | None = None
    request: dict[str, Any] | None = None
    dead: dict[str, str] = {}  # sample records a run would keep as dead letters: id -> reason
    if from_ledger:
        rows = store.find_records(scheme.id, limit=limit)
    else:
        assert source is not None, "preview from the source needs a source connector"
        collector = Collector(scheme, source, store, counts)
        window, request, page = first_page(collector, at, limit)
        sample = collector.writer.rows(page.records)[:limit]
        letters = collector.keeper.letters
        dead = {rid: letters[rid] for rid, _, _ in sample if rid in letters}
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
    batch = deliverer.prepare(rows, at)
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
    return PreviewResult(window, request, batch.items, deliveries, {**dead, **batch.failures}, counts)
