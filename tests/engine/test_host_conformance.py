"""One conformance suite for every deliver host (inline, thread, process).

Each host must: deliver every handed-over row exactly once, record every result, balance the
run's counts, stop at a checkpoint losing nothing, recover rows a dead run left ``queued``,
and lose or duplicate nothing when its process is SIGKILLed at any point.

The source is a SQLite table read by the ``sql`` connector, the target a SQLite file whose
trigger logs every write, and the store a SQLite file: what a forked child can share.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psutil
import pytest

from ferry.engine.runner import run_scheme
from ferry.scheme.loader import load_scheme
from ferry.store import open_store

HOSTS = ["inline", "thread", "process"]
NOW = datetime(2024, 5, 3, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
UNTIL = "2024-05-03 12:00:00"


def _source(path: Path, n: int) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE src (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER)")
    con.executemany("INSERT INTO src VALUES (?, ?, ?)", [(i, f"item {i}", i % 7) for i in range(1, n + 1)])
    con.commit()
    con.close()


def _target(path: Path) -> None:
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER CHECK (qty < 100));
        CREATE TABLE writes (id INTEGER);
        CREATE TRIGGER logged AFTER INSERT ON t BEGIN INSERT INTO writes VALUES (new.id); END;
        """
    )
    con.commit()
    con.close()


def _definition(tmp: Path, host: str, *, batch: int = 40, page: int = 50) -> dict[str, Any]:
    return {
        "id": "items",
        "name": "items",
        "source": {
            "connection": {"type": "sql", "url": f"sqlite:///{tmp / 'source.db'}"},
            "metadata": {"api": "SELECT id, name, qty FROM src ORDER BY id", "effect": "QUERY", "id": "id"},
        },
        "target": {
            "connection": {"type": "sql", "url": f"sqlite:///{tmp / 'target.db'}"},
            "metadata": {
                "api": "batchexecute",
                "effect": "EXECUTE",
                "request": [
                    {"field": "id", "value": "{id}"},
                    {"field": "name", "value": "{name}"},
                    {"field": "qty", "value": "{qty}"},
                ],
                "otherRequest": [{"field": "main_sql", "value": "REPLACE INTO t (id, name, qty) VALUES"}],
            },
        },
        "window": {"start": "2024-05-03 00:00:00", "step": "1d"},
        "settings": {"stream": host, "batch_size": batch, "page_size": page, "deliver_workers": 2},
    }


@pytest.fixture
def place(tmp_path: Path):
    def make(host: str, n: int = 600, **kw: Any) -> tuple[Any, Any]:
        _source(tmp_path / "source.db", n)
        _target(tmp_path / "target.db")
        scheme = load_scheme(_definition(tmp_path, host, **kw))
        return scheme, open_store(f"sqlite:///{tmp_path / 'ferry.db'}")

    return make


def _target_rows(tmp: Path) -> tuple[dict[int, tuple[str, int]], Counter[int]]:
    con = sqlite3.connect(tmp / "target.db")
    try:
        rows = {i: (name, qty) for i, name, qty in con.execute("SELECT id, name, qty FROM t")}
        writes = Counter(i for (i,) in con.execute("SELECT id FROM writes"))
    finally:
        con.close()
    return rows, writes


def _expected(n: int) -> dict[int, tuple[str, int]]:
    return {i: (f"item {i}", i % 7) for i in range(1, n + 1)}


def _statuses(store: Any) -> Counter[str]:
    return Counter(r.status for r in store.find_records("items", limit=100_000))


@pytest.mark.parametrize("host", HOSTS)
def test_every_handed_row_is_delivered_once_and_the_counts_balance(place, tmp_path, host: str) -> None:
    scheme, store = place(host)
    report = run_scheme(scheme, store, now=NOW)
    c = report.counts
    assert report.status == "succeeded", report.error
    assert (c.fetched, c.new, c.due, c.delivered, c.failed, c.pending) == (600, 600, 600, 600, 0, 0)
    assert c.imbalance() == []
    rows, writes = _target_rows(tmp_path)
    assert rows == _expected(600)
    assert set(writes.values()) == {1}, "a handed row was written twice"
    assert _statuses(store) == {"finished": 600}
    store.close()


@pytest.mark.parametrize("host", HOSTS)
def test_every_result_is_recorded_on_the_ledger(place, tmp_path, host: str) -> None:
    scheme, store = place(host, n=300)
    con = sqlite3.connect(tmp_path / "source.db")
    con.execute("UPDATE src SET qty = 500 WHERE id IN (7, 77, 277)")  # breaks the target's CHECK
    con.commit()
    con.close()
    report = run_scheme(scheme, store, now=NOW)
    assert report.status == "partial"
    assert (report.counts.delivered, report.counts.failed) == (297, 3) and report.counts.imbalance() == []
    failed = {r.record_id: r.last_error for r in store.find_records("items", status="error", limit=10)}
    assert sorted(failed) == ["277", "7", "77"]
    assert all("CHECK constraint failed" in (error or "") for error in failed.values())
    assert _statuses(store) == {"finished": 297, "error": 3}
    store.close()


