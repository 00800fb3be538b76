"""A SQLite store's WAL is copied back by a thread of the writing process (ferry.store._checkpoint)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ferry.store import Store, _checkpoint, after_fork_in_child, fork_guard, open_store
from ferry.store._checkpoint import AUTOCHECKPOINT_PAGES, Checkpointer
from ferry.store._write_lock import WriterLock

PAGE = 300_000
"""Bytes of content per upserted page."""


def _page(n: int) -> list[tuple[str, None, dict[str, str]]]:
    return [(f"{n}-{i}", None, {"blob": os.urandom(PAGE // 200).hex()}) for i in range(100)]


def _wal_size(db: Path) -> int:
    wal = Path(f"{db}-wal")
    return wal.stat().st_size if wal.exists() else 0


def test_the_wal_stays_small_while_a_run_writes_because_a_thread_copies_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_checkpoint, "RESTART_PAGES", 1024)  # 4 MB, so a loaded machine restarts it too
    db = tmp_path / "ferry.db"
    store = open_store(f"sqlite:///{db}")
    try:
        largest = 0
        for n in range(96):  # ~29 MB in ~3 s, well below SQLite's own 64 MB checkpoint
            store.upsert_records("s", _page(n))
            largest = max(largest, _wal_size(db))
            time.sleep(0.03)
        written = 96 * PAGE
        # Every interval the thread copies the WAL and the next writer starts it again from
        # its beginning, so the file never holds more than a few intervals' writes (~5 MB).
        assert largest < written / 3, (largest, written)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and os.path.getsize(db) < written:
            time.sleep(0.05)
        assert os.path.getsize(db) >= written  # the pages are in the database file itself
    finally:
        store.close()


def test_writers_leave_checkpoints_to_the_thread_up_to_the_safety_net(tmp_path: Path) -> None:
    db = tmp_path / "ferry.db"
    store = open_store(f"sqlite:///{db}")
    try:
        with store.transaction() as conn:
            pages = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
            limit = conn.exec_driver_sql("PRAGMA journal_size_limit").scalar()
        assert pages == AUTOCHECKPOINT_PAGES and limit == _checkpoint.WAL_SIZE_LIMIT
    finally:
        store.close()


def test_the_thread_starts_with_the_first_write_and_stops_when_the_store_closes(tmp_path: Path) -> None:
    db = tmp_path / "ferry.db"
    open_store(f"sqlite:///{db}").close()  # migrated (which writes)
    store = Store(f"sqlite:///{db}")
    checkpointer = store._checkpointer
    assert checkpointer is not None
    store.list_runs()  # a read starts nothing
    assert not checkpointer.running
    store.set_cursor("s", "main", datetime.now(UTC))
    assert checkpointer.running
    store.close()
    assert not checkpointer.running
    assert "ferry-checkpointer" not in {t.name for t in threading.enumerate()}


def test_the_thread_ends_after_its_process_stopped_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_checkpoint, "IDLE_S", 0.3)
    db = tmp_path / "ferry.db"
    store = open_store(f"sqlite:///{db}")
    try:
        checkpointer = store._checkpointer
        assert checkpointer is not None
        store.set_cursor("s", "main", datetime.now(UTC))
        assert checkpointer.running
        deadline = time.monotonic() + 5
        while checkpointer.running and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not checkpointer.running
        store.set_cursor("s", "main", datetime.now(UTC))  # the next write starts it again
        assert checkpointer.running
    finally:
        store.close()


def test_a_long_wal_starts_over_in_one_writer_turn_unless_a_reader_still_uses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_checkpoint, "RESTART_PAGES", 40)
    db = str(tmp_path / "ferry.db")
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("PRAGMA journal_mode = WAL")
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("CREATE TABLE t (x)")
    lock = WriterLock(db, timeout_s=5)
    checkpointer = Checkpointer(db, lock, timeout_s=5)
    conn = checkpointer.connect()

    def wal_pages_after_a_small_write() -> int:
        writer.execute("INSERT INTO t VALUES (1)")
        return Checkpointer.run(conn, "PASSIVE")[1]

    writer.execute("INSERT INTO t VALUES (randomblob(200000))")
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM t").fetchone()  # reads pages that are in the WAL
    started = time.monotonic()
    checkpointer._checkpoint(conn)
    assert time.monotonic() - started < 3  # gave up on the reader after READER_WAIT_S
    assert wal_pages_after_a_small_write() > 50  # not started over: appended after the blob
    reader.execute("COMMIT")
    checkpointer._checkpoint(conn)
    assert wal_pages_after_a_small_write() < 5  # started over from the beginning
    assert writer.execute("SELECT count(*) FROM t").fetchone()[0] == 3
    for c in (conn, reader, writer):
        c.close()


def test_a_deliver_child_leaves_checkpoints_to_its_collecting_parent(tmp_path: Path) -> None:
    parent = open_store(f"sqlite:///{tmp_path / 'ferry.db'}")
    try:
        child = parent.reopen(checkpoints=False)
        child.set_cursor("s", "main", datetime.now(UTC))
        assert child._checkpointer is None and parent._checkpointer is not None
        child.close()
    finally:
        parent.close()


def _fork_during_a_checkpoint_call(db: str, monkeypatch: pytest.MonkeyPatch, *, guarded: bool) -> list[str]:
    """Fork while a checkpointer thread is inside a (slow) SQLite call; what happened first."""
    events: list[str] = []
    inside = threading.Event()

    def slow_call(conn: object, mode: str) -> tuple[int, int, int]:
        inside.set()
        time.sleep(0.3)
        events.append("checkpoint call ended")
        return 0, 0, 0

    monkeypatch.setattr(Checkpointer, "run", staticmethod(slow_call))
    checkpointer = Checkpointer(db, WriterLock(db, timeout_s=5), timeout_s=5)
    thread = threading.Thread(target=checkpointer._checkpoint, args=(None,))
    thread.start()
    assert inside.wait(5)
    with fork_guard() if guarded else contextlib.nullcontext():
        pid = os.fork()
    if pid == 0:
        after_fork_in_child()
        os._exit(0)
    events.append("forked")
    os.waitpid(pid, 0)
    thread.join(5)
    return events


def test_a_fork_waits_until_the_checkpointer_is_out_of_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fork in the middle of a SQLite call would leave SQLite's mutexes held in the child
    # (a forked deliver worker then hangs on its first query): the fork must wait.
    events = _fork_during_a_checkpoint_call(str(tmp_path / "ferry.db"), monkeypatch, guarded=True)
    assert events == ["checkpoint call ended", "forked"]


def test_nothing_is_installed_at_import_a_fork_waits_only_under_the_guard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = _fork_during_a_checkpoint_call(str(tmp_path / "ferry.db"), monkeypatch, guarded=False)
    assert events == ["forked", "checkpoint call ended"]
