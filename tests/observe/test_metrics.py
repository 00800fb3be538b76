"""``/metrics``: the exposition parsed back, after a real run and on crafted store states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from observe_helpers import FakeSource, FakeTarget, add_run
from prometheus_client.parser import text_string_to_metric_families

from ferry.engine.counts import COLLECT_BUCKETS, DELIVER_BUCKETS
from ferry.engine.retry import RetryPolicy
from ferry.engine.runner import run_scheme
from ferry.errors import RetriableError
from ferry.observe import render_metrics
from ferry.observe.metrics import RECORD_BUCKETS
from ferry.scheme.loader import load_scheme
from ferry.store import RecordResult, Store, open_store

NOW = datetime(2024, 5, 3, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def scrape(store: Store, now: datetime | None = None) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``{(sample name, sorted labels): value}`` of one scrape."""
    body, content_type = render_metrics(store, now=(lambda: now) if now else None)
    assert content_type.startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def orders_scheme():
    return load_scheme(
        {
            "id": "orders",
            "name": "orders",
            "source": {
                "connection": {"type": "sql", "url": "sqlite://"},
                "metadata": {"api": "/orders", "effect": "QUERY", "id": "id", "number": "no", "request": []},
            },
            "target": {
                "connection": {"type": "sql", "url": "sqlite://"},
                "metadata": {
                    "api": "save",
                    "effect": "EXECUTE",
                    "request": [{"field": "no", "value": "{no}"}],
                },
            },
            "window": {"start": "2024-05-03 00:00:00", "step": "1d"},
            "settings": {"stream": "thread"},
        }
    )


def test_a_real_run_shows_up_in_every_family(store: Store) -> None:
    records = [{"id": i, "no": f"A{i}"} for i in range(1, 6)] + [{"id": None, "no": "A6"}]
    source = FakeSource(records, fail_calls={1}, error=RetriableError("HTTP 503 from the shop"))
    report = run_scheme(
        orders_scheme(), store, now=NOW, source=source, target=FakeTarget(reject={"A2"}),
        retry=RetryPolicy(attempts=3, base_delay=0.0, max_delay=0.0),
    )  # fmt: skip
    assert report.status == "partial"

    samples = scrape(store)
    counts = store.count_by_status("orders")
    assert counts == {
        "pending": 0,
        "queued": 0,
        "finished": 4,
        "error": 1,
        "dead": 1,
        "quarantined": 0,
        "dropped": 0,
    }
    for status, count in counts.items():
        assert value(samples, "ferry_ledger_records", scheme="orders", status=status) == count
    assert value(samples, "ferry_dead_letters", scheme="orders") == 1
    assert value(samples, "ferry_pending_queue_depth", scheme="orders") == 1  # the error row is due now ...
    before = scrape(store, NOW)  # ... but was not at the run's time (the ladder's first step is 20 s)
    assert value(before, "ferry_pending_queue_depth", scheme="orders") == 0
    later = scrape(store, NOW + timedelta(minutes=1))
    assert value(later, "ferry_pending_queue_depth", scheme="orders") == 1  # ... a minute later it is

    assert value(samples, "ferry_runs_total", scheme="orders", kind="run", status="partial") == 1
    assert value(samples, "ferry_run_duration_seconds_count", scheme="orders", kind="run") == 1
    run = store.get_run(report.run_id)
    assert run is not None
    took = (run["finished_at"] - run["started_at"]).total_seconds()
    assert value(samples, "ferry_run_duration_seconds_sum", scheme="orders", kind="run") == pytest.approx(
        took, abs=1e-3
    )
    assert value(
        samples, "ferry_last_success_timestamp_seconds", scheme="orders", kind="run"
    ) == pytest.approx(run["finished_at"].timestamp())

    calls = store.list_api_calls("orders", limit=1000)
    fetches = [c for c in calls if c["connection"] == "shop-api"]
    ok = sum(c["status"] == "ok" for c in fetches)
    assert value(samples, "ferry_api_calls_total", connection="shop-api", api="/orders", status="ok") == ok
    assert value(samples, "ferry_api_calls_total", connection="shop-api", api="/orders", status="error") == 1
    assert (
        value(samples, "ferry_api_errors_total", connection="shop-api", api="/orders", code="RetriableError")
        == 1
    )
    assert value(samples, "ferry_api_records_total", connection="shop-api", api="/orders") == sum(
        c["records"] for c in fetches
    )
    assert value(samples, "ferry_api_latency_seconds_count", connection="shop-api", api="/orders") == len(
        fetches
    )
    assert value(samples, "ferry_store_up") == 1
    assert value(samples, "ferry_scheme_enabled", scheme="orders") == 1


