"""The K3Cloud connector against the K3Cloud simulator (in-process, no sockets)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

from ferry.connectors.base import Delivery, PageState
from ferry.connectors.k3cloud import K3CloudConnection, K3CloudConnector
from ferry.connectors.registry import build_source, parse_connection
from ferry.engine.retry import RetryPolicy
from ferry.engine.runner import run_scheme
from ferry.errors import AuthExpiredError, ConfigError, RetriableError, ThrottledError
from ferry.sandbox import CHINA, Faults, SandboxTransport
from ferry.sandbox.k3cloud import K3CloudSimulator
from ferry.scheme.loader import load_scheme
from ferry.store import open_store

S = K3CloudSimulator
T0 = datetime(2024, 7, 1, tzinfo=CHINA).timestamp()
LABEL = "kingdee_k3cloud connection 'erp'"
ORDERS = {"FID": "FID", "Fbillno": "FBillNo", "FormId": "SAL_SaleOrder", "OrderString": "FID ASC"}


class Recorder(httpx.BaseTransport):
    """The sandbox transport, keeping every request the connector sent."""

    def __init__(self, sim: K3CloudSimulator) -> None:
        self.inner = SandboxTransport({"k3cloud": sim})
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.inner.handle_request(request)

    def bodies(self, service: str) -> list[Any]:
        return [
            orjson.loads(r.content) for r in self.requests if r.url.path.endswith(f".{service}.common.kdsvc")
        ]


def make_sim(size: int = 12, faults: Faults | None = None) -> K3CloudSimulator:
    return S(size=size, faults=faults, clock=lambda: T0)


def connect(sim: K3CloudSimulator, **fields: Any) -> tuple[K3CloudConnector, Recorder]:
    values: dict[str, Any] = {
        "type": "kingdee_k3cloud",
        "name": "erp",
        "base_url": f"{sim.base_url}/k3cloud",
        "acct_id": S.ACCT_ID,
        "username": S.USERNAME,
        "app_id": S.APP_ID,
        "app_secret": S.APP_SECRET,
        "password": S.PASSWORD,
        "org_num": S.ORG_NUM,
        **fields,
    }
    spec = parse_connection(values, path="connections.yaml:erp")
    assert isinstance(spec, K3CloudConnection)
    recorder = Recorder(sim)
    return K3CloudConnector(spec, transport=recorder, clock=lambda: T0), recorder


@pytest.fixture
def sim() -> K3CloudSimulator:
    return make_sim()


def read_all(connector: K3CloudConnector, request: dict[str, Any], page_size: int) -> list[list[Any]]:
    pages: list[list[Any]] = []
    state: PageState | None = PageState(page_size=page_size)
    while state is not None:
        page = connector.fetch("ExecuteBillQuery", "POST", request, state)
        pages.append(page.records)
        state = page.next
    return pages


def order_numbers(sim: K3CloudSimulator) -> list[tuple[int, str]]:
    return [(b["FID"], b["FBillNo"]) for b in sim.bills("SAL_SaleOrder")]


# -- login ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("login", "logged_by"),
    [
        pytest.param("app_secret", "LoginByAppSecret", id="app-secret"),
        pytest.param("sign", "LoginBySign", id="login-by-sign"),
        pytest.param("password", "ValidateUser", id="validate-user"),
        pytest.param("signed_headers", "signed-headers", id="signed-headers"),
    ],
)
def test_each_login_mode_reads_orders_in_one_session(
    sim: K3CloudSimulator, login: str, logged_by: str
) -> None:
    connector, _ = connect(sim, login=login)
    pages = read_all(connector, ORDERS, page_size=5)
    rows = [(r["FID"], r["Fbillno"]) for page in pages for r in page]
    assert rows == order_numbers(sim)
    assert dict(sim.logins) == {logged_by: 1}


def test_builds_from_the_registry_with_the_examples_fields(sim: K3CloudSimulator) -> None:
    spec = parse_connection(
        {
            "type": "kingdee_k3cloud",
            "name": "k3cloud",
            "base_url": "${K3CLOUD_URL}",
            "acct_id": "${K3CLOUD_ACCT_ID}",
            "username": "${K3CLOUD_USERNAME}",
            "app_id": "${K3CLOUD_APP_ID}",
            "app_secret": "${K3CLOUD_APP_SECRET}",
            "lcid": 2052,
        },
        path="connections.yaml:k3cloud",
        env={
            "K3CLOUD_URL": f"{sim.base_url}/k3cloud",
            "K3CLOUD_ACCT_ID": S.ACCT_ID,
            "K3CLOUD_USERNAME": S.USERNAME,
            "K3CLOUD_APP_ID": S.APP_ID,
            "K3CLOUD_APP_SECRET": S.APP_SECRET,
        },
    )
    source = build_source(spec, transport=SandboxTransport({"k3cloud": sim}))
    page = source.fetch("ExecuteBillQuery", "POST", ORDERS, PageState(page_size=3))
    assert [r["Fbillno"] for r in page.records] == [n for _, n in order_numbers(sim)[:3]]
    assert source.limits.page_base == 0 and source.limits.max_window is None


def test_password_login_requires_a_password() -> None:
    with pytest.raises(ConfigError, match="login: password needs password"):
        parse_connection(
            {
                "type": "kingdee_k3cloud",
                "name": "erp",
                "base_url": "http://x",
                "acct_id": "1",
                "username": "u",
                "login": "password",
            },
            path="connections.yaml:erp",
        )


@pytest.mark.parametrize(
    ("fields", "vendor_text"),
    [
        pytest.param({"login": "password", "password": "wrong-password"}, "用户名或密码错误", id="password"),
        pytest.param({"app_secret": "not-the-secret-0123"}, "应用密钥错误", id="app-secret"),
        pytest.param({"login": "sign", "app_secret": "not-the-secret-0123"}, "签名错误", id="login-by-sign"),
    ],
)
def test_wrong_credentials_are_a_config_error_quoting_the_vendor(
    sim: K3CloudSimulator, fields: dict[str, Any], vendor_text: str
) -> None:
    connector, _ = connect(sim, **fields)
    with pytest.raises(ConfigError) as caught:
        connector.fetch("ExecuteBillQuery", "POST", ORDERS, PageState(page_size=5))
    message = str(caught.value)
    assert LABEL in message and vendor_text in message and "LoginResultType 0" in message
    assert "wrong-password" not in message and "not-the-secret" not in message
    assert not [c for c in sim.calls if c.api == "ExecuteBillQuery"]


def test_a_rejected_header_signature_is_a_config_error(sim: K3CloudSimulator) -> None:
    connector, _ = connect(sim, login="signed_headers", app_secret="not-the-secret-0123")
    with pytest.raises(ConfigError) as caught:
        connector.fetch("ExecuteBillQuery", "POST", ORDERS, PageState(page_size=5))
    assert LABEL in str(caught.value) and "会话信息已丢失" in str(caught.value)
    assert sim.refusals == ["X-Kd-Signature does not match"] * 2


def test_signed_headers_match_the_document_vector_format(sim: K3CloudSimulator) -> None:
    connector, recorder = connect(sim, login="signed_headers")
    connector.fetch("ExecuteBillQuery", "POST", ORDERS, PageState(page_size=2))
    headers = recorder.requests[0].headers
    assert headers["X-Api-ClientID"] == "123456" and headers["X-Kd-Appkey"] == S.APP_ID
    assert headers["x-api-timestamp"] == headers["x-api-nonce"] == str(int(T0))
    assert headers["x-api-signheaders"] == "x-api-timestamp,x-api-nonce"


# -- sessions, throttling, outages -------------------------------------------------------------


def test_an_expired_session_is_renewed_transparently(sim: K3CloudSimulator) -> None:
    expiring = make_sim(faults=Faults(token_expiry_calls=2))
    connector, recorder = connect(expiring)
    pages = read_all(connector, ORDERS, page_size=3)
    rows = [(r["FID"], r["Fbillno"]) for page in pages for r in page]
    assert rows == order_numbers(expiring)
    # 5 pages, 2 calls per session: lost on the 3rd and 5th query, one new login each.
    lost = [c for c in expiring.calls if c.api == "ExecuteBillQuery" and c.code == 1]
    assert len(lost) == 2 and expiring.logins["LoginByAppSecret"] == 3
    sessions = {r.headers.get("kdservice-sessionid") for r in recorder.requests if "Query" in r.url.path}
    assert len(sessions) == 3


def test_a_session_lost_again_after_relogin_is_auth_expired() -> None:
    always_expired = make_sim(faults=Faults(token_expiry_calls=0))
    connector, _ = connect(always_expired)
    with pytest.raises(AuthExpiredError, match="session expired, vendor code 1: 会话信息已丢失"):
        connector.fetch("ExecuteBillQuery", "POST", ORDERS, PageState(page_size=5))
    assert always_expired.logins["LoginByAppSecret"] == 2


def test_call_limit_is_throttling() -> None:
    limited = make_sim(faults=Faults(rate_per_minute=1))
    connector, _ = connect(limited)
    connector.fetch("ExecuteBillQuery", "POST", ORDERS, PageState(page_size=5))
    with pytest.raises(ThrottledError, match="vendor code 14: 调用频率超出限制"):
        connector.fetch("ExecuteBillQuery", "POST", ORDERS, PageState(page_size=5))


@pytest.mark.parametrize(
    ("timeout_share", "text"),
    [pytest.param(0.0, "HTTP 500", id="5xx"), pytest.param(1.0, "timed out", id="timeout")],
)
def test_server_errors_and_timeouts_are_retriable(timeout_share: float, text: str) -> None:
    broken = make_sim(faults=Faults(error_rate=1.0, timeout_share=timeout_share))
    connector, _ = connect(broken)
    with pytest.raises(RetriableError, match=text) as caught:
        connector.fetch("ExecuteBillQuery", "POST", ORDERS, PageState(page_size=5))
    assert not isinstance(caught.value, ThrottledError | AuthExpiredError)


# -- queries ----------------------------------------------------------------------------------


def test_query_envelope_sets_paging_and_field_keys(sim: K3CloudSimulator) -> None:
    connector, recorder = connect(sim)
    request = {
        "FID": "FID",
        "Fbillno": "FBillNo",
        "FCloseStatus": "FCloseStatus",
        "FormId": "SAL_SaleOrder",
        "FilterString": "FCloseStatus='A'",
        "Limit": "500",
        "StartRow": "0",
        "TopRowCount": 0,
    }
    connector.fetch("executeBillQuery", "POST", request, PageState(index=1, page_size=4, offset=4))
    assert recorder.bodies("ExecuteBillQuery") == [
        {
            "data": {
                "FormId": "SAL_SaleOrder",
                "FilterString": "FCloseStatus='A'",
                "FieldKeys": "FID,FBillNo,FCloseStatus",
                "TopRowCount": 0,
                "StartRow": 4,
                "Limit": 4,
            }
        }
    ]


def test_columns_are_named_by_field_and_read_from_their_path(sim: K3CloudSimulator) -> None:
    connector, _ = connect(sim)
    request = {
        "FormId": "SAL_SaleOrder",
        "FieldKeys": "FDocumentStatus",
        "Fbillno": "FBillNo",
        "Customer": "FCustId.FNumber",
    }
    page = connector.fetch("ExecuteBillQuery", "POST", request, PageState(page_size=1))
    first = sim.bills("SAL_SaleOrder")[0]
    assert page.records == [
        {
            "FDocumentStatus": first["FDocumentStatus"],
            "Fbillno": first["FBillNo"],
            "Customer": first["FCustId"],
        }
    ]


def test_bill_query_objects_become_the_same_records(sim: K3CloudSimulator) -> None:
    connector, _ = connect(sim)
    arrays = connector.fetch("ExecuteBillQuery", "POST", ORDERS, PageState(page_size=4)).records
    objects = connector.fetch("billquery", "POST", ORDERS, PageState(page_size=4)).records
    assert objects == arrays and len(arrays) == 4


def test_an_empty_result_is_the_last_page(sim: K3CloudSimulator) -> None:
    connector, _ = connect(sim)
    page = connector.fetch(
        "ExecuteBillQuery",
        "POST",
        {**ORDERS, "FilterString": "FBillNo='NO-SUCH-BILL'"},
        PageState(page_size=5),
    )
    assert page.records == [] and page.next is None


def test_exactly_one_full_page_asks_once_more_and_stops() -> None:
    five = make_sim(size=5)
    connector, recorder = connect(five)
    pages = read_all(connector, ORDERS, page_size=5)
    assert [len(p) for p in pages] == [5, 0]
    assert [b["data"]["StartRow"] for b in recorder.bodies("ExecuteBillQuery")] == [0, 5]


def test_a_short_page_ends_paging(sim: K3CloudSimulator) -> None:
    connector, recorder = connect(sim)
    pages = read_all(connector, ORDERS, page_size=5)
    assert [len(p) for p in pages] == [5, 5, 2]
    assert [b["data"]["StartRow"] for b in recorder.bodies("ExecuteBillQuery")] == [0, 5, 10]


def test_a_row_repeated_from_the_previous_page_does_not_skip_the_next_one() -> None:
    repeating = make_sim(faults=Faults(duplicate_rate=1.0))
    connector, recorder = connect(repeating)
    pages = read_all(connector, ORDERS, page_size=5)
    fids = [r["FID"] for page in pages for r in page]
    assert sorted(set(fids)) == [fid for fid, _ in order_numbers(repeating)]
    assert len(fids) > len(set(fids))
    assert [b["data"]["StartRow"] for b in recorder.bodies("ExecuteBillQuery")] == [0, 5, 10]


def test_page_size_is_capped_at_2000(sim: K3CloudSimulator) -> None:
    connector, recorder = connect(sim)
    connector.fetch("ExecuteBillQuery", "POST", ORDERS, PageState(page_size=50_000))
    assert recorder.bodies("ExecuteBillQuery")[0]["data"]["Limit"] == 2000


@pytest.mark.parametrize(
    ("change", "vendor_text"),
    [
        pytest.param(
            {"Missing": "FNoSuchField"}, "元数据中标识为FNoSuchField的字段不存在", id="unknown-field"
        ),
        pytest.param({"FilterString": "FBillNo = = 'x'"}, "GetRealExpress error", id="bad-filter"),
        pytest.param({"FormId": "NO_SUCH_FORM"}, "业务对象不存在", id="unknown-form"),
    ],
)
def test_bad_query_is_a_config_error_quoting_the_vendor(
    sim: K3CloudSimulator, change: dict[str, str], vendor_text: str
) -> None:
    connector, _ = connect(sim)
    with pytest.raises(ConfigError) as caught:
        connector.fetch("ExecuteBillQuery", "POST", {**ORDERS, **change}, PageState(page_size=5))
    assert LABEL in str(caught.value) and vendor_text in str(caught.value)


def test_a_request_without_form_id_fails_before_calling(sim: K3CloudSimulator) -> None:
    connector, _ = connect(sim)
    with pytest.raises(ConfigError, match="the request has no FormId"):
        connector.fetch("ExecuteBillQuery", "POST", {"FID": "FID"}, PageState(page_size=5))
    assert sim.calls == []


# -- writes -----------------------------------------------------------------------------------


def customer(name: str, group: str = "B11") -> dict[str, Any]:
    return {
        "FName": name,
        "FGroup": {"FNumber": group},
        "FCreateOrgId": {"FNumber": "100"},
        "FUseOrgId": {"FNumber": "BZ"},
    }


CUSTOMER_OPTIONS = {
    "FormId": "BD_Customer",
    "Operation": "BatchSave",
    "IsAutoSubmitAndAudit": "true",
    "IsVerifyBaseDataField": True,
}


def test_save_creates_a_bill_and_returns_its_id_and_number(sim: K3CloudSimulator) -> None:
    connector, recorder = connect(sim)
    delivery = Delivery(
        api="Save",
        method="POST",
        body=customer("新客户"),
        record_ids=["so-1"],
        options={"FormId": "BD_Customer", "IsAutoSubmitAndAudit": "false"},
    )
    [outcome] = connector.write(delivery)
    assert outcome.ok and outcome.record_id == "so-1"
    saved = sim.bill("BD_Customer", outcome.response["Id"])
    assert saved is not None and saved["FName"] == "新客户" and saved["FNumber"] == outcome.response["Number"]
    assert saved["FDocumentStatus"] == "A"
    assert recorder.bodies("Save") == [
        {"formid": "BD_Customer", "data": {"IsAutoSubmitAndAudit": False, "Model": customer("新客户")}}
    ]


def test_save_with_fid_updates_the_existing_bill(sim: K3CloudSimulator) -> None:
    connector, _ = connect(sim)
    fid, number = order_numbers(sim)[2]
    delivery = Delivery(
        api="batchSave",
        method="POST",
        body=[{"FID": str(fid), "FNote": "updated by ferry"}],
        record_ids=["r-7"],
        options={"FormId": "SAL_SaleOrder", "Operation": "BatchSave", "IsDeleteEntry": "false"},
    )
    [outcome] = connector.write(delivery)
    assert outcome.ok and outcome.response == {"Id": fid, "Number": number}
    assert (sim.bill("SAL_SaleOrder", fid) or {}).get("FNote") == "updated by ferry"
    assert sim.saves("SAL_SaleOrder", fid) == 1
    assert len(sim.bills("SAL_SaleOrder")) == 12


def test_unknown_base_data_fails_only_its_own_record(sim: K3CloudSimulator) -> None:
    connector, recorder = connect(sim)
    delivery = Delivery(
        api="batchSave",
        method="POST",
        body=[customer("甲"), customer("乙", group="NO-SUCH-GROUP"), customer("丙", group="B12")],
        record_ids=["a", "b", "c"],
        options=CUSTOMER_OPTIONS,
    )
    outcomes = {o.record_id: o for o in connector.write(delivery)}
    assert set(outcomes) == {"a", "b", "c"}
    assert outcomes["a"].ok and outcomes["c"].ok
    failed = outcomes["b"]
    assert not failed.ok and not failed.retriable
    assert failed.error == "FGroup: 字段“客户分组”的值“NO-SUCH-GROUP”对应的基础资料不存在"
    for rid, name in (("a", "甲"), ("c", "丙")):
        saved = sim.bill("BD_Customer", outcomes[rid].response["Id"])
        assert saved is not None and saved["FName"] == name and saved["FDocumentStatus"] == "C"
    [body] = recorder.bodies("BatchSave")
    assert body["data"]["IsAutoSubmitAndAudit"] is True and body["data"]["IsVerifyBaseDataField"] is True
    assert len(body["data"]["Model"]) == 3


def test_distribution_org_allocates_each_saved_record(sim: K3CloudSimulator) -> None:
    connector, recorder = connect(sim)
    delivery = Delivery(
        api="batchSave",
        method="POST",
        body=customer("分配客户"),
        record_ids=["x"],
        options={**CUSTOMER_OPTIONS, "distributionOrg": "100040"},
    )
    [outcome] = connector.write(delivery)
    pk = outcome.response["Id"]
    assert outcome.ok and outcome.response["allocated"] is True
    assert sim.allocations("BD_Customer", pk) == ["100040"]
    assert recorder.bodies("Allocate") == [
        {"formid": "BD_Customer", "data": {"PkIds": str(pk), "TOrgIds": "100040"}}
    ]


def test_a_failed_allocation_keeps_the_saved_records_ok(sim: K3CloudSimulator) -> None:
    connector, _ = connect(sim)
    delivery = Delivery(
        api="batchSave",
        method="POST",
        body=[customer("一"), customer("二")],
        record_ids=["p", "q"],
        options={**CUSTOMER_OPTIONS, "distributionOrg": "NO-ORG"},
    )
    outcomes = connector.write(delivery)
    assert [o.ok for o in outcomes] == [True, True]
    for outcome in outcomes:
        assert outcome.response["allocated"] is False
        assert outcome.response["allocateError"] == "组织“NO-ORG”不存在"
        assert sim.allocations("BD_Customer", outcome.response["Id"]) == []


def test_one_merged_model_answers_for_all_its_records(sim: K3CloudSimulator) -> None:
    connector, _ = connect(sim)
    delivery = Delivery(
        api="Save",
        method="POST",
        body=customer("合并"),
        record_ids=["m1", "m2"],
        options={"FormId": "BD_Customer"},
    )
    outcomes = connector.write(delivery)
    assert [o.record_id for o in outcomes] == ["m1", "m2"]
    assert all(o.ok for o in outcomes) and outcomes[0].response == outcomes[1].response


def test_submit_then_audit_by_fid(sim: K3CloudSimulator) -> None:
    connector, _ = connect(sim)
    [saved] = connector.write(
        Delivery(
            api="Save",
            method="POST",
            body=customer("待审"),
            record_ids=["s"],
            options={"FormId": "BD_Customer"},
        )
    )
    pk = saved.response["Id"]
    for api in ("Submit", "Audit"):
        [outcome] = connector.write(
            Delivery(
                api=api, method="POST", body={"FID": pk}, record_ids=["s"], options={"FormId": "BD_Customer"}
            )
        )
        assert outcome.ok and outcome.response["Id"] == pk
    assert (sim.bill("BD_Customer", pk) or {}).get("FDocumentStatus") == "C"


@pytest.mark.parametrize(
    ("api", "options", "text"),
    [
        pytest.param("batchSave", {"Operation": "BatchSave"}, "otherRequest has no FormId", id="no-form-id"),
        pytest.param("upsert", {"FormId": "BD_Customer"}, "is a K3Cloud operation", id="unknown-operation"),
        pytest.param(
            "Save",
            {"FormId": "BD_Customer", "IsAutoSubmitAndAudit": "maybe"},
            "IsAutoSubmitAndAudit must be true or false",
            id="not-a-boolean",
        ),
    ],
)
def test_bad_target_options_are_config_errors_before_calling(
    sim: K3CloudSimulator, api: str, options: dict[str, Any], text: str
) -> None:
    connector, _ = connect(sim)
    with pytest.raises(ConfigError, match=text) as caught:
        connector.write(
            Delivery(api=api, method="POST", body=customer("x"), record_ids=["x"], options=options)
        )
    assert LABEL in str(caught.value) and sim.calls == []


# -- answers the simulator does not give ------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "error", "text"),
    [
        pytest.param(
            httpx.Response(519, json={"errcode": 4006, "description": "timestamp expired[GW]"}),
            ConfigError,
            "vendor code gateway 4006: timestamp expired[GW]",
            id="gateway-519",
        ),
        pytest.param(
            httpx.Response(404, text="<html>404 - File or directory not found.</html>"),
            ConfigError,
            "check base_url",
            id="not-found",
        ),
        pytest.param(
            httpx.Response(200, text="response_error: 服务器繁忙"),
            RetriableError,
            "response_error: 服务器繁忙",
            id="response-error",
        ),
    ],
)
def test_transport_level_answers_are_classified(response: httpx.Response, error: type, text: str) -> None:
    spec = K3CloudConnection(
        name="erp",
        base_url="https://erp.example.com/k3cloud",
        acct_id="1",
        username="u",
        app_id=S.APP_ID,
        app_secret=S.APP_SECRET,
        login="signed_headers",
    )
    connector = K3CloudConnector(spec, transport=httpx.MockTransport(lambda request: response))
    with pytest.raises(error, match=re.escape(text)) as caught:
        connector.fetch("ExecuteBillQuery", "POST", ORDERS, PageState(page_size=5))
    assert type(caught.value) is error and LABEL in str(caught.value)


# -- a whole run ------------------------------------------------------------------------------


def write_scheme(tmp: Path) -> Path:
    source = {
        "api": "ExecuteBillQuery",
        "effect": "QUERY",
        "id": "FID",
        "number": "Fbillno",
        "request": [
            {"field": "FID", "value": "FID"},
            {"field": "Fbillno", "value": "FBillNo"},
            {"field": "FormId", "value": "SAL_SaleOrder"},
        ],
    }
    target = {
        "api": "batchSave",
        "effect": "EXECUTE",
        "request": [{"field": "FName", "value": "{Fbillno}"}],
        "otherRequest": [{"field": "FormId", "value": "BD_Customer"}],
    }
    (tmp / "source.json").write_text(orjson.dumps(source).decode())
    (tmp / "target.json").write_text(orjson.dumps(target).decode())
    scheme = {
        "id": "k3-orders",
        "name": "k3 orders",
        "source": {"connection": "erp", "metadata": "source.json"},
        "target": {"connection": "erp", "metadata": "target.json"},
        "window": {"start": "2024-06-01 00:00:00", "step": "1d"},
    }
    path = tmp / "scheme.yaml"
    path.write_text(yaml.safe_dump(scheme))
    return path


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Any]:
    s = open_store(f"sqlite:///{tmp_path / 'ferry.db'}")
    yield s
    s.close()


def test_wrong_credentials_end_the_run_with_exit_code_2(
    sim: K3CloudSimulator, tmp_path: Path, store: Any
) -> None:
    connections = {
        "erp": {
            "type": "kingdee_k3cloud",
            "base_url": f"{sim.base_url}/k3cloud",
            "acct_id": S.ACCT_ID,
            "username": S.USERNAME,
            "app_id": S.APP_ID,
            "app_secret": "${K3_SECRET}",
        }
    }
    scheme = load_scheme(
        write_scheme(tmp_path), connections=connections, env={"K3_SECRET": "wrong-secret-1234"}
    )
    report = run_scheme(
        scheme,
        store,
        now=datetime(2024, 6, 2, 12, tzinfo=CHINA),
        transport=SandboxTransport({"k3cloud": sim}),
        retry=RetryPolicy(attempts=2, base_delay=0.0, max_delay=0.0),
    )
    assert report.exit_code == 2 and report.status == "invalid"
    assert report.error is not None and "kingdee_k3cloud connection 'erp'" in report.error
    assert "应用密钥错误" in report.error and "wrong-secret" not in report.error
    assert sim.logins == {} and len([c for c in sim.calls if c.api == "LoginByAppSecret"]) == 1
