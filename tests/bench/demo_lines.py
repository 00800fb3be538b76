"""What every contender of the end-to-end bench computes from the demo API, written once.

The demo orders scheme's work by hand: page through ``/products`` for the item codes, page
through ``/orders`` in the bench's window, drop shop SHOP05, one row per item, look up the
item code, ``qty * price - discount`` rounded half up to cents, the creation time in
Asia/Shanghai. The minimal sync and the dlt contender both use these functions, so they
send the same requests and write the same rows; Ferry does the same from its scheme files.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx

PAGE_SIZE = 1000
TZ = ZoneInfo("Asia/Shanghai")
START = "2024-04-01 00:00:00"
UNTIL = "2024-06-02 00:00:00"
ORDER_WINDOW = {"start": START, "end": UNTIL}
COLUMNS = ("line_id", "order_no", "shop_no", "sku_id", "item_code", "qty", "amount", "created_at")


def pages(client: httpx.Client, path: str, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    """The API's pages of ``PAGE_SIZE`` records, until a short page."""
    page = 1
    while True:
        data = client.get(path, params={**params, "page": page, "page_size": PAGE_SIZE}).json()
        records = data["data"]["list"]
        yield records
        if len(records) < PAGE_SIZE:
            return
        page += 1


def product_codes(client: httpx.Client) -> dict[str, str]:
    """``sku_id`` -> ``item_code`` for every product."""
    return {p["sku_id"]: p["item_code"] for page in pages(client, "/products", {}) for p in page}


def order_lines(orders: list[dict[str, Any]], codes: dict[str, str]) -> list[tuple[Any, ...]]:
    """One page of orders as ``order_lines`` rows, in ``COLUMNS`` order."""
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
    return rows
