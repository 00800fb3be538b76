"""Copying a SQLite store's WAL back into the database file, off the writers' path.

In WAL mode every commit appends its pages to ``ferry.db-wal``; a *checkpoint* copies them
into the database file so the WAL can start again from its beginning. By default SQLite
checkpoints inside the commit that takes the WAL past 1000 pages: that writer copies and
syncs ~4 MB while it still holds the write turn, and every other writer waits (measured:
0.4-0.6 s of a 5.5 s run of 200k records, a tenth of the run).

A process that writes a file-backed store therefore runs one checkpointer thread:

* every :data:`INTERVAL_S` it copies what the WAL holds with a ``PASSIVE`` checkpoint, which
  never waits for (nor blocks) a reader or a writer; SQLite does this copying and syncing
  outside the GIL, so the process's other threads go on;
* with nothing left to copy, the next writer starts the WAL from its beginning again, so the
  file stays about as large as one interval's writes. Under load that moment may never come
  (a writer begins while a checkpoint runs, every time: measured 46 MB instead of 2 MB), so a
  WAL of :data:`RESTART_PAGES` after a checkpoint is copied to the end and ``RESTART``-ed
  during one writer turn (:class:`~ferry.store._write_lock.WriterLock`); a reader still
  using older pages makes that give up after :data:`READER_WAIT_S`, to try again next time;
* it ends :data:`IDLE_S` after its process's last write and starts again with the next one;
* a fork made under :func:`fork_guard` waits until the thread is between two SQLite calls.

Connections keep SQLite's own automatic checkpoint as a safety net, at
:data:`AUTOCHECKPOINT_PAGES` (64 MB) instead of 1000 pages: it only fires if the thread
cannot keep up. A WAL that did grow is cut back to :data:`WAL_SIZE_LIMIT` when it restarts.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from ferry.errors import RetriableError
from ferry.store._write_lock import WriterLock

__all__ = [
    "AUTOCHECKPOINT_PAGES",
    "IDLE_S",
    "INTERVAL_S",
    "READER_WAIT_S",
    "RESTART_PAGES",
    "WAL_SIZE_LIMIT",
    "Checkpointer",
    "after_fork_in_child",
    "fork_guard",
]

INTERVAL_S = 0.2
"""How often the thread copies the WAL while its process writes."""
IDLE_S = 5.0
"""The thread ends this long after its process's last write."""
AUTOCHECKPOINT_PAGES = 16384
"""SQLite's own checkpoint (in the committing writer) when the WAL reaches this many pages."""
RESTART_PAGES = 4096
"""A WAL this long (16 MB) after a checkpoint is restarted during a writer turn."""
READER_WAIT_S = 0.1
"""How long the restart waits for a reader of older pages before trying again next interval."""
WAL_SIZE_LIMIT = 64 * 1024 * 1024
"""Bytes a restarting WAL is truncated to (``journal_size_limit``)."""


_NOT_FORKING = threading.Lock()
"""Held around every SQLite call of a checkpointer thread, and by :func:`fork_guard`.

A fork copies SQLite's internal mutexes as they are; one held by a checkpointer in the middle
of a call would stay held in the child for ever, and the child's first SQLite call (a forked
deliver worker opening its store) would hang. Forking therefore waits for the call to end."""
_LIVE: weakref.WeakSet[Checkpointer] = weakref.WeakSet()
"""This process's checkpointers, for :func:`after_fork_in_child` to reset."""


