"""A vendor write is delivered only when the answer acknowledges the record: K3Cloud's
``SuccessEntitys`` by ``DIndex``, a KIS bill id, the id a generic HTTP API promises."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import orjson
import pytest

from ferry.connectors.base import Delivery
from ferry.connectors.http import HttpConnector
from ferry.connectors.k3cloud import K3CloudConnection, K3CloudConnector
from ferry.connectors.kis import KisConnection, KisConnector
from ferry.connectors.registry import build_target, parse_connection
from ferry.errors import ConfigError
from ferry.sandbox import CHINA, SandboxTransport
from ferry.sandbox.k3cloud import K3CloudSimulator
from ferry.sandbox.kis import KisSimulator
from ferry.sandbox.world import material

Edit = Callable[[str, Any], Any]
"""``edit(path, answer) -> answer``: what a misbehaving vendor changes in its JSON answer."""


class EditedAnswers(httpx.BaseTransport):
    """A simulator whose JSON answers pass through ``edit`` (the vendor's bug, not Ferry's)."""

    def __init__(self, simulator: Any, edit: Edit) -> None:
        self.inner = SandboxTransport({simulator.name: simulator})
        self.edit = edit

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        try:
            answer = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            return response
        edited = self.edit(request.url.path, answer)
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        return httpx.Response(response.status_code, headers=headers, content=orjson.dumps(edited))


# -- K3Cloud ----------------------------------------------------------------------------------

T0 = datetime(2024, 7, 1, tzinfo=CHINA).timestamp()


def k3cloud(sim: K3CloudSimulator, edit: Edit) -> K3CloudConnector:
    spec = K3CloudConnection(
        name="erp",
        base_url=f"{sim.base_url}/k3cloud",
        acct_id=sim.ACCT_ID,
        username=sim.USERNAME,
        app_id=sim.APP_ID,
        app_secret=sim.APP_SECRET,
    )
    return K3CloudConnector(spec, transport=EditedAnswers(sim, edit), clock=lambda: T0)


def customers(*names: str) -> list[dict[str, Any]]:
    return [
        {"FName": name, "FCreateOrgId": {"FNumber": "100"}, "FUseOrgId": {"FNumber": "100"}} for name in names
    ]


def status_of(answer: Any) -> dict[str, Any]:
    return answer["Result"]["ResponseStatus"]


def drop_success(index: int) -> Edit:
    """Leave Model ``index`` out of ``SuccessEntitys``; ``IsSuccess`` stays true."""

    def edit(path: str, answer: Any) -> Any:
        if path.endswith("Save.common.kdsvc"):
            status = status_of(answer)
            status["SuccessEntitys"] = [e for e in status["SuccessEntitys"] if e["DIndex"] != index]
        return answer

    return edit


def test_a_batch_save_answer_without_a_models_success_entity_fails_that_record_quoting_it() -> None:
    sim = K3CloudSimulator(size=4, clock=lambda: T0)
    connector = k3cloud(sim, drop_success(1))
    delivery = Delivery(
        api="batchSave",
        method="POST",
        body=customers("甲", "乙", "丙"),
        record_ids=["a", "b", "c"],
        options={"FormId": "BD_Customer", "Operation": "BatchSave"},
    )

    outcomes = {o.record_id: o for o in connector.write(delivery)}

    assert outcomes["a"].ok and outcomes["c"].ok
    missing = outcomes["b"]
    assert not missing.ok
    assert missing.error is not None
    assert missing.error.startswith(
        "MsgCode 0: the BatchSave answer does not acknowledge Model[1] "
        "(no SuccessEntitys entry with DIndex 1, IsSuccess True): "
    )
    assert '"IsSuccess":true' in missing.error and '"DIndex":0' in missing.error  # the answer, quoted
    assert missing.response == {"MsgCode": 0, "IsSuccess": True}


def test_a_save_answered_with_a_top_level_id_but_no_success_entity_is_not_delivered() -> None:
    sim = K3CloudSimulator(size=4, clock=lambda: T0)
    [outcome] = k3cloud(sim, drop_success(0)).write(
        Delivery(
            api="Save",
            method="POST",
            body=customers("丁")[0],
            record_ids=["d"],
            options={"FormId": "BD_Customer"},
        )
    )
    assert not outcome.ok
    assert outcome.error is not None and "does not acknowledge Model[0]" in outcome.error
    assert '"SuccessEntitys":[]' in outcome.error


def test_a_one_model_save_accepts_a_success_entity_without_dindex() -> None:
    def without_dindex(path: str, answer: Any) -> Any:
        if path.endswith("Save.common.kdsvc"):
            for entry in status_of(answer)["SuccessEntitys"]:
                del entry["DIndex"]
        return answer

    sim = K3CloudSimulator(size=4, clock=lambda: T0)
    [outcome] = k3cloud(sim, without_dindex).write(
        Delivery(
            api="Save",
            method="POST",
            body=customers("戊")[0],
            record_ids=["e"],
            options={"FormId": "BD_Customer"},
        )
    )
    assert outcome.ok and outcome.response["Id"] == sim.bills("BD_Customer")[-1]["FCUSTID"]


# -- KIS --------------------------------------------------------------------------------------

CREATE = "/koas/app007104/api/miscellaneousreceipt/create"


def kis(sim: KisSimulator, edit: Edit) -> KisConnector:
    spec = KisConnection(
        name="kis",
        base_url=sim.base_url,
        client_id=sim.CLIENT_ID,
        client_secret=sim.CLIENT_SECRET,
        auth_code=sim.AUTH_CODE,
        acct_number=sim.ACCT_NUMBER,
    )
    return KisConnector(spec, transport=EditedAnswers(sim, edit))


def receipt(number: str) -> dict[str, Any]:
    entry = {
        "FItemID": str(material(0).item_id),
        "FUnitID": "",
        "FQty": 1.0,
        "FAuxPrice": 1.0,
        "Famount": 1.0,
    }
    return {"FBillNo": number, "Fdate": "2024-05-03T10:00:00", "FTranType": 10, "FROB": 1, "Entry": [entry]}


def test_a_kis_create_answered_without_a_bill_id_is_an_error_quoting_the_answer() -> None:
    def no_fid(path: str, answer: Any) -> Any:
        if path.endswith("/create") and isinstance(answer.get("data"), dict):
            answer["data"].pop("FID")
        return answer

    sim = KisSimulator(size=5)
    [outcome] = kis(sim, no_fid).write(
        Delivery(api=CREATE, method="POST", body=receipt("QIN7"), record_ids=["q7"])
    )

    assert not outcome.ok
    assert outcome.error == (
        f"kingdee_kis connection 'kis': {CREATE}: errcode 0 but the answer has no bill id (data.FID): "
        """'{"errcode":0,"description":"成功","data":{"FBillNo":"QIN7"}}'"""
    )


def test_a_kis_create_with_its_bill_id_is_delivered() -> None:
    sim = KisSimulator(size=5)
    [outcome] = kis(sim, lambda path, answer: answer).write(
        Delivery(api=CREATE, method="POST", body=receipt("QIN8"), record_ids=["q8"])
    )
    assert outcome.ok and outcome.response == {"FID": sim.bills()[0]["FID"], "FBillNo": "QIN8"}


# -- generic http -----------------------------------------------------------------------------


def http(answer: Any, **spec: Any) -> HttpConnector:
    data = {"type": "http", "name": "shop", "base_url": "https://api.example.test/v1", **spec}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=answer))
    return build_target(parse_connection(data, path="test"), transport=transport)  # type: ignore[return-value]


def write(target: HttpConnector, body: Any, ids: list[str]) -> list[tuple[str, bool, str | None]]:
    outcomes = target.write(Delivery(api="/bills", method="POST", body=body, record_ids=ids))
    return [(o.record_id, o.ok, o.error) for o in outcomes]


def test_http_without_write_ack_takes_a_2xx_answer_as_acknowledging_every_record() -> None:
    assert write(http({"code": 500}), {"no": 1}, ["a"]) == [("a", True, None)]


def test_http_write_ack_code_not_ok_fails_every_record_of_the_call() -> None:
    target = http({"code": 500, "message": "busy"}, write_ack={"code_path": "code", "ok_codes": [0]})
    error = (
        "http connection 'shop': POST /bills: HTTP 200: the answer has code 500 at 'code', not one of 0: "
        """'{"code":500,"message":"busy"}'"""
    )
    assert write(target, [{"no": 1}, {"no": 2}], ["a", "b"]) == [("a", False, error), ("b", False, error)]


def test_http_write_ack_id_path_missing_is_an_error_quoting_the_answer() -> None:
    target = http({"code": 0, "data": {}}, write_ack={"code_path": "code", "id_path": "data.id"})
    [(rid, ok, error)] = write(target, {"no": 1}, ["a"])
    assert rid == "a" and not ok
    assert error == (
        "http connection 'shop': POST /bills: HTTP 200: the answer does not acknowledge the record: "
        """no id at 'data.id': '{"code":0,"data":{}}'"""
    )
    assert write(http({"data": {"id": 77}}, write_ack={"id_path": "data.id"}), {"no": 1}, ["a"]) == [
        ("a", True, None)
    ]


def test_http_write_ack_gives_each_record_of_a_list_body_its_own_id() -> None:
    answer = {"data": {"list": [{"id": 1}, {"id": None}, {"id": 3}]}}
    target = http(answer, write_ack={"id_path": "data.list.*.id"})
    results = write(target, [{"no": 1}, {"no": 2}, {"no": 3}], ["a", "b", "c"])
    assert [(rid, ok) for rid, ok, _ in results] == [("a", True), ("b", False), ("c", True)]
    assert "no id at 'data.list.*.id' for item 1" in (results[1][2] or "")


def test_http_write_ack_with_fewer_ids_than_records_acknowledges_none() -> None:
    target = http({"ids": [1]}, write_ack={"id_path": "ids"})
    assert [ok for _, ok, _ in write(target, [{"no": 1}, {"no": 2}], ["a", "b"])] == [False, False]


def test_http_write_ack_allows_one_star_only() -> None:
    with pytest.raises(ConfigError, match=r"id_path may hold one \*"):
        http({}, write_ack={"id_path": "a.*.b.*.id"})
