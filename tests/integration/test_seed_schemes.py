"""The five seed schemes of ``examples/`` end to end against the in-process sandbox.

Each test runs the example's scheme files unchanged (connections from the sandbox's demo
credentials) and asserts the exact end state of the target: MariaDB rows for 000 and 001,
KIS bills for 002, K3Cloud customers for 003, receipts inside existing K3Cloud orders for 004.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from ferry.engine.retry import RetryPolicy
from ferry.sandbox import Faults, Sandbox, world
from ferry.sandbox.seeds import HISTORY_START, SEEDS, Seed, examples_dir, run_seeds, sandbox_env
from ferry.store import open_store

SIZE = 60
SEED = {seed.key: seed for seed in SEEDS}
FAST = RetryPolicy(attempts=8, base_delay=0.001, max_delay=0.01)


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox.default(size=SIZE)


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with open_store(f"sqlite:///{tmp_path / 'ferry.db'}") as store:
        yield store


def run(
    store: Any, sandbox: Sandbox, *keys: str, connections: Any = None, seeds: Any = None
) -> dict[str, Any]:
    chosen = seeds or tuple(SEED[k] for k in keys)
    reports = run_seeds(
        store,
        sandbox=sandbox,
        env=sandbox_env(sandbox),
        connections=connections or (lambda seed: None),
        seeds=chosen,
        retry=FAST,
    )
    return {seed.key: report for seed, report in reports}


def database(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?")[0]


def mysql_connections(seed: Seed, url: str) -> dict[str, Any]:
    import yaml

    raw = yaml.safe_load((examples_dir() / seed.folder / "connections.yaml").read_text(encoding="utf-8"))
    return {
        name: ({"type": "sql", "url": url} if spec["type"] == "sql" else spec) for name, spec in raw.items()
    }


def test_seed_000_closes_exactly_the_closed_or_cancelled_orders_in_mariadb(
    store: Any, sandbox: Sandbox, mariadb_url: str, mariadb_raw: Any, tmp_path: Path
) -> None:
    # The seed's SQL names its schema (ty_mes.mt_so_head); tests use a unique database, so the
    # copied scheme names that database instead. Everything else is the example, unchanged.
    db = database(mariadb_url)
    folder = tmp_path / SEED["000"].folder
    shutil.copytree(examples_dir() / SEED["000"].folder, folder)
    target = folder / "target.json"
    target.write_text(target.read_text(encoding="utf-8").replace("ty_mes.", f"{db}."), encoding="utf-8")
    con = mariadb_raw(db)
    con.cursor().execute((folder / "schema.sql").read_text(encoding="utf-8"))
    orders = world.sale_orders(SIZE)
    con.cursor().executemany("INSERT INTO mt_so_head VALUES (%s, 'OPEN')", [(o.bill_no,) for o in orders])

    seed = Seed("000", str(folder))
    reports = run(
        store, sandbox, seeds=(seed,), connections=lambda s: mysql_connections(SEED["000"], mariadb_url)
    )

    bills = sandbox["k3cloud"].bills("SAL_SaleOrder")  # type: ignore[attr-defined]
    start = HISTORY_START
    closed = {
        b["FBillNo"]
        for b in bills
        if (b["FCloseStatus"] == "B" or b["FCancelStatus"] == "B")
        and ((b["FCloseDate"] or start.min) >= start or (b["FCancelDate"] or start.min) >= start)
    }
    cur = con.cursor()
    cur.execute("SELECT SO_NUMBER, SO_STATUS FROM mt_so_head")
    status = dict(cur.fetchall())
    assert closed and len(closed) < SIZE
    assert {k for k, v in status.items() if v == "CLOSED"} == closed
    assert len(status) == SIZE
    report = reports["000"]
    assert report.status == "succeeded", report.error
    assert report.counts.delivered == len(closed) and report.counts.failed == 0


def test_seed_001_writes_one_row_per_aftersale_item_into_mariadb(
    store: Any, sandbox: Sandbox, mariadb_url: str, mariadb_raw: Any
) -> None:
    con = mariadb_raw(database(mariadb_url))
    con.cursor().execute((examples_dir() / SEED["001"].folder / "schema.sql").read_text(encoding="utf-8"))

    reports = run(store, sandbox, "001", connections=lambda s: mysql_connections(s, mariadb_url))

    expected = {
        (str(o["id"]), item["outerId"]): (o["tid"], int(item["receivableCount"]))
        for o in sandbox["kuaimai"].aftersales.all()  # type: ignore[attr-defined]
        for item in o["items"]
    }
    cur = con.cursor()
    cur.execute("SELECT id, outer_id, tid, qty FROM aftersale_list_query")
    rows = {(r[0], r[1]): (r[2], r[3]) for r in cur.fetchall()}
    assert rows == expected
    report = reports["001"]
    assert report.status == "succeeded", report.error
    assert report.counts.fetched == SIZE and report.counts.delivered == len(expected)


def test_seed_002_creates_kis_receipts_with_entries_and_looked_up_item_ids(
    store: Any, sandbox: Sandbox
) -> None:
    reports = run(store, sandbox, "kis-material", "002")

    wanted = [
        r
        for r in sandbox["jushuitan"].inout.all()  # type: ignore[attr-defined]
        if r["status"] == "Confirmed" and r["type"] == "其它退货"
    ]
    by_sku = {m.sku_id: m for m in world.materials(200)}
    bills = {b["FBillNo"]: b for b in sandbox["kis"].bills()}  # type: ignore[attr-defined]
    assert wanted and set(bills) == {str(r["io_id"]) for r in wanted}
    for record in wanted:
        entries = bills[str(record["io_id"])]["Entry"]
        assert [int(e["FItemID"]) for e in entries] == [by_sku[i["sku_id"]].item_id for i in record["items"]]
        assert [int(e["FUnitID"]) for e in entries] == [by_sku[i["sku_id"]].unit_id for i in record["items"]]
    assert reports["kis-material"].status == "succeeded"
    assert reports["002"].status == "succeeded", reports["002"].error
    assert reports["002"].counts.delivered == len(wanted)


def test_seed_003_creates_customers_only_for_titled_stockouts_with_cased_use_org(
    store: Any, sandbox: Sandbox
) -> None:
    seeded = {c["FNumber"] for c in sandbox["k3cloud"].bills("BD_Customer")}  # type: ignore[attr-defined]
    reports = run(store, sandbox, "003")

    shops = {"002", "003", "004", "0071"}
    statuses = {95, 105, 110, 113}
    rows = [
        r
        for r in sandbox["wangdiantong"].dataset.all()  # type: ignore[attr-defined]
        if r["shop_no"] in shops and int(r["status"]) in statuses
    ]
    titled = [r for r in rows if r["invoice_title"]]
    created = [c for c in sandbox["k3cloud"].bills("BD_Customer") if c["FNumber"] not in seeded]  # type: ignore[attr-defined]
    titles = {r["invoice_title"] for r in titled}
    assert titled and len(titled) < len(rows) and len(titles) < len(titled), "the data must repeat titles"
    # MatchField FName: one customer per invoice title, found again instead of created twice
    assert sorted(c["FName"] for c in created) == sorted(titles)
    for customer in created:
        assert customer["FGroup"] == "B11"
        assert customer["FCreateOrgId"] == "100"
        assert customer["FUseOrgId"] == "BZ"  # the CASE expression: shops 002/003/004/0071 are BZ
        assert customer["FDocumentStatus"] == "C"  # IsAutoSubmitAndAudit
        assert sandbox["k3cloud"].allocations("BD_Customer", customer["FCUSTID"]) == ["100040"]  # type: ignore[attr-defined]
    report = reports["003"]
    assert report.status == "succeeded", report.error
    assert report.counts.filtered_out == len(rows) - len(titled)
    assert report.counts.delivered == len(titled)


def test_seed_004_writes_receipts_into_the_existing_orders_found_by_lookup(
    store: Any, sandbox: Sandbox
) -> None:
    reports = run(store, sandbox, "k3cloud-saleorders", "004")

    orders = {o.collection_id: o for o in world.sale_orders(SIZE)}
    receipts = sandbox["okki"].receipts.all()  # type: ignore[attr-defined]
    linked = [r for r in receipts if str(r["order_id"]) in orders]
    unlinked = [r for r in receipts if str(r["order_id"]) not in orders]
    bills = {b["FID"]: b for b in sandbox["k3cloud"].bills("SAL_SaleOrder")}  # type: ignore[attr-defined]
    assert len(bills) == SIZE, "receipts must land in existing orders, never create new ones"
    for receipt in linked:
        order = orders[str(receipt["order_id"])]
        lines = bills[order.fid]["F_PBLH_Entity"]
        assert [line["F_PBLH_CollectionNo"] for line in lines] == [receipt["cash_collection_no"]]
    report = reports["004"]
    assert linked and unlinked
    assert report.counts.delivered == len(linked)
    assert report.counts.failed == len(unlinked)
    failed = store.find_records("004-okki-receipts-to-k3cloud", status="error", limit=100)
    assert {r.record_id for r in failed} == {str(r["cash_collection_id"]) for r in unlinked}
    assert all("FID" in (r.last_error or "") for r in failed)


def test_seeds_survive_faults_with_every_record_delivered_once(store: Any) -> None:
    faults = Faults(
        error_rate=0.15,
        token_expiry_calls=7,
        duplicate_rate=0.3,
        lost_write_rate=0.2,
        seed=5,
        rate_per_second=0,
    )
    sandbox = Sandbox.default(size=SIZE, faults=faults)
    reports = run(store, sandbox, "kis-material", "002", "003")
    assert all(r.status == "succeeded" for r in reports.values()), {k: r.error for k, r in reports.items()}
    assert sum(r.counts.retries for r in reports.values()) > 0
    lost = [
        c
        for sim in (sandbox["kis"], sandbox["k3cloud"])
        for c in sim.calls
        if c.fault == "timeout-after-commit"
    ]
    assert lost, "some writes must have lost their answer"
    bills = sandbox["kis"].bills()  # type: ignore[attr-defined]
    assert len(bills) == len({b["FBillNo"] for b in bills}) == reports["002"].counts.delivered
    names = [c["FName"] for c in sandbox["k3cloud"].bills("BD_Customer")]  # type: ignore[attr-defined]
    assert len(names) == len(set(names)), "a retried customer save must not create a second customer"


def test_seeds_run_over_real_http_against_ferry_sandbox_server(store: Any) -> None:
    from ferry.sandbox.server import SandboxServer

    sandbox = Sandbox.default(size=SIZE, only=["jushuitan", "kis"])
    with SandboxServer(sandbox) as server:
        reports = dict(
            (seed.key, report)
            for seed, report in run_seeds(
                store,
                sandbox=sandbox,
                env=sandbox_env(sandbox, server.urls()),
                seeds=(SEED["kis-material"], SEED["002"]),
                retry=FAST,
                in_process=False,
            )
        )
    assert reports["002"].status == "succeeded", reports["002"].error
    assert reports["002"].counts.delivered == len(sandbox["kis"].bills()) > 0  # type: ignore[attr-defined]


def test_malformed_target_answers_fail_the_records_keeping_the_raw_answer(store: Any) -> None:
    from ferry.sandbox._faults import FaultDice

    sandbox = Sandbox.default(size=SIZE, only=["jushuitan", "kis"])
    run(store, sandbox, "kis-material")
    broken = Faults(malformed_rate=1.0)
    sandbox["kis"].faults, sandbox["kis"].dice = broken, FaultDice(broken)
    reports = run(store, sandbox, "002")
    report = reports["002"]
    # a target answering garbage every time is down: the run stops (exit 1), nothing is lost
    assert report.status == "failed" and "kingdee_kis connection 'kis'" in (report.error or "")
    assert report.counts.delivered == 0 and report.counts.failed > 0
    failed = store.find_records("002-jushuitan-otherinout-to-kis", status="error", limit=1000)
    pending = store.find_records("002-jushuitan-otherinout-to-kis", status="pending", limit=1000)
    assert len(failed) == report.counts.failed and len(failed) + len(pending) == report.counts.new
    for record in failed:  # the raw answer is kept (quoted, truncated) with the record
        assert "kingdee_kis connection 'kis'" in (record.last_error or "")
        assert "not valid JSON" in record.last_error or "no errcode" in record.last_error  # type: ignore[operator]
        history = store.record_history("002-jushuitan-otherinout-to-kis", record.record_id)
        assert [h["status"] for h in history] == ["error"] and history[0]["error"] == record.last_error


def test_each_window_of_a_run_record_carries_api_total_ledger_and_delivered(
    store: Any, sandbox: Sandbox
) -> None:
    reports = run(store, sandbox, "kis-material", "002")
    run_record = store.get_run(reports["002"].run_id)
    assert run_record is not None
    windows = run_record["windows"]
    assert windows and all({"total", "ledger", "delivered"} <= set(w) for w in windows)
    assert sum(w["ledger"] for w in windows) == reports["002"].counts.new
    assert sum(w["delivered"] for w in windows) == reports["002"].counts.delivered
    assert all(w["total"] == w["ledger"] for w in windows)  # JuShuiTan reports data_count
