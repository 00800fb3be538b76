"""A K3Cloud save retried after a lost answer updates the record it created, never a second one.

Each test runs the adversarial mode (the simulator applies the save, then the client times out)
with the protection on and off: off, the retry duplicates the record; on, it does not.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_k3cloud_connector import connect, make_sim

from ferry.connectors.base import Delivery
from ferry.errors import RetriableError
from ferry.sandbox import Faults
from ferry.sandbox._faults import FaultDice
from ferry.sandbox.k3cloud import K3CloudSimulator

LOSE_ANSWER = Faults(lost_write_rate=1.0)


def customers(name: str, number: str = "", options: dict[str, Any] | None = None) -> Delivery:
    model = {
        "FNumber": number,
        "FName": name,
        "FCreateOrgId": {"FNumber": "100"},
        "FUseOrgId": {"FNumber": "BZ"},
    }
    return Delivery(
        api="BatchSave",
        method="POST",
        body=[model],
        record_ids=["r1"],
        options={"FormId": "BD_Customer", "IsAutoSubmitAndAudit": "true", **(options or {})},
        rows=[model],
    )


def save_twice_losing_the_first_answer(sim: K3CloudSimulator, delivery: Delivery) -> Any:
    """Save once with the answer lost after the commit, then retry as the engine would."""
    connector, _ = connect(sim)
    connector.session.login()  # log in while the network is healthy
    sim.faults, sim.dice = LOSE_ANSWER, FaultDice(LOSE_ANSWER)
    with pytest.raises(RetriableError, match="timed out"):
        connector.write(delivery)
    sim.faults, sim.dice = Faults(), FaultDice(Faults())
    outcomes = connector.write(delivery)
    connector.close()
    return outcomes


def named(sim: K3CloudSimulator, name: str) -> list[dict[str, Any]]:
    return [c for c in sim.bills("BD_Customer") if c["FName"] == name]


def unprotected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ferry.connectors.k3cloud.match_existing", lambda *args: 0)


@pytest.mark.parametrize("protected", [True, False])
def test_a_retried_save_by_number_updates_the_same_record(
    protected: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not protected:
        unprotected(monkeypatch)
    sim = make_sim()
    outcomes = save_twice_losing_the_first_answer(sim, customers("重试客户", number="RETRY001"))
    assert len([c for c in sim.bills("BD_Customer") if c["FNumber"] == "RETRY001"]) == 1
    saves = [c for c in sim.calls if c.api == "BatchSave"]
    assert [c.fault for c in saves] == ["timeout-after-commit", None]
    if protected:
        assert outcomes[0].ok, outcomes[0].error
    else:  # K3Cloud refuses the second save of the number: the record fails although it is there
        assert not outcomes[0].ok and "RETRY001" in (outcomes[0].error or "")


@pytest.mark.parametrize("protected", [True, False])
def test_an_auto_numbered_record_is_matched_by_match_field(
    protected: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not protected:
        unprotected(monkeypatch)
    sim = make_sim()
    outcomes = save_twice_losing_the_first_answer(
        sim, customers("自动编号客户", options={"MatchField": "FName"})
    )
    assert outcomes[0].ok, outcomes[0].error
    assert len(named(sim, "自动编号客户")) == (1 if protected else 2)


def test_match_field_is_ferrys_option_and_never_sent_to_k3cloud() -> None:
    sim = make_sim()
    connector, recorder = connect(sim)
    assert connector.write(customers("选项客户", options={"MatchField": "FName"}))[0].ok
    (body,) = recorder.bodies("BatchSave")
    assert "MatchField" not in body["data"]
    (query,) = recorder.bodies("ExecuteBillQuery")
    assert query["data"]["FilterString"] == "FName in ('选项客户')"
    connector.close()


def receipt_line(fid: int, number: str, options: dict[str, Any]) -> Delivery:
    model = {"FID": fid, "F_PBLH_Entity": [{"F_PBLH_CollectionNo": number, "F_PBLH_Decimal": "88.00"}]}
    return Delivery(
        api="batchSave",
        method="POST",
        body=[model],
        record_ids=["receipt-1"],
        options={"FormId": "SAL_SaleOrder", "IsDeleteEntry": "false", **options},
        rows=[model],
    )


@pytest.mark.parametrize("protected", [True, False])
def test_a_retried_entry_append_updates_the_line_it_added(protected: bool) -> None:
    sim = make_sim()
    fid = sim.bills("SAL_SaleOrder")[0]["FID"]
    options = {"MatchEntry": "F_PBLH_Entity.F_PBLH_CollectionNo"} if protected else {}
    outcomes = save_twice_losing_the_first_answer(sim, receipt_line(fid, "HK0001", options))
    assert outcomes[0].ok, outcomes[0].error
    lines = [line["F_PBLH_CollectionNo"] for line in sim.bill("SAL_SaleOrder", fid)["F_PBLH_Entity"]]
    assert lines == (["HK0001"] if protected else ["HK0001", "HK0001"])
