"""Garbage-collector settings for runs: fewer, cheaper cyclic collections.

A run allocates millions of short-lived, acyclic objects (parsed pages, flattened rows,
mapped payloads, SQL parameters) that reference counting frees at once. CPython's default
thresholds still start a cyclic collection every 700 net allocations, and every few of
those walk the whole heap -- the imported modules, SQLAlchemy's and pydantic's caches --
which cost a run about a fifth of its CPU time. While any run is active this module moves
the objects that exist at its start to the permanent generation (``gc.freeze``: they are
never walked, and forked deliverers inherit them without touching their pages) and raises
the thresholds. Cyclic garbage is still collected, just in larger steps; when the last
active run ends the previous settings come back.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["RUN_THRESHOLDS", "run_gc"]

RUN_THRESHOLDS = (50_000, 20, 100)
"""``gc.set_threshold`` while a run is active (CPython's defaults are ``(700, 10, 10)``)."""

_lock = threading.Lock()
_active = 0
_saved: tuple[int, int, int] | None = None


@contextmanager
def run_gc() -> Iterator[None]:
    """Tune the collector for the duration of a run (runs in several threads share one
    setting: the first to start applies it, the last to end restores the old one)."""
    global _active, _saved
    with _lock:
        if _active == 0:
            _saved = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(*RUN_THRESHOLDS)
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and _saved is not None:
                gc.set_threshold(*_saved)
                gc.unfreeze()
