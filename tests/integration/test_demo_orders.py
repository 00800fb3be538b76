"""`ferry demo-orders`, the throughput demo: SQLite only, twice, exact rows, nothing delivered twice."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

from demo_env import expected_lines

from ferry.demo.dataset import build_dataset


def run_demo(home) -> subprocess.CompletedProcess:
    env = {**os.environ, "FERRY_HOME": str(home)}
    env.pop("FERRY_STORE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "ferry", "demo-orders", "--orders", "400", "--products", "30"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_demo_runs_end_to_end_on_sqlite_and_a_second_run_delivers_nothing(tmp_path):
    first = run_demo(tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    dataset = build_dataset(n_orders=400, n_products=30, seed=1)
    expected = expected_lines(dataset.orders, dataset.products)
    with sqlite3.connect(tmp_path / "demo.db") as con:
        rows = con.execute(
            "SELECT line_id, order_no, shop_no, sku_id, item_code, qty, amount, created_at FROM order_lines"
        ).fetchall()
    assert {r[0]: (*r[:6], r[7]) for r in rows} == {k: (*v[:6], v[7]) for k, v in expected.items()}
    assert {r[0]: round(r[6], 2) for r in rows} == {k: float(v[6]) for k, v in expected.items()}
    assert f"order_lines: {len(expected):,} rows" in first.stdout
    assert (tmp_path / "ferry.db").exists(), "the ledger lives in FERRY_HOME"

    second = run_demo(tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"order_lines: {len(expected):,} rows" in second.stdout
    with sqlite3.connect(tmp_path / "ferry.db") as con:
        runs = con.execute("SELECT counts FROM runs WHERE scheme_id='demo-orders' ORDER BY id").fetchall()
    last = json.loads(runs[-1][0])
    assert (last["new"], last["delivered"]) == (0, 0)
