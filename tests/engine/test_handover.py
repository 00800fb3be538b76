"""Streaming handover: new rows of a committed page go to the deliverer already claimed.

The ledger stays the record: handed rows are committed ``queued`` before delivery, their
results are recorded, rows a deliverer could not deliver go back to ``pending``, and rows a
crash left ``queued`` are recovered by the next run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fakes import FakeSource, FakeTarget

from ferry.engine.counts import RunCounts
from ferry.engine.deliverer import Deliverer
from ferry.engine.hosts import base as hosts_base
from ferry.engine.retry import RetryPolicy
from ferry.engine.runner import run_scheme
from ferry.errors import RetriableError
from ferry.scheme.loader import load_scheme
from ferry.store import HandedRow, LedgerRow, open_store

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 5, 3, 12, 0, tzinfo=TZ)
FAST = RetryPolicy(attempts=2, base_delay=0.0, max_delay=0.0)
RECORDS = [{"id": i, "no": f"A{i}", "amount": 10 * i, "qty": 2} for i in range(1, 8)] + [
    {"id": None, "no": "A0", "amount": 1, "qty": 1}  # no id: dead-lettered with its page
]


def scheme(*, on_change: str = "skip") -> Any:
    return load_scheme(
        {
            "id": "orders",
            "name": "orders",
            "source": {
                "connection": {"type": "sql", "url": "sqlite://"},
                "metadata": {"api": "/orders", "effect": "QUERY", "id": "id", "number": "no"},
            },
            "target": {
                "connection": {"type": "sql", "url": "sqlite://"},
                "metadata": {
                    "api": "save",
                    "effect": "EXECUTE",
                    "request": [
                        {"field": "no", "value": "{no}"},
                        {"field": "per_unit", "value": "_function {{amount}} / {{qty}}"},
                        {"field": "since", "value": "{{LAST_SYNC_TIME|datetime}}"},
                    ],
                },
            },
            "window": {"start": "2024-05-03 00:00:00", "step": "1d"},
            "settings": {"stream": "thread", "batch_size": 2, "on_change": on_change},
        }
    )


@pytest.fixture
def store(tmp_path):
    s = open_store(f"sqlite:///{tmp_path / 'ferry.db'}")
    yield s
    s.close()


def spy_claims(store: Any) -> list[str]:
    """Record every id :meth:`Store.claim` hands out (the claim-by-query path)."""
    claimed: list[str] = []
    original = store.claim

    def claim(*args: Any, **kw: Any) -> list[LedgerRow]:
        rows = original(*args, **kw)
        claimed.extend(r.record_id for r in rows)
        return rows

    store.claim = claim
    return claimed


def statuses(store: Any) -> dict[str, str]:
    return {r.record_id: r.status for r in store.find_records("orders", limit=100)}


def test_new_rows_are_delivered_from_the_handover_not_claimed_by_query(store):
    claimed = spy_claims(store)
    target = FakeTarget()
    report = run_scheme(scheme(), store, now=NOW, source=FakeSource(RECORDS[:]), target=target, retry=FAST)
    # partial: the record without an id is a dead letter
    assert report.status == "partial" and report.counts.delivered == 7 and report.counts.dead == 1
    assert report.counts.imbalance() == [] and (report.counts.new, report.counts.no_id) == (7, 1)
    assert claimed == []
    assert sorted(target.written) == [str(i) for i in range(1, 8)]
    rows = store.find_records("orders", status="finished", limit=100)
    assert len(rows) == 7 and {r.attempts for r in rows} == {1}
    assert target.written["3"] == {"no": "A3", "per_unit": 15, "since": "2024-05-03 00:00:00"}
    dead = store.find_records("orders", status="dead", limit=10)
    assert [r.record_id.startswith("noid-") for r in dead] == [True]  # never handed over


def test_a_page_the_deliverer_has_no_room_for_is_stored_pending_and_claimed(store, monkeypatch):
    monkeypatch.setattr(hosts_base, "CREDITS", 0)
    monkeypatch.setattr(hosts_base, "CREDIT_WAIT", 0.0)
    claimed = spy_claims(store)
    report = run_scheme(
        scheme(), store, now=NOW, source=FakeSource(RECORDS[:]), target=FakeTarget(), retry=FAST
    )
    assert report.status == "partial" and report.counts.delivered == 7  # and the no-id dead letter
    assert sorted(claimed) == [str(i) for i in range(1, 8)]


def test_rows_a_failing_deliverer_did_not_deliver_go_back_to_pending(store):
    target = FakeTarget(raise_on_write=RetriableError("connection refused"))
    report = run_scheme(scheme(), store, now=NOW, source=FakeSource(RECORDS[:]), target=target, retry=FAST)
    assert report.status == "failed" and "connection refused" in (report.error or "")
    held = statuses(store)
    assert "queued" not in held.values()
    assert sum(1 for s in held.values() if s == "error") == 2  # the one batch that was tried
    assert sum(1 for s in held.values() if s == "pending") == 5
    c = report.counts  # the failed run's accounting balances; the untried rows are still waiting
    assert (c.failed, c.dead, c.delivered) == (2, 1, 0) and c.imbalance() == []
    assert c.waiting_pending == 5 and c.pending <= 5  # handed over unread, or never handed over


def test_rows_claimed_by_a_page_commit_that_were_never_delivered_are_recovered(store):
    result, batch = store.hand_over(
        "orders", [("1", "A1", RECORDS[0]), ("2", "A2", RECORDS[1])], window=(NOW, NOW)
    )
    assert result.new == 2 and batch.record_ids() == ["1", "2"]
    assert statuses(store) == {"1": "queued", "2": "queued"}  # then the process died
    target = FakeTarget()
    report = run_scheme(scheme(), store, now=NOW, collect=False, target=target, retry=FAST)
    assert report.counts.delivered == 2 and sorted(target.written) == ["1", "2"]
    assert {r.attempts for r in store.find_records("orders", limit=10)} == {1}


def test_only_new_ids_are_claimed_and_handed_rows_read_as_the_ledger_stores_them(any_db_url):
    store = open_store(any_db_url)
    store.upsert_records("orders", [("1", "A1", {"v": 1})])
    page = [("1", "A1", {"v": 2}), ("2", "A2", {"v": 1.5, "d": {"b": [1, None]}})]
    result, batch = store.hand_over("orders", page, on_change="redeliver", window=(NOW, NOW))
    assert (result.new, result.changed, result.redelivered) == (1, 1, 1)
    assert batch.record_ids() == ["2"]
    assert statuses(store) == {"1": "pending", "2": "queued"}
    (handed,) = batch.rows()
    stored = store.get_record("orders", "2")
    assert handed.content == stored.content and handed.attempts == stored.attempts == 0
    assert (handed.window_start, handed.window_end) == (stored.window_start, stored.window_end)
    store.close()


def test_rows_of_different_windows_in_one_batch_map_with_their_own_window(store):
    deliverer = Deliverer(scheme(), FakeTarget(), store, RunCounts())
    early, late = datetime(2024, 5, 1, tzinfo=TZ), datetime(2024, 5, 2, tzinfo=TZ)
    rows = [
        HandedRow("1", RECORDS[0], 0, early, late),
        HandedRow("2", RECORDS[1], 0, late, NOW),
        HandedRow("3", {"no": "A3", "amount": 1, "qty": 0}, 0, late, NOW),
    ]
    batch = deliverer.prepare(rows, NOW)
    assert [(rid, p["since"]) for rid, p in batch.items] == [
        ("1", "2024-05-01 00:00:00"),
        ("2", "2024-05-02 00:00:00"),
    ]
    assert "division by zero" in batch.failures["3"]
