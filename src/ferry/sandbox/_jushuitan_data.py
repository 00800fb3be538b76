"""The JuShuiTan simulator's seeded records: 其它出入库单 and the SKU master.

Pure functions of the index, drawn from :mod:`ferry.sandbox.world` so a JuShuiTan ``sku_id``
is a KIS material's ``F_103`` (seed 002 looks the material up by it). Shapes follow
``JstQueryOtherInOutResponse.java`` and ``JstQuerySkuResponse.java`` (docs/vendor-protocols.md §4.5).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ferry.sandbox._quality import Defect, DefectTable, wrapped
from ferry.sandbox.world import Material, material, spread

__all__ = [
    "BAD_INOUTS",
    "BAD_SKUS",
    "MATERIAL_COUNT",
    "STATUSES",
    "TIME_FORMAT",
    "TYPES",
    "inout_record",
    "sku_record",
]

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
"""JuShuiTan's date-time text (``JstConvention``: ``yyyy-MM-dd HH:mm:ss``, Beijing time)."""

MATERIAL_COUNT = 60
"""Items reference the first 60 world materials (``world.materials()``'s default)."""

STATUSES = ("Confirmed", "Confirmed", "Confirmed", "WaitConfirm", "Cancelled")
"""Status by ``index % 5``: three in five bills are confirmed."""

TYPES = ("其它退货", "其它进仓", "其它出库")
"""Type by ``index % 3``."""

WAREHOUSES = {1: "主仓", 2: "销退仓", 3: "进货仓"}

BAD_INOUTS = DefectTable(
    wrong_type=(
        Defect("items[0].qty", "三"),
        Defect("items[0].cost_price", "N/A"),
        Defect("remark", wrapped),
    ),
    missing_required=(Defect("io_date"), Defect("items[0].sku_id")),
    enum_violation=(Defect("status", "Archived"), Defect("type", "其它调拨")),
)
"""How a 其它出入库单 goes wrong under ``Faults.bad_record_rate``: the fields seed 002 maps
(``FQty``/``FAuxPrice`` floats, the ``sku_id`` lookup, ``io_date``) and the status and type sets."""

BAD_SKUS = DefectTable(
    wrong_type=(Defect("cost_price", "N/A"), Defect("name", wrapped)),
    missing_required=(Defect("i_id"), Defect("unit")),
    enum_violation=(Defect("enabled", 9),),
)
"""How a SKU goes wrong (``enabled`` is documented as 1/0/-1)."""


def _text(when: datetime) -> str:
    return when.strftime(TIME_FORMAT)


def inout_record(index: int, count: int) -> tuple[datetime, dict[str, Any]]:
    """Bill ``index`` of ``count``: its modification time and the vendor-shaped record."""
    modified = spread(index, count)
    io_date = modified - timedelta(minutes=5 + index % 50)
    io_id = 10_001 + index
    wh_id = 1 + index % len(WAREHOUSES)
    items = []
    for line in range(1 + index % 3):
        mat = material((index * 7 + line * 13) % MATERIAL_COUNT)
        qty = 1 + (index + line) % 9
        items.append(_item(io_id, line, mat, qty))
    record: dict[str, Any] = {
        "io_id": io_id,
        "io_date": _text(io_date),
        "status": STATUSES[index % len(STATUSES)],
        "so_id": f"SO{io_id}" if index % 4 == 0 else "",
        "type": TYPES[index % len(TYPES)],
        "f_status": "Confirmed" if index % 2 else "WaitConfirm",
        "warehouse": WAREHOUSES[wh_id],
        "receiver_name": None,
        "receiver_mobile": None,
        "receiver_state": None,
        "receiver_city": None,
        "receiver_district": None,
        "receiver_address": None,
        "wh_id": wh_id,
        "remark": f"沙箱单据{io_id}",
        "modified": _text(modified),
        "created": _text(io_date - timedelta(minutes=1)),
        "labels": "",
        "wms_co_id": 0,
        "creator_name": "沙箱操作员",
        "wave_id": 0,
        "drop_co_name": None,
        "inout_user": "沙箱仓管",
        "l_id": None,
        "lc_id": None,
        "logistics_company": None,
        "lock_wh_id": 0,
        "lock_wh_name": None,
        "items": items,
        "batchs": [],
        "sns": [],
    }
    return modified, record


def _item(io_id: int, line: int, mat: Material, qty: int) -> dict[str, Any]:
    return {
        "ioi_id": io_id * 10 + line,
        "io_id": io_id,
        "sku_id": mat.sku_id,
        "i_id": f"SPU{mat.index + 1:05d}",
        "name": mat.name,
        "unit": mat.unit,
        "properties_value": "",
        "qty": qty,
        "cost_price": mat.price,
        "cost_amount": round(mat.price * qty, 2),
        "sale_price": 0,
        "sale_amount": 0,
        "remark": "",
        "batch_id": None,
        "product_date": None,
        "supplier_id": None,
        "expiration_date": None,
    }


def sku_record(index: int, count: int) -> tuple[datetime, dict[str, Any]]:
    """SKU ``index`` of ``count`` (world material ``index``) as ``/open/sku/query`` returns it."""
    mat = material(index)
    modified = spread(index, count)
    record: dict[str, Any] = {
        "sku_id": mat.sku_id,
        "i_id": f"SPU{mat.index + 1:05d}",
        "name": mat.name,
        "short_name": mat.name[-5:],
        "sale_price": round(mat.price * 1.6, 2),
        "cost_price": mat.price,
        "properties_value": "",
        "color": "",
        "c_id": 1,
        "category": "沙箱类目",
        "enabled": 1,
        "weight": 0.5,
        "market_price": round(mat.price * 2, 2),
        "brand": "沙箱",
        "supplier_id": "",
        "supplier_name": "",
        "modified": _text(modified),
        "sku_code": f"69{mat.item_id:011d}",
        "created": _text(modified - timedelta(days=1)),
        "remark": "",
        "item_type": "成品",
        "unit": mat.unit,
        "autoid": mat.item_id,
    }
    return modified, record
