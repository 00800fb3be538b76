"""SQLite writers queue on the store's writer lock (ferry.store._write_lock)."""

from __future__ import annotations

import multiprocessing
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ferry.errors import RetriableError
from ferry.store import Store, open_store
from ferry.store._write_lock import WriterLock, writer_lock


def _hold(path: str, held: object, release: object) -> None:
    lock = WriterLock(path, timeout_s=5)
    with lock.held():
        held.set()  # type: ignore[attr-defined]
        release.wait(10)  # type: ignore[attr-defined]


def _holder(db: str) -> tuple[multiprocessing.process.BaseProcess, object]:
    """A process holding the write turn of ``db`` until the returned event is set."""
    ctx = multiprocessing.get_context("spawn")
    held, release = ctx.Event(), ctx.Event()
    other = ctx.Process(target=_hold, args=(db, held, release))
    other.start()
    assert held.wait(20)
    return other, release


def test_a_second_process_waits_for_the_turn_and_gets_it_when_the_first_commits(tmp_path: Path) -> None:
    db = str(tmp_path / "ferry.db")
    other, release = _holder(db)
    try:
        mine = WriterLock(db, timeout_s=0.3)
        with pytest.raises(RetriableError, match="database is locked"), mine.held():
            pass
        release.set()  # type: ignore[attr-defined]
        other.join(10)
        mine.timeout_s = 5
        with mine.held():  # free again once the other process let go
            pass
    finally:
        release.set()  # type: ignore[attr-defined]
        other.join(10)
    assert Path(db + ".writer-lock").exists()


def test_a_killed_holder_never_blocks_the_others(tmp_path: Path) -> None:
    db = str(tmp_path / "ferry.db")
    other, _ = _holder(db)
    other.kill()
    other.join(10)
    with WriterLock(db, timeout_s=5).held():  # the kernel released the dead process's lock
        pass


def test_a_forked_child_takes_its_own_turn(tmp_path: Path) -> None:
    """flock belongs to the open file, which fork shares: the child must reopen it, or it
    would write while its parent holds the turn."""
    lock = WriterLock(str(tmp_path / "ferry.db"), timeout_s=0.3)
    with lock.held():
        pid = os.fork()
        if pid == 0:  # the child: the parent holds the turn, so this must time out
            try:
                with lock.held():
                    os._exit(1)
            except RetriableError:
                os._exit(0)
            os._exit(2)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_threads_of_one_process_take_turns(tmp_path: Path) -> None:
    lock = WriterLock(str(tmp_path / "ferry.db"), timeout_s=5)
    inside: list[str] = []
    first_in, first_may_leave = threading.Event(), threading.Event()

    def first() -> None:
        with lock.held():
            inside.append("first in")
            first_in.set()
            first_may_leave.wait(5)
            inside.append("first out")

    thread = threading.Thread(target=first)
    thread.start()
    first_in.wait(5)
    threading.Timer(0.2, first_may_leave.set).start()
    with lock.held():
        inside.append("second in")
    thread.join(5)
    assert inside == ["first in", "first out", "second in"]


def test_only_file_backed_sqlite_stores_have_a_writer_lock(tmp_path: Path) -> None:
    assert writer_lock(":memory:", 1) is None and writer_lock(None, 1) is None
    assert writer_lock("file:x?mode=memory", 1) is None
    assert isinstance(writer_lock(str(tmp_path / "a.db"), 1), WriterLock)


def test_an_idle_claim_reads_and_never_takes_the_write_turn(sqlite_store: Store) -> None:
    now = datetime.now(UTC)
    sqlite_store.upsert_records("s", [("1", None, {"a": 1})])
    turns: list[int] = []
    writer = sqlite_store._writer
    assert writer is not None
    original = writer.held

    def counting():  # type: ignore[no-untyped-def]
        turns.append(1)
        return original()

    writer.held = counting  # type: ignore[method-assign]
    assert [r.record_id for r in sqlite_store.claim("s", 10, now)] == ["1"]
    assert len(turns) == 1
    assert sqlite_store.claim("s", 10, now) == []  # nothing due: a read only
    assert len(turns) == 1


def test_a_store_writes_from_two_processes_with_the_lock(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ferry.db'}"
    open_store(url).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_upsert_many, args=(url, f"p{n}")) for n in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    assert [proc.exitcode for proc in procs] == [0, 0]
    with open_store(url) as store:
        assert {r.record_id[:2] for r in store.find_records("s", limit=500)} == {"p0", "p1"}
        assert len(store.find_records("s", limit=500)) == 400


def _upsert_many(url: str, prefix: str) -> None:
    with open_store(url) as store:
        for page in range(20):
            store.upsert_records("s", [(f"{prefix}-{page}-{i}", None, {"i": i}) for i in range(10)])