@pytest.mark.parametrize("host", HOSTS)
def test_a_stop_at_a_checkpoint_loses_nothing_and_the_next_run_goes_on(place, tmp_path, host: str) -> None:
    scheme, store = place(host)
    pages = Counter[str]()

    def progress(event: str, **info: Any) -> None:
        pages[event] += 1

    report = run_scheme(scheme, store, now=NOW, progress=progress, stop=lambda: pages["page"] >= 3 and "test")
    assert report.status == "failed" and report.error == "stopped: test"
    assert report.counts.imbalance() == []
    assert "queued" not in _statuses(store)
    assert report.counts.fetched < 600  # it did stop early
    again = run_scheme(scheme, store, now=NOW)
    assert again.status == "succeeded", again.error
    rows, writes = _target_rows(tmp_path)
    assert rows == _expected(600) and set(writes.values()) == {1}
    assert _statuses(store) == {"finished": 600}
    store.close()


@pytest.mark.parametrize("host", HOSTS)
def test_rows_a_dead_run_left_queued_are_recovered(place, tmp_path, host: str) -> None:
    scheme, store = place(host, n=100)
    page = [(str(i), None, {"id": i, "name": f"item {i}", "qty": i % 7}) for i in range(1, 11)]
    store.hand_over("items", page, window=(NOW, NOW))  # then the process died
    assert _statuses(store) == {"queued": 10}
    report = run_scheme(scheme, store, now=NOW)
    assert report.status == "succeeded", report.error
    rows, writes = _target_rows(tmp_path)
    assert rows == _expected(100) and set(writes.values()) == {1}
    assert _statuses(store) == {"finished": 100}
    store.close()


def _ferry_run(tmp: Path, scheme_file: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ferry",
            "--store",
            f"sqlite:///{tmp / 'ferry.db'}",
            "run",
            str(scheme_file),
            "--until",
            UNTIL,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
@pytest.mark.parametrize("host", HOSTS)
def test_a_sigkill_at_any_point_loses_and_duplicates_nothing(tmp_path: Path, host: str) -> None:
    n = 4000
    _source(tmp_path / "source.db", n)
    _target(tmp_path / "target.db")
    scheme_file = tmp_path / "items.yaml"
    scheme_file.write_text(json.dumps(_definition(tmp_path, host, batch=25, page=40)))
    rng = random.Random(f"sigkill-{host}")
    # Four kills: one at a random moment of the first run (collecting, or starting to deliver),
    # then each at a random point of what is left, read off the rows the target holds, so a
    # kill lands mid-run however fast or slow the machine is today.
    killed_mid_run = 0
    marks = [None, *sorted(rng.sample(range(n // 10, n - n // 10), 3))]
    for mark in marks:
        proc = _ferry_run(tmp_path, scheme_file)
        if _running_until(proc, tmp_path, mark, first_after=rng.uniform(0.8, 2.0)):
            tree = [proc.pid] + [child.pid for child in psutil.Process(proc.pid).children(recursive=True)]
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            killed_mid_run += 1
            _gone(tree)
        else:
            proc.communicate()
    assert killed_mid_run >= 2, "the kills came too late to test anything"
    final = _ferry_run(tmp_path, scheme_file)
    _, err = final.communicate(timeout=300)
    assert final.returncode == 0, err.decode()
    rows, _ = _target_rows(tmp_path)
    assert rows == _expected(n)
    with open_store(f"sqlite:///{tmp_path / 'ferry.db'}") as store:
        assert _statuses(store) == {"finished": n}


def _running_until(proc: subprocess.Popen[bytes], tmp: Path, rows: int | None, first_after: float) -> bool:
    """Wait until the target holds ``rows`` rows (``None``: ``first_after`` seconds have
    passed); True if the run is still going then, False if it ended first."""
    deadline = time.monotonic() + (first_after if rows is None else 120)
    while proc.poll() is None:
        if rows is None and time.monotonic() >= deadline:
            return True
        if rows is not None and (len(_target_rows(tmp)[0]) >= rows or time.monotonic() >= deadline):
            return True
        time.sleep(0.02)
    return False


def _gone(pids: list[int]) -> None:
    """Every process of the killed run's tree ends (a forked child dies with its parent)."""
    deadline = time.monotonic() + 10
    alive = [pid for pid in pids if psutil.pid_exists(pid)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [
            pid
            for pid in alive
            if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        ]
    assert alive == [], f"processes outlived the killed run: {alive}"
