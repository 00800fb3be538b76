"""Graceful shutdown stops a run at a page boundary and loses nothing; a run's events log what
happened, coarsely and without credentials."""

from __future__ import annotations

import sqlite3

import httpx
import orjson
import pytest
from schedule_env import at, create_demo_tables, demo_connections, demo_scheme

from ferry.demo.server import DemoSource
from ferry.engine.events import RunLog, read_run_events, redact
from ferry.engine.retry import RetryPolicy
from ferry.engine.runner import run_scheme
from ferry.schedule import FakeClock, Scheduler
from ferry.store import open_store


@pytest.fixture
def store(sqlite_url):
    s = open_store(sqlite_url)
    yield s
    s.close()


def transport(demo: DemoSource, on_request=None, inflate_total: int = 0, fail: bool = False):
    """The demo API in-process; ``on_request(n)`` is called before the n-th request is answered."""
    count = 0

    def handle(request: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        if on_request is not None:
            on_request(count)
        if fail:
            return httpx.Response(503, json={"code": 503, "msg": "maintenance"})
        status, body = demo.app.handle(request.url.path, dict(request.url.params))
        if inflate_total:
            data = orjson.loads(body)
            data["data"]["total"] += inflate_total
            body = orjson.dumps(data)
        return httpx.Response(status, content=body, headers={"Content-Type": "application/json"})

    return httpx.MockTransport(handle)


def products_scheme(tmp_path, page_size: int = 10):
    db = tmp_path / "target.db"
    create_demo_tables(db)
    scheme = demo_scheme(
        "products", demo_connections(db, page_size=page_size), schedule={"source": "*/5 * * * *"}
    )
    return scheme, db


def target_skus(db) -> list[str]:
    with sqlite3.connect(db) as con:
        return [r[0] for r in con.execute("SELECT sku_id FROM products")]


def test_shutdown_stops_the_collect_at_a_page_boundary_and_a_later_run_completes_it(tmp_path, store):
    demo = DemoSource(n_orders=0, n_products=60, seed=5)
    scheme, db = products_scheme(tmp_path, page_size=10)
    clock = FakeClock(at(12, 1))
    serving: list[Scheduler] = []

    def sigterm_during_page_3(n: int) -> None:
        if n == 3:
            serving[0].stop(wait=False)  # what `ferry serve` does on SIGTERM

    first = Scheduler(
        [scheme], store, clock=clock, run_options={"transport": transport(demo, sigterm_during_page_3)}
    )
    serving.append(first)
    first.start()
    assert first.wait_idle()
    clock.set(at(12, 5))
    assert first.join(10), "the run stopped and the scheduler ended"
    [stopped] = store.list_runs("demo-products")
    assert (stopped["status"], stopped["error"]) == ("failed", "stopped: shutdown")
    assert stopped["counts"]["pages"] == 3 and stopped["counts"]["new"] == 30, "page 3 was committed"
    assert len(store.find_records("demo-products", limit=100)) == 30
    assert store.get_cursor("demo-products") is None, "the window is not complete: the cursor stays"
    events = read_run_events(store, stopped["id"])
    assert [e["level"] for e in events[-2:]] == ["error", "error"]
    assert events[-2]["message"] == "stopped: shutdown"
    assert set(target_skus(db)) <= {r.record_id for r in store.find_records("demo-products", limit=100)}

    clock.set(at(12, 10))
    second = Scheduler([scheme], store, clock=clock, run_options={"transport": transport(demo)})
    [flight] = second.tick()
    flight.thread.join(10)
    assert flight.report.status == "succeeded", flight.report.error
    skus = target_skus(db)
    assert sorted(skus) == sorted(p["sku_id"] for p in demo.products()), "nothing lost, nothing twice"
    assert {k: v for k, v in store.count_by_status("demo-products").items() if v} == {"finished": 60}


def test_a_run_logs_its_start_each_window_the_re_reads_and_its_outcome(tmp_path, store):
    demo = DemoSource(n_orders=0, n_products=12, seed=5)
    scheme, _ = products_scheme(tmp_path, page_size=5)
    report = run_scheme(scheme, store, now=at(12, 0), transport=transport(demo, inflate_total=2))
    assert report.status == "succeeded", report.error
    messages = [(e["level"], e["message"]) for e in read_run_events(store, report.run_id)]
    assert messages[0] == ("info", "run started: collect and deliver; now 2024-06-01T12:00:00+08:00")
    re_reads = [m for level, m in messages if level == "warning" and "reading it again" in m]
    assert len(re_reads) == 2 and "2 records short of the API's total 14" in re_reads[0]
    [window] = [m for _, m in messages if "committed" in m]
    assert window.endswith(
        "(cursor moved): 9 pages, 36 fetched, 36 stored, 12 new, API total 14; still 2 short of the total"
    )
    assert messages[-1][0] == "info" and messages[-1][1].startswith(
        "succeeded: fetched 36, new 12, delivered 12"
    )
    assert len(messages) == 5, "coarse: per run and per window, never per record"


def test_a_failed_run_logs_the_retries_it_gave_up(tmp_path, store):
    demo = DemoSource(n_orders=0, n_products=3, seed=5)
    scheme, _ = products_scheme(tmp_path)
    report = run_scheme(
        scheme,
        store,
        now=at(12, 0),
        transport=transport(demo, fail=True),
        retry=RetryPolicy(attempts=2, base_delay=0, max_delay=0),
    )
    assert report.status == "failed"
    errors = [e["message"] for e in read_run_events(store, report.run_id) if e["level"] == "error"]
    assert "giving up after 2 attempts" in errors[0]
    assert errors[-1].startswith("failed: fetched 0")


def test_events_never_hold_credentials(store):
    run_id = store.start_run("s", "run")
    log = RunLog(store, run_id, secrets=["app-s3cret-value"])
    log.error("login to mysql+pymysql://erp:pa55word@db/erp?token=abc&x=1 failed with app-s3cret-value")
    [event] = read_run_events(store, run_id)
    assert event["message"] == "login to mysql+pymysql://erp:***@db/erp?token=***&x=1 failed with ***"
    assert redact("no secrets here", ["ab"]) == "no secrets here", "too short to be a secret"
    with pytest.raises(ValueError, match="level"):
        log.write("debug", "x")
