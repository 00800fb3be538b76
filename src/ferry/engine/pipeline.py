"""Streaming deliver: a background thread drains the ledger while the collector pages.

The collector wakes the thread after every committed page; the thread delivers whatever is
due until nothing is, then waits for the next wake. Collect (HTTP waits, ledger upserts) and
deliver (mapping, target writes) overlap, and memory stays bounded by one page plus one
deliver batch. The ledger is the only hand-off, so a crash of either side loses nothing.
"""

from __future__ import annotations

import threading
from datetime import datetime

from ferry.engine.deliverer import Deliverer

__all__ = ["DeliverThread"]


class DeliverThread:
    """Runs ``deliverer.deliver(now)`` whenever woken, until stopped and drained."""

    def __init__(self, deliverer: Deliverer, now: datetime) -> None:
        self.deliverer = deliverer
        self.now = now
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ferry-deliver", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Called by the collector after each committed page."""
        self._wake.set()

    def _run(self) -> None:
        try:
            while True:
                self._wake.wait(timeout=0.5)
                self._wake.clear()
                stopping = self._stop.is_set()
                self.deliverer.deliver(self.now)
                if stopping:
                    return
        except BaseException as exc:  # handed to the caller in finish()
            self._error = exc

    def finish(self) -> None:
        """Stop after a final drain and re-raise the thread's error, if any."""
        self._stop.set()
        self._wake.set()
        self._thread.join()
        if self._error is not None:
            raise self._error
