"""Schemes, cursors, runs and API calls round-trip on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ferry.store import Store

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def test_schemes_upsert_keeps_created_at_and_enabled(store: Store) -> None:
    store.save_scheme("k3-orders", "金蝶订单", {"source": {"api": "ExecuteBillQuery"}, "n": 1})
    first = store.get_scheme("k3-orders")
    assert first is not None and first["enabled"] is True
    assert store.set_scheme_enabled("k3-orders", False) is True
    store.save_scheme("k3-orders", "金蝶订单 v2", {"n": 2})
    second = store.get_scheme("k3-orders")
    assert second is not None
    assert (second["name"], second["definition"], second["enabled"]) == ("金蝶订单 v2", {"n": 2}, False)
    assert second["created_at"] == first["created_at"] and second["updated_at"] >= first["updated_at"]
    assert store.get_scheme("missing") is None
    assert store.set_scheme_enabled("missing", True) is False


def test_list_schemes_orders_by_id(store: Store) -> None:
    for scheme_id in ("b", "a", "c"):
        store.save_scheme(scheme_id, scheme_id.upper(), {})
    assert [s["id"] for s in store.list_schemes()] == ["a", "b", "c"]


def test_cursor_round_trip_in_utc(store: Store) -> None:
    assert store.get_cursor("s") is None
    shanghai = datetime(2024, 5, 1, 0, 0, 0, 123456, tzinfo=ZoneInfo("Asia/Shanghai"))
    store.set_cursor("s", "main", shanghai)
    store.set_cursor("s", "remedy", T0)
    got = store.get_cursor("s", "main")
    assert got == shanghai and got is not None and got.utcoffset() == timedelta(0)
    assert got == datetime(2024, 4, 30, 16, 0, 0, 123456, tzinfo=UTC)
    store.set_cursor("s", "main", T0 + timedelta(days=1))
    assert store.get_cursor("s", "main") == T0 + timedelta(days=1)
    assert store.get_cursor("s", "remedy") == T0
    with pytest.raises(ValueError, match="position must be a tz-aware datetime"):
        store.set_cursor("s", "main", datetime(2024, 5, 1))


def test_runs_round_trip(store: Store) -> None:
    run = store.start_run("s", "run")
    other = store.start_run("t", "collect")
    assert store.get_run(run)["status"] == "running"  # type: ignore[index]
    windows = [{"start": T0, "end": T0 + timedelta(hours=1), "pages": 3, "records": 250}]
    store.finish_run(run, "partial", {"new": 250, "errors": 2}, error="2 records failed", windows=windows)
    got = store.get_run(run)
    assert got is not None
    assert (got["scheme_id"], got["kind"], got["status"], got["error"]) == (
        "s",
        "run",
        "partial",
        "2 records failed",
    )
    assert got["counts"] == {"new": 250, "errors": 2}
    assert got["windows"] == [
        {"start": "2024-05-01T08:00:00+00:00", "end": "2024-05-01T09:00:00+00:00", "pages": 3, "records": 250}
    ]
    assert got["finished_at"] >= got["started_at"]
    assert [r["id"] for r in store.list_runs()] == [other, run]
    assert [r["id"] for r in store.list_runs("s")] == [run]
    assert [r["id"] for r in store.list_runs(limit=1)] == [other]
    assert store.get_run(999_999) is None


def test_runs_validate_kind_status_and_id(store: Store) -> None:
    with pytest.raises(ValueError, match="run kind must be one of run, collect, deliver, replay"):
        store.start_run("s", "sync")
    run = store.start_run("s", "deliver")
    with pytest.raises(ValueError, match="succeeded, partial, failed"):
        store.finish_run(run, "running", {})
    with pytest.raises(ValueError, match="run 999999 does not exist"):
        store.finish_run(999_999, "failed", {})


def test_interrupted_runs_are_closed_as_failed(store: Store) -> None:
    stale = store.start_run("s", "run")
    done = store.start_run("s", "run")
    store.finish_run(done, "succeeded", {})
    elsewhere = store.start_run("t", "run")
    assert store.fail_running_runs("s") == 1
    got = store.get_run(stale)
    assert got is not None and got["status"] == "failed" and "interrupted" in got["error"]
    assert store.get_run(done)["status"] == "succeeded"  # type: ignore[index]
    assert store.get_run(elsewhere)["status"] == "running"  # type: ignore[index]


def test_api_calls_round_trip(store: Store) -> None:
    run = store.start_run("s", "collect")
    store.log_api_calls(
        [
            {
                "run_id": run,
                "scheme_id": "s",
                "connection": "k3",
                "api": "ExecuteBillQuery",
                "started_at": T0,
                "duration_ms": 120.6,
                "records": 500,
            },
            {
                "run_id": run,
                "scheme_id": "s",
                "connection": "k3",
                "api": "Save",
                "started_at": T0,
                "duration_ms": 80,
                "error_code": 500,
                "error_message": "会话过期",
            },
            {"scheme_id": "t", "connection": "jst", "api": "/open/orders/single/query"},
        ]
    )
    calls = store.list_api_calls("s")
    assert [c["api"] for c in calls] == ["Save", "ExecuteBillQuery"]
    save, query = calls
    assert (save["status"], save["error_code"], save["error_message"], save["records"]) == (
        "error",
        "500",
        "会话过期",
        0,
    )
    assert (query["status"], query["duration_ms"], query["records"], query["started_at"]) == (
        "ok",
        121,
        500,
        T0,
    )
    assert query["run_id"] == run
    assert len(store.list_api_calls()) == 3 and len(store.list_api_calls(limit=1)) == 1
    store.log_api_calls([])


def test_api_calls_validate_fields(store: Store) -> None:
    with pytest.raises(ValueError, match="unknown API call field"):
        store.log_api_calls([{"connection": "k3", "api": "x", "latency": 3}])
    with pytest.raises(ValueError, match="missing api"):
        store.log_api_calls([{"connection": "k3"}])
    assert store.list_api_calls() == []


def test_rate_budget_reservations_count_calls_in_a_sliding_window(store: Store) -> None:
    rules = [(3, 1.0), (5, 60.0)]
    assert [store.reserve_call("jst:app", rules, 100.0 + i * 0.1) for i in range(3)] == [0.0, 0.0, 0.0]
    assert store.reserve_call("jst:app", rules, 100.3) == pytest.approx(
        0.7
    )  # 100.0 leaves the window at 101.0
    assert store.reserve_call("other:app", rules, 100.3) == 0.0  # budgets are per key
    assert store.reserve_call("jst:app", rules, 101.05) == 0.0
    assert store.reserve_call("jst:app", rules, 101.15) == 0.0  # 5 calls within the minute now
    assert store.reserve_call("jst:app", rules, 102.5) == pytest.approx(100.0 + 60.0 - 102.5)
    store.penalize_calls("other:app", 130.0)
    assert store.reserve_call("other:app", rules, 120.0) == pytest.approx(10.0)
