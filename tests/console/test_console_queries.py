"""The console's own store queries give the same answers on SQLite, MariaDB and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from ferry.console._queries import (
    activity,
    alert_history,
    api_stats,
    last_runs,
    percentile,
    status_by_scheme,
)
from ferry.store import RecordResult, open_store
from ferry.store._schema import alert_incidents, alert_notices, run_events


@pytest.fixture
def store(any_db_url: str):
    with open_store(any_db_url) as store:
        yield store


def test_activity_counts_records_in_delivered_and_failed_per_hour(store) -> None:
    store.upsert_records("a", [(str(i), None, {"n": i}) for i in range(5)])
    store.upsert_records("b", [("x", None, {})])
    now = datetime.now(UTC)
    rows = store.claim("a", 5, now)
    store.record_results(
        "a",
        [RecordResult(r.record_id, "finished") for r in rows[:3]]
        + [RecordResult(r.record_id, "error", error="no") for r in rows[3:]],
    )

    act = activity(store, datetime.now(UTC))
    later = activity(store, datetime.now(UTC) + timedelta(hours=30))

    assert len(act.hours) == 24 and act.hours[-1] <= datetime.now(UTC) < act.hours[-1] + timedelta(hours=1)
    assert (sum(act.received), sum(act.delivered), sum(act.failed)) == (6, 3, 2)
    assert act.received[-1] + act.received[-2] == 6, (
        "all in the last hour or two (an hour may turn meanwhile)"
    )
    assert (sum(later.received), sum(later.delivered), sum(later.failed)) == (0, 0, 0)


def test_status_and_last_run_per_scheme(store) -> None:
    store.upsert_records("a", [("1", None, {}), ("2", None, {})])
    store.upsert_records("b", [("1", None, {})])
    first = store.start_run("a", "run")
    store.finish_run(first, "failed", {}, "boom")
    second = store.start_run("a", "deliver")
    store.finish_run(second, "succeeded", {"delivered": 2})
    other = store.start_run("b", "collect")

    status = status_by_scheme(store)
    runs = last_runs(store)

    assert status["a"]["pending"] == 2 and status["a"]["finished"] == 0 and status["b"]["pending"] == 1
    assert runs["a"]["id"] == second and runs["a"]["counts"] == {"delivered": 2}
    assert runs["b"]["id"] == other and runs["b"]["status"] == "running"


def test_api_stats_bucket_calls_and_percentiles(store) -> None:
    now = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    calls = [
        {"connection": "jst", "api": "/q", "started_at": now - timedelta(minutes=30), "duration_ms": d}
        for d in range(1, 101)
    ]
    calls += [
        {
            "connection": "jst",
            "api": "/q",
            "started_at": now - timedelta(hours=5),
            "duration_ms": 500,
            "error_code": "429",
        },
        {"connection": "k3", "api": "Save", "started_at": now - timedelta(hours=2), "duration_ms": 40},
        {"connection": "k3", "api": "Save", "started_at": now - timedelta(hours=30), "duration_ms": 9},
    ]
    store.log_api_calls(calls)

    stats = {(s.connection, s.api): s for s in api_stats(store, now, hours=24, buckets=24)}

    jst = stats[("jst", "/q")]
    assert (jst.calls, jst.errors, round(jst.error_rate, 4)) == (101, 1, round(1 / 101, 4))
    assert (jst.p50, jst.p95, jst.p99) == (51.0, 96.0, 100.0)
    assert jst.buckets[-1].calls == 100 and jst.buckets[-1].p95 == 95.0
    assert jst.buckets[-5].calls == 1 and jst.buckets[-5].errors == 1
    assert stats[("k3", "Save")].calls == 1, "a call older than the period is left out"


def test_api_stats_count_throttled_calls_apart_from_errors(store) -> None:
    now = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    at = now - timedelta(minutes=10)
    calls = [{"connection": "km", "api": "list", "started_at": at, "duration_ms": 5}] * 6
    calls += [
        {"connection": "km", "api": "list", "started_at": at, "status": "throttled", "error_code": "7"}
    ] * 3
    calls += [{"connection": "km", "api": "list", "started_at": at, "error_code": "5xx"}]
    store.log_api_calls(calls)

    [km] = api_stats(store, now, hours=1, buckets=1)

    assert (km.calls, km.errors, km.throttled, km.error_rate) == (10, 1, 3, 0.1)
    assert (km.buckets[0].errors, km.buckets[0].throttled) == (1, 3)


def test_alert_history_and_the_run_log_in_pages(store) -> None:
    now = datetime.now(UTC)
    with store.transaction(write=True) as conn:
        ids = []
        for rule in ("dead_letters", "stalled"):
            ids.append(
                conn.execute(
                    sa.insert(alert_incidents).values(
                        rule=rule,
                        subject="a",
                        status="open",
                        severity="warning",
                        summary=rule,
                        opened_at=now,
                        last_seen_at=now,
                    )
                ).inserted_primary_key[0]
            )
        conn.execute(
            sa.insert(alert_notices),
            [
                {"incident_id": ids[0], "channel": c, "kind": "alert", "at": now, "ok": True, "error": None}
                for c in ("wecom", "feishu")
            ],
        )
        conn.execute(
            sa.insert(run_events),
            [{"run_id": 7, "at": now, "level": "info", "message": f"line {i}"} for i in range(3)],
        )

    history = alert_history(store)

    assert [i["rule"] for i in history] == ["stalled", "dead_letters"], "newest first"
    assert [n["channel"] for n in history[1]["notices"]] == ["wecom", "feishu"] and history[0][
        "notices"
    ] == []
    assert [e["message"] for e in store.list_run_events(7)] == ["line 0", "line 1", "line 2"]
    assert [e["message"] for e in store.list_run_events(7, offset=1, limit=1)] == ["line 1"], "one page"
    assert store.count_run_events(7) == 3
    assert store.list_run_events(8) == [] and store.count_run_events(8) == 0


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([7], 99) == 7.0
    assert percentile([4, 1, 3, 2], 50) == 2.0
    assert percentile(list(range(1, 11)), 95) == 10.0
