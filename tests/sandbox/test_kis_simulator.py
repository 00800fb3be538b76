"""The KIS 云 simulator speaks the koas gateway protocol of docs/vendor-protocols.md §2, checked by raw calls."""

from __future__ import annotations

import hashlib
import uuid

import httpx
import pytest

from ferry.sandbox import Faults, SandboxTransport
from ferry.sandbox.kis import BILLS, CREATE, GATEWAY, MATERIALS, TOKEN, KisSimulator
from ferry.sandbox.world import material


class Clock:
    def __init__(self) -> None:
        self.now = 1_717_200_000.0

    def __call__(self) -> float:
        return self.now


class Caller:
    """A hand-written KIS client: token, gateway, signed and routed calls."""

    def __init__(self, sim: KisSimulator) -> None:
        self.sim = sim
        self.http = httpx.Client(transport=SandboxTransport({sim.name: sim}), base_url=sim.base_url)
        self.session: dict = {}
        self.route: dict = {}

    def token(self, client_id=KisSimulator.CLIENT_ID, secret=KisSimulator.CLIENT_SECRET, code=None) -> dict:
        params = {"client_id": client_id, "client_secret": secret}
        body = {"code": code or KisSimulator.AUTH_CODE}
        answer = self.http.post(TOKEN, params=params, json=body).json()
        if answer["errcode"] == 0:
            self.session = answer["data"]
        return answer

    def headers(self, *, secret: str | None = None, routed: bool = True) -> dict[str, str]:
        state, trace, stamp = "state-1", str(uuid.uuid4()), str(int(self.sim.clock()))
        text = state + self.session["session_id"] + trace + (secret or self.session["session_secret"]) + stamp
        headers = {
            "Kis-State": state,
            "Kis-Timestamp": stamp,
            "Kis-Traceid": trace,
            "Kis-Ver": "1.0",
            "KIS-Signature": hashlib.sha256(text.encode()).hexdigest(),
        }
        if routed and self.route:
            headers["Kis-Authdata"] = self.route["auth_data"]
            headers["X-Gw-Router-Addr"] = self.route["gw_router_addr"]
        return headers

    def gateway(self, acct: str = KisSimulator.ACCT_NUMBER, **header_options) -> dict:
        body = {"session_id": self.session["session_id"], "pid": "", "acctnumber": acct, "icrmid": ""}
        answer = self.http.post(
            GATEWAY,
            params={"access_token": self.session["access_token"]},
            json=body,
            headers=self.headers(routed=False, **header_options),
        ).json()
        if answer["errcode"] == 0:
            self.route = answer["data"]
        return answer

    def login(self) -> Caller:
        assert self.token()["errcode"] == 0
        assert self.gateway()["errcode"] == 0
        return self

    def call(self, path: str, body: dict, **header_options) -> httpx.Response:
        return self.http.post(
            path,
            params={"access_token": self.session["access_token"]},
            json=body,
            headers=self.headers(**header_options),
        )


def bill(number: str = "QIN000001", *lines: dict) -> dict:
    first = material(0)
    entries = list(lines) or [
        {"FItemID": str(first.item_id), "FUnitID": first.unit_id, "FQty": 3, "Famount": 29.7}
    ]
    head = {"FBillNo": number, "Fdate": "2024-05-03T10:00:00", "FTranType": 10, "FROB": 1, "Fnote": "退货"}
    return {"Object": {"Head": head, "Entry": entries}}


def test_token_answer_has_absolute_expiry_and_session_secret():
    clock = Clock()
    sim = KisSimulator(size=10, clock=clock)
    answer = Caller(sim).token()
    assert answer["errcode"] == 0 and answer["description"] == "成功"
    data = answer["data"]
    assert set(data) == {
        "access_token",
        "access_token_expire_in",
        "session_id",
        "session_id_expire_in",
        "session_secret",
    }
    assert data["access_token_expire_in"] == int(clock.now + KisSimulator.TOKEN_LIFETIME)


@pytest.mark.parametrize(
    ("kwargs", "errcode"),
    [
        pytest.param({"secret": "wrong"}, 10004, id="client-secret"),
        pytest.param({"client_id": "nobody"}, 10004, id="client-id"),
        pytest.param({"code": "stale-code"}, 10005, id="auth-code"),
    ],
)
def test_bad_credentials_are_refused_with_an_errcode(kwargs, errcode):
    answer = Caller(KisSimulator(size=10)).token(**kwargs)
    assert answer["errcode"] == errcode
    assert answer["description"]


