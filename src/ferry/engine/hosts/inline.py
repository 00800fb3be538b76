"""Hosts that deliver in the caller's thread: between pages, or not at all."""

from __future__ import annotations

import queue
from collections.abc import Sequence
from typing import Any

from ferry.connectors.base import TargetConnector
from ferry.engine.hosts.base import DeliverJob
from ferry.engine.hosts.loop import STOP, DeliverLoop
from ferry.store import Store, UpsertResult

__all__ = ["InlineHost", "StoreOnlyHost"]


class StoreOnlyHost:
    """A run that collects and does not deliver: pages are stored ``pending``."""

    kind = "none"
    halted = False

    def __init__(self, store: Store) -> None:
        self.store = store

    def start(self) -> None:
        pass

    def store_page(self, scheme_id: str, records: Sequence[Any], **options: Any) -> UpsertResult:
        return self.store.upsert_records(scheme_id, records, **options)

    def page_done(self) -> None:
        pass

    def finish(self) -> None:
        pass


class InlineHost:
    """The deliver loop in the caller's thread: each committed page is delivered before the
    next is fetched (one core, nothing concurrent: deliver-only runs, debugging, tests)."""

    kind = "inline"

    def __init__(self, job: DeliverJob, target: TargetConnector | None) -> None:
        self.job = job
        self.deliverer = job.deliverer(target)
        self._inbox: queue.Queue[Any] = queue.Queue()
        self.loop = DeliverLoop(self.deliverer, job.now, self._inbox)

    @property
    def halted(self) -> bool:
        return self.deliverer.halted

    def start(self) -> None:
        self.deliverer.recover()

    def store_page(self, scheme_id: str, records: Sequence[Any], **options: Any) -> UpsertResult:
        result, batch = self.job.store.hand_over(scheme_id, records, **options)
        if len(batch):
            self._inbox.put(batch)
        return result

    def page_done(self) -> None:
        self.loop.drain()

    def finish(self) -> None:
        self._inbox.put(STOP)
        self.loop.drain()
