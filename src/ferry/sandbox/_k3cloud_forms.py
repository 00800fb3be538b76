"""The K3Cloud forms the simulator knows: their metadata and their seeded records.

A record is a dict keyed by the canonical field keys below: scalars as Python values
(``datetime`` for dates, ``float`` for amounts), a base-data reference as the referenced
record's internal id (``0`` when it resolved to nothing), an entry as a list of dicts each with
its ``FEntryID``. Field keys and FormIds match case-insensitively, as on the server.

Forms (docs/vendor-protocols.md §1.5 names SAL_SaleOrder's siblings; the metadata is ours):

=====================  =========  ===========================================================
``SAL_SaleOrder``      FID        bills from ``world.sale_orders(size)``; entries
                                  ``FSaleOrderEntry`` (materials) and ``F_PBLH_Entity``
                                  (collection receipts, empty at first; seed 004 fills it)
``BD_Customer``        FCUSTID    ``CUST0001``..``CUST0040`` (the sale orders' customers)
``BD_CustomerGroup``   FID        ``world.CUSTOMER_GROUPS`` (**[GUESS]** FormId: the document
                                  names none; FormIds match case-insensitively)
``BD_MATERIAL``        FMATERIALID  ``world.materials()``
``BD_UNIT``            FUNITID    PCS / BOX / SET
``ORG_Organizations``  FORGID     ``world.ORGS``; the org numbered ``100040`` has id 100040
=====================  =========  ===========================================================

Seeded sale orders: every 5th (index % 5 == 0) is closed (``FCloseStatus`` B, ``FCloseDate``
= its modification time); of the others, index % 7 == 3 are cancelled (``FCancelStatus`` B,
document status A); index % 9 == 4 are submitted (B); the rest audited (C).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ferry.sandbox import world

__all__ = ["FORMS", "ORG_IDS", "Entry", "Field", "FormMeta", "seed_records"]

Record = dict[str, Any]


@dataclass(frozen=True)
class Field:
    """One field: ``kind`` is ``id``, ``text``, ``decimal``, ``datetime`` or ``ref``."""

    key: str
    kind: str = "text"
    label: str = ""
    ref: str | None = None
    """The referenced FormId of a ``ref`` field."""

    @property
    def title(self) -> str:
        """The label shown in messages."""
        return self.label or self.key


@dataclass(frozen=True)
class Entry:
    """An entry (单据体): rows under ``key``, each with ``FEntryID``."""

    key: str
    fields: tuple[Field, ...]

    def field(self, key: str) -> Field | None:
        """The field called ``key`` (case-insensitive)."""
        low = key.lower()
        return next((f for f in self.fields if f.key.lower() == low), None)


@dataclass(frozen=True)
class FormMeta:
    """A form's metadata."""

    form_id: str
    pk: str
    number: str
    fields: tuple[Field, ...]
    entries: tuple[Entry, ...] = ()
    required: tuple[str, ...] = ()
    """Fields a new record must have (checked unless ``ValidateFlag`` is false)."""
    number_prefix: str = ""
    number_width: int = 4
    base_data: bool = True
    _by_key: dict[str, Field] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_key.update({f.key.lower(): f for f in self.fields})

    def field(self, key: str) -> Field | None:
        """The header field called ``key`` (case-insensitive)."""
        return self._by_key.get(key.lower())

    def entry(self, key: str) -> Entry | None:
        """The entry called ``key`` (case-insensitive)."""
        low = key.lower()
        return next((e for e in self.entries if e.key.lower() == low), None)

    def entry_field(self, key: str) -> tuple[Entry, Field] | None:
        """The entry field called ``key`` and its entry."""
        for entry in self.entries:
            found = entry.field(key)
            if found is not None:
                return entry, found
        return None


def _ref(key: str, form: str, label: str) -> Field:
    return Field(key, "ref", label, form)


_STATUS = (Field("FDocumentStatus", label="数据状态"), Field("FForbidStatus", label="禁用状态"))
_DATES = (
    Field("FCreateDate", "datetime", "创建日期"),
    Field("FModifyDate", "datetime", "修改日期"),
    Field("FApproveDate", "datetime", "审核日期"),
)
_ORGS = (
    _ref("FCreateOrgId", "ORG_Organizations", "创建组织"),
    _ref("FUseOrgId", "ORG_Organizations", "使用组织"),
)


