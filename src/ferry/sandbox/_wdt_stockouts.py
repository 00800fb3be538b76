"""WangDianTong sales stock-outs (销售出库单): the seeded records and ``stockout_order_query_trade``.

One stock-out per index, drawn from :mod:`ferry.sandbox.world` (all nine shops, the shared
materials), shaped like the official response (docs/vendor-protocols.md §5.5): amounts and quantities
are strings with 4 decimals, ``details_list`` holds the lines.

Simplifications, each a choice where the document is silent:

* Every stock-out has one time on the dataset's index. ``modified`` shows it, and so does
  ``consign_time`` for shipped statuses (≥ 95; unshipped ones show ``0000-00-00 00:00:00``).
  So the document's "consign time for status ≥ 95, modified time below" and ``is_by_modified``
  select the same records here. Drift moves both fields.
* ``invoice_title`` is empty on every fourth stock-out (seed 003 drops those rows);
  ``invoice_content`` carries the buyer's tax registration number when there is a title, which
  is what seed 003 maps to K3Cloud ``FTAXREGISTERCODE``. The document itself only shows
  ``invoice_type``; the two names come from the seed and from WDT's trade records.
* Line fields use the documented names: ``goods_no`` is the material's K3Cloud number
  (``world.Material.number``), ``spec_no`` its SKU, ``goods_count`` and ``sell_price`` the quantity
  and unit price.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from ferry.sandbox import world
from ferry.sandbox._dataset import Dataset
from ferry.sandbox._quality import Defect, DefectTable, wrapped

__all__ = [
    "BAD_RECORDS",
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "MAX_SPAN",
    "STATUS_NAMES",
    "QueryRejected",
    "build_stockouts",
    "query_stockouts",
    "touch",
]

MAX_SPAN = timedelta(days=30)
"""Longest ``end_time - start_time`` the API accepts (official doc)."""
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 40
"""Default page size; the documents say 40 on one page and 100 on another [CONFLICT]: 40 kept."""

STATUS_NAMES: dict[int, str] = {
    5: "已取消",
    55: "已审核",
    95: "已发货",
    105: "部分打款",
    110: "已完成",
    113: "异常发货",
}
SHIPPED = 95
DEFAULT_STATUSES = frozenset({95, 110})
"""Without ``status`` the API returns shipped and finished stock-outs only (official doc)."""
_STATUS_CYCLE = (95, 110, 105, 95, 113, 110, 55, 95, 5, 110)
_WAREHOUSES = (("WH01", "华东仓", 1), ("WH02", "华南仓", 2))
_TIME = "%Y-%m-%d %H:%M:%S"
NO_TIME = "0000-00-00 00:00:00"

Row = dict[str, Any]

BAD_RECORDS = DefectTable(
    wrong_type=(
        Defect("goods_count", "N/A"),
        Defect("details_list[0].goods_count", "四件"),
        Defect("invoice_title", wrapped),
    ),
    missing_required=(Defect("shop_no"), Defect("invoice_content"), Defect("details_list[0].spec_no")),
    enum_violation=(Defect("status", 99), Defect("order_type", 99)),
)
"""How a stock-out goes wrong under ``Faults.bad_record_rate``: the fields seed 003 maps
(``invoice_title``, ``invoice_content``, ``shop_no``), the 4-decimal quantity strings and the
status set of :data:`STATUS_NAMES`."""


class QueryRejected(Exception):
    """A request the API refuses (bad parameter, window too long); the simulator picks the code."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _amount(value: float) -> str:
    return f"{value:.4f}"


def _tax_number(index: int) -> str:
    return f"91330100MA{index:06d}{'XYZW'[index % 4]}{index % 10}"


def _title(index: int) -> str:
    return "" if index % 4 == 3 else f"杭州客户{index % 37 + 1:03d}贸易有限公司"


def _lines(index: int, stockout_id: int, at: str) -> list[Row]:
    lines = []
    for n in range(1 + index % 3):
        m = world.material((index * 7 + n * 13) % 60)
        qty = 1 + (index + n) % 4
        total = round(m.price * qty, 2)
        lines.append(
            {
                "rec_id": stockout_id * 10 + n,
                "stockout_id": stockout_id,
                "spec_no": m.sku_id,
                "goods_no": m.number,
                "goods_name": m.name,
                "spec_name": m.unit,
                "spec_code": "",
                "barcode": f"69{m.item_id:011d}",
                "goods_type": 1,
                "gift_type": 0,
                "goods_count": _amount(qty),
                "sell_price": _amount(m.price),
                "market_price": _amount(m.price),
                "total_amount": _amount(total),
                "paid": _amount(total),
                "share_amount": _amount(total),
                "discount": _amount(0),
                "tax_rate": _amount(0),
                "refund_status": 0,
                "goods_id": m.item_id,
                "spec_id": 50_000 + m.index,
                "modified": at,
                "platform_id": 1,
            }
        )
    return lines


