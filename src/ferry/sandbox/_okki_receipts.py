"""The OKKI simulator's 回款单 (receipts), shaped like the official list example (docs/vendor-protocols.md §6.4).

Receipt ``i`` pays K3Cloud sales order ``i`` of the shared world: its ``order_id`` is
``world.sale_order(i).collection_id`` (as an integer), which seed 004 looks up as
``F_Cash_Collection_Id``. Two in every 25 do not match an order, to exercise the required
``FID``: ``i % 25 == 24`` is not linked to any order (``order_id`` 0, as in the official
example) and ``i % 25 == 12`` names an order that does not exist (:data:`ORPHAN_BASE` + ``i``).

Money fields are strings, exchange rates are per 100, empty objects are ``[]`` (PHP).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ferry.sandbox import world
from ferry.sandbox._quality import Defect, DefectTable, wrapped

__all__ = ["BAD_RECORDS", "ORPHAN_BASE", "TIME_FORMAT", "order_id_of", "receipt", "touch"]

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
ORPHAN_BASE = 2_900_000_000
"""Order ids from here on match no sales order (K3Cloud collection ids start at 3,000,000,001)."""

_ID_BASE = 5_221_565_013
_USD_PER_100_CNY = 13.7248
_PAYEES = ("阿红", "李明", "王芳", "张伟")
_USER = {"user_id": "249521383", "nickname": "sky", "avatar": "https://img.okki.example/avatar/249521383.png"}

Row = dict[str, Any]

BAD_RECORDS = DefectTable(
    wrong_type=(Defect("real_amount", "壹佰元"), Defect("bank_charge", "N/A"), Defect("payee", wrapped)),
    missing_required=(Defect("cash_collection_no"), Defect("collection_date")),
    enum_violation=(Defect("collect_status", 9), Defect("type", "BARTER")),
)
"""How a receipt goes wrong under ``Faults.bad_record_rate``: the fields seed 004 maps (money as
numeric strings, ``payee`` text, the collection number and date) and two documented sets."""


def order_id_of(index: int) -> int:
    """The ``order_id`` of receipt ``index``: the world's order, 0 (unlinked) or an orphan id."""
    if index % 25 == 24:
        return 0
    if index % 25 == 12:
        return ORPHAN_BASE + index
    return int(world.sale_order(index).collection_id)


def _money(value: float) -> str:
    return f"{value:.2f}"


def _order_info(index: int, order_id: int) -> Row | list[Any]:
    order = world.sale_order(index)
    if order_id != int(order.collection_id):
        return []
    return {
        "order_id": order_id,
        "order_no": order.bill_no,
        "name": f"销售订单{order.bill_no}",
        "exchange_rate": "100.00000",
        "currency": "CNY",
        "exchange_rate_usd": f"{_USD_PER_100_CNY:.5f}",
        "amount": _money(order.amount),
        "service_fee_amount": "0.00",
        "service_fee_currency": "CNY",
    }


def receipt(index: int, modified: datetime) -> tuple[str, Row]:
    """Receipt ``index`` last updated at ``modified``: ``(id, record)``."""
    order_id = order_id_of(index)
    charge = round(1 + (index % 5) * 0.5, 2)
    real = round(world.sale_order(index).amount * (0.3 + (index % 3) * 0.2), 2)
    amount = real + charge
    created = modified - timedelta(hours=1 + index % 48)
    usd = _USD_PER_100_CNY / 100
    rid = _ID_BASE + index
    row: Row = {
        "cash_collection_id": rid,
        "cash_collection_no": f"HK{created:%Y%m%d}{index + 1:04d}",
        "create_time": created.strftime(TIME_FORMAT),
        "update_time": modified.strftime(TIME_FORMAT),
        "order_id": order_id,
        "collection_date": (created + timedelta(days=1)).strftime("%Y-%m-%d"),
        "amount": _money(amount),
        "currency": "CNY",
        "exchange_rate": "100.00000",
        "exchange_rate_usd": f"{_USD_PER_100_CNY:.5f}",
        "amount_rmb": _money(amount),
        "amount_usd": _money(amount * usd),
        "finance_verify": {"date": None, "name": None},
        "comment": "" if index % 4 == 3 else f"第{index + 1}笔回款",
        "file_list": [],
        "department_id": [],
        "opportunity_id": 0,
        "user_id": [],
        "client_id": 351_383 + index % 40,
        "op_user_id": 249_521_383,
        "type": "T/T",
        "company_id": 0,
        "create_user_id": 249_521_383,
        "payee": _PAYEES[index % len(_PAYEES)],
        "collect_status": 0,
        "real_amount": _money(real),
        "real_amount_rmb": _money(real),
        "real_amount_usd": _money(real * usd),
        "bank_charge": _money(charge),
        "bank_charge_rmb": _money(charge),
        "bank_charge_usd": _money(charge * usd),
        "trade_no": "",
        "external_field_data_info": [],
        "company_info": [],
        "user_info": [],
        "order_info": _order_info(index, order_id),
        "opportunity_info": [],
        "create_user_info": dict(_USER),
        "op_user_info": dict(_USER),
        "lock_flag": "0",
    }
    return str(rid), row


def touch(row: Row, modified: datetime) -> None:
    """Drift: the receipt was edited at ``modified``."""
    row["update_time"] = modified.strftime(TIME_FORMAT)
