"""K3Cloud login services: checking the credentials and the ``LoginResult`` answer (docs/vendor-protocols.md §1.3).

A refused login is the official failure template ``{"Message", "MessageCode": "",
"LoginResultType": 0, "Context": null, "FormId": null}`` (§1.3.B: the enum is not documented, 0
for every refusal). The messages are **[GUESS]** except ``用户名或密码错误`` (third-party fixtures).
A successful one is the documented ``LoginResult`` with ``LoginResultType`` 1 and the session
in ``KDSVCSessionId`` and ``Context.SessionId`` (values illustrative, as in the document).
"""

from __future__ import annotations

from typing import Any

from ferry.sandbox._k3cloud_auth import LCIDS, Account, login_sign

__all__ = ["LOGIN_FIELDS", "check_login", "login_failure", "login_result"]

LOGIN_FIELDS: dict[str, list[str]] = {
    "ValidateUser": ["acctid", "username", "password", "lcid"],
    "LoginByAppSecret": ["acctid", "username", "appid", "appsecret", "lcid"],
    "LoginBySign": ["acctid", "username", "appid", "timestamp", "sign", "lcid"],
}
"""The ``parameters`` of each login service, in order (named-object keys, lower-cased)."""


def check_login(
    account: Account, method: str, given: dict[str, str], now: float, tolerance: float | None
) -> str | None:
    """``None`` when ``given`` (``LOGIN_FIELDS[method]`` -> text) logs in, else the refusal message."""
    if given["acctid"] != account.acct_id:
        return "数据中心不存在，或者已被删除"
    if given["lcid"].strip() not in LCIDS:
        return f"不支持的语言：{given['lcid']}"
    if given["username"] != account.username:
        return "用户名或密码错误"
    if method == "ValidateUser":
        return None if given["password"] == account.password else "用户名或密码错误"
    if given["appid"] != account.app_id:
        return "第三方系统登录授权验证失败：应用ID不存在"
    if method == "LoginByAppSecret":
        return (
            None if given["appsecret"] == account.app_secret else "第三方系统登录授权验证失败：应用密钥错误"
        )
    ts = given["timestamp"]
    if not ts.isdigit() or (tolerance is not None and abs(now - int(ts)) > tolerance):
        return "第三方系统登录授权验证失败：时间戳无效"
    expected = login_sign(account.acct_id, account.username, account.app_id, account.app_secret, ts)
    return None if given["sign"].lower() == expected else "第三方系统登录授权验证失败：签名错误"


def login_failure(message: str) -> dict[str, Any]:
    """The refused-login answer."""
    return {"Message": message, "MessageCode": "", "LoginResultType": 0, "Context": None, "FormId": None}


def login_result(account: Account, session: str, lcid: int) -> dict[str, Any]:
    """The successful-login answer carrying ``session``."""
    return {
        "Message": None,
        "MessageCode": "CheckPasswordPolicy",
        "LoginResultType": 1,
        "Context": {
            "UserLocale": "zh-CN",
            "LogLocale": "zh-CN",
            "DBid": account.acct_id,
            "DatabaseType": 3,
            "SessionId": session,
            "UseLanguages": [{"LocaleId": lcid, "LocaleName": "中文(简体)", "Alias": "CN"}],
            "UserId": 100008,
            "UserName": account.username,
            "CustomName": "Ferry 演示",
            "DisplayVersion": "8.1.0",
            "DataCenterName": "演示数据中心",
            "DataCenterNumber": "DEMO",
            "CurrentOrganizationInfo": {
                "ID": 1,
                "AcctOrgType": "1",
                "Name": "总公司",
                "FunctionIds": [101, 102],
            },
            "IsCH_ZH_AutoTrans": False,
            "ClientType": 32,
            "WeiboAuthInfo": {},
            "UTimeZone": {
                "OffsetTicks": 288000000000,
                "StandardName": "(UTC+08:00)北京，重庆，香港特别行政区，乌鲁木齐",
            },
            "STimeZone": {
                "OffsetTicks": 288000000000,
                "StandardName": "(UTC+08:00)北京，重庆，香港特别行政区，乌鲁木齐",
            },
            "GDCID": account.acct_id,
            "Gsid": None,
            "TRLevel": 0,
            "ProductEdition": 0,
            "ContextResultType": 0,
            "TenantId": account.acct_id,
            "UserToken": session,
            "IsDeployAsPublicCloud": False,
        },
        "KDSVCSessionId": session,
        "FormId": None,
        "RedirectFormParam": None,
        "FormInputObject": None,
        "ErrorStackTrace": None,
        "Lcid": 0,
        "AccessToken": None,
        "CustomParam": {},
        "KdAccessResult": None,
        "IsSuccessByAPI": True,
    }
