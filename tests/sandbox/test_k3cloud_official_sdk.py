"""Kingdee's official Python SDK (PyPI ``kingdee.cdp.webapi.sdk``) against the K3Cloud simulator.

The simulator is served over HTTP on a localhost port, as ``ferry sandbox`` serves it, and the
SDK is used as its own sample code uses it: configured from a ``conf.ini`` (or by parameters),
then calling its service methods. The SDK has no login call: every request carries its signed
``X-Api-*``/``X-Kd-*`` headers, the first one opens a session (``kdservice-sessionid``) and the SDK
sends the session back from then on.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from k3cloud_webapi_sdk.main import K3CloudApiSdk

from ferry.sandbox import Sandbox
from ferry.sandbox.k3cloud import K3CloudSimulator
from ferry.sandbox.server import SandboxServer

S = K3CloudSimulator
SESSION_LOST = "会话信息已丢失，请重新登录"
FORM = "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService."


@pytest.fixture
def served() -> Iterator[tuple[K3CloudSimulator, str]]:
    """The simulator on a real port, and the server URL a client is configured with."""
    sandbox = Sandbox.default(size=30, only=["k3cloud"])
    with SandboxServer(sandbox) as server:
        sim = sandbox["k3cloud"]
        assert isinstance(sim, K3CloudSimulator)
        yield sim, f"{server.urls()['k3cloud']}/k3cloud/"


def conf_ini(path: Path, server_url: str, app_secret: str = S.APP_SECRET) -> Path:
    """The SDK's configuration file (``config_util.InitConfig`` reads these keys)."""
    path.write_text(
        "[config]\n"
        f"X-KDApi-AcctID = {S.ACCT_ID}\n"
        f"X-KDApi-UserName = {S.USERNAME}\n"
        f"X-KDApi-AppID = {S.APP_ID}\n"
        f"X-KDApi-AppSec = {app_secret}\n"
        f"X-KDApi-ServerUrl = {server_url}\n"
        f"X-KDApi-LCID = {S.LCID}\n"
        f"X-KDApi-OrgNum = {S.ORG_NUM}\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def sdk(served: tuple[K3CloudSimulator, str], tmp_path: Path) -> K3CloudApiSdk:
    _sim, server_url = served
    client = K3CloudApiSdk(server_url)
    client.Init(config_path=str(conf_ini(tmp_path / "conf.ini", server_url)), config_node="config")
    return client


def customer(name: str) -> dict[str, Any]:
    return {
        "FNumber": "",
        "FName": name,
        "FGroup": {"FNumber": "B11"},
        "FCreateOrgId": {"FNumber": "100"},
        "FUseOrgId": {"FNumber": "BZ"},
    }


def test_the_sdk_logs_in_by_its_signed_headers_once_and_queries_bills(
    sdk: K3CloudApiSdk, served: tuple[K3CloudSimulator, str]
) -> None:
    sim, _url = served
    first = json.loads(
        sdk.ExecuteBillQuery(
            {
                "FormId": "SAL_SaleOrder",
                "FieldKeys": "FID,FBillNo,FCustId.FNumber",
                "FilterString": "FBillNo = 'XSDD202400002'",
            }
        )
    )
    assert first == [[100002, "XSDD202400002", "CUST0002"]]
    assert sdk.cookiesStore.SID != ""  # the session cookie, kept by the SDK

    every = json.loads(
        sdk.ExecuteBillQuery(
            {"FormId": "SAL_SaleOrder", "FieldKeys": "FID,FBillNo", "OrderString": "FID ASC"}
        )
    )
    assert every == [[b["FID"], b["FBillNo"]] for b in sim.bills("SAL_SaleOrder")] and len(every) == 30
    assert json.loads(sdk.GetDataCenters())[0]["Id"] == S.ACCT_ID
    assert sim.logins == {"signed-headers": 1}, "later calls ride on the session the first one opened"
    assert sim.refusals == []


def test_batch_save_through_the_sdk_creates_the_bills(
    sdk: K3CloudApiSdk, served: tuple[K3CloudSimulator, str]
) -> None:
    sim, _url = served
    answer = json.loads(
        sdk.BatchSave(
            "BD_Customer",
            {"IsAutoSubmitAndAudit": True, "Model": [customer("甲贸易"), customer("乙贸易")]},
        )
    )
    status = answer["Result"]["ResponseStatus"]
    assert (status["IsSuccess"], status["ErrorCode"], status["MsgCode"], status["Errors"]) == (True, 0, 0, [])
    assert status["SuccessEntitys"] == [
        {"Id": 120041, "Number": "CUST0041", "DIndex": 0},
        {"Id": 120042, "Number": "CUST0042", "DIndex": 1},
    ]
    saved = [sim.bill("BD_Customer", pk) for pk in (120041, 120042)]
    assert [(b["FName"], b["FDocumentStatus"]) for b in saved if b] == [("甲贸易", "C"), ("乙贸易", "C")]


def test_the_sdks_async_batch_save_polls_its_task_and_saves_once(
    sdk: K3CloudApiSdk, served: tuple[K3CloudSimulator, str]
) -> None:
    sim, _url = served
    answer = json.loads(sdk.BatchSaveQuery("BD_Customer", {"Model": [customer("丙贸易")]}))
    status = answer["Result"]["ResponseStatus"]
    assert status["IsSuccess"] is True
    assert status["SuccessEntitys"] == [{"Id": 120041, "Number": "CUST0041", "DIndex": 0}]
    assert [len(sim.calls_to("BatchSave")), len(sim.calls_to("QueryAsyncResult"))] == [1, 1]
    assert sim.saves("BD_Customer", 120041) == 1
    saved = sim.bill("BD_Customer", 120041)
    assert saved is not None and saved["FName"] == "丙贸易"


def test_a_failed_async_save_reports_the_vendor_errors_as_its_result(
    sdk: K3CloudApiSdk, served: tuple[K3CloudSimulator, str]
) -> None:
    sim, _url = served
    bad = {**customer("丁贸易"), "FGroup": {"FNumber": "Z99"}}
    answer = json.loads(sdk.BatchSaveQuery("BD_Customer", {"IsVerifyBaseDataField": True, "Model": [bad]}))
    status = answer["Result"]["ResponseStatus"]
    assert (status["IsSuccess"], status["ErrorCode"], status["MsgCode"]) == (False, 500, 11)
    assert [(e["FieldName"], e["DIndex"]) for e in status["Errors"]] == [("FGroup", 0)]
    assert "Z99" in status["Errors"][0]["Message"]
    assert len(sim.bills("BD_Customer")) == 40


def test_a_wrong_app_secret_is_refused_with_kingdees_error(
    served: tuple[K3CloudSimulator, str], tmp_path: Path
) -> None:
    sim, server_url = served
    wrong = K3CloudApiSdk(server_url)
    wrong.InitConfig(S.ACCT_ID, S.USERNAME, S.APP_ID, "0" * 32, server_url, org_num=int(S.ORG_NUM))

    refused = json.loads(wrong.ExecuteBillQuery({"FormId": "SAL_SaleOrder", "FieldKeys": "FID"}))
    assert refused == [
        [
            {
                "Result": {
                    "ResponseStatus": {
                        "ErrorCode": 500,
                        "IsSuccess": False,
                        "Errors": [{"FieldName": None, "Message": SESSION_LOST, "DIndex": 0}],
                        "SuccessEntitys": [],
                        "SuccessMessages": [],
                        "MsgCode": 1,
                    }
                }
            }
        ]
    ]
    saved = json.loads(wrong.BatchSave("BD_Customer", {"Model": [customer("戊贸易")]}))
    assert saved["Result"]["ResponseStatus"]["MsgCode"] == 1
    assert len(sim.bills("BD_Customer")) == 40, "nothing saved"
    assert sim.logins == {} and sim.refusals == ["X-Kd-Signature does not match"] * 2


@pytest.mark.parametrize(
    "service",
    [
        pytest.param(FORM + "SendMsg", id="form-service-not-simulated"),
        pytest.param("Kingdee.BOS.WebApi.ServicesStub.NoSuchService.Run", id="unknown-service"),
    ],
)
def test_a_service_the_simulator_does_not_serve_answers_kingdees_error_envelope(
    sdk: K3CloudApiSdk, service: str
) -> None:
    answer = json.loads(sdk.Execute(service, {"data": {}}))  # HTTP 200: the SDK does not raise
    assert answer == {
        "Result": {
            "ResponseStatus": {
                "ErrorCode": 500,
                "IsSuccess": False,
                "Errors": [{"FieldName": None, "Message": f"服务“{service}”不存在", "DIndex": 0}],
                "SuccessEntitys": [],
                "SuccessMessages": [],
                "MsgCode": 4,
            }
        }
    }


def test_ferry_sandbox_prints_the_server_url_the_sdk_is_configured_with(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "250", "FERRY_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ferry", "sandbox", "--only", "k3cloud", "--port", "0", "--size", "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        printed = []
        for line in proc.stdout:
            printed.append(line)
            if line.startswith("Serving"):
                break
        found = re.findall(r"http://127\.0\.0\.1:\d+/k3cloud/(?=\s)", "".join(printed))
        assert len(found) == 1, "".join(printed)
        client = K3CloudApiSdk(found[0])
        client.InitConfig(S.ACCT_ID, S.USERNAME, S.APP_ID, S.APP_SECRET, found[0], org_num=int(S.ORG_NUM))
        rows = json.loads(client.ExecuteBillQuery({"FormId": "SAL_SaleOrder", "FieldKeys": "FID"}))
        assert len(rows) == 30
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
