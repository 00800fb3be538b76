"""The dlt contender of the end-to-end bench, run in its own process by ``contenders.dlt``.

Usage: python dlt_pipeline.py <api url> <mysql+pymysql url> <database> <pipelines dir>

A ``@dlt.resource`` with ``primary_key="line_id"`` and ``write_disposition="merge"`` yields
each page of the demo API's orders as order lines (the same requests and rows as the minimal
sync: ``demo_lines``), and a dlt pipeline loads them with the sqlalchemy destination into
``<database>.order_lines``, which dlt creates with its primary key and the demo table's column
types (dlt's merge is delete-insert through a ``<database>_staging`` database). The caller
turns telemetry off and points dlt's folders at a temporary directory it removes. Prints one
JSON line: the seconds from creating the pipeline to the end of the load, and the rows dlt
reports loaded.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from typing import Any

import dlt
import httpx
from demo_lines import COLUMNS, ORDER_WINDOW, order_lines, pages, product_codes

COLUMN_HINTS: dict[str, dict[str, Any]] = {
    "line_id": {"data_type": "text", "precision": 128, "nullable": False},
    "order_no": {"data_type": "text", "precision": 64, "nullable": False},
    "shop_no": {"data_type": "text", "precision": 32},
    "sku_id": {"data_type": "text", "precision": 64},
    "item_code": {"data_type": "text", "precision": 64, "nullable": False},
    "qty": {"data_type": "bigint"},
    "amount": {"data_type": "decimal", "precision": 14, "scale": 2},
    "created_at": {"data_type": "text", "precision": 19},
}


def main(url: str, target: str, database: str, pipelines_dir: str) -> None:
    @dlt.resource(
        name="order_lines",
        primary_key="line_id",
        write_disposition="merge",
        columns=COLUMN_HINTS,
    )
    def lines() -> Iterator[list[dict[str, Any]]]:
        with httpx.Client(base_url=url, timeout=60) as client:
            codes = product_codes(client)
            for orders in pages(client, "/orders", ORDER_WINDOW):
                yield [dict(zip(COLUMNS, row, strict=True)) for row in order_lines(orders, codes)]

    started = time.perf_counter()
    pipeline = dlt.pipeline(
        pipeline_name="ferry_bench",
        pipelines_dir=pipelines_dir,
        destination=dlt.destinations.sqlalchemy(credentials=target, create_primary_keys=True),
        dataset_name=database,
    )
    pipeline.run(lines())
    seconds = time.perf_counter() - started
    loaded = pipeline.last_trace.last_normalize_info.row_counts.get("order_lines", 0)
    print(json.dumps({"seconds": seconds, "loaded": loaded}))


if __name__ == "__main__":
    main(*sys.argv[1:5])
