"""The chaos scenarios: one per vendor source, each with what the source holds and what the
target ended up with, so the test can compare them key by key."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pymysql
from harness import MARIADB, query

from ferry.sandbox import Sandbox, world

STORM = dict(
    error_rate=0.1, token_expiry_calls=40, drift_rate=0.01, late_rate=0.01, late_after_calls=40,
    duplicate_rate=0.05, lost_write_rate=0.05, rate_per_second=40, rate_per_minute=0, clock_skew=-150, seed=11,
)  # fmt: skip
"""The source's storm: 10% 5xx/timeouts, throttling (Ferry is told 50/s), token expiry every 40
calls, drift and late arrivals, duplicates across pages, and a vendor clock 150 s behind Ferry's
(more than the 2-minute lookback: the cursor must follow the vendor's clock)."""
TARGET_STORM = dict(
    error_rate=0.02, token_expiry_calls=60, lost_write_rate=0.03, rate_per_second=0, rate_per_minute=0, seed=12,
)  # fmt: skip
"""A vendor that is the target: fewer errors (its writes retry on the record ladder, which the
test keeps at 1 s), but answers lost after the write was applied, the case idempotent saves are
for."""

Actual = Callable[[Sandbox, str | None, str], list[tuple[Any, Any]]]
"""``actual(sandbox, target database, store URL)``."""


@dataclass
class Scenario:
    name: str
    seed: str
    simulators: list[str]
    remedy: dict[str, str]
    """takeOverRequest field -> value: the omissionRemedy sweep reaches 3 hours back."""
    expected: Callable[[Sandbox], dict[Any, Any]]
    actual: Actual
    """``(key, content)`` per target row (a key seen twice is a duplicate)."""
    connection: str = ""
    connection_extra: dict[str, Any] = field(default_factory=dict)
    mariadb: bool = False
    """The target is MariaDB: its connections are killed server-side while Ferry delivers."""
    store_on_mariadb: bool = False
    """Ferry's store (and so the ledger target) is on MariaDB, and its connections are killed."""
    step: str = "30m"
    targets: list[str] = field(default_factory=list)
    """Simulators that are written to: they get ``TARGET_STORM`` instead of ``STORM``."""
    prelude: list[str] = field(default_factory=list)
    """Helper schemes (seed keys) run once before the storm: the lookups the scheme needs."""
    explained: Callable[[Sandbox], set[str]] = lambda sandbox: set()
    """Record ids that must fail, for a reason the data gives (not counted as unexplained dead)."""
    carried: Callable[[Sandbox], int] | None = None
    """How many source records the scheme carries (default: the expected target rows)."""
    sizes: dict[str, int] = field(default_factory=dict)
    """Records per simulator where not the default 10,000 (a source whose scheme selects only part
    of its records holds more, so the scheme still carries 10,000)."""
    settings: dict[str, Any] = field(default_factory=dict)
    """Scheme settings replaced in the copied scheme (e.g. a larger page)."""

    def faults(self, simulator: str) -> dict[str, Any]:
        return TARGET_STORM if simulator in self.targets else STORM


# -- 001: KuaiMai after-sales -> MariaDB ------------------------------------------------------


def kuaimai_expected(sandbox: Sandbox) -> dict[Any, Any]:
    return {
        (str(order["id"]), item["outerId"]): (
            order["tid"],
            int(order["status"]),
            order["modified"],
            item["receivableCount"],
        )
        for order in sandbox["kuaimai"].aftersales.all()  # type: ignore[attr-defined]
        for item in order["items"]
    }


def kuaimai_actual(sandbox: Sandbox, database: str | None, store_url: str) -> list[tuple[Any, Any]]:
    conn = pymysql.connect(**MARIADB, database=database)
    try:
        cur = conn.cursor()
        cur.execute("SELECT id, outer_id, tid, status, modified, qty FROM aftersale_list_query")
        return [((r[0], r[1]), tuple(r[2:])) for r in cur.fetchall()]
    finally:
        conn.close()


# -- reference data kept in the ledger (KIS materials, K3Cloud sales orders) -------------------


def ledger_rows(store_url: str, scheme_id: str) -> list[tuple[str, dict[str, Any]]]:
    rows = query(
        store_url,
        "SELECT record_id, content FROM ledger WHERE scheme_id = :s AND status = 'finished'",
        s=scheme_id,
    )
    return [(rid, json.loads(content)) for rid, content in rows]


def kis_expected(sandbox: Sandbox) -> dict[Any, Any]:
    return {str(row["FItemID"]): row["F_103"] for row in sandbox["kis"].material_data.all()}  # type: ignore[attr-defined]


def kis_actual(sandbox: Sandbox, database: str | None, store_url: str) -> list[tuple[Any, Any]]:
    return [(rid, content["F_103"]) for rid, content in ledger_rows(store_url, "kis-material")]


SALE_ORDERS = "caf5709b-629b-3414-8bb2-97c82ce8c366"


def k3_orders_expected(sandbox: Sandbox) -> dict[Any, Any]:
    return {
        str(b["FID"]): (b["FBillNo"], b["F_Cash_Collection_Id"])
        for b in sandbox["k3cloud"].bills("SAL_SaleOrder")  # type: ignore[attr-defined]
    }


def k3_orders_actual(sandbox: Sandbox, database: str | None, store_url: str) -> list[tuple[Any, Any]]:
    return [
        (rid, (content["FBillNo"], content["F_Cash_Collection_Id"]))
        for rid, content in ledger_rows(store_url, SALE_ORDERS)
    ]


# -- 002: JuShuiTan other in/out -> KIS 其他入库单 ----------------------------------------------


def jst_wanted(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [
        r
        for r in sandbox["jushuitan"].inout.all()  # type: ignore[attr-defined]
        if r["status"] == "Confirmed" and r["type"] == "其它退货"
    ]


def jst_expected(sandbox: Sandbox) -> dict[Any, Any]:
    by_sku = {m.sku_id: m for m in world.materials(sandbox["kis"].size)}
    return {
        str(r["io_id"]): tuple((by_sku[i["sku_id"]].item_id, by_sku[i["sku_id"]].unit_id) for i in r["items"])
        for r in jst_wanted(sandbox)
    }


def kis_bills_actual(sandbox: Sandbox, database: str | None, store_url: str) -> list[tuple[Any, Any]]:
    return [
        (str(b["FBillNo"]), tuple((int(e["FItemID"]), int(e["FUnitID"])) for e in b["Entry"]))
        for b in sandbox["kis"].bills()  # type: ignore[attr-defined]
    ]


# -- 003: WangDianTong stock-outs -> K3Cloud customers ------------------------------------------

SHOPS = {"002", "003", "004", "0071"}
STATUSES = {95, 105, 110, 113}


def wdt_titled(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [
        r
        for r in sandbox["wangdiantong"].dataset.all()  # type: ignore[attr-defined]
        if r["shop_no"] in SHOPS and int(r["status"]) in STATUSES and r["invoice_title"]
    ]


def wdt_expected(sandbox: Sandbox) -> dict[Any, Any]:
    return {r["invoice_title"]: ("B11", "BZ", "C") for r in wdt_titled(sandbox)}


@functools.cache
def seeded_customers() -> frozenset[str]:
    """The customers every K3Cloud simulator starts with (whatever its size)."""
    k3 = Sandbox.default(size=1, only=["k3cloud"])["k3cloud"]
    return frozenset(c["FNumber"] for c in k3.bills("BD_Customer"))  # type: ignore[attr-defined]


def k3_customers_actual(sandbox: Sandbox, database: str | None, store_url: str) -> list[tuple[Any, Any]]:
    seeded = seeded_customers()
    return [
        (c["FName"], (c["FGroup"], c["FUseOrgId"], c["FDocumentStatus"]))
        for c in sandbox["k3cloud"].bills("BD_Customer")  # type: ignore[attr-defined]
        if c["FNumber"] not in seeded
    ]


# -- 004: OKKI receipts -> entries of K3Cloud sales orders --------------------------------------


def okki_split(sandbox: Sandbox) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    orders = {o.collection_id for o in world.sale_orders(sandbox["k3cloud"].size)}
    receipts = sandbox["okki"].receipts.all()  # type: ignore[attr-defined]
    linked = [r for r in receipts if str(r["order_id"]) in orders]
    return linked, [r for r in receipts if str(r["order_id"]) not in orders]


def okki_expected(sandbox: Sandbox) -> dict[Any, Any]:
    orders = {o.collection_id: o for o in world.sale_orders(sandbox["k3cloud"].size)}
    return {r["cash_collection_no"]: orders[str(r["order_id"])].fid for r in okki_split(sandbox)[0]}


def k3_receipt_lines_actual(sandbox: Sandbox, database: str | None, store_url: str) -> list[tuple[Any, Any]]:
    return [
        (line["F_PBLH_CollectionNo"], bill["FID"])
        for bill in sandbox["k3cloud"].bills("SAL_SaleOrder")  # type: ignore[attr-defined]
        for line in bill.get("F_PBLH_Entity") or []
    ]


def okki_unlinked(sandbox: Sandbox) -> set[str]:
    return {str(r["cash_collection_id"]) for r in okki_split(sandbox)[1]}


HOURS_AGO_3 = "{{HOURS_AGO_3|datetime}}"

SCENARIOS = [
    Scenario(
        "kuaimai -> mariadb (001)",
        "001",
        ["kuaimai"],
        {"startModified": HOURS_AGO_3},
        kuaimai_expected,
        kuaimai_actual,
        connection="kuaimai",
        connection_extra={"refresh_token": "${KUAIMAI_REFRESH_TOKEN}", "rate_per_second": 50},
        mariadb=True,
    ),
    Scenario(
        "kis materials -> ledger (002's lookup)",
        "kis-material",
        ["kis"],
        {"ItemsOfPage": "{{PAGINATION_PAGE_SIZE}}"},
        kis_expected,
        kis_actual,
        connection="kis",
        step="3650d",
        store_on_mariadb=True,
    ),
    Scenario(
        "k3cloud sales orders -> ledger (004's lookup)",
        "k3cloud-saleorders",
        ["k3cloud"],
        {"FilterString": "FModifyDate>='" + HOURS_AGO_3 + "' and FModifyDate<'{{CURRENT_TIME|datetime}}'"},
        k3_orders_expected,
        k3_orders_actual,
        connection="k3cloud",
        connection_extra={"rate_per_second": 50},
        store_on_mariadb=True,
    ),
    Scenario(
        "jushuitan -> kis (002)",
        "002",
        ["jushuitan", "kis"],
        {"modified_begin": HOURS_AGO_3},
        jst_expected,
        kis_bills_actual,
        connection="jushuitan",
        connection_extra={"rate_per_second": 50, "rate_per_minute": 100_000},
        targets=["kis"],
        prelude=["kis-material"],
        sizes={"jushuitan": 50_000},  # a fifth are confirmed 其它退货: 10,000 bills
        settings={"page_size": 50},  # JuShuiTan's cap (the seed pages by 30): 1,000 pages a sweep, not 1,667
    ),
    Scenario(
        "wangdiantong -> k3cloud customers (003)",
        "003",
        ["wangdiantong", "k3cloud"],
        {"start_time": HOURS_AGO_3},
        wdt_expected,
        k3_customers_actual,
        connection="wdt_qimen",
        connection_extra={"rate_per_second": 50},
        targets=["k3cloud"],
        carried=lambda sandbox: len(wdt_titled(sandbox)),
        sizes={"wangdiantong": 41_000},  # a quarter are titled stock-outs of the scheme's shops
        settings={
            "page_size": 100
        },  # WangDianTong's cap (the seed pages by 40): 410 pages a sweep, not 1,025
    ),
    Scenario(
        "okki -> k3cloud receipts (004)",
        "004",
        ["okki", "k3cloud"],
        {"start_time": HOURS_AGO_3},
        okki_expected,
        k3_receipt_lines_actual,
        connection="okki",
        connection_extra={"rate_per_second": 50},
        targets=["k3cloud"],
        prelude=["k3cloud-saleorders"],
        explained=okki_unlinked,
        settings={"page_size": 100},  # the seed pages by 10: 10,000 receipts would be 1,000 pages a sweep
        carried=lambda sandbox: len(sandbox["okki"].receipts.all()),  # type: ignore[attr-defined]
    ),
]

__all__ = ["SCENARIOS", "STORM", "TARGET_STORM", "Scenario"]
