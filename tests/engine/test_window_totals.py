"""The run record's per-window figures: what the ledger holds for each window and how much of it is delivered."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ferry.engine.run_record import _window_totals
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
    details = [
        {"start": DAY1.isoformat(), "end": DAY2.isoformat()},
        {"start": DAY2.isoformat(), "end": DAY3.isoformat()},
        {"start": DAY1.isoformat(), "end": DAY3.isoformat()},  # overlaps both
        {"start": DAY3.isoformat(), "end": (DAY3 + timedelta(days=1)).isoformat()},
        {"window": "no start: left alone"},
    ]
    _window_totals(store, "s", details)
    counts = [(d.get("ledger"), d.get("delivered")) for d in details]
    assert counts == [(2, 1), (1, 1), (3, 2), (0, 0), (None, None)]
    store.close()