@contextmanager
def fork_guard() -> Iterator[None]:
    """Hold this around a fork (``os.fork()``, or ``start()`` of a ``fork``-context process).

    Waits until no checkpointer thread of this process is inside a SQLite call and keeps them
    out until the block ends, so the child never inherits SQLite's mutexes mid-call. The child
    must call :func:`after_fork_in_child` first thing (inside the block or after it: in the
    child, leaving the block releases nothing). Nothing is installed at import: the code that
    forks (the process host) says so here.

    The guard covers the store's own threads. Fork before starting other threads that use a
    store, and close the stores you drop: the connections of an unclosed store are closed by
    the garbage collector, in whichever thread it runs, unguarded.

        with fork_guard():
            pid = os.fork()
        if pid == 0:
            after_fork_in_child()
    """
    forker = os.getpid()
    _NOT_FORKING.acquire()
    try:
        yield
    finally:
        if os.getpid() == forker:  # the child's copy is released by after_fork_in_child
            _NOT_FORKING.release()


def after_fork_in_child() -> None:
    """Call first thing in a child forked under :func:`fork_guard`.

    Releases the child's copy of the fork lock (held by the forking thread when the process was
    copied) and forgets the parent's checkpointer threads, which do not exist here: a store of
    the child's own starts its own thread with its first write. Harmless in a child forked
    without the guard.
    """
    if _NOT_FORKING.locked():
        _NOT_FORKING.release()
    for checkpointer in list(_LIVE):
        checkpointer.forget_thread()


class Checkpointer:
    """The checkpointer thread of one store in one process (see the module doc)."""

    def __init__(self, database: str, lock: WriterLock, timeout_s: float) -> None:
        self.database = database
        self.lock = lock
        self.timeout_s = timeout_s
        self._mutex = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._last_write = 0.0
        self._stop = threading.Event()
        _LIVE.add(self)

    def forget_thread(self) -> None:
        """In a forked child: the parent's thread (and any lock it held) is not here."""
        self._mutex = threading.Lock()
        self._thread, self._pid, self._stop = None, os.getpid(), threading.Event()

    def wrote(self) -> None:
        """Note a committed write of this process; start the thread if it is not running."""
        with self._mutex:
            self._last_write = time.monotonic()
            if self._pid != os.getpid():  # a forked child: the parent's thread is not here
                self._thread, self._pid, self._stop = None, os.getpid(), threading.Event()
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="ferry-checkpointer", daemon=True)
                self._thread.start()

    @property
    def running(self) -> bool:
        with self._mutex:
            return self._thread is not None and self._pid == os.getpid()

    def close(self) -> None:
        """Stop the thread (after the checkpoint it is copying, if any)."""
        with self._mutex:
            thread = self._thread if self._pid == os.getpid() else None
            self._stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.timeout_s)

    def connect(self) -> sqlite3.Connection:
        """The thread's own connection: RESTART waits for readers of older pages at most
        :data:`READER_WAIT_S` (it runs inside a writer turn)."""
        return sqlite3.connect(self.database, timeout=READER_WAIT_S, isolation_level=None)

    def _run(self) -> None:
        with _NOT_FORKING:  # opening and closing are SQLite calls too
            conn = self.connect()
        try:
            while not self._stop.wait(INTERVAL_S):
                self._checkpoint(conn)
                with self._mutex:
                    if time.monotonic() - self._last_write > IDLE_S:
                        self._thread = None  # under the mutex: the next write starts another
                        return
        finally:
            with _NOT_FORKING:
                conn.close()
            with self._mutex:  # (a write after the idle check starts a new thread)
                if self._thread is threading.current_thread():
                    self._thread = None

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            with _NOT_FORKING:
                _, pages, _ = self.run(conn, "PASSIVE")
            if pages >= RESTART_PAGES:  # it did not start over by itself: make it, in one turn
                with self.lock.held(), _NOT_FORKING:
                    self.run(conn, "RESTART")
        except (sqlite3.Error, RetriableError):
            return  # busy or locked: the next interval (or the safety net) copies it

    @staticmethod
    def run(conn: sqlite3.Connection, mode: str) -> tuple[int, int, int]:
        """One ``wal_checkpoint(mode)``: ``(busy, pages in the WAL, pages copied)``."""
        busy, pages, copied = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()[0]
        return busy, pages, copied
