"""Micro-benchmark: CPU per record of each step Ferry runs in Python on the demo orders run.

The steps of ``bench_http_to_mariadb.py``'s Ferry contender, without the network, the
ledger's SQLite or MariaDB, on the demo API's own pages (products and orders built by
:mod:`ferry.demo.dataset`, the orders scheme of ``src/ferry/demo/schemes``):

collector (per fetched order, then per flattened line):
- ``decode``: the page body to records (``decode_page``);
- ``keep+flat``: ``condition`` and ``beatFlat`` into ledger rows (``PageKeeper``);
- ``encode``: ``encode_page`` (stored JSON text and canonical hash);

deliver worker (per flattened line):
- ``handed``: the stored texts of a handed batch back to records;
- ``map``: ``Mapper.map`` of the 8-field request (a ``_findCollection``, a ``_function``);
- ``render``: ``row_tuples`` and the ``VALUES`` literals of ``batchexecute``.

Prints µs per flattened line for each step (process CPU with the garbage collector
off, the median of ``--rounds`` rounds). Compare two trees by running it under each (``PYTHONPATH=<tree>/src``), alternating.

Usage: python tests/bench/bench_records.py [--orders 20000] [--rounds 7] [--steps encode,map]
Not part of the test run; never asserts a timing.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson

import ferry.demo
from ferry.connectors._lenient import decode_page
from ferry.connectors._sql_batch import parse_insert, row_tuples
from ferry.connectors._sql_literal import row_renderer
from ferry.demo.dataset import build_dataset
from ferry.engine.counts import RunCounts
from ferry.engine.dead_letters import PageKeeper
from ferry.expr import EvalContext, InMemoryLookups
from ferry.scheme.metadata import ConditionRule, FieldSpec
from ferry.store import codec
from ferry.store._ledger_write import encode_page
from ferry.transform.condition import compile_condition
from ferry.transform.mapping import Mapper

SCHEMES = Path(ferry.demo.__file__).resolve().parent / "schemes"
TZ = ZoneInfo("Asia/Shanghai")
PAGE = 1000


class _Connection:
    """What ``row_renderer`` reads of a PyMySQL connection."""

    server_status = 0

    @staticmethod
    def escape(value: Any) -> str:
        raise AssertionError(f"unexpected value {value!r}")


def setup(orders: int) -> dict[str, Any]:
    data = build_dataset(n_orders=orders, n_products=2000)
    source = json.loads((SCHEMES / "orders.source.json").read_text(encoding="utf-8"))
    target = json.loads((SCHEMES / "orders.target.json").read_text(encoding="utf-8"))
    bodies = [
        orjson.dumps({"code": 0, "msg": "ok", "data": {"list": data.orders[i : i + PAGE], "total": orders}})
        for i in range(0, orders, PAGE)
    ]
    keep = compile_condition([[ConditionRule.model_validate(r) for r in g] for g in source["condition"]])
    products = [
        {"id": p["sku_id"], "number": p["sku_id"], "content": p} for p in data.products
    ]  # the stored rows of the demo products scheme
    lookups = InMemoryLookups(lambda scheme: products, default_scheme="demo-products")
    fields = [FieldSpec.model_validate(f) for f in target["request"]]
    main_sql = next(f["value"] for f in target["otherRequest"] if f["field"] == "main_sql")
    return {
        "bodies": bodies,
        "keep": keep,
        "arrays": source["beatFlat"],
        "lookups": lookups,
        "mapper": Mapper(fields, lookup_scheme="demo-products"),
        "template": parse_insert(main_sql),
        "fields": [f.field for f in fields],
    }


def collector_steps(env: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    pages: list[list[Any]] = []
    rows: list[list[Any]] = []
    encoded: list[dict[str, Any]] = []

    def decode() -> None:
        pages[:] = [decode_page(body, "data.list")["data"]["list"] for body in env["bodies"]]

    def keep_flat() -> None:
        keep = env["keep"]
        out = []
        for records in pages:
            keeper = PageKeeper("order_id", "order_no", env["arrays"], RunCounts())
            page: list[Any] = []
            for record in records:
                kept = keep(record)
                if kept is not None:
                    keeper.add(kept, page)
            out.append(page)
        rows[:] = out

    def encode() -> None:
        encoded[:] = [encode_page(page) for page in rows]

    env["rows"], env["encoded"] = rows, encoded
    return {"decode": decode, "keep+flat": keep_flat, "encode": encode}


def deliver_steps(env: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    contents: list[Any] = []
    payloads: list[Any] = []
    now = datetime(2024, 6, 2, tzinfo=UTC)

    def handed() -> None:
        loads = codec.loads
        contents[:] = [loads(text) for page in env["encoded"] for _, text, _ in page.values()]

    def map_() -> None:
        map_one = env["mapper"].map
        ctx = EvalContext(row={}, lookups=env["lookups"], tz=TZ, now=now)
        ctx.variables = {"LAST_SYNC_TIME": now, "CURRENT_TIME": now}
        out = []
        for content in contents:
            ctx.row = content
            out.append(map_one(ctx))
        payloads[:] = out

    def render() -> None:
        template, fields = env["template"], env["fields"]
        for start in range(0, len(payloads), 2000):
            tuples, _ = row_tuples(payloads[start : start + 2000], template, fields)
            ",".join(render_rows(tuples))

    return {"handed": handed, "map": map_, "render": render}


def render_rows(tuples: list[Any]) -> list[str]:
    """The VALUES literals of a batch, as ``batchexecute`` renders them on PyMySQL (a tree
    from before ``rows_renderer`` renders them row by row)."""
    try:
        from ferry.connectors._sql_literal import rows_renderer
    except ImportError:
        render = row_renderer(_Connection())
        return [render(values) for values in tuples]
    return rows_renderer(_Connection())(tuples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", help="comma-separated subset of the steps (all by default)")
    args = parser.parse_args()
    env = setup(args.orders)
    steps = {**collector_steps(env), **deliver_steps(env)}
    for step in steps.values():  # once in order: each step reads the one before
        step()
    lines = sum(len(page) for page in env["rows"])
    chosen = args.steps.split(",") if args.steps else list(steps)
    times: dict[str, list[float]] = {name: [] for name in chosen}
    gc.disable()  # a run's process host makes collections rare; here none is timed
    for _ in range(args.rounds):
        for name in chosen:
            gc.collect()
            started = time.process_time()
            steps[name]()
            times[name].append(time.process_time() - started)
    print(f"{args.orders} orders, {lines} flattened lines; µs per line, median of {args.rounds}")
    total = 0.0
    for name in chosen:
        per = statistics.median(times[name]) / lines * 1e6
        total += per
        print(f"  {name:<10} {per:7.2f}")
    print(f"  {'total':<10} {total:7.2f}")


if __name__ == "__main__":
    main()
