"""Streaming deliver: a background thread delivers while the collector pages.

Collect (HTTP waits, ledger upserts) and deliver (mapping, target writes) overlap, and memory
stays bounded by a few pages plus one deliver batch.

**Handover.** While a run streams, the collector's page upsert inserts the page's *new* rows
straight as ``queued`` -- claimed in the page's own transaction, exactly as a claim query
would have claimed them the instant they were committed -- and hands their stored JSON text
to the deliverer (:class:`HandedBatch`), which decodes it instead of selecting, marking and
re-reading the rows. The ledger stays the durable record: every handed row is committed
before it is delivered, its result is recorded as for any claimed row, and a row a crash left
``queued`` goes back to ``pending`` on the next run's recovery (invariants 1-3). Known ids
that must be delivered again stay ``pending`` and are claimed by query, as are ``error``
rows that fall due. A page is handed over only when the deliverer has room (at most
:data:`CREDITS` handed pages in flight); the collector waits up to :data:`CREDIT_WAIT`
seconds for room, then commits the page as ``pending`` for the claim query to pick up.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from ferry.engine.counts import RunCounts
from ferry.engine.deliverer import Deliverer, release_rows
from ferry.store import Store, UpsertResult
from ferry.store._ledger_write import Claimed
from ferry.store._sql import utcnow
from ferry.store.codec import loads

__all__ = [
    "CREDITS",
    "CREDIT_WAIT",
    "DeliverThread",
    "HandedBatch",
    "HandedRow",
    "claim_page",
    "release_unread",
]

CREDITS = 2
"""Handed pages a deliverer may have in flight (queued for it or being delivered)."""
CREDIT_WAIT = 0.5
"""Seconds the collector waits for a deliverer's room before storing a page ``pending``."""


@dataclass(frozen=True)
class HandedBatch:
    """The new rows of one committed page, claimed (``queued``) in the page's transaction."""

    scheme_id: str
    window: tuple[datetime, datetime] | None
    run_id: int | None
    at: datetime
    """The page's commit time: the rows' due, created and updated time."""
    rows: list[Claimed]

    def ledger_rows(self) -> list[HandedRow]:
        """The rows to deliver, their content decoded from the stored text (so it is exactly
        what a claim would read back from the ledger)."""
        start, end = self.window if self.window is not None else (None, None)
        return [HandedRow(rid, loads(text), 0, start, end) for rid, _, text, _, _ in self.rows]

    def rowids(self) -> dict[str, int]:
        """The rows' SQLite rowids (empty on other databases), so their results are recorded
        without an id lookup each."""
        return {row[0]: row[4] for row in self.rows if row[4] is not None}


class HandedRow(NamedTuple):
    """A handed-over row as the deliverer reads it (see :class:`~ferry.engine.deliverer.DueRow`)."""

    record_id: str
    content: dict[str, Any]
    attempts: int
    window_start: datetime | None
    window_end: datetime | None


def claim_page(
    store: Store,
    scheme_id: str,
    records: Sequence[tuple[str, str | None, dict[str, Any]]],
    *,
    window: tuple[datetime, datetime] | None = None,
    run_id: int | None = None,
    **options: Any,
) -> tuple[UpsertResult, HandedBatch]:
    """:meth:`Store.claim_records` (the page stored, its new ids claimed at commit), with the
    claimed rows packed as a :class:`HandedBatch` for the deliverer."""
    result, claimed = store.claim_records(scheme_id, records, window=window, run_id=run_id, **options)
    return result, HandedBatch(scheme_id, window, run_id, utcnow(), claimed)


_STOP, _WAKE = "stop", "wake"


class DeliverThread:
    """Delivers handed pages and whatever else is due, until stopped and drained."""

    def __init__(self, deliverer: Deliverer, now: datetime, *, store: Store | None = None) -> None:
        self.deliverer = deliverer
        self.now = now
        self.store = store or deliverer.store
        self._inbox: queue.Queue[HandedBatch | str] = queue.Queue()
        self._room = threading.Semaphore(CREDITS)
        self._claim_due = True
        """Whether the last page left rows ``pending`` (so a claim query has work)."""
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ferry-deliver", daemon=True)

    def start(self) -> None:
        """Recover rows left ``queued`` by a dead run (before any page is handed over), then
        start the thread."""
        self.deliverer.recover()
        self._thread.start()

    def wake(self) -> None:
        """Called by the collector after each committed page (a page handed over whole
        needs no claim query: its rows are in the inbox already)."""
        if self._claim_due:
            self._inbox.put(_WAKE)
        self._claim_due = True

    def upsert(self, scheme_id: str, records: Sequence[Any], **kw: Any) -> UpsertResult:
        """The collector's page upsert: hands the new rows over when the thread has room."""
        if self._error is None and self._thread.is_alive() and self._room.acquire(timeout=CREDIT_WAIT):
            try:
                result, batch = claim_page(self.store, scheme_id, records, **kw)
            except BaseException:
                self._room.release()
                raise
            if batch.rows:
                self._inbox.put(batch)
            else:
                self._room.release()
            self._claim_due = result.redelivered > 0
            return result
        return self.store.upsert_records(scheme_id, records, **kw)

    def _run(self) -> None:
        stopping = idle = False
        try:
            while True:
                try:
                    item = self._inbox.get(timeout=0.5) if idle else self._inbox.get_nowait()
                except queue.Empty:
                    item = _WAKE
                if isinstance(item, HandedBatch):
                    try:
                        self.deliverer.deliver_handed(item, self.now)
                    finally:
                        self._room.release()
                    idle = False
                    continue
                stopping = stopping or item == _STOP
                if self.deliverer.deliver(self.now, max_batches=1):
                    idle = False
                    continue
                if stopping:
                    return
                idle = True
        except BaseException as exc:  # handed to the caller in finish()
            self._error = exc

    def finish(self) -> None:
        """Stop after a final drain and re-raise the thread's error, if any (pages it left
        undelivered go back to ``pending``)."""
        self._inbox.put(_STOP)
        self._thread.join()
        if self._error is not None:
            release_unread(self.store, self._inbox, self.deliverer.counts)
            raise self._error


def release_unread(store: Store, inbox: Any, counts: RunCounts) -> None:
    """Return the rows of the handed pages still in ``inbox`` (a deliverer stopped before
    reading them) to ``pending``, counting them in ``counts`` as taken up and still pending."""
    while True:
        try:
            item = inbox.get(timeout=0.2)
        except queue.Empty:
            return
        if isinstance(item, HandedBatch):
            counts.add(due=len(item.rows), pending=len(item.rows))
            release_rows(store, item.scheme_id, [row[0] for row in item.rows])
