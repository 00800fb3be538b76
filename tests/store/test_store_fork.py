"""Forking a process that uses a SQLite store: under ``fork_guard`` the child never hangs.

A fork copies SQLite's mutexes as they are at that instant. A checkpointer thread inside a
SQLite call would leave one held for ever in the child, whose first query then hangs (a
forked deliver worker did; without the guard about one fork in 150 hangs here). Forked
under :func:`ferry.store.fork_guard` and started with :func:`ferry.store.after_fork_in_child`,
every child opens the store and queries at once.

The forks run in a fresh interpreter, as in a process host: the test process's own threads
and garbage (stores other tests left open) are not the store's to guard.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

FORKS = 200
CHILD_TIMEOUT_S = 20.0

FORKING = """
import os, signal, sys, time
from datetime import UTC, datetime
from ferry.store import _checkpoint, after_fork_in_child, fork_guard, open_store

_checkpoint.INTERVAL_S = 0.0  # the checkpointer loops on SQLite calls
_checkpoint.IDLE_S = 600.0
db, forks, timeout_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])


def wait(pid):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


store = open_store(f"sqlite:///{db}")
hung = failed = 0
for n in range(forks):
    store.upsert_records("s", [(f"{n}-{i}", None, {"blob": "x" * 2000}) for i in range(50)])
    assert store._checkpointer is not None and store._checkpointer.running
    with fork_guard():
        pid = os.fork()
    if pid == 0:
        code = 1
        try:
            after_fork_in_child()
            child = store.reopen()
            child.set_cursor("s", "main", datetime.now(UTC))
            code = 0 if sum(child.count_by_status("s").values()) == 50 * (n + 1) else 2
            child.close()
        finally:
            os._exit(code)
    code = wait(pid)
    hung += code is None
    failed += code not in (0, None)
pending = store.count_by_status("s")["pending"]
store.close()
print(hung, failed, pending)
"""


@pytest.mark.slow
def test_children_forked_under_the_guard_query_the_store_while_the_checkpointer_is_busy(
    tmp_path: Path,
) -> None:
    run = subprocess.run(
        [sys.executable, "-c", FORKING, str(tmp_path / "ferry.db"), str(FORKS), str(CHILD_TIMEOUT_S)],
        capture_output=True,
        text=True,
        timeout=FORKS * CHILD_TIMEOUT_S,
    )
    assert run.returncode == 0, run.stderr
    hung, failed, pending = map(int, run.stdout.split())
    assert (hung, failed) == (0, 0), f"of {FORKS} children {hung} hung and {failed} failed"
    assert pending == 50 * FORKS
