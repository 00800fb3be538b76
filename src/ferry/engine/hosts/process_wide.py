"""Process-wide settings that only the process host applies, and undoes when it ends.

**Dying with the parent.** A forked deliver child asks the kernel to kill it when its parent
dies (``PR_SET_PDEATHSIG``), so a SIGKILL of ``ferry run`` stops the whole tree.

**Garbage collection**: fewer, cheaper cyclic collections, flat memory.

A run allocates millions of short-lived, acyclic objects (parsed pages, flattened rows,
mapped payloads, SQL parameters) that reference counting frees at once. CPython's default
thresholds still start a cyclic collection every 700 net allocations, and every few of
those walk the whole heap -- the imported modules, SQLAlchemy's and pydantic's caches --
which cost a run about a fifth of its CPU time. While a process host is active it moves
the objects that exist at its start to the permanent generation (``gc.freeze``: they are
never walked, and forked deliverers inherit them without touching their pages) and raises
the thresholds. Some page buffers do sit in reference cycles (HTTP responses and their
streams), and with rare collections they would pile up in the oldest generation, so the
host calls :func:`page_committed` after each page and every :data:`COLLECT_EVERY`
pages a full collection -- cheap, the frozen heap is skipped -- frees them: peak memory
stays flat however many records a run moves. When the last active process host ends the
previous settings come back. Inline and thread hosts leave the collector as it is: a process
that runs other work (``ferry serve``, the console, a test) keeps its own settings.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["COLLECT_EVERY", "RUN_THRESHOLDS", "die_with_parent", "page_committed", "run_gc"]

_PR_SET_PDEATHSIG = 1

RUN_THRESHOLDS = (50_000, 20, 100)
"""``gc.set_threshold`` while a process host is active (CPython's defaults are ``(700, 10, 10)``)."""

COLLECT_EVERY = 10
"""Pages between two full collections while a process host is active."""

_lock = threading.Lock()
_pages = 0
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


def page_committed() -> None:
    """Called by the collector after each committed page: every :data:`COLLECT_EVERY` pages
    a full collection (cheap, the heap of the run's start is frozen) frees the page buffers
    that HTTP clients and drivers keep in reference cycles, so memory stays flat however
    long the run is."""
    global _pages
    _pages += 1
    if _pages % COLLECT_EVERY == 0:
        gc.collect()


def die_with_parent(parent: int) -> None:
    """In a forked child: be killed by the kernel when process ``parent`` dies (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
