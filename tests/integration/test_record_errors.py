"""A record whose mapping fails ends in `error` with the reason; the others are delivered; exit code 1."""

from __future__ import annotations

import subprocess
import sys

from demo_env import create_target_tables, database_name, expected_lines, target_lines, write_schemes

from ferry.demo.server import DemoSource
from ferry.store import open_store

MISSING_SKU = "SKU000003"


def divide_by_zero_for(order_id):
    def patch(meta):
        for item in meta["request"]:
            if item["field"] == "amount":
                item["value"] = (
                    "_function ROUND({{items.qty}} * {{items.price}} - {{items.discount}}, 2)"
                    f" / (CASE WHEN {{{{order_id}}}} = {order_id} THEN 0 ELSE 1 END)"
                )

    return patch


def test_failed_mappings_are_recorded_with_reasons_and_the_rest_is_delivered(
    tmp_path, mariadb_url, mariadb_raw
):
    target = mariadb_raw(database_name(mariadb_url))
    create_target_tables(target)
    with DemoSource(n_orders=300, n_products=20, seed=3) as source:
        bad_order = next(o for o in source.orders() if o["shop_no"] != "SHOP05")
        paths = write_schemes(
            tmp_path,
            source_url=source.base_url,
            target_url=mariadb_url,
            target_patch=divide_by_zero_for(bad_order["order_id"]),
            products_condition=[[{"field": "sku_id", "logic": "neq", "value": MISSING_SKU}]],
        )
        store_url = f"sqlite:///{tmp_path / 'ferry.db'}"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "ferry",
                "--store",
                store_url,
                "run",
                str(paths["products"]),
                str(paths["orders"]),
                "--until",
                "2024-06-02 00:00:00",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        orders, products = source.orders(), source.products()

    assert proc.returncode == 1, proc.stdout + proc.stderr
    expected = expected_lines(orders, products)
    divided = {f"{bad_order['order_no']}-{i['sku_id']}" for i in bad_order["items"]}
    missing = {line for line, row in expected.items() if row[3] == MISSING_SKU} - divided
    assert divided and missing, "the dataset must exercise both failures"
    good = {k: v for k, v in expected.items() if k not in divided | missing}
    assert target_lines(target) == good

    store = open_store(store_url)
    errors = store.find_records("demo-orders", status="error", limit=1000)
    reasons = {(r.content["order_no"] + "-" + r.content["items"]["sku_id"]): r.last_error for r in errors}
    assert set(reasons) == divided | missing
    assert all("division by zero" in reasons[k] for k in divided)
    assert all(
        "required field 'item_code' is empty" in reasons[k] and "found nothing" in reasons[k] for k in missing
    )
    assert all(r.attempts == 1 and r.next_attempt_at is not None for r in errors), "on the retry ladder"
    assert "failed" in proc.stdout
