"""End to end: a QEasy http source that declares its records with ``otherResponse`` (DataKey
``data/list``, StatusKey/StatusValue, PageKey) runs unchanged, with no records_path on the
connection, and its records arrive in a SQLite table; an error status is classified."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from ferry.engine.retry import RetryPolicy
from ferry.engine.runner import run_scheme
from ferry.scheme import load_scheme
from ferry.store import open_store

FAST = RetryPolicy(attempts=2, base_delay=0.001, max_delay=0.01)
NOW = datetime(2024, 5, 20, tzinfo=UTC)
SOURCE = {
    "api": "/erp/orders/list",
    "effect": "QUERY",
    "method": "POST",
    "id": "order_id",
    "number": "order_no",
    "idCheck": True,
    "request": [
        {"field": "startModified", "type": "string", "value": "{{LAST_SYNC_TIME|datetime}}"},
        {"field": "endModified", "type": "string", "value": "{{CURRENT_TIME|datetime}}"},
        {"field": "pageNo", "type": "int", "value": "1"},
        {"field": "pageSize", "type": "int", "value": "{{PAGINATION_PAGE_SIZE}}"},
    ],
    "pagination": {"pageSize": 20},
    "otherResponse": [
        {"field": "DataKey", "label": "数据键", "type": "string", "value": "data/list"},
        {"field": "StatusKey", "label": "状态键", "type": "string", "value": "code"},
        {"field": "StatusValue", "label": "成功值", "type": "string", "value": "0"},
        {"field": "PageKey", "label": "页码键", "type": "string", "value": "pageNo"},
    ],
}
TARGET = {
    "api": "batchexecute",
    "effect": "EXECUTE",
    "method": "SQL",
    "request": [
        {"field": "order_id", "type": "string", "value": "{order_id}"},
        {"field": "order_no", "type": "string", "value": "{order_no}"},
    ],
    "otherRequest": [{"field": "main_sql", "value": "INSERT INTO orders (order_id, order_no) VALUES"}],
}


class Vendor:
    """45 orders, ``pageSize`` a page by ``pageNo``, inside ``{"code": 0, "data": {"list"}}``;
    or, once ``fail`` is set, that answer with HTTP 200."""

    def __init__(self) -> None:
        self.orders = [{"order_id": f"O{i:03}", "order_no": f"NO-{i}"} for i in range(1, 46)]
        self.page_numbers: list[int] = []
        self.page_sizes: list[int] = []
        self.fail: dict[str, Any] | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if self.fail is not None:
            return httpx.Response(200, json=self.fail)
        page, size = int(body["pageNo"]), int(body["pageSize"])
        self.page_numbers.append(page)
        self.page_sizes.append(size)
        rows = self.orders[(page - 1) * size : page * size]
        return httpx.Response(200, json={"code": "0", "msg": "success", "data": {"list": rows}})


def setup(tmp_path: Path) -> tuple[Any, Path]:
    db = tmp_path / "warehouse.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE orders (order_id TEXT PRIMARY KEY, order_no TEXT NOT NULL)")
    scheme = load_scheme(
        {
            "id": "km-orders",
            "name": "QEasy http orders",
            "connections": {
                # no records_path, no paging: the metadata says where things are
                "erp": {"type": "http", "base_url": "https://erp.example.test"},
                "warehouse": {"type": "sql", "url": f"sqlite:///{db}"},
            },
            "source": {"connection": "erp", "metadata": SOURCE},
            "target": {"connection": "warehouse", "metadata": TARGET},
            "window": {"start": "2024-05-01 00:00:00", "step": "30d"},
        }
    )
    return scheme, db


def test_a_qeasy_http_source_with_other_response_runs_into_the_target(tmp_path: Path) -> None:
    scheme, db = setup(tmp_path)
    vendor = Vendor()

    with open_store(f"sqlite:///{tmp_path / 'ferry.db'}") as store:
        report = run_scheme(scheme, store, now=NOW, transport=httpx.MockTransport(vendor), retry=FAST)

    assert report.status == "succeeded", report.error
    assert scheme.warnings == []
    assert vendor.page_numbers == [1, 2, 3]  # PageKey drives paging
    assert vendor.page_sizes == [20, 20, 20]  # pagination.pageSize, through {{PAGINATION_PAGE_SIZE}}
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT order_id, order_no FROM orders ORDER BY order_id").fetchall()
    assert rows == [(f"O{i:03}", f"NO-{i}") for i in range(1, 46)]


def test_an_error_status_fails_the_run_quoting_the_vendor(tmp_path: Path) -> None:
    scheme, db = setup(tmp_path)
    vendor = Vendor()
    vendor.fail = {"code": "25", "msg": "签名无效 (sign invalid)", "data": None}

    with open_store(f"sqlite:///{tmp_path / 'ferry.db'}") as store:
        report = run_scheme(scheme, store, now=NOW, transport=httpx.MockTransport(vendor), retry=FAST)

    assert report.status != "succeeded"
    assert "vendor status code=25 (success is '0')" in (report.error or "")
    assert "签名无效 (sign invalid)" in (report.error or "")
    assert "check the connection's auth" in (report.error or "")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM orders").fetchone() == (0,)
