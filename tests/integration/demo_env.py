"""Helpers for end-to-end tests on the demo schemes (examples/demo) with a MariaDB target."""

from __future__ import annotations

import copy
import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "src" / "ferry" / "demo" / "schemes"


def database_name(url: str) -> str:
    return urlparse(url).path.lstrip("/")


def create_target_tables(raw_conn: Any) -> None:
    ddl = (EXAMPLES / "schema.sql").read_text()
    with raw_conn.cursor() as cur:
        for statement in filter(None, (s.strip() for s in ddl.split(";"))):
            if not statement.startswith("--") or "CREATE" in statement:
                cur.execute(statement)


def write_schemes(
    tmp: Path,
    *,
    source_url: str,
    target_url: str,
    page_size: int = 50,
    orders_patch: dict[str, Any] | None = None,
    target_patch: Any = None,
    products_condition: list | None = None,
) -> dict[str, Path]:
    """Copy the demo schemes into ``tmp`` pointing at ``source_url`` and ``target_url``."""
    connections = {
        "demo_api": {
            "type": "http",
            "base_url": source_url,
            "records_path": "data.list",
            "total_path": "data.total",
            "paging": {
                "style": "page",
                "page_param": "page",
                "size_param": "page_size",
                "start": 1,
                "page_size": page_size,
                "max_page_size": 1000,
            },
        },
        "warehouse": {"type": "sql", "url": target_url},
    }
    (tmp / "connections.yaml").write_text(yaml.safe_dump(connections))
    for name in ("products.source.json", "products.target.json", "orders.source.json", "orders.target.json"):
        (tmp / name).write_text((EXAMPLES / name).read_text())
    if products_condition is not None:
        meta = json.loads((tmp / "products.source.json").read_text())
        meta["condition"] = products_condition
        (tmp / "products.source.json").write_text(json.dumps(meta, ensure_ascii=False))
    if target_patch is not None:
        meta = json.loads((tmp / "orders.target.json").read_text())
        target_patch(meta)
        (tmp / "orders.target.json").write_text(json.dumps(meta, ensure_ascii=False))
    paths = {}
    for name in ("products", "orders"):
        scheme = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
        if name == "orders" and orders_patch:
            for key, value in orders_patch.items():
                scheme.setdefault(key, {}).update(value)
        paths[name] = tmp / f"{name}.yaml"
        paths[name].write_text(yaml.safe_dump(scheme, allow_unicode=True))
    return paths


def expected_lines(orders: list[dict[str, Any]], products: list[dict[str, Any]]) -> dict[str, tuple]:
    """What the orders scheme must leave in ``order_lines``: line_id -> row tuple."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    codes = {p["sku_id"]: p["item_code"] for p in products}
    out = {}
    for order in orders:
        if order["shop_no"] == "SHOP05":  # the scheme's condition drops this shop
            continue
        created = datetime.fromtimestamp(order["created"], ZoneInfo("Asia/Shanghai")).strftime(
            "%Y-%m-%d %H:%M:%S"
        )
        for item in order["items"]:
            amount = Decimal(item["qty"]) * Decimal(str(item["price"])) - Decimal(str(item["discount"]))
            line_id = f"{order['order_no']}-{item['sku_id']}"
            out[line_id] = (
                line_id,
                order["order_no"],
                order["shop_no"],
                item["sku_id"],
                codes[item["sku_id"]],
                item["qty"],
                amount.quantize(Decimal("0.01"), ROUND_HALF_UP),
                created,
            )
    return out


def target_lines(raw_conn: Any) -> dict[str, tuple]:
    with raw_conn.cursor() as cur:
        cur.execute(
            "SELECT line_id, order_no, shop_no, sku_id, item_code, qty, amount, created_at FROM order_lines"
        )
        rows = cur.fetchall()
    result = {row[0]: tuple(row) for row in rows}
    assert len(result) == len(rows), "duplicate line ids in the target"
    return result


def patched(meta: dict[str, Any], field: str, value: str) -> dict[str, Any]:
    out = copy.deepcopy(meta)
    for item in out["request"]:
        if item["field"] == field:
            item["value"] = value
    return out
