"""The KIS simulator's business side: material rows, list paging and 其他入库单 validation.

Kept apart from the gateway/auth code in :mod:`ferry.sandbox.kis`. Every rejection is a
:class:`KisRejected` carrying the errcode and description the simulator answers with.
Bill content errors surface the way the gateway reports downstream KIS failures
(docs/vendor-protocols.md §2.4): errcode 10201, ``业务接口返回失败结果，失败原因：<reason>``. Line
errors name the 1-based entry line (``第2行``) and every failing line is reported.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ferry.sandbox._quality import Defect, DefectTable, wrapped
from ferry.sandbox.world import Material

__all__ = [
    "BAD_MATERIALS",
    "BAD_PARAMETER",
    "BUSINESS_FAILED",
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "KisRejected",
    "business_failure",
    "check_bill",
    "list_page",
    "material_row",
]

BAD_PARAMETER = 20001
BUSINESS_FAILED = 10201
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
"""[GUESS] largest ``ItemsOfPage`` (no limit is documented)."""

Row = dict[str, Any]

BAD_MATERIALS = DefectTable(
    wrong_type=(Defect("FSalePrice", "N/A"), Defect("F_103", wrapped)),
    missing_required=(Defect("F_103"), Defect("FNumber"), Defect("FUnitID")),
)
"""How a material goes wrong under ``Faults.bad_record_rate``: the fields the ``kis-material``
helper scheme stores and seed 002 looks up (``F_103``, ``FUnitID``). KIS documents no enum on a
material row, so none is violated."""


class KisRejected(Exception):
    """A call the simulator refuses: ``errcode`` and ``description`` of the answer."""

    def __init__(self, errcode: int, description: str) -> None:
        super().__init__(description)
        self.errcode = errcode
        self.description = description


def business_failure(reason: str) -> KisRejected:
    """A downstream KIS failure as the gateway reports it (errcode 10201)."""
    return KisRejected(BUSINESS_FAILED, f"业务接口返回失败结果，失败原因：{reason}")


def material_row(material: Material) -> Row:
    """One ``Material/List`` row; ``F_103`` carries the e-commerce SKU (seed 002 joins on it)."""
    return {
        "FItemID": material.item_id,
        "FNumber": material.number,
        "FName": material.name,
        "FModel": "",
        "FUnitID": material.unit_id,
        "FUnitName": material.unit,
        "FSalePrice": material.price,
        "F_103": material.sku_id,
    }


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def list_page(
    rows: list[Row], body: Mapping[str, Any], fetch: Callable[[int, int], list[Row]] | None = None
) -> Row:
    """One page of ``rows`` for a ``.../List`` body (``CurrentPage`` 1-based, ``ItemsOfPage``).

    ``fetch(start, size)`` serves the page instead of slicing ``rows`` (a :class:`Dataset`
    page, so drift and duplicate faults apply).

    ``PageSize`` is accepted as an alias of ``ItemsOfPage`` [GUESS]. Past the last page the
    list is empty. ``TotalPage`` and ``TotalPages`` both carry the page count ([CONFLICT] in
    the sources: return both).

    Raises:
        KisRejected: errcode 20001 for a page number below 1 or a page size outside 1..100.
    """
    page = _int(body.get("CurrentPage", 1))
    if page is None or page < 1:
        raise KisRejected(
            BAD_PARAMETER, f"参数错误：CurrentPage[{body.get('CurrentPage')}]必须是从1开始的页码"
        )
    raw_size = body.get("ItemsOfPage", body.get("PageSize", DEFAULT_PAGE_SIZE))
    size = _int(raw_size)
    if size is None or not 1 <= size <= MAX_PAGE_SIZE:
        raise KisRejected(BAD_PARAMETER, f"参数错误：ItemsOfPage[{raw_size}]必须在1到{MAX_PAGE_SIZE}之间")
    pages = math.ceil(len(rows) / size)
    start = (page - 1) * size
    return {
        "List": fetch(start, size) if fetch else rows[start : start + size],
        "TotalItems": len(rows),
        "TotalPage": pages,
        "TotalPages": pages,
    }


def _check_head(head: Mapping[str, Any]) -> tuple[str, datetime, list[str]]:
    problems: list[str] = []
    number = head.get("FBillNo")
    bill_no = "" if _blank(number) else str(number).strip()
    if not bill_no:
        problems.append("单据编号FBillNo不能为空")
    raw_date = head.get("Fdate")
    date = datetime(1900, 1, 1)
    try:
        date = datetime.fromisoformat(str(raw_date).strip())
    except ValueError:
        problems.append(f"日期Fdate[{raw_date}]格式不正确，应为yyyy-MM-dd或yyyy-MM-ddTHH:mm:ss")
    tran_type = head.get("FTranType", 10)
    if _int(tran_type) != 10:
        problems.append(f"单据类型FTranType[{tran_type}]不是其他入库(10)")
    rob = head.get("FROB", 1)
    if _int(rob) not in (1, -1):
        problems.append(f"红蓝字FROB[{rob}]只能是1(蓝字)或-1(红字)")
    return bill_no, date, problems


def _check_line(line_no: int, line: Any, materials: Mapping[int, Material]) -> tuple[Row | None, list[str]]:
    where = f"第{line_no}行"
    if not isinstance(line, Mapping):
        return None, [f"{where}分录格式不正确"]
    problems: list[str] = []
    raw_item = line.get("FItemID")
    item_id = None if _blank(raw_item) else _int(raw_item)
    material = materials.get(item_id) if item_id is not None else None
    if _blank(raw_item):
        problems.append(f"{where}物料FItemID不能为空")
    elif material is None:
        problems.append(f"{where}物料FItemID[{raw_item}]不存在")
    raw_unit = line.get("FUnitID")
    unit = material.unit_id if material is not None else None
    if not _blank(raw_unit):
        unit = _int(raw_unit)
        if material is not None and unit != material.unit_id:
            problems.append(f"{where}计量单位FUnitID[{raw_unit}]不属于物料{material.number}")
    raw_qty = line.get("FQty", line.get("Fauxqty"))
    qty = _number(raw_qty)
    if qty is None or qty == 0:
        problems.append(f"{where}数量FQty[{raw_qty}]必须是非零数字")
    amounts: Row = {}
    for key in ("FAuxPrice", "Famount"):
        if not _blank(line.get(key)):
            amounts[key] = _number(line[key])
            if amounts[key] is None:
                problems.append(f"{where}{key}[{line[key]}]不是数字")
    if problems or material is None:
        return None, problems
    stored = {**dict(line), "FItemID": material.item_id, "FUnitID": unit, "FQty": qty, **amounts}
    return stored, []


def check_bill(body: Any, materials: Mapping[int, Material]) -> tuple[str, datetime, Row, list[Row]]:
    """Validate a ``miscellaneousreceipt/create`` body ``{"Object": {"Head": ..., "Entry": [...]}}``.

    Returns:
        ``(FBillNo, Fdate, head, entries)`` with entry ids as integers.

    Raises:
        KisRejected: errcode 10201 listing every problem of the head and of every line.
    """
    obj = body.get("Object") if isinstance(body, Mapping) else None
    if not isinstance(obj, Mapping) or not isinstance(obj.get("Head"), Mapping):
        raise business_failure("403-ParseRequestContent:缺少Object.Head\r\n请求参数转换成JSON对象异常")
    head = dict(obj["Head"])
    bill_no, date, problems = _check_head(head)
    lines = obj.get("Entry")
    entries: list[Row] = []
    if not isinstance(lines, list) or not lines:
        problems.append("分录Entry不能为空")
    else:
        for line_no, line in enumerate(lines, start=1):
            stored, found = _check_line(line_no, line, materials)
            problems += found
            if stored is not None:
                entries.append(stored)
    if problems:
        prefix = f"单据[{bill_no}]：" if bill_no else ""
        raise business_failure(prefix + "；".join(problems))
    return bill_no, date, head, entries