def _stockout(index: int, at: datetime) -> Row:
    shop_no = list(world.SHOPS)[index % len(world.SHOPS)]
    status = _STATUS_CYCLE[index % len(_STATUS_CYCLE)]
    stockout_id = 100_001 + index
    day = at.strftime("%Y%m%d")
    text = at.strftime(_TIME)
    created = (at - timedelta(hours=2)).strftime(_TIME)
    warehouse_no, warehouse_name, warehouse_id = _WAREHOUSES[index % len(_WAREHOUSES)]
    lines = _lines(index, stockout_id, text)
    total = sum(float(line["total_amount"]) for line in lines)
    count = sum(float(line["goods_count"]) for line in lines)
    title = _title(index)
    return {
        "stockout_id": stockout_id,
        "order_no": f"CK{day}{index + 1:06d}",
        "stockout_no": f"CK{day}{index + 1:06d}",
        "src_order_no": f"JY{day}{index + 1:06d}",
        "trade_no": f"JY{day}{index + 1:06d}",
        "src_tids": f"{4_000_000_000 + index}",
        "src_trade_no": f"{4_000_000_000 + index}",
        "warehouse_no": warehouse_no,
        "warehouse_name": warehouse_name,
        "warehouse_id": warehouse_id,
        "shop_no": shop_no,
        "shop_name": world.SHOPS[shop_no],
        "platform_id": 1,
        "trade_id": 200_001 + index,
        "order_type": 1,
        "order_type_name": "销售订单",
        "subtype": 0,
        "status": status,
        "trade_status": status,
        "trade_type": 1,
        "consign_status": 1 if status >= SHIPPED else 0,
        "goods_count": _amount(count),
        "goods_total_amount": _amount(total),
        "receivable": _amount(total),
        "paid": _amount(total),
        "post_amount": _amount(0),
        "discount": _amount(0),
        "tax": _amount(0),
        "tax_rate": _amount(0),
        "currency": "",
        "refund_status": 0,
        "trade_time": created,
        "pay_time": created,
        "created": created,
        "modified": text,
        "consign_time": text if status >= SHIPPED else NO_TIME,
        "remark": "",
        "cs_remark": "",
        "buyer_message": "",
        "invoice_type": 1 if title else 0,
        "invoice_title": title,
        "invoice_content": _tax_number(index) if title else "",
        "details_list": lines,
    }


def build_stockouts(size: int) -> list[tuple[str, datetime, Row]]:
    """``size`` stock-outs spread over the world's seeded month, as ``(id, time, record)``."""
    out = []
    for index in range(size):
        at = world.spread(index, size)
        row = _stockout(index, at)
        out.append((row["stockout_no"], at, row))
    return out


def touch(row: Row, new: datetime) -> None:
    """Drift: the stock-out was modified (and, shipped, re-consigned) at ``new``."""
    text = new.strftime(_TIME)
    row["modified"] = text
    if row["consign_time"] != NO_TIME:
        row["consign_time"] = text


def _time(params: Mapping[str, str], name: str) -> datetime | None:
    value = params.get(name, "")
    if not value:
        return None
    try:
        return datetime.strptime(value, _TIME)
    except ValueError:
        raise QueryRejected(f"{name}格式错误,应为yyyy-MM-dd HH:mm:ss: {value}") from None


def _int(params: Mapping[str, str], name: str, default: int) -> int:
    value = params.get(name, "")
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise QueryRejected(f"{name}必须是整数: {value}") from None


def _list(params: Mapping[str, str], *names: str) -> set[str]:
    return {item.strip() for name in names for item in params.get(name, "").split(",") if item.strip()}


def query_stockouts(dataset: Dataset, params: Mapping[str, str]) -> tuple[int, list[Row]]:
    """Answer ``stockout_order_query_trade``: ``(total_count, page of stock-outs)``.

    Closed interval ``[start_time, end_time]`` of at most 30 days (not needed when
    ``stockout_no`` or ``src_order_no`` is given); ``status`` and ``shop_nos``/``shop_no`` are
    comma lists; ``page_no`` is 0-based; ``page_size`` is 1-100 (default 40).

    Raises:
        QueryRejected: A parameter is missing, malformed or out of range.
    """
    start, end = _time(params, "start_time"), _time(params, "end_time")
    by_number = params.get("stockout_no") or params.get("src_order_no")
    if not by_number and (start is None or end is None):
        raise QueryRejected("start_time和end_time不能为空")
    if start is not None and end is not None:
        if end < start:
            raise QueryRejected("end_time不能早于start_time")
        if end - start > MAX_SPAN:
            raise QueryRejected("时间跨度不能超过30天")
    try:
        statuses = {int(s) for s in _list(params, "status")} or set(DEFAULT_STATUSES)
    except ValueError:
        raise QueryRejected(f"status必须是整数或逗号分隔的整数: {params.get('status')}") from None
    page_no = _int(params, "page_no", 0)
    page_size = _int(params, "page_size", DEFAULT_PAGE_SIZE)
    if page_no < 0:
        raise QueryRejected(f"page_no不能小于0: {page_no}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise QueryRejected(f"page_size必须在1-{MAX_PAGE_SIZE}之间: {page_size}")
    shops = _list(params, "shop_no", "shop_nos")
    exact = {key: params[key] for key in ("warehouse_no", "stockout_no", "src_order_no") if params.get(key)}
    src_tid = params.get("src_tid", "")

    def where(row: Row) -> bool:
        if row["status"] not in statuses or (shops and row["shop_no"] not in shops):
            return False
        if src_tid and src_tid not in row["src_tids"].split(","):
            return False
        return all(row[key] == value for key, value in exact.items())

    dataset.tick()
    key = ("stockouts", frozenset(statuses), frozenset(shops), src_tid, tuple(sorted(exact.items())))
    ids = dataset.select(start, end, where=where, where_key=key, end_inclusive=True)
    return len(ids), dataset.page(ids, page_no * page_size, page_size)
