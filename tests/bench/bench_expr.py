"""Benchmark: per-record evaluation of Ferry's value language (the demo orders mapping).

Prints evaluations per second for:
- the ``_function ROUND({{items.qty}} * {{items.price}} - {{items.discount}}, 2)`` value;
- the ``_findCollection find item_code from demo-products where sku_id={{items.sku_id}}`` lookup
  (index already built);
- ``{{created|datetime}}`` on an int epoch;
- the whole 8-field mapping of ``src/ferry/demo/schemes/orders.target.json`` through
  :class:`ferry.transform.mapping.Mapper`.

Usage: python tests/bench/bench_expr.py [--records 2000] [--seconds 1.0]
Not part of the test run; never asserts a timing.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ferry.expr import EvalContext, InMemoryLookups, compile_value
from ferry.scheme.metadata import FieldSpec
from ferry.transform.mapping import Mapper

ROOT = Path(__file__).resolve().parents[2]
TARGET = ROOT / "src" / "ferry" / "demo" / "schemes" / "orders.target.json"
TZ = ZoneInfo("Asia/Shanghai")
PRODUCTS = 2000


def product_rows(scheme: str) -> list[dict[str, Any]]:
    """Stored rows of the demo products scheme."""
    return [
        {
            "id": str(i),
            "number": f"SKU{i:06d}",
            "content": {"sku_id": f"SKU{i:06d}", "item_code": f"ITEM-{i:05d}"},
        }
        for i in range(PRODUCTS)
    ]


def flat_rows(count: int) -> list[dict[str, Any]]:
    """beatFlat-ed order lines like the demo source produces."""
    rnd = random.Random(7)
    rows = []
    for i in range(count):
        item = {
            "sku_id": f"SKU{rnd.randrange(PRODUCTS):06d}",
            "qty": rnd.randint(1, 9),
            "price": round(rnd.uniform(1, 999), 2),
            "discount": rnd.choice([0, 0.5, 1.25, 10]),
        }
        row = {
            "order_id": i,
            "order_no": f"SO20240501{i:06d}",
            "shop_no": f"SHOP{i % 5:02d}",
            "buyer": f"buyer-{i % 97}",
            "modified": "2024-05-02 10:00:00",
            "created": 1714560000 + i * 37,
            "items": item,
        }
        row.update({f"items_{k}": v for k, v in item.items()})
        rows.append(row)
    return rows


def contexts(rows: list[dict[str, Any]], lookups: InMemoryLookups) -> list[EvalContext]:
    now = datetime(2024, 6, 2, tzinfo=UTC)
    variables = {"LAST_SYNC_TIME": datetime(2024, 5, 1, tzinfo=UTC), "CURRENT_TIME": now}
    return [EvalContext(row=r, variables=variables, lookups=lookups, tz=TZ, now=now) for r in rows]


def rate(fn: Callable[[EvalContext], Any], ctxs: list[EvalContext], seconds: float) -> float:
    """Evaluations per second of ``fn`` over ``ctxs`` (cycled), best of three rounds."""
    for ctx in ctxs:  # warm up: specialisation caches, lookup index
        fn(ctx)
    best = 0.0
    for _ in range(3):
        done = 0
        start = time.perf_counter()
        deadline = start + seconds / 3
        while True:
            for ctx in ctxs:
                fn(ctx)
            done += len(ctxs)
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, done / (now - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()

    lookups = InMemoryLookups(product_rows, default_scheme="demo-products")
    ctxs = contexts(flat_rows(args.records), lookups)
    fields = [FieldSpec.model_validate(f) for f in json.loads(TARGET.read_text(encoding="utf-8"))["request"]]
    values = {f.field: compile_value(f.value, path=f"target.request.{f.field}") for f in fields}
    mapper = Mapper(fields, lookup_scheme="demo-products")

    cases = [
        ("_function ROUND(qty*price-discount, 2)", values["amount"].evaluate, 150_000),
        ("_findCollection equality lookup", values["item_code"].evaluate, 300_000),
        ("{{created|datetime}} (int epoch)", values["created_at"].evaluate, 300_000),
        ("{{order_no}}-{{items.sku_id}}", values["line_id"].evaluate, None),
        ("Mapper.map (8 fields)", mapper.map, 50_000),
    ]
    for name, fn, target in cases:
        got = rate(fn, ctxs, args.seconds)
        goal = f"  (target >= {target:,}/s)" if target else ""
        print(f"{name:<42} {got:>12,.0f}/s{goal}")
    quality_rules(ctxs, args.seconds)


def quality_rules(ctxs: list[EvalContext], seconds: float) -> None:
    """Cost of judging one record by one simple quality rule (goal: at most 2 us per rule and
    record), measured as a judge of two rules minus a judge of one, and for each kind alone."""
    from ferry.scheme.model import QualitySpec
    from ferry.transform.quality import QualityJudge, compile_quality

    def judge_of(rules: list[dict[str, Any]]) -> Callable[[EvalContext], Any]:
        plan = compile_quality(QualitySpec.model_validate({"source": rules}))
        judge = QualityJudge(plan.source)
        return lambda ctx: judge.judge(ctx.row)

    simple = {
        "required": {"field": "order_no", "required": True, "action": "warn"},
        "range": {"field": "qty", "range": {"min": 0, "max": 1_000_000}, "action": "warn"},
        "notnull": {"field": "shop_no", "notnull": True, "action": "warn"},
        "regex": {"field": "order_no", "regex": "^[A-Z0-9-]+$", "action": "warn"},
        # an int checked against a short list, like seed 001's status-known
        "enum": {"field": "items.qty", "enum": list(range(1, 10)), "action": "warn"},
    }
    for name, rule in simple.items():
        got = rate(judge_of([rule]), ctxs, seconds)
        print(f"{'quality rule ' + name:<42} {1e6 / got:>12.2f} us/record  (goal <= 2 us per rule)")
    one = rate(judge_of([simple["required"]]), ctxs, seconds)
    two = rate(judge_of([simple["required"], simple["range"]]), ctxs, seconds)
    print(f"{'quality: one more simple rule (range)':<42} {1e6 / two - 1e6 / one:>12.2f} us/record")


if __name__ == "__main__":
    main()
