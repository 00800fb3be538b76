"""Benchmark: sql connector ``batchexecute`` vs. raw PyMySQL ``executemany`` (not a test).

Run: ``python tests/connectors/bench_batchexecute.py [rows]`` with MariaDB on 127.0.0.1:3306
(root, no password). Writes the same rows (12 columns) both ways into fresh tables, 1000 rows
per statement and transaction, and prints rows/s and the ratio. Each side runs on a fresh
table (INSERT) and then again over existing rows (upsert), alternating; best and median of 5.
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid
from decimal import Decimal
from typing import Any

import pymysql

from ferry.connectors.base import Delivery
from ferry.connectors.registry import build_target, parse_connection

COLUMNS = [
    "id", "order_no", "shop_no", "buyer", "sku_id", "qty",
    "price", "discount", "modified", "created", "note", "status",
]  # fmt: skip
DDL = """CREATE TABLE {t} (id BIGINT PRIMARY KEY, order_no VARCHAR(32), shop_no VARCHAR(16), buyer VARCHAR(32),
 sku_id VARCHAR(16), qty INT, price DECIMAL(12,2), discount DECIMAL(12,2), modified DATETIME, created BIGINT,
 note VARCHAR(64), status VARCHAR(8))"""
UPSERT = "INSERT INTO {t} ({cols}) VALUES {values} ON DUPLICATE KEY UPDATE " + ", ".join(
    f"{c}=VALUES({c})" for c in COLUMNS[1:]
)
LIMIT = 1000
ROUNDS = 5


def make_rows(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "order_no": f"SO2024{i:010d}",
            "shop_no": f"SHOP{i % 5:02d}",
            "buyer": f"buyer{i % 9973:04d}",
            "sku_id": f"SKU{i % 500:06d}",
            "qty": 1 + i % 5,
            "price": Decimal(f"{i % 1000}.{i % 100:02d}"),
            "discount": Decimal("0.50"),
            "modified": f"2024-05-{1 + i % 28:02d} 10:{i % 60:02d}:00",
            "created": 1714500000 + i,
            "note": "demo row",
            "status": "OK",
        }
        for i in range(1, n + 1)
    ]


def raw_pymysql(db: str, table: str, rows: list[dict[str, Any]]) -> tuple[float, float]:
    conn = pymysql.connect(host="127.0.0.1", user="root", password="", database=db, charset="utf8mb4")
    sql = UPSERT.format(t=table, cols=", ".join(COLUMNS), values="(" + ", ".join(["%s"] * len(COLUMNS)) + ")")
    began, cpu = time.perf_counter(), time.process_time()
    tuples = [tuple(row.values()) for row in rows]
    cur = conn.cursor()
    for start in range(0, len(tuples), LIMIT):
        cur.executemany(sql, tuples[start : start + LIMIT])
        conn.commit()
    elapsed = time.perf_counter() - began, time.process_time() - cpu
    conn.close()
    return elapsed


def ferry_batch(
    target: Any, table: str, rows: list[dict[str, Any]], per_delivery: int
) -> tuple[float, float]:
    main_sql = UPSERT.format(t=table, cols=", ".join(COLUMNS), values="")
    began, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(rows), per_delivery):
        part = rows[start : start + per_delivery]
        delivery = Delivery(
            api="batchexecute",
            method="SQL",
            body=None,
            record_ids=[str(r["id"]) for r in part],
            options={"main_sql": main_sql, "limit": str(LIMIT)},
            rows=part,
        )
        outcomes = target.write(delivery)
        assert all(o.ok for o in outcomes)
    return time.perf_counter() - began, time.process_time() - cpu


def main(n: int) -> None:
    db = f"ferry_bench_{uuid.uuid4().hex[:8]}"
    admin = pymysql.connect(host="127.0.0.1", user="root", password="", autocommit=True)
    admin.cursor().execute(f"CREATE DATABASE {db}")
    try:
        rows = make_rows(n)
        url = f"mysql+pymysql://root@127.0.0.1:3306/{db}?charset=utf8mb4"
        target = build_target(parse_connection({"type": "sql", "name": "bench", "url": url}, path="bench"))
        variants = [
            ("raw pymysql executemany", lambda t: raw_pymysql(db, t, rows)),
            ("ferry batchexecute, 1 delivery", lambda t: ferry_batch(target, t, rows, n)),
            ("ferry batchexecute, 1000/delivery", lambda t: ferry_batch(target, t, rows, 1000)),
        ]
        wall: dict[str, list[float]] = {}
        cpu: dict[str, list[float]] = {}
        for round_ in range(ROUNDS):
            for number, (label, run) in enumerate(variants[round_ % 3 :] + variants[: round_ % 3]):
                table = f"t_{round_}_{number}"
                admin.cursor().execute(DDL.format(t=f"{db}.{table}"))
                for kind in ("fresh", "existing"):
                    w, c = run(table)
                    wall.setdefault(f"{label} ({kind})", []).append(w)
                    cpu.setdefault(f"{label} ({kind})", []).append(c)
                admin.cursor().execute(f"DROP TABLE {db}.{table}")
        target.close()
        print(f"{n} rows x {len(COLUMNS)} columns, {LIMIT} rows/statement, medians of {ROUNDS} rounds")
        print("  (wall time includes the server; client CPU is what the connector itself adds)")
        for label in wall:
            kind = "fresh" if "(fresh)" in label else "existing"
            ref = f"raw pymysql executemany ({kind})"
            w, c = statistics.median(wall[label]), statistics.median(cpu[label])
            w0, c0 = statistics.median(wall[ref]), statistics.median(cpu[ref])
            print(
                f"  {label:45s} {n / w:7.0f} rows/s wall (x{w0 / w:.2f} of raw)"
                f"   client CPU {c:5.2f}s (x{c / c0:.2f} of raw)"
            )
    finally:
        admin.cursor().execute(f"DROP DATABASE {db}")
        admin.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
