"""The KIS 云 connector against the KIS simulator: login, signing, expiry, paging, bill writes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ferry.connectors.base import Delivery, PageState
from ferry.connectors.kis import KisConnection, KisConnector, bill_payload
from ferry.connectors.registry import build_source, build_target, parse_connection
from ferry.errors import AuthExpiredError, ConfigError, RetriableError, ThrottledError
from ferry.sandbox import Call, Faults, SandboxTransport
from ferry.sandbox.kis import KisSimulator
from ferry.sandbox.world import material

MATERIALS = "/koas/APP006992/api/Material/List"
CREATE = "/koas/app007104/api/miscellaneousreceipt/create"


class Clock:
    def __init__(self) -> None:
        self.now = 1_717_200_000.0

    def __call__(self) -> float:
        return self.now


def spec(sim: KisSimulator, **changes: Any) -> KisConnection:
    fields = {
        "name": "kis",
        "base_url": sim.base_url,
        "client_id": sim.CLIENT_ID,
        "client_secret": sim.CLIENT_SECRET,
        "auth_code": sim.AUTH_CODE,
        "acct_number": sim.ACCT_NUMBER,
    }
    return KisConnection(**{**fields, **changes})


def connect(sim: KisSimulator, **changes: Any) -> KisConnector:
    return KisConnector(spec(sim, **changes), transport=SandboxTransport({sim.name: sim}))


def page_through(connector: KisConnector, size: int) -> list[tuple[int, int | None]]:
    """(records, total) per page until the connector says it was the last."""
    pages: list[tuple[int, int | None]] = []
    state: PageState | None = PageState(page_size=size)
    while state is not None:
        page = connector.fetch(MATERIALS, "POST", {"CurrentPage": 1, "ItemsOfPage": 5}, state)
        pages.append((len(page.records), page.total))
        state = page.next
        assert len(pages) < 50, "paging does not end"
    return pages


def bill(number: str, *items: Any) -> dict[str, Any]:
    entries = [
        {"FItemID": str(item), "FUnitID": "", "FQty": 2.0, "FAuxPrice": 1.5, "Famount": 3.0} for item in items
    ]
    return {"FBillNo": number, "Fdate": "2024-05-03T10:00:00", "FTranType": 10, "FROB": 1, "Entry": entries}


def deliver(connector: KisConnector, body: Any, *ids: str) -> list:
    return list(connector.write(Delivery(api=CREATE, method="POST", body=body, record_ids=list(ids))))


def test_limits_are_one_based_pages_of_at_most_100():
    connector = connect(KisSimulator(size=5))
    assert (connector.limits.page_base, connector.limits.max_page_size) == (1, 100)
    assert connector.limits.max_window is None


@pytest.mark.parametrize(
    ("changes", "quoted"),
    [
        pytest.param(
            {"client_secret": "wrong-secret"}, "vendor code 10004: client_id或client_secret错误", id="secret"
        ),
        pytest.param({"auth_code": "old-code"}, "vendor code 10005: 授权码code无效或已过期", id="auth-code"),
        pytest.param(
            {"acct_number": "ZZ9"}, "vendor code 20001: 参数错误：账套[ZZ9]不存在或未授权", id="account-set"
        ),
    ],
)
def test_bad_credentials_are_a_config_error_quoting_the_vendor(changes, quoted):
    connector = connect(KisSimulator(size=5), **changes)
    with pytest.raises(ConfigError) as caught:
        connector.fetch(MATERIALS, "POST", {}, PageState(page_size=10))
    message = str(caught.value)
    assert message.startswith("kingdee_kis connection 'kis': ")
    assert quoted in message
    assert "wrong-secret" not in message and "old-code" not in message


class SecretMixup(KisSimulator):
    """Hands out a session secret that is not the one it checks signatures with."""

    def _access_token(self, request: httpx.Request, call: Call) -> httpx.Response:
        response = super()._access_token(request, call)
        body = response.json()
        if body["errcode"] == 0:
            body["data"]["session_secret"] = "not-the-secret"
        return httpx.Response(200, json=body)


def test_rejected_signature_is_a_config_error():
    connector = connect(SecretMixup(size=5))
    with pytest.raises(ConfigError, match=r"get_service_gateway: vendor code 10002: 签名验证失败"):
        connector.fetch(MATERIALS, "POST", {}, PageState(page_size=10))


def test_expired_token_is_renewed_once_and_the_call_succeeds():
    clock = Clock()
    sim = KisSimulator(size=5, clock=clock)
    connector = connect(sim)
    connector.fetch(MATERIALS, "POST", {}, PageState(page_size=10))
    clock.now += KisSimulator.TOKEN_LIFETIME + 1
    page = connector.fetch(MATERIALS, "POST", {}, PageState(page_size=10))
    assert len(page.records) == 10
    assert connector.session.logins == 2
    assert [c.code for c in sim.calls_to(MATERIALS)] == [0, 10001, 0]


def test_token_that_expires_again_at_once_raises_auth_expired():
    sim = KisSimulator(size=5, faults=Faults(token_expiry_calls=1))  # the gateway call uses it up
    connector = connect(sim)
    with pytest.raises(AuthExpiredError, match=r"session expired, vendor code 10001"):
        connector.fetch(MATERIALS, "POST", {}, PageState(page_size=10))
    assert connector.session.logins == 2


def test_throttling_is_a_throttled_error():
    connector = connect(KisSimulator(size=5, faults=Faults(rate_per_minute=3)))
    connector.fetch(MATERIALS, "POST", {}, PageState(page_size=10))
    with pytest.raises(ThrottledError, match="HTTP 429"):
        connector.fetch(MATERIALS, "POST", {}, PageState(page_size=10))


@pytest.mark.parametrize("timeout_share", [pytest.param(0.0, id="5xx"), pytest.param(1.0, id="timeout")])
def test_server_errors_and_timeouts_are_retriable(timeout_share):
    sim = KisSimulator(size=5, faults=Faults(error_rate=1.0, timeout_share=timeout_share))
    with pytest.raises(RetriableError) as caught:
        connect(sim).fetch(MATERIALS, "POST", {}, PageState(page_size=10))
    assert not isinstance(caught.value, ThrottledError | AuthExpiredError)
    assert "kis-demo-secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("materials", "size", "expected"),
    [
        pytest.param(0, 20, [(0, 0)], id="empty"),
        pytest.param(20, 20, [(20, 20)], id="one-full-page"),
        pytest.param(45, 20, [(20, 45), (20, 45), (5, 45)], id="last-page-short"),
        pytest.param(40, 20, [(20, 40), (20, 40)], id="two-full-pages"),
    ],
)
def test_material_list_pages_end_at_total_page(materials, size, expected):
    sim = KisSimulator(materials=materials)
    assert page_through(connect(sim), size) == expected
    pages = [c for c in sim.calls_to(MATERIALS) if c.code == 0]
    assert len(pages) == len(expected)


def test_paging_overrides_the_requests_page_fields_and_keeps_the_others():
    sim = KisSimulator(materials=45)
    connector = connect(sim)
    page = connector.fetch(
        MATERIALS,
        "POST",
        {"CurrentPage": 1, "PageSize": 5, "OrderBy": "FNumber"},
        PageState(index=2, page_size=20),
    )
    assert [r["F_103"] for r in page.records] == [material(i).sku_id for i in range(40, 45)]
    assert page.next is None


def test_page_size_is_capped_at_100():
    page = connect(KisSimulator(materials=150)).fetch(MATERIALS, "POST", {}, PageState(page_size=500))
    assert len(page.records) == 100 and page.next is not None


def test_good_bill_is_created_with_its_entries():
    sim = KisSimulator(size=5)
    [outcome] = deliver(connect(sim), bill("QIN1", material(0).item_id, material(1).item_id), "io-1")
    assert outcome.ok and outcome.record_id == "io-1"
    assert outcome.response == {"FID": 1001, "FBillNo": "QIN1"}
    [stored] = sim.bills()
    assert [(e["FItemID"], e["FUnitID"], e["FQty"]) for e in stored["Entry"]] == [
        (material(0).item_id, material(0).unit_id, 2.0),
        (material(1).item_id, material(1).unit_id, 2.0),
    ]
    assert stored["Head"]["FTranType"] == 10


def test_unknown_item_fails_the_record_naming_the_line():
    sim = KisSimulator(size=5)
    [outcome] = deliver(connect(sim), bill("QIN2", material(0).item_id, 99999), "io-2")
    assert not outcome.ok
    assert outcome.error == (
        "kingdee_kis connection 'kis': /koas/app007104/api/miscellaneousreceipt/create: "
        "vendor code 10201: 业务接口返回失败结果，失败原因：单据[QIN2]：第2行物料FItemID[99999]不存在"
    )
    assert sim.bills() == []


def test_one_outcome_per_bill_in_a_list_body():
    sim = KisSimulator(size=5)
    outcomes = deliver(connect(sim), [bill("A", material(0).item_id), bill("B", 99999)], "a", "b")
    assert [(o.record_id, o.ok) for o in outcomes] == [("a", True), ("b", False)]
    assert [b["FBillNo"] for b in sim.bills()] == ["A"]


def test_writing_the_same_bill_again_is_idempotent():
    sim = KisSimulator(size=5)
    connector = connect(sim)
    deliver(connector, bill("QIN3", material(0).item_id), "io-3")
    [again] = deliver(connector, bill("QIN3", material(0).item_id), "io-3")
    assert again.ok and again.unchanged and again.response["already_exists"] is True
    assert len(sim.bills()) == 1


def test_a_body_that_is_not_one_bill_per_record_is_a_config_error():
    connector = connect(KisSimulator(size=5))
    with pytest.raises(ConfigError, match="one bill object per record"):
        deliver(connector, [bill("A", material(0).item_id)], "a", "b")


def test_flat_body_becomes_head_and_entry():
    payload = bill_payload({"FBillNo": "X", "Entry": [{"FItemID": 1}]})
    assert payload == {"Object": {"Head": {"FBillNo": "X"}, "Entry": [{"FItemID": 1}]}}
    assert bill_payload(payload) == payload


def test_registry_builds_the_connector_from_the_examples_fields():
    env = {
        "KIS_CLIENT_ID": "id",
        "KIS_CLIENT_SECRET": "s3cr3t-v4lue",
        "KIS_AUTH_CODE": "c0de-v4lue",
        "KIS_ACCT_NUMBER": "UE1",
    }
    data = {
        "name": "kis",
        "type": "kingdee_kis",
        "base_url": "https://api.kingdee.com",
        "client_id": "${KIS_CLIENT_ID}",
        "client_secret": "${KIS_CLIENT_SECRET}",
        "auth_code": "${KIS_AUTH_CODE}",
        "acct_number": "${KIS_ACCT_NUMBER}",
    }
    conn = parse_connection(data, path="connections.yaml:kis", env=env)
    assert isinstance(conn, KisConnection) and "v4lue" not in repr(conn)
    assert isinstance(build_source(conn), KisConnector) and isinstance(build_target(conn), KisConnector)
