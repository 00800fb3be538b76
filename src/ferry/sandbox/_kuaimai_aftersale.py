"""The KuaiMai simulator's after-sales work orders and ``erp.aftersale.list.query`` (§3.5).

Records use the documented response names (``id``, ``shortId``, ``tid``, ``status``,
``afterSaleType``, ``created``, ``modified``, ``items[].outerId``, ``items[].receivableCount``
...). Their products are the shared world's materials (``outerId`` = the SKU code), so a
KuaiMai after-sales line joins the JuShuiTan/KIS catalogue.

Choices where the document is silent, each marked [GUESS] in docs/vendor-protocols.md:

- ``startModified``/``endModified`` are both **inclusive** (a window boundary second is read
  twice rather than never; the ledger makes the re-read harmless).
- ``startApplyTime``/``endApplyTime`` filter on ``created`` (the work order is created when
  the buyer applies), both inclusive.
- ``status`` values are illustrative (1-5); the document lists none.
- ``asVersion=1`` (old after-sales) matches nothing: every seeded work order is a new one.
- ``pageSize`` outside 1..200 and ``pageNo`` < 1 are code 41 (Invalid Arguments); a page past
  the end is ``list: []`` with the true ``total``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from ferry.sandbox._dataset import Dataset
from ferry.sandbox._faults import FaultDice
from ferry.sandbox._quality import Defect, DefectTable, wrapped
from ferry.sandbox.world import SHOPS, material, spread

__all__ = ["AFTER_SALE_TYPES", "BAD_RECORDS", "ArgumentError", "aftersale_dataset", "query_aftersales"]

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 1
"""The documented default when ``pageSize`` is omitted: "不传默认为1"."""

AFTER_SALE_TYPES = (0, 1, 2, 3, 4, 5, 7, 8, 9)
"""0 其他, 1 已发货仅退款, 2 退货, 3 补发, 4 换货, 5 未发货仅退款, 7 拒收退货, 8 档口退货, 9 维修."""

STATUSES = (1, 2, 3, 4, 5)
FINISHED_STATUS = 5
SOURCES = ("tb", "jd", "pdd", "fxg")
WAREHOUSES = {1001: "杭州退货仓", 1002: "广州退货仓"}
REASONS = ("不想要了", "商品质量问题", "尺码不合适", "收到商品破损", "商品错发/漏发")
MATERIALS_IN_USE = 60
"""Work-order lines draw from the world's first 60 materials."""

Row = dict[str, Any]

BAD_RECORDS = DefectTable(
    wrong_type=(
        Defect("items[0].receivableCount", "两件"),
        Defect("status", "已完成"),
        Defect("tid", wrapped),
    ),
    missing_required=(Defect("tid"), Defect("items[0].outerId"), Defect("created")),
    enum_violation=(Defect("status", 99), Defect("afterSaleType", 6)),
)
"""How a work order goes wrong under ``Faults.bad_record_rate``: the fields seed 001 maps
(``qty`` is an int column, ``status``/``afterSaleType`` ints of the documented sets; 6 is the
one type number the document skips)."""


