"""The garbage collector is tuned while a run is active and restored afterwards."""

from __future__ import annotations

import gc
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fakes import FakeSource, FakeTarget

from ferry.engine import gc_tuning
from ferry.engine.gc_tuning import RUN_THRESHOLDS, run_gc
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


def test_a_run_sees_the_tuned_collector_and_leaves_the_old_settings_behind(tmp_path) -> None:
    seen: list[tuple[tuple[int, int, int], int]] = []

    def progress(event: str, **info: object) -> None:
        seen.append((gc.get_threshold(), gc.get_freeze_count()))

    scheme = load_scheme(
        {
            "id": "orders",
            "name": "orders",
            "source": {
                "connection": {"type": "sql", "url": "sqlite://"},
                "metadata": {"api": "/orders", "effect": "QUERY", "id": "id"},
            },
            "target": {
                "connection": {"type": "sql", "url": "sqlite://"},
                "metadata": {
                    "api": "save",
                    "effect": "EXECUTE",
                    "request": [{"field": "id", "value": "{id}"}],
                },
            },
            "window": {"start": "2024-05-03 00:00:00", "step": "1d"},
            "settings": {"stream": "thread"},
        }
    )
    store = open_store(f"sqlite:///{tmp_path / 'ferry.db'}")
    try:
        records = [{"id": i} for i in range(5)]
        report = run_scheme(
            scheme, store, now=NOW, source=FakeSource(records), target=FakeTarget(), progress=progress
        )
    finally:
        store.close()
    assert report.status == "succeeded" and report.counts.delivered == 5
    assert seen and all(threshold == RUN_THRESHOLDS and frozen > 0 for threshold, frozen in seen)
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == 0


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
