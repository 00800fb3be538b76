"""The run record's per-window figures: what the ledger holds for each window and how much of it is delivered."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ferry.engine.run_record import _window_totals
from ferry.engine.window_report import WindowReport
from ferry.engine.windows import Window
from ferry.store import RecordResult, open_store

TZ = ZoneInfo("Asia/Shanghai")
DAY1 = datetime(2024, 5, 1, tzinfo=TZ)
DAY2, DAY3 = DAY1 + timedelta(days=1), DAY1 + timedelta(days=2)


def test_each_window_counts_the_rows_collected_in_it_and_those_delivered(any_db_url):
    store = open_store(any_db_url)
    store.upsert_records("s", [("1", None, {}), ("2", None, {})], window=(DAY1, DAY2))
    store.upsert_records("s", [("3", None, {})], window=(DAY2, DAY3))
    store.upsert_records("other", [("4", None, {})], window=(DAY1, DAY2))
    store.claim("s", 10, DAY3)
    store.record_results("s", [RecordResult("1", "finished"), RecordResult("3", "finished")])
    store.record_results("s", [RecordResult("2", "error", error="no")])
    reports = [
        WindowReport.of(Window(DAY1, DAY2)),
        WindowReport.of(Window(DAY2, DAY3)),
        WindowReport.of(Window(DAY1, DAY3)),  # overlaps both
        WindowReport.of(Window(DAY3, DAY3 + timedelta(days=1))),
    ]
    _window_totals(store, "s", reports)
    counts = [(w.ledger, w.delivered) for w in reports]
    assert counts == [(2, 1), (1, 1), (3, 2), (0, 0)]
    store.close()