def _base(
    form_id: str, pk: str, *extra: Field, prefix: str = "", required: tuple[str, ...] = ("FName",)
) -> FormMeta:
    fields = (
        Field(pk, "id"),
        Field("FNumber", label="编码"),
        Field("FName", label="名称"),
        *extra,
        *_STATUS,
        *_DATES,
    )
    return FormMeta(form_id, pk, "FNumber", fields, required=required, number_prefix=prefix)


SALE_ORDER = FormMeta(
    "SAL_SaleOrder",
    "FID",
    "FBillNo",
    (
        Field("FID", "id"),
        Field("FBillNo", label="单据编号"),
        Field("FDate", "datetime", "日期"),
        _ref("FSaleOrgId", "ORG_Organizations", "销售组织"),
        _ref("FCustId", "BD_Customer", "客户"),
        Field("F_Cash_Collection_Id", label="回款单ID"),
        Field("FBillAllAmount", "decimal", "价税合计"),
        Field("FNote", label="备注"),
        Field("FDocumentStatus", label="单据状态"),
        Field("FCloseStatus", label="关闭状态"),
        Field("FCancelStatus", label="作废状态"),
        Field("FCloseDate", "datetime", "关闭日期"),
        Field("FCancelDate", "datetime", "作废日期"),
        *_DATES,
    ),
    (
        Entry(
            "FSaleOrderEntry",
            (
                _ref("FMaterialId", "BD_MATERIAL", "物料编码"),
                _ref("FUnitID", "BD_UNIT", "销售单位"),
                Field("FQty", "decimal", "销售数量"),
                Field("FTaxPrice", "decimal", "含税单价"),
                Field("FAllAmount", "decimal", "价税合计"),
                Field("FEntryNote", label="备注"),
            ),
        ),
        Entry(
            "F_PBLH_Entity",
            (
                Field("F_PBLH_CollectionNo", label="回款单号"),
                Field("F_PBLH_Date", "datetime", "回款日期"),
                Field("F_PBLH_Decimal", "decimal", "实到账金额"),
                Field("F_PBLH_BankCharge", "decimal", "银行手续费"),
                Field("F_PBLH_Payee", label="收款人"),
                Field("F_PBLH_Remark", label="备注"),
            ),
        ),
    ),
    required=("FCustId",),
    number_prefix="XSDD",
    number_width=9,
    base_data=False,
)

FORMS: dict[str, FormMeta] = {
    meta.form_id.lower(): meta
    for meta in (
        SALE_ORDER,
        _base(
            "BD_Customer",
            "FCUSTID",
            Field("FShortName", label="简称"),
            _ref("FGroup", "BD_CustomerGroup", "客户分组"),
            *_ORGS,
            Field("FINVOICETITLE", label="发票抬头"),
            Field("FTAXREGISTERCODE", label="纳税登记号"),
            Field("FDescription", label="描述"),
            prefix="CUST",
        ),
        _base("BD_CustomerGroup", "FID"),
        _base(
            "BD_MATERIAL",
            "FMATERIALID",
            Field("FSpecification", label="规格型号"),
            _ref("FBaseUnitId", "BD_UNIT", "基本单位"),
            *_ORGS,
            prefix="MAT",
        ),
        _base("BD_UNIT", "FUNITID"),
        _base("ORG_Organizations", "FORGID"),
    )
}
"""Every form by lower-cased FormId."""

ORG_IDS: dict[str, int] = {"100": 1, "BZ": 100038, "DZ": 100039, "100040": 100040}
"""Internal ids (FORGID) of ``world.ORGS`` by number."""

CUSTOMERS = 40
"""Seeded customers: ``world.sale_order`` uses ``CUST0001``..``CUST0040``."""


def _audited(rid: int, number: str, name: str, modified: datetime, **more: Any) -> Record:
    return {
        "FNumber": number,
        "FName": name,
        "FDocumentStatus": "C",
        "FForbidStatus": "A",
        "FCreateDate": modified - timedelta(days=1),
        "FModifyDate": modified,
        "FApproveDate": modified,
        **more,
    } | {"_pk": rid}


