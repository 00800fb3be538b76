"""K3Cloud's asynchronous mode as the Java SDK speaks it (headers, ``parameters``), and unknown tasks."""

from __future__ import annotations

from typing import Any

import httpx

from ferry.sandbox import SandboxTransport
from ferry.sandbox.k3cloud import K3CloudSimulator

S = K3CloudSimulator
ROOT = "http://k3cloud.sandbox/k3cloud/"
FORM = "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService."


def post(http: httpx.Client, service: str, body: Any, **kwargs: Any) -> Any:
    response = http.post(f"{ROOT}{service}.common.kdsvc", json=body, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def log_in(http: httpx.Client) -> None:
    body = {"acctID": S.ACCT_ID, "username": S.USERNAME, "password": S.PASSWORD, "lcid": S.LCID}
    assert (
        post(http, "Kingdee.BOS.WebApi.ServicesStub.AuthService.ValidateUser", body)["LoginResultType"] == 1
    )
    return http


def test_a_query_begun_by_headers_is_polled_by_parameters_and_answers_once() -> None:
    sim = K3CloudSimulator(size=5)
    with httpx.Client(transport=SandboxTransport({"k3cloud": sim})) as http:
        log_in(http)
        data = {"FormId": "SAL_SaleOrder", "FieldKeys": "FID", "OrderString": "FID ASC"}
        begun = post(
            http,
            FORM + "ExecuteBillQuery",
            {"parameters": [data]},
            headers={"beginmethod": "BeginQueryImpl", "querymethod": "QueryAsyncResult"},
        )
        assert (begun["Status"], begun["Result"], begun["IsFaulted"]) == (1, None, False)
        poll = {"parameters": [{"TaskId": begun["TaskId"], "Cancelled": False}]}
        done = post(http, FORM + "QueryAsyncResult", poll)
        assert (done["TaskId"], done["Status"], done["Successful"]) == (begun["TaskId"], 2, True)
        assert done["Result"] == [[b["FID"]] for b in sim.bills("SAL_SaleOrder")]
        again = post(http, FORM + "QueryAsyncResult", poll)
    assert (again["Status"], again["IsFaulted"], again["Result"]) == (2, True, None)
    assert again["Message"] == "异步任务不存在或已过期"


def test_polling_needs_a_session_like_every_form_service() -> None:
    sim = K3CloudSimulator(size=5)
    with httpx.Client(transport=SandboxTransport({"k3cloud": sim})) as http:
        answer = post(http, FORM + "QueryAsyncResult", {"queryInfo": '{"TaskId": "x", "Cancelled": false}'})
    assert answer["Result"]["ResponseStatus"]["MsgCode"] == 1
