"""The sandbox's shared, deterministic business world.

The seed schemes cross systems: JuShuiTan SKUs are looked up among KIS materials (seed 002),
WangDianTong shops map to K3Cloud organisations (seed 003), OKKI receipts land in K3Cloud sales
orders found by their collection id (seed 004). Every simulator draws its records from this one
world so those joins hold. Everything is a pure function of the index (no randomness), so two
simulators built separately agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = [
    "ANCHOR",
    "CUSTOMER_GROUPS",
    "ORGS",
    "SHOPS",
    "Material",
    "SaleOrder",
    "material",
    "materials",
    "sale_order",
    "sale_orders",
    "set_anchor",
    "spread",
]

ANCHOR = datetime(2024, 6, 1)
"""End of the seeded history (naive Beijing time): records are modified before it.

Fixed, so tests and the main job are repeatable. :func:`set_anchor` moves it (before building
simulators), e.g. to "now" for runs that follow the real clock such as the chaos suite, where
records modified while paging must land in the next incremental window."""

SPAN = timedelta(days=30)
"""Seeded records are spread over ``[ANCHOR - SPAN, ANCHOR)``."""

ORGS: dict[str, str] = {"100": "总公司", "BZ": "标准事业部", "DZ": "定制事业部", "100040": "华东分销中心"}
"""K3Cloud organisations by FNumber (seed 003 creates customers in 100, uses BZ/DZ, allocates to 100040)."""

CUSTOMER_GROUPS: dict[str, str] = {"B11": "电商客户", "B12": "经销商", "A01": "直营客户"}
"""K3Cloud customer groups by FNumber."""

SHOPS: dict[str, str] = {
    "002": "天猫旗舰店",
    "003": "京东自营店",
    "004": "拼多多店",
    "0071": "抖音小店",
    "005": "定制天猫店",
    "006": "定制京东店",
    "007": "定制微店",
    "0081": "定制小程序",
    "0091": "定制线下店",
}
"""WangDianTong shop numbers; 002/003/004/0071 are 标准 (BZ), the rest 定制 (DZ)."""

UNITS = ("PCS", "BOX", "SET")


def set_anchor(anchor: datetime, span: timedelta | None = None) -> tuple[datetime, timedelta]:
    """Move the seeded history to end at ``anchor`` (and last ``span``) for simulators built
    from now on; returns the old ``(anchor, span)`` to restore."""
    global ANCHOR, SPAN
    old = (ANCHOR, SPAN)
    ANCHOR = anchor.replace(microsecond=0)
    SPAN = span or SPAN
    return old


def spread(index: int, count: int, *, span: timedelta | None = None, end: datetime | None = None) -> datetime:
    """A modification time for record ``index`` of ``count``: evenly over ``span`` (default
    :data:`SPAN`) before ``end`` (default :data:`ANCHOR`), to the second."""
    end = ANCHOR if end is None else end
    span = SPAN if span is None else span
    step = span.total_seconds() / max(count, 1)
    return end - span + timedelta(seconds=int(index * step) + 1)


@dataclass(frozen=True)
class Material:
    """One product: a JuShuiTan SKU and the KIS/K3Cloud material it maps to."""

    index: int
    sku_id: str
    name: str
    item_id: int
    """KIS FItemID (internal id)."""
    number: str
    """KIS/K3Cloud material FNumber."""
    unit: str
    unit_id: int
    """KIS FUnitID."""
    price: float


def material(index: int) -> Material:
    """Material ``index`` (0-based)."""
    unit = UNITS[index % len(UNITS)]
    return Material(
        index=index,
        sku_id=f"SKU{index + 1:05d}",
        name=f"测试商品{index + 1:05d}",
        item_id=10_000 + index,
        number=f"1.01.{index + 1:05d}",
        unit=unit,
        unit_id=200 + UNITS.index(unit),
        price=round(9.9 + (index % 50) * 1.5, 2),
    )


def materials(count: int = 60) -> list[Material]:
    """The first ``count`` materials."""
    return [material(i) for i in range(count)]


@dataclass(frozen=True)
class SaleOrder:
    """One K3Cloud sales order; OKKI receipts reference it by ``collection_id``."""

    index: int
    fid: int
    bill_no: str
    collection_id: str
    """``F_Cash_Collection_Id`` on the K3Cloud order = OKKI's receipt ``order_id``."""
    customer: str
    amount: float


def sale_order(index: int) -> SaleOrder:
    """Sales order ``index`` (0-based)."""
    return SaleOrder(
        index=index,
        fid=100_001 + index,
        bill_no=f"XSDD{202400000 + index + 1}",
        collection_id=str(3_000_000_001 + index),
        customer=f"CUST{(index % 40) + 1:04d}",
        amount=round(1000 + (index % 97) * 37.5, 2),
    )


def sale_orders(count: int) -> list[SaleOrder]:
    """The first ``count`` sales orders."""
    return [sale_order(i) for i in range(count)]