def crafted(store: Store) -> datetime:
    """Runs with exact durations, timed API calls and ledger rows in each status; returns 'now'."""
    t0 = datetime(2024, 5, 3, 4, 0, tzinfo=UTC)
    add_run(store, "s1", "succeeded", t0, t0 + timedelta(seconds=90))
    add_run(store, "s1", "failed", t0, t0 + timedelta(seconds=0.5), error="boom")
    add_run(store, "s1", "succeeded", t0, t0 + timedelta(seconds=4000), kind="collect")
    add_run(store, "s1", "running", t0, None, kind="deliver")
    store.log_api_calls(
        [
            {"connection": "jst", "api": "/open/q", "duration_ms": ms, "records": 10}
            for ms in (30, 120, 700, 4000)
        ]
        + [
            {
                "connection": "jst",
                "api": "/open/q",
                "duration_ms": None,
                "error_code": "429",
                "status": "error",
            }
        ]
    )
    store.upsert_records("s1", [(f"r{i}", None, {"i": i}) for i in range(6)])
    store.record_results("s1", [RecordResult("r0", "finished"), RecordResult("r1", "dead", error="x"),
                                RecordResult("r2", "error", error="x", next_attempt_at=t0),
                                RecordResult("r3", "error", error="x", next_attempt_at=t0 + timedelta(days=9999))])  # fmt: skip
    return t0 + timedelta(hours=1)


@pytest.mark.parametrize("db", ["sqlite", "mariadb", "postgres"])
def test_histograms_and_queue_depth_are_computed_in_sql(db: str, request: pytest.FixtureRequest) -> None:
    with open_store(request.getfixturevalue(f"{db}_url")) as store:
        now = crafted(store)
        samples = scrape(store, now)
    run = {"scheme": "s1", "kind": "run"}
    assert value(samples, "ferry_runs_total", status="succeeded", **run) == 1
    assert value(samples, "ferry_runs_total", status="failed", **run) == 1
    assert value(samples, "ferry_runs_running", scheme="s1", kind="deliver") == 1
    assert [
        value(samples, "ferry_run_duration_seconds_bucket", le=le, **run)
        for le in ("1.0", "60.0", "120.0", "+Inf")
    ] == [1, 1, 2, 2]
    assert value(samples, "ferry_run_duration_seconds_sum", **run) == pytest.approx(90.5, abs=1e-3)
    assert value(samples, "ferry_run_duration_seconds_bucket", scheme="s1", kind="collect", le="3600.0") == 0
    assert value(samples, "ferry_run_duration_seconds_bucket", scheme="s1", kind="collect", le="7200.0") == 1

    api = {"connection": "jst", "api": "/open/q"}
    buckets = [
        value(samples, "ferry_api_latency_seconds_bucket", le=le, **api)
        for le in ("0.05", "0.1", "0.25", "1.0", "5.0", "+Inf")
    ]
    assert buckets == [1, 1, 2, 3, 4, 4]  # the errored call has no duration: counted in calls only
    assert value(samples, "ferry_api_latency_seconds_sum", **api) == pytest.approx(4.85)
    assert value(samples, "ferry_api_calls_total", status="ok", **api) == 4
    assert value(samples, "ferry_api_errors_total", code="429", **api) == 1
    assert value(samples, "ferry_api_records_total", **api) == 40

    assert value(samples, "ferry_ledger_records", scheme="s1", status="pending") == 2
    assert value(samples, "ferry_pending_queue_depth", scheme="s1") == 3  # 2 pending + 1 error due
    assert value(samples, "ferry_dead_letters", scheme="s1") == 1


def test_the_ledger_is_read_through_its_covering_index(store: Store) -> None:
    statements: list[tuple[str, object]] = []
    engine = store._engine
    sa.event.listen(
        engine,
        "before_cursor_execute",
        lambda c, cur, stmt, params, ctx, many: statements.append((stmt, params)),
    )
    scrape(store)
    [(sql, params)] = [(s, p) for s, p in statements if "FROM ledger" in s]
    with engine.connect() as conn:
        plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params))
    assert "COVERING INDEX ix_ledger_due" in plan, plan


def test_an_unreachable_store_scrapes_as_store_down() -> None:
    from ferry.store import Store as RawStore

    dead = RawStore("mysql+pymysql://root@127.0.0.1:1/nowhere?connect_timeout=2")
    try:
        samples = scrape(dead)
    finally:
        dead.close()
    assert samples == {("ferry_store_up", ()): 0}


@pytest.mark.parametrize("db", ["sqlite", "mariadb", "postgres"])
def test_run_records_are_summed_per_bucket_of_the_accounting(db: str, request: pytest.FixtureRequest) -> None:
    t0 = datetime(2024, 5, 3, 4, 0, tzinfo=UTC)
    with open_store(request.getfixturevalue(f"{db}_url")) as store:
        add_run(store, "s1", "succeeded", t0, counts={"fetched": 200, "flattened": 199, "new": 399, "due": 399,
                                                      "delivered": 399})  # fmt: skip
        add_run(
            store, "s1", "partial", t0, counts={"fetched": 5, "no_id": 1, "unchanged": 4, "due": 1, "dead": 1}
        )
        add_run(store, "s1", "running", t0, None)  # not finished: not counted
        add_run(store, "s2", "failed", t0)  # killed: no counts recorded
        samples = scrape(store)
    sums = {
        bucket: value(samples, "ferry_run_records_total", scheme="s1", bucket=bucket)
        for bucket in RECORD_BUCKETS
    }
    assert sums["fetched"] + sums["flattened"] == sum(sums[b] for b in COLLECT_BUCKETS) == 404
    assert sums["due"] == sum(sums[b] for b in DELIVER_BUCKETS) == 400
    assert (sums["no_id"], sums["dead"], sums["delivered"], sums["changed"]) == (1, 1, 399, 0)
    assert value(samples, "ferry_run_records_total", scheme="s2", bucket="fetched") == 0
