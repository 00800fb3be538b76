"""Benchmark: local paginated HTTP source -> Ferry (ledger, DSL, delivery) -> MariaDB upsert.

Prints, measured side by side in the same run against the same local API and MariaDB:
- a minimal hand-written sync (httpx pages + flatten + PyMySQL ``executemany`` REPLACE INTO,
  no ledger, no DSL) — the baseline;
- Ferry running the demo schemes (products, then orders flattened per item with a
  ``_findCollection`` lookup and a ``_function``) with its SQLite ledger;
- the ratio Ferry / baseline (docs/architecture.md §8 asks for >= 0.6);
- Ferry's peak RSS at two sizes (it should stay flat as the record count grows).

Usage: python tests/bench/bench_http_to_mariadb.py [--lines 200000] [--repeat 3]
       [--memory 100000,400000] [--settings '{"deliver_workers": 2}']
With ``--repeat N`` the baseline and Ferry run alternately N times each and the ratio is taken
between their medians (a shared, noisy machine moves single runs by +-20%).
Not part of the test run; never asserts a timing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pymysql

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from demo_env import create_target_tables, write_schemes  # noqa: E402

MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
LINES_PER_ORDER = 2.0  # 1..4 items per order (2.5 on average), and the scheme filters out 1 shop in 5
PRODUCTS = 2000
TZ = ZoneInfo("Asia/Shanghai")
UNTIL = "2024-06-02 00:00:00"


def start_source(orders: int) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ferry.demo", "--orders", str(orders), "--products", str(PRODUCTS)],
        stdout=subprocess.PIPE,
        text=True,
    )
    return proc, proc.stdout.readline().strip()


def fresh_database() -> tuple[str, str]:
    name = f"ferry_bench_{uuid.uuid4().hex[:8]}"
    conn = pymysql.connect(**MARIADB, autocommit=True)
    conn.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    db = pymysql.connect(**MARIADB, database=name, autocommit=True)
    create_target_tables(db)
    db.close()
    conn.close()
    return name, f"mysql+pymysql://root@127.0.0.1:3306/{name}?charset=utf8mb4"


def drop_database(name: str) -> None:
    conn = pymysql.connect(**MARIADB, autocommit=True)
    conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()


def baseline(url: str, database: str) -> tuple[int, float]:
    """The minimal sync: page, flatten, look up, compute, executemany upsert."""
    started = time.perf_counter()
    client = httpx.Client(base_url=url, timeout=60)
    codes = {}
    page = 1
    while True:
        data = client.get("/products", params={"page": page, "page_size": 1000}).json()["data"]["list"]
        codes.update({p["sku_id"]: p["item_code"] for p in data})
        if len(data) < 1000:
            break
        page += 1
    db = pymysql.connect(**MARIADB, database=database, charset="utf8mb4")
    cur = db.cursor()
    sql = (
        "REPLACE INTO order_lines (line_id, order_no, shop_no, sku_id, item_code, qty, amount, created_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
    )
    lines, page = 0, 1
    while True:
        params = {"start": "2024-04-01 00:00:00", "end": UNTIL, "page": page, "page_size": 1000}
        orders = client.get("/orders", params=params).json()["data"]["list"]
        rows = []
        for o in orders:
            if o["shop_no"] == "SHOP05":
                continue
            created = datetime.fromtimestamp(o["created"], TZ).strftime("%Y-%m-%d %H:%M:%S")
            for it in o["items"]:
                amount = Decimal(it["qty"]) * Decimal(str(it["price"])) - Decimal(str(it["discount"]))
                rows.append(
                    (
                        f"{o['order_no']}-{it['sku_id']}",
                        o["order_no"],
                        o["shop_no"],
                        it["sku_id"],
                        codes[it["sku_id"]],
                        it["qty"],
                        amount.quantize(Decimal("0.01"), ROUND_HALF_UP),
                        created,
                    )
                )
        if rows:
            cur.executemany(sql, rows)
            db.commit()
        lines += len(rows)
        if len(orders) < 1000:
            break
        page += 1
    db.close()
    return lines, time.perf_counter() - started


FERRY_RUN = """
import json, resource, sys, time
from ferry.engine.runner import run_scheme
from ferry.scheme.loader import load_scheme
from ferry.store import open_store
from ferry.cli._common import parse_time
store = open_store(sys.argv[1])
out = {}
for name in ("products", "orders"):
    scheme = load_scheme(sys.argv[2] + f"/{name}.yaml")
    t = time.perf_counter()
    rep = run_scheme(scheme, store, now=parse_time(sys.argv[3], option="until", tz=scheme.tz))
    assert rep.status == "succeeded", rep.error
    out[name] = {"seconds": time.perf_counter() - t, "delivered": rep.counts.delivered}
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out["worker_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # deliver workers
print(json.dumps(out))
"""


def ferry(url: str, target_url: str, page_size: int = 1000, settings: dict | None = None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_schemes(
            Path(tmp),
            source_url=url,
            target_url=target_url,
            page_size=page_size,
            orders_patch={
                "window": {"start": "2024-04-01 00:00:00", "step": "7d"},
                "settings": {"batch_size": 2000, **(settings or {})},
            },
        )
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                FERRY_RUN,
                f"sqlite:///{tmp}/ferry.db",
                str(paths["orders"].parent),
                UNTIL,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode:
            raise SystemExit(proc.stderr)
        return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=1, help="alternate baseline and Ferry N times each")
    parser.add_argument("--memory", default="100000,400000", help="line counts for the peak-RSS comparison")
    parser.add_argument("--settings", default="{}", help="JSON merged into the orders scheme's settings")
    args = parser.parse_args()
    settings = json.loads(args.settings)

    base_rates: list[float] = []
    ferry_rates: list[float] = []
    source, url = start_source(int(args.lines / LINES_PER_ORDER))
    try:
        for _ in range(args.repeat):
            name, target = fresh_database()
            try:
                base_lines, base_s = baseline(url, name)
            finally:
                drop_database(name)
            name, target = fresh_database()
            try:
                result = ferry(url, target, settings=settings)
            finally:
                drop_database(name)
            ferry_lines, ferry_s = result["orders"]["delivered"], result["orders"]["seconds"]
            base_rates.append(base_lines / base_s)
            ferry_rates.append(ferry_lines / ferry_s)
            print(
                f"  run {len(base_rates)}: minimal sync {base_rates[-1]:,.0f} records/s ({base_s:.2f} s), "
                f"ferry {ferry_rates[-1]:,.0f} records/s ({ferry_s:.2f} s), ratio {ferry_rates[-1] / base_rates[-1]:.2f}"
            )
    finally:
        source.terminate()
    base_rate, ferry_rate = statistics.median(base_rates), statistics.median(ferry_rates)
    print(f"records (flattened lines): baseline {base_lines:,}, ferry {ferry_lines:,}")
    print(
        f"minimal sync (httpx + executemany):  {base_rate:>10,.0f} records/s  (median of {len(base_rates)})"
    )
    print(
        f"ferry (ledger + DSL + delivery):      {ferry_rate:>10,.0f} records/s  (median of {len(ferry_rates)})"
    )
    print(f"ratio ferry / minimal sync:           {ferry_rate / base_rate:>10.2f}  (goal >= 0.60)")

    sizes = [int(s) for s in args.memory.split(",") if s]
    peaks = []
    for size in sizes:
        source, url = start_source(int(size / LINES_PER_ORDER))
        name, target = fresh_database()
        try:
            res = ferry(url, target, settings=settings)
        finally:
            drop_database(name)
            source.terminate()
        peaks.append(max(res["peak_rss_mb"], res["worker_peak_rss_mb"]))
        print(
            f"peak RSS at {res['orders']['delivered']:>9,} records: collector {res['peak_rss_mb']:7.1f} MB, "
            f"deliver worker {res['worker_peak_rss_mb']:7.1f} MB"
        )
    if len(peaks) == 2:
        print(f"peak RSS ratio {sizes[1]:,} / {sizes[0]:,} records: {peaks[1] / peaks[0]:.2f} (flat is 1.0)")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
