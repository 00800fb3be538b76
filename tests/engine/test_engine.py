"""Collector and deliverer behaviour against fake connectors and a real SQLite store."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fakes import FakeSource, FakeTarget

from ferry.engine.retry import RetryPolicy
from ferry.engine.runner import run_scheme
from ferry.errors import RetriableError
from ferry.scheme.loader import load_scheme
from ferry.store import open_store

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 5, 3, 12, 0, tzinfo=TZ)
FAST = RetryPolicy(attempts=3, base_delay=0.0, max_delay=0.0)


def scheme(**settings):
    return load_scheme(
        {
            "id": "orders",
            "name": "orders",
            "source": {
                "connection": {"type": "sql", "url": "sqlite://"},
                "metadata": {
                    "api": "/orders",
                    "effect": "QUERY",
                    "id": "id",
                    "number": "no",
                    "request": [
                        {"field": "since", "value": "{{LAST_SYNC_TIME|datetime}}"},
                        {"field": "page", "value": "{{PAGINATION_START_PAGE}}"},
                    ],
                    "condition": [[{"field": "status", "logic": "neq", "value": "cancelled"}]],
                },
            },
            "target": {
                "connection": {"type": "sql", "url": "sqlite://"},
                "metadata": {
                    "api": "save",
                    "effect": "EXECUTE",
                    "request": [
                        {"field": "no", "value": "{no}"},
                        {"field": "per_unit", "value": "_function {{amount}} / {{qty}}"},
                    ],
                },
            },
            "window": {"start": "2024-05-01 00:00:00", "step": "1d"},
            "settings": settings,
        }
    )


RECORDS = [
    {"id": 1, "no": "A1", "amount": 10, "qty": 2, "status": "paid"},
    {"id": 2, "no": "A2", "amount": 9, "qty": 0, "status": "paid"},  # division by zero
    {"id": 3, "no": "A3", "amount": 5, "qty": 1, "status": "cancelled"},  # filtered out
    {"id": None, "no": "A4", "amount": 1, "qty": 1, "status": "paid"},  # no id: dead letter
    {"id": 5, "no": "A5", "amount": 8, "qty": 4, "status": "paid"},
]


@pytest.fixture
def store(tmp_path):
    s = open_store(f"sqlite:///{tmp_path / 'ferry.db'}")
    yield s
    s.close()


def test_every_fetched_record_is_counted_and_none_is_lost(store):
    source, target = FakeSource(RECORDS[:]), FakeTarget()
    report = run_scheme(scheme(), store, now=NOW, source=source, target=target, retry=FAST)
    c = report.counts
    assert report.status == "partial" and report.exit_code == 1
    assert c.windows == 3 and c.fetched == 5 * 3  # the fake ignores the window: 3 windows re-read all
    assert (c.filtered_out, c.no_id) == (3, 3)
    assert c.new == 3 and c.unchanged == 3 * 2  # windows 2 and 3 see the same 3 ids again
    assert c.dead == 3, "the record without an id is a dead letter each time it is fetched"
    assert c.fetched == c.filtered_out + c.no_id + c.rejected + c.new + c.changed + c.unchanged
    assert set(target.written) == {"1", "5"}
    assert target.written["1"]["per_unit"] == 5
    statuses = {r.record_id: (r.status, r.last_error) for r in store.find_records("orders", limit=50)}
    assert statuses["2"][0] == "error" and "division by zero" in statuses["2"][1]
    noid = [v for k, v in statuses.items() if k.startswith("noid-")]
    assert noid == [("dead", "source record has no id: field 'id' is missing or empty")]


def test_requests_are_rendered_per_window_and_page(store):
    source = FakeSource(RECORDS[:1])
    run_scheme(scheme(), store, now=NOW, source=source, target=FakeTarget(), retry=FAST)
    first = [c["request"] for c in source.calls]
    assert first[0] == {"since": "2024-05-01 00:00:00", "page": 1}
    assert [r["since"] for r in first] == [
        "2024-05-01 00:00:00",
        "2024-05-02 00:00:00",
        "2024-05-03 00:00:00",
    ]
    assert store.get_cursor("orders", "main") == NOW


def test_cursor_does_not_move_when_a_page_fails(store):
    def fail(call: int) -> None:
        if call >= 2:
            raise RetriableError("HTTP 503 from the vendor")

    report = run_scheme(
        scheme(), store, now=NOW, source=FakeSource(RECORDS[:], fail=fail), target=FakeTarget(), retry=FAST
    )
    assert report.status == "failed" and "giving up after 3 attempts" in report.error
    assert store.get_cursor("orders", "main") is None, "window 1 was not complete"
    assert report.counts.retries == 2


def test_a_looping_paginator_is_stopped(store):
    source = FakeSource(RECORDS[:], repeat_first_page=True)
    report = run_scheme(scheme(), store, now=NOW, source=source, target=FakeTarget(), retry=FAST)
    assert report.status == "failed" and "repeats the previous page" in report.error


def test_rejected_records_climb_the_retry_ladder_then_die(store):
    target = FakeTarget(reject=lambda row: "FNumber 'A5' does not exist" if row["no"] == "A5" else None)
    run_scheme(
        scheme(retry=["1m", "5m"]), store, now=NOW, source=FakeSource([RECORDS[4]]), target=target, retry=FAST
    )
    row = store.get_record("orders", "5")
    assert (row.status, row.attempts, row.last_error) == ("error", 1, "FNumber 'A5' does not exist")
    assert row.next_attempt_at == NOW + timedelta(minutes=1)
    for minutes, status in ((1, "error"), (6, "dead")):
        report = run_scheme(
            scheme(retry=["1m", "5m"]),
            store,
            now=NOW + timedelta(minutes=minutes),
            collect=False,
            target=target,
            retry=FAST,
        )
        assert store.get_record("orders", "5").status == status
    assert report.counts.dead == 1 and store.get_record("orders", "5").attempts == 3


def test_an_unavailable_target_fails_the_run_but_keeps_the_records(store):
    target = FakeTarget(raise_on_write=RetriableError("connection refused"))
    report = run_scheme(scheme(), store, now=NOW, source=FakeSource([RECORDS[0]]), target=target, retry=FAST)
    assert report.status == "failed" and "connection refused" in report.error
    row = store.get_record("orders", "1")
    assert row.status == "error" and "target unavailable after 3 attempts" in row.last_error
    assert target.writes == 3


def test_every_connector_call_is_logged_with_its_outcome(store):
    def fail(call: int) -> None:
        if call == 1:
            raise RetriableError("HTTP 502 Bad Gateway")

    source = FakeSource([RECORDS[0]], fail=fail)
    report = run_scheme(scheme(), store, now=NOW, source=source, target=FakeTarget(), retry=FAST)
    calls = store.list_api_calls("orders", limit=50)
    fetches = [c for c in calls if c["api"] == "/orders"]
    writes = [c for c in calls if c["api"] == "save"]
    assert len(fetches) == len(source.calls) == 4  # 3 windows, the first one retried once
    assert sorted(c["status"] for c in fetches) == ["error", "ok", "ok", "ok"]
    failed = next(c for c in fetches if c["status"] == "error")
    assert failed["error_message"] == "HTTP 502 Bad Gateway" and failed["run_id"] == report.run_id
    assert [c["records"] for c in writes] == [1] and writes[0]["connection"] == "fake-target"


def test_api_calls_are_stored_with_their_page_and_batch_not_in_writes_of_their_own(store, monkeypatch):
    separate: list[int] = []
    log = store.log_api_calls
    monkeypatch.setattr(store, "log_api_calls", lambda calls: (separate.append(len(calls)), log(calls)))
    source = FakeSource(RECORDS)
    report = run_scheme(scheme(), store, now=NOW, source=source, target=FakeTarget(), retry=FAST)
    assert report.counts.delivered == 2
    calls = store.list_api_calls("orders", limit=50)
    assert len([c for c in calls if c["api"] == "/orders"]) == len(source.calls) > 1
    assert sum(c["records"] for c in calls if c["api"] == "save") == 2
    assert separate == []  # each rode in its page's upsert or its batch's results


def test_the_stored_scheme_definition_carries_no_connection_secrets(store):
    run_scheme(scheme(), store, now=NOW, source=FakeSource([]), target=FakeTarget(), retry=FAST)
    inline = load_scheme(
        {
            "id": "secret",
            "name": "secret",
            "connections": {"db": {"type": "sql", "url": "mysql+pymysql://u:hunter2@db/x"}},
            "source": {"connection": "db", "metadata": {"api": "SELECT 1", "effect": "QUERY", "id": "id"}},
            "target": {
                "connection": {"type": "sql", "url": "mysql+pymysql://u:hunter2@db/y"},
                "metadata": {
                    "api": "execute",
                    "effect": "EXECUTE",
                    "otherRequest": [{"field": "main_sql", "value": "SELECT 1"}],
                },
            },
        }
    )
    run_scheme(inline, store, now=NOW, source=FakeSource([]), target=FakeTarget(), retry=FAST)
    stored = store.get_scheme("secret")
    assert "hunter2" not in str(stored)
    assert stored is not None


def test_dead_letters_commit_with_their_page_so_no_deliverer_can_claim_them(store):
    from ferry.store import RecordResult

    store.upsert_records(
        "orders",
        [("ok-1", None, {"a": 1}), ("noid-x", None, {"a": None})],
        dead_letters=[RecordResult("noid-x", "dead", error="source record has no id")],
    )
    claimed = store.claim("orders", 10, NOW)
    assert [r.record_id for r in claimed] == ["ok-1"]
    dead = store.get_record("orders", "noid-x")
    assert (dead.status, dead.last_error) == ("dead", "source record has no id")


@pytest.mark.parametrize(("attempts", "status"), [(3, "partial"), (2, "failed")])
def test_call_retry_setting_decides_how_often_a_failing_call_is_tried(store, attempts, status):
    def two_timeouts(call: int) -> None:
        if call <= 2:
            raise RetriableError(f"timeout {call}")

    source = FakeSource(RECORDS[:], fail=two_timeouts)
    settings = {"call_retry": {"attempts": attempts, "base_delay": "1ms", "max_delay": "2ms"}}
    report = run_scheme(scheme(**settings), store, now=NOW, source=source, target=FakeTarget())
    assert report.status == status, report.error
    if status == "failed":
        assert len(source.calls) == 2 and "giving up after 2 attempts" in (report.error or "")
    else:
        assert report.counts.retries == 2
