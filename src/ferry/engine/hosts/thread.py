"""The deliver loop in a thread beside the collector (one process; I/O waits overlap)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from typing import Any

from ferry.connectors.base import TargetConnector
from ferry.engine.hosts import base
from ferry.engine.hosts.base import DeliverJob
from ferry.engine.hosts.loop import STOP, WAKE, DeliverLoop, release_unread
from ferry.store import UpsertResult

__all__ = ["ThreadHost"]


class ThreadHost:
    """Delivers handed pages and whatever else is due in a thread, until finished and drained.

    A page is handed over only when the thread has room (at most ``CREDITS`` pages in
    flight); the collector waits up to ``CREDIT_WAIT`` seconds for room, then stores the page
    ``pending`` for a claim query to pick up.
    """

    kind = "thread"

    def __init__(self, job: DeliverJob, target: TargetConnector | None) -> None:
        self.job = job
        self.deliverer = job.deliverer(target)
        self._inbox: queue.Queue[Any] = queue.Queue()
        self._room = threading.Semaphore(base.CREDITS)
        self._wait = base.CREDIT_WAIT
        self.loop = DeliverLoop(self.deliverer, job.now, self._inbox, delivered_page=self._room.release)
        self._claim_due = True
        """Whether the last page left rows ``pending`` (so a claim query has work)."""
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ferry-deliver", daemon=True)

    @property
    def halted(self) -> bool:
        return self.deliverer.halted

    def start(self) -> None:
        self.deliverer.recover()
        self._thread.start()

    def store_page(self, scheme_id: str, records: Sequence[Any], **options: Any) -> UpsertResult:
        if self._error is None and self._thread.is_alive() and self._room.acquire(timeout=self._wait):
            try:
                result, batch = self.job.store.hand_over(scheme_id, records, **options)
            except BaseException:
                self._room.release()
                raise
            if len(batch):
                self._inbox.put(batch)
            else:
                self._room.release()
            self._claim_due = result.redelivered > 0
            return result
        return self.job.store.upsert_records(scheme_id, records, **options)

    def page_done(self) -> None:
        """A page handed over whole needs no claim query: its rows are in the inbox already."""
        if self._claim_due:
            self._inbox.put(WAKE)
        self._claim_due = True

    def _run(self) -> None:
        try:
            self.loop.run()
        except BaseException as exc:  # handed to the caller in finish()
            self._error = exc

    def finish(self) -> None:
        self._inbox.put(STOP)
        self._thread.join()
        if self._error is not None:
            release_unread(self._inbox, self.deliverer)
            raise self._error
