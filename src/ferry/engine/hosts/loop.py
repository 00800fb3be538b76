"""The one deliver loop every host runs: handed pages first, then whatever else is due.

An inbox carries three kinds of item: a handed page (its rows are claimed already), ``wake``
(a page left rows ``pending``: a claim query has work) and ``stop`` (deliver what is due,
then end). The loop delivers a handed page as soon as it arrives, else one claimed batch at
a time, and waits on the inbox only when nothing is due. A thread host runs it beside the
collector, a process host in each child, the inline host between pages.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ferry.engine.deliverer import Deliverer

__all__ = ["STOP", "WAKE", "DeliverLoop"]

STOP, WAKE = "stop", "wake"


class DeliverLoop:
    """Delivers one run's handed pages and due rows from ``inbox`` (a ``queue.Queue`` or a
    ``multiprocessing`` queue) with ``deliverer``."""

    def __init__(
        self,
        deliverer: Deliverer,
        now: datetime,
        inbox: Any,
        *,
        delivered_page: Callable[[], None] | None = None,
        idle_wait: float = 0.5,
    ) -> None:
        self.deliverer = deliverer
        self.now = now
        self.inbox = inbox
        self.delivered_page = delivered_page or (lambda: None)
        """Called after each handed page, delivered or not (the host frees its room)."""
        self.idle_wait = idle_wait
        self._stopping = False

    def run(self) -> None:
        """Deliver until a ``stop`` arrived and nothing is due any more."""
        idle = False
        while True:
            item = self._next(self.idle_wait if idle else None)
            if self._step(item):
                idle = False
            elif self._stopping:
                return
            else:
                idle = True

    def drain(self) -> None:
        """Deliver what is in the inbox and what is due now, without waiting (the inline host)."""
        while self._step(self._next(None)):
            pass

    def _next(self, wait: float | None) -> Any:
        try:
            return self.inbox.get(timeout=wait) if wait else self.inbox.get_nowait()
        except queue.Empty:
            return WAKE

    def _step(self, item: Any) -> bool:
        """Handle one inbox item; whether anything was delivered (or tried)."""
        if not isinstance(item, str):
            try:
                self.deliverer.deliver_handed(item, self.now)
            finally:
                self.delivered_page()
            return True
        self._stopping = self._stopping or item == STOP
        return self.deliverer.deliver(self.now, max_batches=1) > 0


def release_unread(inbox: Any, deliverer: Deliverer) -> None:
    """Give the handed pages still in ``inbox`` (a loop stopped before reading them) back to
    ``pending``, counting them as taken up and still pending."""
    while True:
        try:
            item = inbox.get(timeout=0.2)
        except queue.Empty:
            return
        if not isinstance(item, str):
            deliverer.give_back(item.record_ids())
