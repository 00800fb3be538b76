"""Handing a SQLite store's write lock from one writer to the next without dead time.

SQLite lets one connection write at a time. A connection that finds the file locked waits
in SQLite's busy handler, which sleeps in growing steps (1, 2, 5, 10 ... 100 ms) and
checks again: the lock is often free long before the waiter wakes up. A streaming run has
two or three writers (the collector's page commits, the deliverers' results), and in a
200k-record run those naps added up to seconds of idle time in every process.

Ferry's own writers therefore queue for the file on a lock that wakes the next writer as
soon as the current one commits, before they ``BEGIN IMMEDIATE``:

* threads of one process: a ``threading.Lock`` per store;
* processes: an exclusive ``flock`` on ``<database>.writer-lock`` beside the database,
  polled every half millisecond up to the busy timeout (then the usual "database is locked"
  retriable error). The kernel releases it when its process dies, so a killed writer never
  blocks the others. A forked child starts with a fresh thread lock and opens its own
  descriptor (a ``flock`` belongs to the open file, which ``fork`` would share).

The lock is an optimisation only: SQLite's own locking still guarantees one writer, so
another program writing the file (or a platform without ``flock``) is merely slower.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ferry.errors import RetriableError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: SQLite's busy handler alone
    fcntl = None  # type: ignore[assignment]

__all__ = ["POLL_S", "WriterLock", "writer_lock"]

POLL_S = 0.0005
"""How often a waiting process tries the file lock again."""


class WriterLock:
    """Serialise the write transactions of one store (see the module doc)."""

    def __init__(self, database: str, timeout_s: float) -> None:
        self.path = f"{database}.writer-lock"
        self.timeout_s = timeout_s
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._pid = os.getpid()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the lock for the duration of one write transaction."""
        deadline = time.monotonic() + self.timeout_s
        if self._pid != os.getpid():  # a forked child: its own thread lock and descriptor
            self._threads, self._fd, self._pid = threading.Lock(), None, os.getpid()
        if not self._threads.acquire(timeout=self.timeout_s):
            raise RetriableError(f"store: database is locked (no write turn within {self.timeout_s:.0f} s)")
        try:
            fd = self._descriptor()
            self._lock_file(fd, deadline)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _descriptor(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return self._fd

    def _lock_file(self, fd: int, deadline: float) -> None:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            if time.monotonic() >= deadline:
                raise RetriableError(
                    f"store: database is locked (another process kept writing for {self.timeout_s:.0f} s)"
                )
            time.sleep(POLL_S)

    def close(self) -> None:
        """Close this process's descriptor (the lock file stays for the next writer)."""
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None


def writer_lock(database: str | None, timeout_s: float) -> WriterLock | None:
    """A :class:`WriterLock` for a file-backed SQLite database, else ``None``."""
    if fcntl is None or not database or database == ":memory:" or database.startswith("file:"):
        return None
    return WriterLock(database, timeout_s)
