"""The JuShuiTan simulator's query endpoints: parameter rules, filters and 1-based pages.

Each function takes the parsed ``biz`` and answers the envelope's ``data`` or raises
:class:`Rejected` with the rule's Chinese text (the simulator answers it with its parameter
error code). Rules: docs/vendor-protocols.md §4.5 and ``JstQuerySkuRequest.java``.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from ferry.sandbox._dataset import Dataset
from ferry.sandbox._jushuitan_data import TIME_FORMAT

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "MAX_SPAN", "Rejected", "inout_query", "sku_query"]

Row = dict[str, Any]

MAX_SPAN = timedelta(days=7)
MAX_PAGE_SIZE = 50
DEFAULT_PAGE_SIZE = 30


class Rejected(Exception):
    """A business-parameter error; ``str(exc)`` is the vendor's ``msg``."""


def _int(biz: Row, key: str, default: int) -> int:
    value = biz.get(key)
    if value is None or value == "":
        return default
    try:
        return int(str(value))
    except ValueError:
        raise Rejected(f"{key}必须为整数") from None


def _time(biz: Row, key: str) -> datetime:
    try:
        return datetime.strptime(str(biz[key]), TIME_FORMAT)
    except ValueError:
        raise Rejected(f"{key}格式错误，应为yyyy-MM-dd HH:mm:ss") from None


def _list(biz: Row, key: str, limit: int) -> list[str] | None:
    value = biz.get(key)
    if value is None or value == "" or value == []:
        return None
    items = value if isinstance(value, list) else str(value).split(",")
    items = [str(v).strip() for v in items if str(v).strip()]
    if len(items) > limit:
        raise Rejected(f"{key}最多{limit}个")
    return items


def _paging(biz: Row) -> tuple[int, int]:
    page_index = _int(biz, "page_index", 1)
    page_size = _int(biz, "page_size", DEFAULT_PAGE_SIZE)
    if page_index < 1:
        raise Rejected("page_index必须大于等于1")
    if page_size < 1:
        raise Rejected("page_size必须大于0")
    if page_size > MAX_PAGE_SIZE:
        raise Rejected(f"page_size不能超过{MAX_PAGE_SIZE}")
    return page_index, page_size


def _range(biz: Row, *, required: bool) -> tuple[datetime, datetime] | None:
    has_begin = biz.get("modified_begin") not in (None, "")
    has_end = biz.get("modified_end") not in (None, "")
    if has_begin != has_end:
        raise Rejected("修改起始时间和结束时间必须同时存在")
    if not has_begin:
        if required:
            raise Rejected("修改时间和单号不能同时为空")
        return None
    begin, end = _time(biz, "modified_begin"), _time(biz, "modified_end")
    if end < begin:
        raise Rejected("修改结束时间不能早于起始时间")
    if end - begin > MAX_SPAN:
        raise Rejected("修改起始时间和结束时间间隔不能超过七天")
    return begin, end


def _page(dataset: Dataset, ids: list[str], index: int, size: int) -> Row:
    rows = dataset.page(ids, (index - 1) * size, size)
    pages = math.ceil(len(ids) / size)
    return {
        "page_size": size,
        "page_index": index,
        "data_count": len(ids),
        "page_count": pages,
        "has_next": index < pages,
        "datas": rows,
    }


def inout_query(dataset: Dataset, biz: Row) -> Row:
    """``/open/other/inout/query``: bills by modified (or io_date) range, status, types, ids."""
    page_index, page_size = _paging(biz)
    so_ids = _list(biz, "so_ids", 50)
    io_ids = _list(biz, "io_ids", 50)
    span = _range(biz, required=not (so_ids or io_ids))
    types = _list(biz, "types", 10)
    status = biz.get("status") or None
    date_type = _int(biz, "date_type", 0)
    if date_type not in (0, 2):
        raise Rejected("date_type只能为0或2")
    wms_co_id = _int(biz, "wms_co_id", 0)
    io_span = None
    if date_type == 2 and span is not None:
        io_span = (span[0].strftime(TIME_FORMAT), span[1].strftime(TIME_FORMAT))

    def wanted(row: Row) -> bool:
        return (
            (status is None or row["status"] == status)
            and (types is None or row["type"] in types)
            and (so_ids is None or row["so_id"] in so_ids)
            and (io_ids is None or str(row["io_id"]) in io_ids)
            and (not wms_co_id or row["wms_co_id"] == wms_co_id)
            and (io_span is None or io_span[0] <= row["io_date"] <= io_span[1])
        )

    dataset.tick()
    key = (
        "inout",
        status,
        *(tuple(v) if v is not None else None for v in (types, so_ids, io_ids)),
        wms_co_id,
        io_span,
    )
    if io_span is not None or span is None:
        ids = dataset.select(where=wanted, where_key=key)
    else:
        ids = dataset.select(span[0], span[1], where=wanted, where_key=key, end_inclusive=True)
    return _page(dataset, ids, page_index, page_size)


def sku_query(dataset: Dataset, biz: Row) -> Row:
    """``/open/sku/query``: the SKU master by modified range or ``sku_ids`` (comma-separated, ≤ 20)."""
    page_index, page_size = _paging(biz)
    sku_ids = _list(biz, "sku_ids", 20)
    span = _range(biz, required=not sku_ids)
    dataset.tick()
    where = (lambda row: row["sku_id"] in sku_ids) if sku_ids else None
    if span is None:
        ids = dataset.select(where=where)
    else:
        ids = dataset.select(span[0], span[1], where=where, end_inclusive=True)
    return _page(dataset, ids, page_index, page_size)