def test_gateway_returns_auth_data_for_the_account_set():
    caller = Caller(KisSimulator(size=10))
    caller.token()
    answer = caller.gateway()
    assert answer["errcode"] == 0
    assert answer["data"]["auth_data"] and answer["data"]["gw_router_addr"]
    assert "refresh_auth_data_token" in answer["data"]["extend_data"]


def test_gateway_rejects_a_wrong_signature_and_an_unknown_account_set():
    caller = Caller(KisSimulator(size=10))
    caller.token()
    bad = caller.gateway(secret="not-the-session-secret")
    assert (bad["errcode"], bad["description"]) == (10002, "签名验证失败：KIS-Signature不正确")
    unknown = caller.gateway(acct="XX999")
    assert unknown["errcode"] == 20001 and "XX999" in unknown["description"]


def test_unsigned_business_call_is_refused():
    caller = Caller(KisSimulator(size=10)).login()
    response = caller.http.post(CREATE, params={"access_token": caller.session["access_token"]}, json=bill())
    assert response.json()["errcode"] == 10002


def test_business_call_without_routing_headers_is_refused():
    caller = Caller(KisSimulator(size=10)).login()
    caller.route = {}
    assert caller.call(CREATE, bill()).json()["errcode"] == 10003


def test_good_bill_is_stored_with_its_entries():
    sim = KisSimulator(size=10)
    caller = Caller(sim).login()
    answer = caller.call(CREATE, bill("QIN000001")).json()
    assert answer == {"errcode": 0, "description": "成功", "data": {"FID": 1001, "FBillNo": "QIN000001"}}
    [stored] = sim.bills()
    assert stored["FBillNo"] == "QIN000001" and stored["Fdate"] == "2024-05-03T10:00:00"
    assert stored["Head"]["Fnote"] == "退货"
    assert stored["Entry"] == [{"FItemID": 10000, "FUnitID": 200, "FQty": 3.0, "Famount": 29.7}]


def test_unknown_item_is_rejected_naming_the_line_and_nothing_is_stored():
    sim = KisSimulator(size=10)
    caller = Caller(sim).login()
    good = {"FItemID": 10001, "FQty": 1}
    answer = caller.call(CREATE, bill("QIN000002", good, {"FItemID": "99999", "FQty": 2})).json()
    assert answer["errcode"] == 10201
    assert (
        answer["description"]
        == "业务接口返回失败结果，失败原因：单据[QIN000002]：第2行物料FItemID[99999]不存在"
    )
    assert sim.bills() == []


def test_every_bad_field_is_reported():
    caller = Caller(KisSimulator(size=10)).login()
    body = bill("", {"FItemID": 10001, "FUnitID": 999, "FQty": 0})
    body["Object"]["Head"].update(FTranType=21, Fdate="03/05/2024")
    description = caller.call(CREATE, body).json()["description"]
    for part in (
        "FBillNo不能为空",
        "Fdate[03/05/2024]",
        "FTranType[21]",
        "第1行计量单位FUnitID[999]",
        "第1行数量FQty[0]",
    ):
        assert part in description


def test_second_bill_with_the_same_number_is_rejected_as_existing():
    sim = KisSimulator(size=10)
    caller = Caller(sim).login()
    assert caller.call(CREATE, bill("QIN7")).json()["errcode"] == 0
    again = caller.call(CREATE, bill("QIN7")).json()
    assert again["errcode"] == 10201 and "单据编号[QIN7]已存在" in again["description"]
    assert len(sim.bills()) == 1


def test_bill_list_pages_the_stored_bills():
    caller = Caller(KisSimulator(size=10)).login()
    for n in range(3):
        caller.call(CREATE, bill(f"QIN{n}"))
    data = caller.call(BILLS, {"CurrentPage": 2, "ItemsOfPage": 2}).json()["data"]
    assert [row["FBillNo"] for row in data["List"]] == ["QIN2"]
    assert (data["TotalItems"], data["TotalPage"]) == (3, 2)