class ArgumentError(Exception):
    """A business parameter the gateway rejects: the vendor code and message to answer with."""

    def __init__(self, code: str, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


def _text(moment: datetime) -> str:
    return moment.strftime(TIME_FORMAT)


def work_order(index: int, count: int) -> tuple[str, datetime, Row]:
    """Work order ``index`` of ``count``: ``(id, modified, record)``; a pure function of both."""
    modified = spread(index, count)
    created = modified - timedelta(hours=1 + index % 47, minutes=index % 60)
    shop_ids = list(SHOPS)
    shop = shop_ids[index % len(shop_ids)]
    warehouse = list(WAREHOUSES)[index % len(WAREHOUSES)]
    status = STATUSES[index % len(STATUSES)]
    items: list[Row] = []
    payments: list[float] = []
    for k in range(1 + index % 3):
        m = material((index * 3 + k) % MATERIALS_IN_USE)
        qty = 1 + (index + k) % 3
        payment = round(m.price * qty, 2)
        payments.append(payment)
        items.append(
            {
                "mainOuterId": f"SPU{m.index // 3 + 1:04d}",
                "outerId": m.sku_id,
                "title": m.name,
                "receivableCount": qty,
                "itemRealQty": qty,
                "price": m.price,
                "payment": payment,
                "goodItemCount": qty,
                "badItemCount": 0,
                "type": 1,
                "rawRefundMoney": round(payment * 100),
            }
        )
    refund = round(sum(payments), 2)
    wid = 4_000_001 + index
    record: Row = {
        "id": wid,
        "shortId": index + 1,
        "tid": f"P{202400000000 + index + 1}",
        "sid": 5_000_000_001 + index,
        "status": status,
        "afterSaleType": AFTER_SALE_TYPES[index % len(AFTER_SALE_TYPES)],
        "created": _text(created),
        "modified": _text(modified),
        "userId": shop,
        "shopName": SHOPS[shop],
        "source": SOURCES[index % len(SOURCES)],
        "platformId": f"RF{9_000_000 + index}",
        "refundMoney": refund,
        "rawRefundMoney": refund,
        "textReason": REASONS[index % len(REASONS)],
        "remark": "",
        "goodStatus": 1 + index % 3,
        "onlineStatus": 1,
        "refundWarehouseId": warehouse,
        "refundWarehouseName": WAREHOUSES[warehouse],
        "refundExpressCompany": "顺丰速运",
        "refundExpressId": f"SF{1_300_000_000 + index}",
        "reissueSid": "",
        "items": items,
    }
    if status == FINISHED_STATUS:
        record["finished"] = _text(modified)
        record["platformCompleteTime"] = _text(modified)
    return str(wid), modified, record


def aftersale_dataset(size: int, *, dice: FaultDice, clock: Callable[[], datetime]) -> Dataset:
    """``size`` work orders, modified evenly over the world's 30-day history."""

    def touch(row: Row, modified: datetime) -> None:
        row["modified"] = _text(modified)

    return Dataset(
        (work_order(i, size) for i in range(size)), dice=dice, touch=touch, clock=clock, defects=BAD_RECORDS
    )


def _int(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ArgumentError("41", f"Invalid Arguments: {name} 必须是整数") from None


def _time(params: Mapping[str, str], name: str) -> datetime | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        return datetime.strptime(raw, TIME_FORMAT)
    except ValueError:
        raise ArgumentError("41", f"Invalid Arguments: {name} 格式应为 yyyy-MM-dd HH:mm:ss") from None


def _ids(params: Mapping[str, str], name: str) -> set[str] | None:
    raw = params.get(name)
    return None if raw is None else {part.strip() for part in raw.split(",") if part.strip()}


def _member(key: str, wanted: set[str]) -> Callable[[Row], bool]:
    return lambda row: str(row[key]) in wanted


def _filter(params: Mapping[str, str]) -> Callable[[Row], bool] | None:
    """The non-time filters as one predicate (``None`` when there are none)."""
    checks: list[Callable[[Row], bool]] = []
    version = _int(params, "asVersion", 2)
    if version not in (1, 2):
        raise ArgumentError("41", "Invalid Arguments: asVersion 只能是 1 或 2")
    if version == 1:
        checks.append(lambda row: False)
    if "id" in params:
        wid = _int(params, "id", 0)
        checks.append(lambda row: row["id"] == wid)
    if "tid" in params:
        tid = params["tid"]
        checks.append(lambda row: row["tid"] == tid)
    for name, key in (
        ("userIds", "userId"),
        ("warehouseIds", "refundWarehouseId"),
        ("afterSaleType", "afterSaleType"),
    ):
        wanted = _ids(params, name)
        if wanted is not None:
            checks.append(_member(key, wanted))
    applied_from, applied_to = _time(params, "startApplyTime"), _time(params, "endApplyTime")
    if applied_from is not None:
        low = _text(applied_from)
        checks.append(lambda row: row["created"] >= low)
    if applied_to is not None:
        high = _text(applied_to)
        checks.append(lambda row: row["created"] <= high)
    if not checks:
        return None
    return lambda row: all(check(row) for check in checks)


def query_aftersales(dataset: Dataset, params: Mapping[str, str]) -> dict[str, Any]:
    """Answer ``erp.aftersale.list.query``: ``{"success", "total", "list"}`` (+ ``hasNext``).

    Raises:
        ArgumentError: A malformed or out-of-range parameter (code 41).
    """
    page_no = _int(params, "pageNo", 1)
    page_size = _int(params, "pageSize", DEFAULT_PAGE_SIZE)
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ArgumentError("41", f"Invalid Arguments: pageSize 范围是1-{MAX_PAGE_SIZE}条 (got {page_size})")
    if page_no < 1:
        raise ArgumentError("41", f"Invalid Arguments: pageNo 从1开始 (got {page_no})")
    start, end = _time(params, "startModified"), _time(params, "endModified")
    where = _filter(params)
    dataset.tick()
    ids = dataset.select(start, end, where=where, end_inclusive=True)
    offset = (page_no - 1) * page_size
    rows = dataset.page(ids, offset, page_size)
    body: dict[str, Any] = {"success": True, "total": len(ids), "list": rows}
    if params.get("useHasNext", "").lower() == "true":
        body["hasNext"] = offset + page_size < len(ids)
    return body
