"""Micro-benchmark: what keeping numbers exact costs on the fast path.

Compares, on one machine in one run, the bare orjson calls Ferry made before (page decode,
ledger content encode and decode) with the exact versions it makes now
(:func:`ferry.connectors._lenient.decode_page`, :mod:`ferry.store.codec`), and shows what the
slow paths cost when a page needs them (an integer beyond 64 bits; a NaN in one record).

    python tests/bench/bench_page_decode.py
"""

from __future__ import annotations

import hashlib
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import orjson

from ferry.connectors._lenient import decode_page
from ferry.store import codec


def records(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    return [
        {
            "id": 10**12 + i,
            "order_no": f"SO{i:010d}",
            "amount": round(rnd.random() * 1000, 2),
            "created": "2026-01-01 12:00:00",
            "modified_ms": 1767240000000 + i,
            "shop": f"shop-{i % 7}",
            "remark": "备注 some remark text",
            "items": [{"sku": f"SKU{j}", "qty": j + 1, "price": 12.5} for j in range(3)],
        }
        for i in range(n)
    ]


def best(fn: Callable[[], Any], repeat: int = 7, number: int = 50) -> float:
    """Median over ``repeat`` rounds of the mean seconds per call."""
    rounds = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        rounds.append((time.perf_counter() - start) / number)
    return statistics.median(rounds)


def main() -> None:
    page = {"code": 0, "data": {"total": 500, "list": records(500)}}
    body = orjson.dumps(page)
    big = orjson.dumps({"code": 0, "data": {"list": records(499)}})[:-3] + b',{"id":18446744073709551617}]}}'
    nan = body.replace(b'"amount":', b'"amount":NaN,"was":', 1)
    one = records(1)[0]
    text = orjson.dumps(one).decode()

    print(f"page of 500 records, {len(body):,} bytes")
    rows = [
        ("page decode  before: orjson.loads", best(lambda: orjson.loads(body)), None),
        ("page decode  after:  decode_page", best(lambda: decode_page(body, "data.list")), None),
        (
            "  slow path: an integer beyond 64 bits",
            best(lambda: decode_page(big, "data.list"), number=10),
            None,
        ),
        ("  slow path: NaN in one record", best(lambda: decode_page(nan, "data.list"), number=5), None),
    ]
    per_record = [
        ("content encode before: orjson only", best(lambda: _orjson_encode(one), number=20000)),
        (
            "content encode after:  codec.encode_content",
            best(lambda: codec.encode_content(one), number=20000),
        ),
        ("content decode before: orjson.loads", best(lambda: orjson.loads(text), number=20000)),
        ("content decode after:  codec.loads", best(lambda: codec.loads(text), number=20000)),
    ]
    for label, seconds, _ in rows:
        print(f"{label:45s} {seconds * 1e3:8.3f} ms/page  {seconds / 500 * 1e6:7.3f} us/record")
    for label, seconds in per_record:
        print(f"{label:45s} {seconds * 1e6:8.3f} us/record")


def _orjson_encode(content: Any) -> tuple[str, str]:
    """``codec.encode_content`` as it was: orjson only (an integer beyond 64 bits raised)."""
    opts = orjson.OPT_NON_STR_KEYS
    text = orjson.dumps(content, default=codec._default, option=opts)
    canonical = orjson.dumps(content, default=codec._default, option=opts | orjson.OPT_SORT_KEYS)
    return text.decode("utf-8"), hashlib.blake2b(canonical, digest_size=16).hexdigest()


if __name__ == "__main__":
    main()