def _base_seeds() -> dict[str, list[Record]]:
    orgs = list(world.ORGS.items())
    groups = list(world.CUSTOMER_GROUPS.items())
    units = {unit: 200 + i for i, unit in enumerate(world.UNITS)}
    mats = world.materials()
    seeds: dict[str, list[Record]] = {
        "ORG_Organizations": [
            _audited(ORG_IDS[num], num, name, world.spread(i, len(orgs)))
            for i, (num, name) in enumerate(orgs)
        ],
        "BD_CustomerGroup": [
            _audited(100101 + i, num, name, world.spread(i, len(groups)))
            for i, (num, name) in enumerate(groups)
        ],
        "BD_UNIT": [
            _audited(uid, unit, unit, world.spread(i, len(units)))
            for i, (unit, uid) in enumerate(units.items())
        ],
        "BD_MATERIAL": [
            _audited(
                m.item_id,
                m.number,
                m.name,
                world.spread(m.index, len(mats)),
                FSpecification="",
                FBaseUnitId=units[m.unit],
                FCreateOrgId=1,
                FUseOrgId=1,
            )
            for m in mats
        ],
        "BD_Customer": [],
    }
    use_orgs = (ORG_IDS["BZ"], ORG_IDS["DZ"], ORG_IDS["100"])
    for i in range(CUSTOMERS):
        name = f"测试客户{i + 1:04d}"
        seeds["BD_Customer"].append(
            _audited(
                120001 + i,
                f"CUST{i + 1:04d}",
                name,
                world.spread(i, CUSTOMERS),
                FShortName=name,
                FGroup=100101 + i % len(groups),
                FCreateOrgId=ORG_IDS["100"],
                FUseOrgId=use_orgs[i % len(use_orgs)],
                FINVOICETITLE=name,
                FTAXREGISTERCODE=f"91310000MA{i + 1:08d}",
                FDescription="",
            )
        )
    return seeds


def _sale_order(order: world.SaleOrder, size: int, entry_ids: Iterator[int]) -> Record:
    modified = world.spread(order.index, size)
    closed = order.index % 5 == 0
    cancelled = not closed and order.index % 7 == 3
    status = "A" if cancelled else "B" if order.index % 9 == 4 else "C"
    lines = 1 + order.index % 3
    entries = []
    share = round(order.amount / lines, 2)
    for k in range(lines):
        mat = world.material((order.index * 3 + k) % 60)
        qty = float(1 + (order.index + k) % 10)
        amount = share if k < lines - 1 else round(order.amount - share * (lines - 1), 2)
        entries.append(
            {
                "FEntryID": next(entry_ids),
                "FMaterialId": mat.item_id,
                "FUnitID": 200 + world.UNITS.index(mat.unit),
                "FQty": qty,
                "FTaxPrice": round(amount / qty, 6),
                "FAllAmount": amount,
                "FEntryNote": "",
            }
        )
    created = modified - timedelta(days=2)
    return {
        "_pk": order.fid,
        "FBillNo": order.bill_no,
        "FDate": datetime(created.year, created.month, created.day),
        "FSaleOrgId": ORG_IDS["100"],
        "FCustId": 120000 + int(order.customer[4:]),
        "F_Cash_Collection_Id": order.collection_id,
        "FBillAllAmount": order.amount,
        "FNote": "",
        "FDocumentStatus": status,
        "FCloseStatus": "B" if closed else "A",
        "FCancelStatus": "B" if cancelled else "A",
        "FCloseDate": modified if closed else None,
        "FCancelDate": modified if cancelled else None,
        "FCreateDate": created,
        "FModifyDate": modified,
        "FApproveDate": modified if status == "C" else None,
        "FSaleOrderEntry": entries,
        "F_PBLH_Entity": [],
    }


def seed_records(form_id: str, size: int, entry_ids: Iterator[int]) -> list[Record]:
    """The seeded records of ``form_id`` (canonical), each with its id under ``"_pk"``.

    ``entry_ids`` hands out ``FEntryID`` values.
    """
    if form_id == "SAL_SaleOrder":
        return [_sale_order(order, size, entry_ids) for order in world.sale_orders(size)]
    return _base_seeds()[form_id]
