"""The K3Cloud simulator answers hand-built requests exactly as docs/vendor-protocols.md §1 describes."""

from __future__ import annotations

import base64
import codecs
import hashlib
import hmac
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from ferry.sandbox import CHINA, Faults, SandboxTransport
from ferry.sandbox.k3cloud import K3CloudSimulator

S = K3CloudSimulator
ROOT = "http://k3cloud.sandbox/k3cloud/"
AUTH = "Kingdee.BOS.WebApi.ServicesStub.AuthService."
FORM = "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService."
QUERY = FORM + "ExecuteBillQuery"
T0 = datetime(2024, 7, 1, tzinfo=CHINA).timestamp()
"""The fake clock: one month after the seeded history (world.ANCHOR = 2024-06-01)."""
SESSION_LOST = "会话信息已丢失，请重新登录"


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def url(service: str) -> str:
    return f"{ROOT}{service}.common.kdsvc"


def path(service: str) -> str:
    return f"/k3cloud/{service}.common.kdsvc"


def client_for(sim: K3CloudSimulator) -> httpx.Client:
    return httpx.Client(transport=SandboxTransport({"k3cloud": sim}))


def post(client: httpx.Client, service: str, body: Any, **kwargs: Any) -> Any:
    response = client.post(url(service), json=body, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def status_of(answer: Any) -> dict[str, Any]:
    """The ResponseStatus of an answer, unwrapping ExecuteBillQuery's ``[[...]]``."""
    if isinstance(answer, list):
        assert len(answer) == 1 and len(answer[0]) == 1, answer
        answer = answer[0][0]
    return answer["Result"]["ResponseStatus"]


def doc_signed_headers(
    service: str, ts: str, *, secret: str = S.APP_SECRET, user: str = S.USERNAME
) -> dict[str, str]:
    """The SDK's BuildHeader, re-implemented here from docs/vendor-protocols.md §1.3.C."""
    client_id, part2 = S.APP_ID.split("_")
    key = codecs.encode("0054s397p6234378o09pn7q3r5qropr7", "rot13").encode()
    client_sec = base64.b64encode(bytes(b ^ key[i] for i, b in enumerate(base64.b64decode(part2)))).decode()
    quoted = quote(path(service), encoding="utf-8").replace("/", "%2F")
    api_sign = f"POST\n{quoted}\n\nx-api-nonce:{ts}\nx-api-timestamp:{ts}\n"
    app_data = f"{S.ACCT_ID},{user},2052,100"

    def hmac_b64(k: str, message: str) -> str:
        return base64.b64encode(
            hmac.new(k.encode(), message.encode(), hashlib.sha256).hexdigest().encode()
        ).decode()

    return {
        "X-Api-ClientID": client_id,
        "X-Api-Auth-Version": "2.0",
        "x-api-timestamp": ts,
        "x-api-nonce": ts,
        "x-api-signheaders": "x-api-timestamp,x-api-nonce",
        "X-Api-Signature": hmac_b64(client_sec, api_sign),
        "X-Kd-Appkey": S.APP_ID,
        "X-Kd-Appdata": base64.b64encode(app_data.encode()).decode(),
        "X-Kd-Signature": hmac_b64(secret, S.APP_ID + app_data),
    }


def validate_user(client: httpx.Client, password: str = S.PASSWORD) -> Any:
    body = {"acctID": S.ACCT_ID, "username": S.USERNAME, "password": password, "lcid": S.LCID}
    return post(client, AUTH + "ValidateUser", body)


def query(client: httpx.Client, **data: Any) -> Any:
    return post(client, QUERY, {"data": {"FormId": "SAL_SaleOrder", "FieldKeys": "FID", **data}})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sim(clock: Clock) -> K3CloudSimulator:
    return K3CloudSimulator(size=30, clock=clock)


@pytest.fixture
def client(sim: K3CloudSimulator) -> Iterator[httpx.Client]:
    with client_for(sim) as http:
        assert validate_user(http)["LoginResultType"] == 1
        yield http


# -- authentication ---------------------------------------------------------------------------


def test_the_documents_signed_header_vector_is_accepted_and_opens_a_session():
    sim = K3CloudSimulator(size=5, clock=Clock(1700000000))
    headers = {
        "X-Api-ClientID": "123456",
        "X-Api-Auth-Version": "2.0",
        "x-api-timestamp": "1700000000",
        "x-api-nonce": "1700000000",
        "x-api-signheaders": "x-api-timestamp,x-api-nonce",
        "X-Api-Signature": "N2M1YmZlZTUyZjc5YTRjMzU0MjkxMWVjODQ0YWEwZjQ0NzQyNWZjZjcwNGFhNzg0MzMxOGI5ZmI4YjNlMzUxOA==",
        "X-Kd-Appkey": "123456_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX",
        "X-Kd-Appdata": "NjRmMGExYjJjM2Q0ZTUsZGVtbywyMDUyLDEwMA==",
        "X-Kd-Signature": "YzFjOWExNzA1MGM1NTAwYzk3MjdmMWFhNzQwZThiMWE3MzZlNTgwYTMzMGU4NWViNzc1MjBlMWMyMDU2NWFhNA==",
    }
    with client_for(sim) as http:
        response = http.post(
            url(QUERY),
            json={"data": {"FormId": "BD_Customer", "FieldKeys": "FNumber", "Limit": 2}},
            headers=headers,
        )
        assert response.json() == [["CUST0001"], ["CUST0002"]]
        assert SESSION_LOST not in str(query(http))  # the session cookie alone admits the next call
    assert "kdservice-sessionid" in response.cookies and "ASP.NET_SessionId" in response.cookies
    assert sim.logins["signed-headers"] == 1


def test_signed_headers_sent_as_bare_hex_are_accepted(sim: K3CloudSimulator):
    headers = doc_signed_headers(QUERY, str(int(T0 * 1000)))  # a C#-style millisecond timestamp
    for name in ("X-Api-Signature", "X-Kd-Signature"):
        headers[name] = base64.b64decode(headers[name]).decode()
    with client_for(sim) as http:
        answer = http.post(
            url(QUERY),
            json={"data": {"FormId": "SAL_SaleOrder", "FieldKeys": "FID", "Limit": 3}},
            headers=headers,
        )
    assert answer.json() == [[100001], [100002], [100003]]


@pytest.mark.parametrize(
    ("service", "ts", "change", "reason"),
    [
        pytest.param(QUERY, str(int(T0)), {"secret": "0" * 32}, "X-Kd-Signature", id="wrong-app-secret"),
        pytest.param(QUERY, str(int(T0)), {"user": "intruder"}, "unknown user", id="unknown-user"),
        pytest.param(QUERY, str(int(T0) - 3600), {}, "timestamp", id="stale-timestamp"),
        pytest.param(FORM + "Save", str(int(T0)), {}, "X-Api-Signature", id="signed-for-another-path"),
    ],
)
def test_a_bad_signature_is_refused_with_msgcode_1(
    sim: K3CloudSimulator, service: str, ts: str, change: dict[str, str], reason: str
):
    headers = doc_signed_headers(service, ts, **change)
    with client_for(sim) as http:
        response = http.post(
            url(QUERY), json={"data": {"FormId": "SAL_SaleOrder", "FieldKeys": "FID"}}, headers=headers
        )
    assert response.status_code == 200
    status = status_of(response.json())
    assert status["IsSuccess"] is False and status["MsgCode"] == 1 and status["ErrorCode"] == 500
    assert status["Errors"] == [{"FieldName": None, "Message": SESSION_LOST, "DIndex": 0}]
    assert "set-cookie" not in response.headers
    assert reason in sim.refusals[-1]


def test_validate_user_answers_the_login_result_and_the_session_works_by_header_or_either_cookie(
    sim: K3CloudSimulator,
):
    with client_for(sim) as http:
        login = validate_user(http)
        cookies = dict(http.cookies)
    assert login["LoginResultType"] == 1 and login["IsSuccessByAPI"] is True
    assert login["Context"]["SessionId"] == login["KDSVCSessionId"] == cookies["kdservice-sessionid"]
    assert set(cookies) == {"kdservice-sessionid", "ASP.NET_SessionId"}
    for headers in (
        {"kdservice-sessionid": login["KDSVCSessionId"]},
        {"Cookie": f"kdservice-sessionid={cookies['kdservice-sessionid']}"},
        {"Cookie": f"Theme=standard; ASP.NET_SessionId={cookies['ASP.NET_SessionId']}"},
    ):
        with client_for(sim) as fresh:
            assert post(
                fresh,
                QUERY,
                {"data": {"FormId": "SAL_SaleOrder", "FieldKeys": "FID", "Limit": 1}},
                headers=headers,
            ) == [[100001]]


@pytest.mark.parametrize(
    ("service", "body"),
    [
        pytest.param(
            "ValidateUser",
            {
                "format": 1,
                "useragent": "ApiClient",
                "rid": "1",
                "v": "1.0",
                "parameters": f'["{S.ACCT_ID}","{S.USERNAME}","{S.PASSWORD}",2052]',
            },
            id="validate-user-legacy-envelope",
        ),
        pytest.param(
            "LoginByAppSecret",
            {"parameters": [S.ACCT_ID, S.USERNAME, S.APP_ID, S.APP_SECRET, 2052]},
            id="login-by-app-secret",
        ),
        pytest.param(
            "LoginBySign",
            {
                "parameters": [
                    S.ACCT_ID,
                    S.USERNAME,
                    S.APP_ID,
                    str(int(T0)),
                    hashlib.sha256(
                        "".join(
                            sorted([S.ACCT_ID, S.USERNAME, S.APP_ID, S.APP_SECRET, str(int(T0))])
                        ).encode()
                    ).hexdigest(),
                    "2052",
                ]
            },
            id="login-by-sign",
        ),
    ],
)
def test_every_login_mode_opens_a_session(sim: K3CloudSimulator, service: str, body: dict[str, Any]):
    with client_for(sim) as http:
        login = post(http, AUTH + service, body)
        rows = post(http, QUERY, {"data": {"FormId": "SAL_SaleOrder", "FieldKeys": "FBillNo", "Limit": 1}})
    assert login["LoginResultType"] == 1
    assert rows == [["XSDD202400001"]]
    assert sim.logins[service] == 1


@pytest.mark.parametrize(
    ("service", "parameters", "message"),
    [
        pytest.param(
            "ValidateUser", [S.ACCT_ID, S.USERNAME, "wrong", 2052], "用户名或密码错误", id="wrong-password"
        ),
        pytest.param(
            "ValidateUser", ["nope", S.USERNAME, S.PASSWORD, 2052], "数据中心", id="unknown-data-centre"
        ),
        pytest.param(
            "LoginByAppSecret",
            [S.ACCT_ID, S.USERNAME, S.APP_ID, "wrong", 2052],
            "应用密钥",
            id="wrong-app-secret",
        ),
        pytest.param(
            "LoginBySign",
            [S.ACCT_ID, S.USERNAME, S.APP_ID, str(int(T0)), "0" * 64, "2052"],
            "签名",
            id="bad-sign",
        ),
    ],
)
def test_wrong_credentials_answer_login_result_type_0(
    sim: K3CloudSimulator, service: str, parameters: list[Any], message: str
):
    with client_for(sim) as http:
        response = http.post(url(AUTH + service), json={"parameters": parameters})
        after = post(http, QUERY, {"data": {"FormId": "SAL_SaleOrder", "FieldKeys": "FID"}})
    login = response.json()
    assert login["LoginResultType"] == 0 and login["Context"] is None and message in login["Message"]
    assert "set-cookie" not in response.headers
    assert status_of(after)["MsgCode"] == 1


def test_a_session_expires_after_token_expiry_calls_and_a_new_login_recovers(clock: Clock):
    sim = K3CloudSimulator(size=10, clock=clock, faults=Faults(token_expiry_calls=2))
    with client_for(sim) as http:
        validate_user(http)
        assert query(http, Limit=1) == [[100001]]
        assert query(http, Limit=1) == [[100001]]
        expired = query(http, Limit=1)
        validate_user(http)
        again = query(http, Limit=1)
    assert status_of(expired)["MsgCode"] == 1 and status_of(expired)["Errors"][0]["Message"] == SESSION_LOST
    assert [c.fault for c in sim.calls_to("ExecuteBillQuery")] == [None, None, "expired", None]
    assert again == [[100001]]


def test_a_session_expires_after_its_lifetime_and_logout_ends_one(
    sim: K3CloudSimulator, client: httpx.Client, clock: Clock
):
    clock.t += S.SESSION_LIFETIME + 1
    assert status_of(query(client))["MsgCode"] == 1
    validate_user(client)
    assert post(client, AUTH + "Logout", {}) is True
    answer = post(client, FORM + "Save", {"formid": "BD_Customer", "data": {"Model": {"FName": "x"}}})
    assert answer["Result"]["ResponseStatus"]["MsgCode"] == 1  # Save's wrapper is the bare object


# -- ExecuteBillQuery / BillQuery -------------------------------------------------------------


def test_field_keys_follow_base_data_references_and_answer_vendor_types(client: httpx.Client):
    rows = query(
        client,
        FieldKeys="FID,FBillNo,FCustId,FCustId.FNumber,FCustId.FGroup.FNumber,FDate,FBillAllAmount,F_Cash_Collection_Id",
        FilterString="FBillNo = 'xsdd202400002'",
    )
    assert rows == [
        [100002, "XSDD202400002", 120002, "CUST0002", "B12", "2024-05-01T00:00:00", 1037.5, "3000000002"]
    ]


def test_entry_fields_answer_one_row_per_entry_row_with_the_entry_id(
    client: httpx.Client, sim: K3CloudSimulator
):
    rows = query(
        client,
        FieldKeys="FBillNo,FSaleOrderEntry_FEntryID,FMaterialId.FNumber,FQty",
        FilterString="FID <= 100003",
    )
    expected = [
        [b["FBillNo"], e["FEntryID"], e["FMaterialId"], e["FQty"]]
        for b in sim.bills("SAL_SaleOrder")[:3]
        for e in b["FSaleOrderEntry"]
    ]
    assert rows == expected and len(rows) == 1 + 2 + 3


def test_bill_query_answers_objects_keyed_by_the_field_keys(client: httpx.Client):
    body = {"data": {"FormId": "bd_customer", "FieldKeys": "FNumber,FUseOrgId.FNumber", "Limit": 2}}
    assert post(client, FORM + "BillQuery", body) == [
        {"FNumber": "CUST0001", "FUseOrgId.FNumber": "BZ"},
        {"FNumber": "CUST0002", "FUseOrgId.FNumber": "DZ"},
    ]


def _closed_or_cancelled_since(bill: dict[str, Any], since: datetime) -> bool:
    dates = [d for d in (bill["FCloseDate"], bill["FCancelDate"]) if d is not None]
    return (bill["FCloseStatus"] == "B" or bill["FCancelStatus"] == "B") and any(d >= since for d in dates)


SINCE = datetime(2024, 5, 16)


@pytest.mark.parametrize(
    ("filter_string", "keep"),
    [
        pytest.param(
            "(FCloseStatus='B' or FCancelStatus='B') and (FCloseDate>='2024-05-16 00:00:00' or FCancelDate>='2024-05-16 00:00:00')",
            lambda b: _closed_or_cancelled_since(b, SINCE),
            id="seed-000",
        ),
        pytest.param(
            "FCancelStatus = 'B' and not FDocumentStatus <> 'A'",
            lambda b: b["FCancelStatus"] == "B",
            id="not",
        ),
        pytest.param("FDocumentStatus in ('A', 'B')", lambda b: b["FDocumentStatus"] in "AB", id="in"),
        pytest.param("FCloseDate is not null", lambda b: b["FCloseDate"] is not None, id="is-not-null"),
        pytest.param(
            "FCustId.FNumber like 'cust001%'", lambda b: b["FCustId"].startswith("CUST001"), id="like"
        ),
        pytest.param(
            "FModifyDate between '2024-05-10' and '2024-05-20 12:00:00'",
            lambda b: datetime(2024, 5, 10) <= b["FModifyDate"] <= datetime(2024, 5, 20, 12),
            id="between",
        ),
        pytest.param(
            "FID > 100010 or FID = '100002'",
            lambda b: b["FID"] > 100010 or b["FID"] == 100002,
            id="number-text",
        ),
    ],
)
def test_filter_string_selects_what_sql_server_would(
    client: httpx.Client, sim: K3CloudSimulator, filter_string, keep
):
    expected = [[b["FID"]] for b in sim.bills("SAL_SaleOrder") if keep(b)]
    assert 0 < len(expected) < 30
    assert query(client, FilterString=filter_string) == expected


@pytest.mark.parametrize(
    ("data", "code", "message"),
    [
        pytest.param({"FilterString": "FID >"}, 4, "GetRealExpress error", id="incomplete-filter"),
        pytest.param({"FilterString": "(FID = 1"}, 4, "GetRealExpress error", id="unbalanced-parenthesis"),
        pytest.param({"FilterString": "FDate >= 'yesterday'"}, 4, "转换失败", id="not-a-date"),
        pytest.param(
            {"FilterString": "FNoSuch = 1"}, 9, "元数据中标识为FNoSuch的字段不存在", id="unknown-filter-field"
        ),
        pytest.param({"FieldKeys": "FID,FCustId.FNope"}, 9, "FCustId.FNope", id="unknown-field-key"),
        pytest.param({"FieldKeys": ""}, 8, "FieldKeys", id="empty-field-keys"),
        pytest.param(
            {"FormId": "NO_SUCH_FORM"}, 4, "标识为“NO_SUCH_FORM”的业务对象不存在", id="unknown-form"
        ),
        pytest.param({"Limit": "ten"}, 8, "Limit", id="limit-not-a-number"),
    ],
)
def test_bad_queries_answer_the_vendor_error_wrapper(
    client: httpx.Client, data: dict[str, Any], code: int, message: str
):
    answer = query(client, **data)
    assert isinstance(answer, list) and isinstance(answer[0], list)
    status = status_of(answer)
    assert status["IsSuccess"] is False and status["ErrorCode"] == 500 and status["MsgCode"] == code
    assert message in status["Errors"][0]["Message"]


@pytest.mark.parametrize(
    ("limit", "pages"),
    [
        pytest.param(30, [30, 0], id="exactly-one-full-page"),
        pytest.param(12, [12, 12, 6], id="short-last-page"),
        pytest.param("10", [10, 10, 10, 0], id="limit-as-text"),
    ],
)
def test_start_row_and_limit_page_over_a_stable_order(client: httpx.Client, limit: Any, pages: list[int]):
    seen: list[int] = []
    sizes = []
    for page in range(len(pages)):
        rows = query(client, StartRow=page * int(limit), Limit=limit)
        sizes.append(len(rows))
        seen += [r[0] for r in rows]
    assert sizes == pages
    assert seen == list(range(100001, 100031))


def test_an_empty_result_and_top_row_count_as_an_absolute_end_row(client: httpx.Client):
    assert query(client, FilterString="FID < 0", Limit=10) == []
    assert query(client, StartRow=10, Limit=10, TopRowCount=10) == []
    assert query(client, StartRow=10, Limit=10, TopRowCount=15) == [[i] for i in range(100011, 100016)]
    assert len(query(client, Limit=0)) == 30


def test_order_string_sorts_before_paging(client: httpx.Client):
    rows = query(
        client, FieldKeys="FID,FCustId.FNumber", OrderString="FCustId.FNumber DESC, FID ASC", Limit=3
    )
    assert rows == [[100030, "CUST0030"], [100029, "CUST0029"], [100028, "CUST0028"]]


# -- Save / BatchSave / Submit / Audit --------------------------------------------------------


def customer(**fields: Any) -> dict[str, Any]:
    return {
        "FNumber": "",
        "FName": "上海某某贸易有限公司",
        "FGroup": {"FNumber": "B11"},
        "FCreateOrgId": {"FNumber": "100"},
        "FUseOrgId": {"FNumber": "BZ"},
        "FINVOICETITLE": "上海某某贸易有限公司",
        "FTAXREGISTERCODE": "91310000MA00000099",
        **fields,
    }


def test_save_creates_an_auto_numbered_audited_customer(client: httpx.Client, sim: K3CloudSimulator):
    body = {
        "formid": "BD_Customer",
        "data": {
            "IsAutoSubmitAndAudit": "true",
            "NeedReturnFields": ["FNumber", "FGroup"],
            "Model": customer(),
        },
    }
    answer = post(client, FORM + "Save", body)
    assert answer == {
        "Result": {
            "ResponseStatus": {
                "ErrorCode": 0,
                "IsSuccess": True,
                "Errors": [],
                "SuccessEntitys": [{"Id": 120041, "Number": "CUST0041", "DIndex": 0}],
                "SuccessMessages": [],
                "MsgCode": 0,
            },
            "Id": 120041,
            "Number": "CUST0041",
            "NeedReturnData": [{"FNumber": "CUST0041", "FGroup": {"FNumber": "B11"}}],
        }
    }
    saved = sim.bill("BD_Customer", 120041)
    assert saved is not None
    assert (saved["FDocumentStatus"], saved["FGroup"], saved["FCreateOrgId"], saved["FUseOrgId"]) == (
        "C",
        "B11",
        "100",
        "BZ",
    )
    assert saved["FModifyDate"] == datetime(2024, 7, 1)
    assert sim.saves("BD_Customer", 120041) == 1


def test_a_saved_bill_goes_through_submit_and_audit(client: httpx.Client, sim: K3CloudSimulator):
    saved = post(client, FORM + "Save", {"formid": "BD_Customer", "data": {"Model": customer()}})
    number = saved["Result"]["Number"]
    statuses = [sim.bill_by_number("BD_Customer", number)["FDocumentStatus"]]  # type: ignore[index]
    for operation in ("Submit", "Audit"):
        answer = post(client, FORM + operation, {"formid": "BD_Customer", "data": {"Numbers": [number]}})
        assert answer["Result"]["ResponseStatus"]["SuccessEntitys"] == [
            {"Id": saved["Result"]["Id"], "Number": number, "DIndex": 0}
        ]
        statuses.append(sim.bill_by_number("BD_Customer", number)["FDocumentStatus"])  # type: ignore[index]
    again = post(
        client, FORM + "Audit", {"formid": "BD_Customer", "data": {"Ids": f"{saved['Result']['Id']},999"}}
    )
    assert statuses == ["A", "B", "C"]
    status = again["Result"]["ResponseStatus"]
    assert status["IsSuccess"] is False and status["MsgCode"] == 11
    assert [(e["DIndex"], "已审核" in e["Message"]) for e in status["Errors"]] == [(0, True), (1, False)]


def test_save_with_a_non_zero_fid_updates_the_bill_and_merges_entries(
    client: httpx.Client, sim: K3CloudSimulator
):
    before = sim.bill("SAL_SaleOrder", 100003)
    assert before is not None and len(before["FSaleOrderEntry"]) == 3
    receipt = {
        "F_PBLH_CollectionNo": "HK0001",
        "F_PBLH_Date": "2024-05-20 10:30:00",
        "F_PBLH_Decimal": "1200.50",
        "F_PBLH_Payee": "张三",
    }
    keep_entries = {"FormId": "SAL_SaleOrder", "IsDeleteEntry": "false", "IsAutoSubmitAndAudit": "false"}
    for _ in range(2):
        post(
            client,
            FORM + "BatchSave",
            {
                "formid": "SAL_SaleOrder",
                "data": {**keep_entries, "Model": [{"FID": "100003", "F_PBLH_Entity": [receipt]}]},
            },
        )
    after = sim.bill("SAL_SaleOrder", 100003)
    assert after is not None
    receipts = after["F_PBLH_Entity"]
    assert [(r["F_PBLH_CollectionNo"], r["F_PBLH_Date"], r["F_PBLH_Decimal"]) for r in receipts] == [
        ("HK0001", datetime(2024, 5, 20, 10, 30), 1200.5)
    ] * 2
    assert after["FSaleOrderEntry"] == before["FSaleOrderEntry"] and after["FBillNo"] == before["FBillNo"]
    first = before["FSaleOrderEntry"][0]
    model = {
        "FID": 100003,
        "FNote": "改",
        "FSaleOrderEntry": [
            {"FEntryID": first["FEntryID"], "FQty": 99},
            {"FMaterialId": {"FNumber": "1.01.00005"}, "FQty": 1},
        ],
    }
    post(
        client, FORM + "Save", {"formid": "SAL_SaleOrder", "data": {"Model": model}}
    )  # IsDeleteEntry defaults to true
    final = sim.bill("SAL_SaleOrder", 100003)
    assert final is not None and final["FNote"] == "改" and len(final["F_PBLH_Entity"]) == 2
    assert [
        (e["FEntryID"] == first["FEntryID"], e["FMaterialId"], e["FQty"]) for e in final["FSaleOrderEntry"]
    ] == [
        (True, first["FMaterialId"], 99.0),
        (False, "1.01.00005", 1.0),
    ]
    assert sim.saves("SAL_SaleOrder", 100003) == 3


def test_saving_an_unknown_fid_fails_with_msgcode_10(client: httpx.Client):
    answer = post(
        client, FORM + "Save", {"formid": "SAL_SaleOrder", "data": {"Model": {"FID": 999, "FNote": "x"}}}
    )
    status = answer["Result"]["ResponseStatus"]
    assert (status["IsSuccess"], status["MsgCode"], answer["Result"]["Id"]) == (False, 10, "")
    assert status["Errors"][0]["FieldName"] == "FID"


def test_batch_save_verifies_base_data_per_row_and_saves_the_other_rows(
    client: httpx.Client, sim: K3CloudSimulator
):
    models = [customer(FName="甲"), customer(FName="乙", FGroup={"FNUMBER": "Z99"}), customer(FName="丙")]
    body = {
        "formid": "BD_Customer",
        "data": {"IsVerifyBaseDataField": True, "IsAutoSubmitAndAudit": True, "Model": models},
    }
    status = post(client, FORM + "BatchSave", body)["Result"]["ResponseStatus"]
    assert status["IsSuccess"] is False and status["ErrorCode"] == 500 and status["MsgCode"] == 11
    assert [(e["FieldName"], e["DIndex"]) for e in status["Errors"]] == [("FGroup", 1)]
    assert "Z99" in status["Errors"][0]["Message"]
    assert status["SuccessEntitys"] == [
        {"Id": 120041, "Number": "CUST0041", "DIndex": 0},
        {"Id": 120042, "Number": "CUST0042", "DIndex": 2},
    ]
    assert [c["FName"] for c in sim.bills("BD_Customer")[40:]] == ["甲", "丙"]


def test_without_verification_an_unknown_reference_is_left_empty(client: httpx.Client, sim: K3CloudSimulator):
    answer = post(
        client,
        FORM + "BatchSave",
        {"formid": "BD_Customer", "data": {"Model": customer(FGroup={"FNumber": "Z99"})}},
    )
    assert answer["Result"]["ResponseStatus"]["IsSuccess"] is True
    assert "Id" not in answer["Result"]  # BatchSave has no top-level Id/Number
    assert sim.bill("BD_Customer", 120041)["FGroup"] is None  # type: ignore[index]


def test_a_number_in_use_is_refused_and_saved_bills_are_queryable(
    client: httpx.Client, sim: K3CloudSimulator
):
    taken = post(
        client, FORM + "Save", {"formid": "BD_Customer", "data": {"Model": customer(FNumber="CUST0007")}}
    )
    assert taken["Result"]["ResponseStatus"]["Errors"][0]["FieldName"] == "FNumber"
    post(
        client,
        FORM + "Save",
        {"formid": "BD_Customer", "data": {"Model": customer(FNumber="NEW1", FName="新")}},
    )
    rows = post(
        client,
        QUERY,
        {
            "data": {
                "FormId": "BD_Customer",
                "FieldKeys": "FNumber,FName,FGroup.FName",
                "FilterString": "FModifyDate >= '2024-06-30'",
            }
        },
    )
    assert rows == [["NEW1", "新", "电商客户"]]


def test_allocation_is_recorded_from_allocate_and_from_distribution_org(
    client: httpx.Client, sim: K3CloudSimulator
):
    post(
        client,
        FORM + "Save",
        {"formid": "BD_Customer", "data": {"distributionOrg": "100040", "Model": customer()}},
    )
    answer = post(
        client, FORM + "Allocate", {"formid": "BD_Customer", "data": {"PkIds": "120001", "TOrgIds": "100038"}}
    )
    assert answer["Result"]["ResponseStatus"]["IsSuccess"] is True
    assert sim.allocations("BD_Customer", 120041) == ["100040"]
    assert sim.allocations("bd_customer", 120001) == ["BZ"]


def test_view_excute_operation_and_delete(client: httpx.Client, sim: K3CloudSimulator):
    view = post(
        client,
        FORM + "View",
        {"formid": "SAL_SaleOrder", "data": {"CreateOrgId": 0, "Number": "XSDD202400002"}},
    )
    bill = view["Result"]["Result"]
    assert view["Result"]["ResponseStatus"]["IsSuccess"] is True
    assert (bill["Id"], bill["FCustId"]) == (
        100002,
        {"Id": 120002, "Number": "CUST0002", "Name": "测试客户0002"},
    )
    assert len(bill["FSaleOrderEntry"]) == 2
    forbid = {"formid": "BD_CustomerGroup", "opNumber": "Forbid", "data": {"Numbers": ["B12"]}}
    assert post(client, FORM + "ExcuteOperation", forbid)["Result"]["ResponseStatus"]["IsSuccess"] is True
    body = {
        "formid": "BD_Customer",
        "data": {"IsVerifyBaseDataField": "true", "Model": customer(FGroup={"FNumber": "B12"})},
    }
    refused = post(client, FORM + "Save", body)["Result"]["ResponseStatus"]["Errors"]
    assert [(e["FieldName"], "已禁用" in e["Message"]) for e in refused] == [("FGroup", True)]
    created = post(client, FORM + "Save", {"formid": "BD_Customer", "data": {"Model": customer()}})["Result"][
        "Id"
    ]
    deleted = post(client, FORM + "Delete", {"formid": "BD_Customer", "data": {"Ids": f"{created},120001"}})
    status = deleted["Result"]["ResponseStatus"]
    assert [e["DIndex"] for e in status["SuccessEntitys"]] == [0] and [
        e["DIndex"] for e in status["Errors"]
    ] == [1]
    assert sim.bill("BD_Customer", created) is None and sim.bill("BD_Customer", 120001) is not None


# -- faults -----------------------------------------------------------------------------------


def test_injected_server_errors_and_timeouts(clock: Clock):
    failing = K3CloudSimulator(size=5, clock=clock, faults=Faults(error_rate=1.0, timeout_share=0.0))
    with client_for(failing) as http:
        assert http.post(url(AUTH + "ValidateUser"), json={}).status_code == 500
    timing_out = K3CloudSimulator(
        size=5, clock=clock, faults=Faults(error_rate=1.0, timeout_share=1.0, commit_before_timeout=1.0)
    )
    headers = doc_signed_headers(FORM + "Save", str(int(T0)))
    with client_for(timing_out) as http, pytest.raises(httpx.ReadTimeout):
        http.post(
            url(FORM + "Save"), json={"formid": "BD_Customer", "data": {"Model": customer()}}, headers=headers
        )
    assert timing_out.calls[-1].fault == "timeout-after-commit"
    assert timing_out.bill_by_number("BD_Customer", "CUST0041") is not None
    assert timing_out.is_write(httpx.Request("POST", url(FORM + "BatchSave")))
    assert not timing_out.is_write(httpx.Request("POST", url(QUERY)))


def test_a_call_over_the_rate_budget_answers_msgcode_14(clock: Clock):
    sim = K3CloudSimulator(size=5, clock=clock, faults=Faults(rate_per_minute=2))
    with client_for(sim) as http:
        validate_user(http)
        answers = [query(http, Limit=1) for _ in range(3)]
    assert answers[:2] == [[[100001]], [[100001]]]
    status = status_of(answers[2])
    assert (status["MsgCode"], status["Errors"][0]["Message"]) == (14, "调用频率超出限制")
    assert sim.calls[-1].fault == "throttled"


def _naive_pages(sim: K3CloudSimulator, page_size: int) -> list[int]:
    window = "FModifyDate >= '2024-05-01 00:00:00' and FModifyDate < '2024-06-01 00:00:00'"
    seen: list[int] = []
    with client_for(sim) as http:
        validate_user(http)
        start = 0
        while True:
            rows = query(http, FilterString=window, StartRow=start, Limit=page_size)
            seen += [r[0] for r in rows]
            if len(rows) < page_size:
                return seen
            start += page_size


def test_drift_moves_records_out_of_a_modification_window_while_paging(clock: Clock):
    calm = _naive_pages(K3CloudSimulator(size=30, clock=clock), 5)
    drifting_sim = K3CloudSimulator(size=30, clock=clock, faults=Faults(drift_rate=0.3, seed=3))
    drifting = _naive_pages(drifting_sim, 5)
    assert calm == list(range(100001, 100031))
    drifted = drifting_sim.store.forms["sal_saleorder"].data.drifted
    assert drifted and len(set(drifting)) < 30
    assert all(
        drifting_sim.bill("SAL_SaleOrder", int(fid))["FModifyDate"] == datetime(2024, 7, 1) for fid in drifted
    )  # type: ignore[index]


def test_duplicate_and_late_faults_reach_bill_queries(clock: Clock):
    dup = K3CloudSimulator(size=10, clock=clock, faults=Faults(duplicate_rate=1.0))
    with client_for(dup) as http:
        validate_user(http)
        assert query(http, StartRow=5, Limit=5) == [
            [100005],
            [100006],
            [100007],
            [100008],
            [100009],
            [100010],
        ]
    late = K3CloudSimulator(size=30, clock=clock, faults=Faults(late_rate=0.3, late_after_calls=2, seed=5))
    with client_for(late) as http:
        validate_user(http)
        counts = [len(query(http)) for _ in range(3)]
    assert counts[0] < 30 and counts[-1] == 30


def test_other_paths_and_methods_answer_http_errors_and_describe_names_the_credentials(sim: K3CloudSimulator):
    with client_for(sim) as http:
        assert (
            http.post(
                "http://k3cloud.sandbox/Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.Save.common.kdsvc"
            ).status_code
            == 404
        )
        assert http.get(url(QUERY)).status_code == 405
    described = sim.describe()
    assert described["base_url"] == "http://k3cloud.sandbox/k3cloud/"
    assert described["credentials"]["app_id"] == S.APP_ID and described["credentials"]["lcid"] == 2052
    assert described["forms"]["SAL_SaleOrder"] == 30 and described["forms"]["BD_Customer"] == 40
