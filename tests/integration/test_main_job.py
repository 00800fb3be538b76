"""`ferry demo`, the README's main job: the five seed schemes against the in-process sandbox, into SQLite."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from ferry.sandbox import world

SCHEMES = (
    "kis-material",
    "caf5709b-629b-3414-8bb2-97c82ce8c366",
    "000-k3cloud-saleorder-status-to-mysql",
    "001-kuaimai-aftersale-to-mysql",
    "002-jushuitan-otherinout-to-kis",
    "003-wdt-stockout-to-k3cloud-customer",
    "004-okki-receipts-to-k3cloud",
)


def run_demo(home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FERRY_HOME": str(home), "COLUMNS": "200"}
    env.pop("FERRY_STORE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "ferry", "demo", "--size", "60"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def last_counts(home: Path) -> dict[str, dict[str, int]]:
    with sqlite3.connect(home / "demo" / "ferry.db") as con:
        rows = con.execute("SELECT scheme_id, counts FROM runs ORDER BY id").fetchall()
    return {scheme: json.loads(counts) for scheme, counts in rows}


def test_demo_runs_every_seed_into_sqlite_and_a_second_run_delivers_nothing(tmp_path: Path) -> None:
    first = run_demo(tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    for scheme in SCHEMES:
        assert scheme in first.stdout
    counts = last_counts(tmp_path)
    with sqlite3.connect(tmp_path / "demo" / "ferry.db") as con:
        assert {s for (s,) in con.execute("SELECT status FROM runs")} <= {"succeeded", "partial"}
    assert set(counts) == set(SCHEMES)
    assert all(c["delivered"] > 0 for c in counts.values()), counts
    # seed 004's receipts without a matching sales order fail and wait for replay, nothing else fails
    assert {s: c["failed"] for s, c in counts.items() if c["failed"]} == {"004-okki-receipts-to-k3cloud": 4}

    demo = tmp_path / "demo"  # the demo's own folder: never the store of ferry serve in FERRY_HOME
    assert not (tmp_path / "ferry.db").exists()
    with sqlite3.connect(demo / "ty_mes.db") as con:
        closed = con.execute("SELECT count(*) FROM mt_so_head WHERE SO_STATUS='CLOSED'").fetchone()[0]
        total = con.execute("SELECT count(*) FROM mt_so_head").fetchone()[0]
    assert (
        total == len(world.sale_orders(60))
        and closed == counts["000-k3cloud-saleorder-status-to-mysql"]["delivered"]
    )
    with sqlite3.connect(demo / "bi.db") as con:
        lines = con.execute("SELECT count(*) FROM aftersale_list_query").fetchone()[0]
    assert lines == counts["001-kuaimai-aftersale-to-mysql"]["delivered"]
    customers = json.loads((demo / "sandbox" / "k3cloud-BD_Customer.json").read_text(encoding="utf-8"))
    new_customers = [c for c in customers if c["FName"].startswith("杭州客户")]  # WDT invoice titles
    assert 0 < len(new_customers) <= counts["003-wdt-stockout-to-k3cloud-customer"]["delivered"]
    assert len({c["FName"] for c in new_customers}) == len(new_customers)  # one per invoice title
    assert "Where to look" in first.stdout

    second = run_demo(tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    again = last_counts(tmp_path)
    assert all((c["new"], c["delivered"]) == (0, 0) for c in again.values()), again
    # the simulators start with what the first run delivered: still visible after the second
    kept = json.loads((demo / "sandbox" / "k3cloud-BD_Customer.json").read_text(encoding="utf-8"))
    assert [c for c in kept if c["FName"].startswith("杭州客户")] == new_customers
    bills = json.loads((demo / "sandbox" / "kis-miscellaneousreceipt.json").read_text(encoding="utf-8"))
    assert len(bills) == counts["002-jushuitan-otherinout-to-kis"]["delivered"]
    assert not (tmp_path / "ferry.db").exists()