def test_material_list_rows_carry_the_sku_in_f_103_and_page_one_based():
    caller = Caller(KisSimulator(materials=45)).login()
    first = caller.call(MATERIALS, {"CurrentPage": 1, "ItemsOfPage": 20}).json()["data"]
    assert first["List"][0] == {
        "FItemID": 10000,
        "FNumber": "1.01.00001",
        "FName": "测试商品00001",
        "FModel": "",
        "FUnitID": 200,
        "FUnitName": "PCS",
        "FSalePrice": 9.9,
        "F_103": "SKU00001",
    }
    assert (first["TotalItems"], first["TotalPage"], first["TotalPages"]) == (45, 3, 3)
    last = caller.call(MATERIALS, {"CurrentPage": 3, "ItemsOfPage": 20}).json()["data"]
    assert [row["F_103"] for row in last["List"]] == [material(i).sku_id for i in range(40, 45)]
    beyond = caller.call(MATERIALS, {"CurrentPage": 4, "ItemsOfPage": 20}).json()["data"]
    assert beyond["List"] == [] and beyond["TotalItems"] == 45


def test_catalogue_covers_the_shared_world_by_default():
    assert len(KisSimulator(size=5).materials) == 60
    assert len(KisSimulator(size=200).materials) == 200


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"CurrentPage": 0, "ItemsOfPage": 20}, id="page-zero"),
        pytest.param({"CurrentPage": 1, "ItemsOfPage": 101}, id="page-too-large"),
        pytest.param({"CurrentPage": "x"}, id="not-a-number"),
    ],
)
def test_bad_paging_parameters_are_refused(body):
    caller = Caller(KisSimulator(size=10)).login()
    assert caller.call(MATERIALS, body).json()["errcode"] == 20001


def test_token_expires_after_its_lifetime():
    clock = Clock()
    caller = Caller(KisSimulator(size=10, clock=clock)).login()
    clock.now += KisSimulator.TOKEN_LIFETIME + 1
    answer = caller.call(MATERIALS, {}).json()
    assert (answer["errcode"], answer["description"]) == (10001, "access_token无效或已过期")


def test_token_expires_after_the_fault_call_count():
    sim = KisSimulator(size=10, faults=Faults(token_expiry_calls=3))
    caller = Caller(sim).login()  # the gateway call is the first
    assert [caller.call(MATERIALS, {}).json()["errcode"] for _ in range(3)] == [0, 0, 10001]
    assert sim.calls[-1].fault == "expired"


def test_rate_budget_answers_http_429():
    sim = KisSimulator(size=10, faults=Faults(rate_per_minute=3))
    caller = Caller(sim).login()  # token + gateway use two calls
    assert caller.call(MATERIALS, {}).status_code == 200
    throttled = caller.call(MATERIALS, {})
    assert throttled.status_code == 429 and throttled.json()["errcode"] == 429


def test_injected_server_error_is_an_http_500_envelope():
    sim = KisSimulator(size=10, faults=Faults(error_rate=1.0, timeout_share=0.0))
    response = Caller(sim).http.post(TOKEN, json={})
    assert response.status_code == 500 and response.json()["errcode"] == 50000


def test_unknown_path_and_wrong_method_are_refused():
    caller = Caller(KisSimulator(size=10))
    assert caller.http.post("/koas/app007104/api/nothing/create").status_code == 404
    assert caller.http.get(TOKEN).status_code == 405


def test_paths_match_case_insensitively():
    caller = Caller(KisSimulator(size=10)).login()
    assert caller.call(MATERIALS.lower(), {}).json()["errcode"] == 0


def test_only_create_is_a_write():
    sim = KisSimulator(size=10)
    assert sim.is_write(httpx.Request("POST", sim.base_url + CREATE))
    assert not sim.is_write(httpx.Request("POST", sim.base_url + MATERIALS))


def test_describe_gives_the_demo_credentials():
    described = KisSimulator(size=10).describe()
    assert described["prefix"] == "/koas"
    assert described["credentials"]["client_id"] == KisSimulator.CLIENT_ID
    assert described["credentials"]["acct_number"] == KisSimulator.ACCT_NUMBER


def test_material_list_pages_drift_and_duplicate_under_faults() -> None:
    from ferry.sandbox import Faults
    from ferry.sandbox.kis import KisSimulator

    sim = KisSimulator(size=60, faults=Faults(drift_rate=0.3, duplicate_rate=1.0, seed=3))
    assert len(sim.material_data) == 60
    seen = []
    ids = sim.material_data.select()
    for start in range(0, 60, 20):
        seen += [row["FItemID"] for row in sim.material_data.page(ids, start, 20)]
    assert sim.material_data.duplicated and sim.material_data.drifted
    assert len(seen) == 62  # two pages repeat the previous page's last row
