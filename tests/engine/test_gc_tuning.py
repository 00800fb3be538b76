"""The process host tunes the garbage collector while it runs and restores it; other hosts leave it alone."""

from __future__ import annotations

import gc
import sqlite3
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fakes import FakeSource

from ferry.engine.hosts import process_wide as gc_tuning
from ferry.engine.hosts.process_wide import RUN_THRESHOLDS, run_gc
from ferry.engine.runner import run_scheme
from ferry.scheme.loader import load_scheme
from ferry.store import open_store

NOW = datetime(2024, 5, 3, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture(autouse=True)
def default_gc():
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


def _scheme(stream: str, target_url: str) -> object:
    return load_scheme(
        {
            "id": "orders",
            "name": "orders",
            "source": {
                "connection": {"type": "sql", "url": "sqlite://"},
                "metadata": {"api": "/orders", "effect": "QUERY", "id": "id"},
            },
            "target": {
                "connection": {"type": "sql", "url": target_url},
                "metadata": {
                    "api": "batchexecute",
                    "effect": "EXECUTE",
                    "request": [{"field": "id", "value": "{id}"}],
                    "otherRequest": [{"field": "main_sql", "value": "REPLACE INTO t (id) VALUES"}],
                },
            },
            "window": {"start": "2024-05-03 00:00:00", "step": "1d"},
            "settings": {"stream": stream, "deliver_workers": 1},
        }
    )


def _run(tmp_path, stream: str) -> tuple[object, list[tuple[tuple[int, int, int], int]]]:
    seen: list[tuple[tuple[int, int, int], int]] = []

    def progress(event: str, **info: object) -> None:
        seen.append((gc.get_threshold(), gc.get_freeze_count()))

    target = tmp_path / "target.db"
    sqlite3.connect(target).execute("CREATE TABLE t (id INTEGER PRIMARY KEY)").connection.commit()
    store = open_store(f"sqlite:///{tmp_path / 'ferry.db'}")
    try:
        records = [{"id": i} for i in range(5)]
        report = run_scheme(
            _scheme(stream, f"sqlite:///{target}"),
            store,
            now=NOW,
            source=FakeSource(records),
            progress=progress,
        )
    finally:
        store.close()
    return report, seen


def test_the_process_host_tunes_the_collector_while_it_runs_and_restores_it(tmp_path) -> None:
    report, seen = _run(tmp_path, "process")
    assert report.status == "succeeded" and report.counts.delivered == 5
    assert seen and all(threshold == RUN_THRESHOLDS and frozen > 0 for threshold, frozen in seen)
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == 0


@pytest.mark.parametrize("stream", ["thread", "inline"])
def test_other_hosts_leave_the_process_settings_alone(tmp_path, stream: str) -> None:
    report, seen = _run(tmp_path, stream)
    assert report.status == "succeeded" and report.counts.delivered == 5
    assert seen and all(threshold == (700, 10, 10) and frozen == 0 for threshold, frozen in seen)


def test_overlapping_runs_in_threads_restore_only_when_the_last_one_ends() -> None:
    first_in, second_done = threading.Event(), threading.Event()
    during: list[tuple[int, int, int]] = []

    def first() -> None:
        with run_gc():
            first_in.set()
            second_done.wait(5)
            during.append(gc.get_threshold())  # the second run ended; this one is still active

    thread = threading.Thread(target=first)
    thread.start()
    first_in.wait(5)
    with run_gc():
        during.append(gc.get_threshold())
    second_done.set()
    thread.join(5)
    assert during == [RUN_THRESHOLDS, RUN_THRESHOLDS]
    assert gc.get_threshold() == (700, 10, 10) and gc_tuning._active == 0


def test_the_settings_come_back_when_a_run_raises() -> None:
    with pytest.raises(RuntimeError), run_gc():
        raise RuntimeError("boom")
    assert gc.get_threshold() == (700, 10, 10) and gc.get_freeze_count() == 0


def test_a_full_collection_runs_every_few_committed_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    collections: list[int] = []
    monkeypatch.setattr(gc_tuning.gc, "collect", lambda *a: collections.append(1) or 0)
    monkeypatch.setattr(gc_tuning, "_pages", 0)
    for _ in range(3 * gc_tuning.COLLECT_EVERY + 1):
        gc_tuning.page_committed()
    assert len(collections) == 3
