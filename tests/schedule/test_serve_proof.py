"""Issue 5's proof: `ferry serve` running two schemes on their schedules with a controllable
clock, with no overlap and no duplicate misfire runs.

Two schedulers (two `ferry serve` processes) share one store and one fake clock and run the
demo schemes against the demo API in-process: products (a source crontab only, so its runs
collect and deliver) and orders (source, target and omissionRemedy crontabs, its deliveries
looking item codes up in the products ledger). Orders keep arriving while the clock moves.
The clock steps minute by minute, jumps 43 minutes, then both processes restart after an
hour of downtime. The runs table must show exactly the runs the crontabs call for (one per
job for every stretch of missed slots), no two runs of a scheme's phase overlapping, and the
target must hold exactly the source's rows.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections import Counter
from datetime import datetime
from typing import Any

import pytest
from schedule_env import at, create_demo_tables, demo_connections, demo_scheme

from ferry.demo.server import DemoSource
from ferry.engine.events import read_run_events
from ferry.schedule import FakeClock, Scheduler
from ferry.store import open_store

END = datetime(2024, 6, 1, 2, 0)  # the demo's last order (naive Shanghai), after the clock starts


@pytest.fixture
def demo():
    return DemoSource(n_orders=240, n_products=25, seed=3, days=1, end=END)


def expected_lines(demo: DemoSource) -> dict[str, tuple[Any, ...]]:
    codes = {p["sku_id"]: p["item_code"] for p in demo.products()}
    return {
        f"{o['order_no']}-{i['sku_id']}": (
            o["order_no"],
            o["shop_no"],
            i["sku_id"],
            codes[i["sku_id"]],
            i["qty"],
        )
        for o in demo.orders()
        if o["shop_no"] != "SHOP05"  # the orders scheme's condition
        for i in o["items"]
    }


def target_lines(db) -> dict[str, tuple[Any, ...]]:
    with sqlite3.connect(db) as con:
        rows = con.execute(
            "SELECT line_id, order_no, shop_no, sku_id, item_code, qty FROM order_lines"
        ).fetchall()
    assert len({r[0] for r in rows}) == len(rows)
    return {r[0]: tuple(r[1:]) for r in rows}


def test_serve_runs_two_schemes_on_their_schedules_without_overlap_or_duplicate_misfire_runs(
    tmp_path, sqlite_url, demo
):
    db = tmp_path / "target.db"
    create_demo_tables(db)
    connections = demo_connections(db)
    products = demo_scheme("products", connections, schedule={"source": "*/10 * * * *"})
    orders = demo_scheme(
        "orders",
        connections,
        schedule={"source": "*/10 * * * *", "target": "5-59/10 * * * *", "omissionRemedy": "0 * * * *"},
        window={"start": "2024-05-31 00:00:00", "step": "1h", "lookback": "0s"},
        omissionRemedy={"takeOverRequest": [{"field": "start", "value": "{{HOURS_AGO_3|datetime}}"}]},
    )
    clock = FakeClock(at(0, 9))
    stores = [open_store(sqlite_url), open_store(sqlite_url)]
    options = {"transport": demo.transport()}

    def serve() -> list[Scheduler]:
        procs = [
            Scheduler([products, orders], store, clock=clock, owner=f"serve-{i}", run_options=options)
            for i, store in enumerate(stores)
        ]
        for proc in procs:
            proc.start()
        settle(procs)
        return procs

    def settle(procs: list[Scheduler]) -> None:
        for proc in procs:
            assert proc.wait_idle(20), "the scheduler did not settle"

    def new_runs(seen: list[int]) -> Counter[tuple[str, str]]:
        runs = [r for r in stores[0].list_runs(limit=1000) if r["id"] not in seen]
        seen += [r["id"] for r in runs]
        assert all(r["status"] == "succeeded" for r in runs), [(r["scheme_id"], r["error"]) for r in runs]
        return Counter((r["scheme_id"], r["kind"]) for r in runs)

    seen: list[int] = []
    procs = serve()
    for minute in range(10, 32):  # on schedule, minute by minute
        clock.set(at(0, minute))
        settle(procs)
    assert new_runs(seen) == {
        ("demo-products", "run"): 3,  # 00:10 00:20 00:30: collect and deliver (no target crontab)
        ("demo-orders", "collect"): 3,  # 00:10 00:20 00:30
        ("demo-orders", "deliver"): 2,  # 00:15 00:25
    }
    clock.set(at(1, 14))  # 43 minutes pass at once: every job missed slots
    settle(procs)
    assert new_runs(seen) == {
        ("demo-products", "run"): 1,
        ("demo-orders", "collect"): 2,  # the 01:10 collect and the 01:00 omissionRemedy sweep
        ("demo-orders", "deliver"): 1,
    }
    for proc in procs:
        assert proc.stop(timeout=10)

    clock.set(at(2, 33))  # an hour of downtime, then both processes start again
    procs = serve()
    assert new_runs(seen) == {
        ("demo-products", "run"): 1,
        ("demo-orders", "collect"): 2,
        ("demo-orders", "deliver"): 1,
    }, "one catch-up run per job, not one per missed slot"
    for minute in (34, 35, 36):
        clock.set(at(2, minute))
        settle(procs)
    assert new_runs(seen) == {("demo-orders", "deliver"): 1}  # 02:35
    for proc in procs:
        assert proc.stop(timeout=10)

    store = stores[0]
    runs = store.list_runs(limit=1000)
    for scheme_id, phase_kinds in itertools.product(
        ("demo-products", "demo-orders"), [("run", "collect"), ("run", "deliver")]
    ):
        spans = sorted(
            (r["started_at"], r["finished_at"])
            for r in runs
            if r["scheme_id"] == scheme_id and r["kind"] in phase_kinds
        )
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), f"{scheme_id} {phase_kinds} overlap"
    sweeps = [r for r in runs if "omissionRemedy sweep" in read_run_events(store, r["id"])[0]["message"]]
    assert len(sweeps) == 2 and {r["scheme_id"] for r in sweeps} == {"demo-orders"}

    assert target_lines(db) == expected_lines(demo), "the target holds exactly the source's rows"
    with sqlite3.connect(db) as con:
        assert {r[0] for r in con.execute("SELECT sku_id FROM products")} == {
            p["sku_id"] for p in demo.products()
        }
    assert {k: v for k, v in store.count_by_status("demo-orders").items() if v} == {
        "finished": len(expected_lines(demo))
    }
    delivered_late = [r for r in runs if r["kind"] == "deliver" and r["counts"].get("delivered")]
    assert len(delivered_late) >= 3, "orders arrived while the clock moved and were delivered on schedule"
    for s in stores:
        s.close()
