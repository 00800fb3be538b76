"""What every deliver host is given and what it promises (the host protocol).

A run collects in the caller's thread and hands each committed page to a *host*, which
decides where the deliver loop (:mod:`ferry.engine.hosts.loop`) runs: in the caller's thread
between pages (:class:`~ferry.engine.hosts.inline.InlineHost`), in a thread beside the
collector (:class:`~ferry.engine.hosts.thread.ThreadHost`), or in forked child processes
(:class:`~ferry.engine.hosts.process.ProcessHost`). A distributed host plugs in the same way.

Whatever the host, the ledger is the hand-off: a page's new rows are committed ``queued``
in the page's transaction and handed over (see :meth:`ferry.store.Store.hand_over`); every
handed row's result is recorded; rows a host could not deliver go back to ``pending``; rows
a crash left ``queued`` are recovered by the next run's :meth:`Host.start` (invariants 1-3).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ferry.connectors.base import TargetConnector
from ferry.engine.counts import RunCounts
from ferry.engine.deliverer import Deliverer
from ferry.engine.misses import PlaceholderMisses
from ferry.engine.pacing import RateSharing
from ferry.engine.retry import RetryPolicy
from ferry.scheme.model import Scheme
from ferry.store import Store, UpsertResult

__all__ = ["CREDITS", "CREDIT_WAIT", "DeliverJob", "Host"]

CREDITS = 2
"""Handed pages a deliver loop may have in flight (queued for it or being delivered)."""
CREDIT_WAIT = 0.5
"""Seconds the collector waits for a deliver loop's room before storing a page ``pending``."""


@dataclass
class DeliverJob:
    """What a host delivers for: one run of one scheme."""

    scheme: Scheme
    store: Store
    counts: RunCounts
    """The run's counts: every host adds its deliveries here (a process host sums its children's)."""
    now: datetime
    run_id: int | None = None
    retry: RetryPolicy | None = None
    progress: Callable[..., None] | None = None
    stop: Callable[[], object] | None = None
    """Checked before each deliver batch (see :class:`~ferry.engine.deliverer.Deliverer`)."""
    rates: RateSharing | None = None
    """Where rate budgets are shared (Redis, else the store)."""
    misses: PlaceholderMisses = field(default_factory=PlaceholderMisses)
    """The run's placeholder misses: the deliverers of this process count here (a process
    host adds its children's when they finish)."""

    def deliverer(
        self, target: TargetConnector | None, *, store: Store | None = None, counts: RunCounts | None = None
    ) -> Deliverer:
        """A deliverer of this job writing to ``target`` (its own ``store``/``counts`` when given)."""
        return Deliverer(
            self.scheme,
            target,
            store or self.store,
            self.counts if counts is None else counts,
            run_id=self.run_id,
            progress=self.progress,
            retry=self.retry,
            stop=self.stop,
            rates=self.rates,
            misses=self.misses,
        )


class Host(Protocol):
    """Where a run's deliver loop runs, as the collector and the runner see it."""

    kind: str
    """``none`` | ``inline`` | ``thread`` | ``process`` (and later ``celery``)."""

    def start(self) -> None:
        """Recover rows a dead run left ``queued`` (before any page is handed over), then
        start delivering."""

    def store_page(self, scheme_id: str, records: Sequence[Any], **options: Any) -> UpsertResult:
        """The collector's page commit (:meth:`Store.upsert_records`'s signature): the page is
        stored, and its new rows are handed to a deliver loop when one has room."""
        ...

    def page_done(self) -> None:
        """Called by the collector after each committed page."""

    def finish(self) -> None:
        """Deliver what is due, stop, and raise the first error a deliver loop met (rows it
        left undelivered go back to ``pending``). Called once, whether collecting succeeded."""

    @property
    def halted(self) -> bool:
        """Whether a deliver loop of this process stopped early because a stop was asked."""
        ...
