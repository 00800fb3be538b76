"""A SQLite store's WAL is copied back by a thread of the writing process (ferry.store._checkpoint)."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from ferry.store import Store, _checkpoint, open_store
from ferry.store._checkpoint import AUTOCHECKPOINT_PAGES, Checkpointer
from ferry.store._write_lock import WriterLock

PAGE = 300_000
"""Bytes of content per upserted page."""


def _page(n: int) -> list[tuple[str, None, dict[str, str]]]:
    return [(f"{n}-{i}", None, {"blob": os.urandom(PAGE // 200).hex()}) for i in range(100)]


def _wal_size(db: Path) -> int:
    wal = Path(f"{db}-wal")
    return wal.stat().st_size if wal.exists() else 0


def test_the_wal_stays_small_while_a_run_writes_because_a_thread_copies_it_back(tmp_path: Path) -> None:
    db = tmp_path / "ferry.db"
    store = open_store(f"sqlite:///{db}")
    try:
        largest = 0
        for n in range(48):  # ~14 MB in ~1.5 s, well below SQLite's own 64 MB checkpoint
            store.upsert_records("s", _page(n))
            largest = max(largest, _wal_size(db))
            time.sleep(0.03)
        written = 48 * PAGE
        # Every interval the thread copies the WAL and the next writer starts it again from
        # its beginning, so the file never holds more than a few intervals' writes.
        assert largest < written / 2, (largest, written)
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
    store.set_cursor("s", "main", _aware_now())
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
        store.set_cursor("s", "main", _aware_now())
        assert checkpointer.running
        deadline = time.monotonic() + 5
        while checkpointer.running and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not checkpointer.running
        store.set_cursor("s", "main", _aware_now())  # the next write starts it again
        assert checkpointer.running
    finally:
        store.close()


def test_a_checkpoint_left_unfinished_by_new_writes_is_finished_during_one_writer_turn(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "ferry.db")
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("PRAGMA journal_mode = WAL")
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("CREATE TABLE t (x)")
    lock = WriterLock(db, timeout_s=5)
    checkpointer = Checkpointer(db, lock, timeout_s=5)
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM t").fetchone()  # holds a snapshot: not everything can be copied
    writer.execute("INSERT INTO t VALUES (randomblob(100000))")
    conn = sqlite3.connect(db, isolation_level=None)
    turns: list[str] = []
    held = lock.held

    def counting_held():  # type: ignore[no-untyped-def]
        turns.append("turn")
        return held()

    lock.held = counting_held  # type: ignore[method-assign]
    checkpointer._checkpoint(conn)
    assert turns == ["turn"]  # the first pass could not copy everything: it took one writer turn
    reader.execute("COMMIT")
    turns.clear()
    checkpointer._checkpoint(conn)
    _, pages, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert copied == pages and turns == []  # all copied without a turn once nothing holds it back
    for c in (conn, reader, writer):
        c.close()


def _aware_now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)
