"""A write the target does not acknowledge is not delivered: it waits on the retry ladder and is
delivered once the target acknowledges it (seed 000 against MariaDB, seed 003 against K3Cloud)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from test_seed_schemes import FAST, SEED, SIZE, database, mysql_connections

from ferry.engine.runner import run_scheme
from ferry.sandbox import Sandbox, world
from ferry.sandbox.seeds import (
    HISTORY_START,
    RUN_UNTIL,
    Seed,
    examples_dir,
    load_seed,
    run_seeds,
    sandbox_env,
)
from ferry.store import open_store

AFTER_FIRST_RUNG = RUN_UNTIL + timedelta(minutes=1)
"""Past the first rung (20 s) of the default retry ladder: failed records are due again."""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Any]:
    with open_store(f"sqlite:///{tmp_path / 'ferry.db'}") as store:
        yield store


def closed_or_cancelled(sandbox: Sandbox) -> set[str]:
    """The sales orders seed 000 reads: closed or cancelled since the history start."""
    start = HISTORY_START
    return {
        b["FBillNo"]
        for b in sandbox["k3cloud"].bills("SAL_SaleOrder")  # type: ignore[attr-defined]
        if (b["FCloseStatus"] == "B" or b["FCancelStatus"] == "B")
        and ((b["FCloseDate"] or start.min) >= start or (b["FCancelDate"] or start.min) >= start)
    }


def test_seed_000_against_an_empty_mom_table_errors_then_closes_the_rows_once_they_exist(
    store: Any, mariadb_url: str, mariadb_raw: Any, tmp_path: Path
) -> None:
    db = database(mariadb_url)
    folder = tmp_path / SEED["000"].folder
    shutil.copytree(examples_dir() / SEED["000"].folder, folder)
    target = folder / "target.json"
    target.write_text(target.read_text(encoding="utf-8").replace("ty_mes.", f"{db}."), encoding="utf-8")
    con = mariadb_raw(db)
    con.cursor().execute((folder / "schema.sql").read_text(encoding="utf-8"))  # empty, as schema.sql makes it
    sandbox = Sandbox.default(size=SIZE)
    seed = Seed("000", str(folder))

    def run(now: Any) -> Any:
        [(_, report)] = run_seeds(
            store,
            sandbox=sandbox,
            env=sandbox_env(sandbox),
            connections=lambda s: mysql_connections(SEED["000"], mariadb_url),
            seeds=(seed,),
            retry=FAST,
            now=now,
        )
        return report

    closed = closed_or_cancelled(sandbox)
    first = run(RUN_UNTIL)

    assert closed and first.counts.delivered == 0 and first.counts.failed == len(closed)
    failed = store.find_records("000-k3cloud-saleorder-status-to-mysql", status="error", limit=500)
    assert {r.number for r in failed} == closed
    for record in failed:
        assert (record.last_error or "").startswith(
            f"UPDATE {db}.mt_so_head matched no row (SO_NUMBER='{record.number}'); "
        )
        assert record.next_attempt_at is not None
    assert orjson.loads(failed[0].target_response) == {"rowcount": 0, "lastInsertId": None, "matched": 0}

    # the MOM learns the orders later; the retry ladder brings the records back
    orders = [(o.bill_no,) for o in world.sale_orders(SIZE)]
    con.cursor().executemany("INSERT INTO mt_so_head (SO_NUMBER, SO_STATUS) VALUES (%s, 'OPEN')", orders)
    second = run(AFTER_FIRST_RUNG)

    assert second.counts.delivered == len(closed) and second.counts.failed == 0
    assert store.find_records("000-k3cloud-saleorder-status-to-mysql", status="error", limit=500) == []
    finished = store.find_records("000-k3cloud-saleorder-status-to-mysql", status="finished", limit=500)
    assert {r.number for r in finished} == closed
    cur = con.cursor()
    cur.execute("SELECT SO_NUMBER FROM mt_so_head WHERE SO_STATUS = 'CLOSED'")
    assert {row[0] for row in cur.fetchall()} == closed


class FirstSaveAnswerLosesItsEntity(httpx.BaseTransport):
    """K3Cloud answering the first BatchSave with ``IsSuccess`` true but an empty
    ``SuccessEntitys`` (the bill *was* saved); every later answer is the vendor's own."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.edited: list[Any] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if self.edited or not request.url.path.endswith("BatchSave.common.kdsvc"):
            return response
        answer = orjson.loads(response.read())
        answer["Result"]["ResponseStatus"]["SuccessEntitys"] = []
        self.edited.append(answer)
        return httpx.Response(response.status_code, json=answer)


def test_seed_003_a_save_the_answer_does_not_acknowledge_errors_quoting_it_then_is_delivered(
    store: Any,
) -> None:
    sandbox = Sandbox.default(size=SIZE)
    transport = FirstSaveAnswerLosesItsEntity(sandbox.transport())
    scheme = load_seed(SEED["003"], env=sandbox_env(sandbox))

    def run(now: Any) -> Any:
        return run_scheme(scheme, store, now=now.replace(tzinfo=scheme.tz), transport=transport, retry=FAST)

    first = run(RUN_UNTIL)

    assert transport.edited and first.counts.failed == 1
    [failed] = store.find_records(scheme.id, status="error", limit=10)
    error = failed.last_error or ""
    assert error.startswith(
        "MsgCode 0: the BatchSave answer does not acknowledge Model[0] "
        "(no SuccessEntitys entry with DIndex 0, IsSuccess True): "
    )
    assert '"IsSuccess":true' in error and '"SuccessEntitys":[]' in error
    assert store.find_records(scheme.id, record_id=failed.record_id, status="finished", limit=1) == []

    second = run(AFTER_FIRST_RUNG)

    assert second.counts.delivered == 1 and second.counts.failed == 0
    [done] = store.find_records(scheme.id, record_id=failed.record_id, limit=1)
    assert done.status == "finished"
    names = [c["FName"] for c in sandbox["k3cloud"].bills("BD_Customer")]  # type: ignore[attr-defined]
    assert len(names) == len(set(names)), (
        "the retry found the saved customer (MatchField) instead of a second"
    )
