"""WangDianTong 旺店通 企业版 source: the direct openapi2 route and the Qimen 奇门 route.

``connections.yaml``::

    wdt_qimen:
      type: wangdiantong
      route: qimen                                   # or direct
      base_url: http://hu3cgwt0tc.api.taobao.com/router/qm
      sid: ${WDT_SID}
      app_key: ${WDT_QIMEN_APP_KEY}
      app_secret: ${WDT_QIMEN_APP_SECRET}
      target_app_key: ${WDT_TARGET_APP_KEY}          # Qimen only: WDT's app key on Qimen

For ``route: direct``, ``base_url`` is the openapi2 root (``https://api.wangdian.cn/openapi2``)
and ``app_key``/``app_secret`` are the openapi2 ``appkey``/``appsecret``. For ``route: qimen`` it
is the full router URL and the keys are the caller's Qimen (TOP) app.

The scheme's ``api`` is the Qimen method, ``wdt.stockout.order.query.trade``. On the direct
route it becomes ``stockout_order_query_trade.php`` (drop ``wdt.``, dots to underscores, add
``.php``); a ``.php`` name is accepted on both routes. Every call is signed
(:mod:`ferry.connectors._wdt_sign`): direct with the length-prefixed MD5 and a Unix-seconds
timestamp, Qimen with the TOP MD5 and a ``yyyy-MM-dd HH:mm:ss`` Beijing-time timestamp. Empty
request values (the seed's blank filters) are not sent.

Paging: ``page_no`` is 0-based (``Limits.page_base = 0``) and ``page_size`` at most 100; the
connector sets both, overriding the request's. The page count is ``ceil(total_count /
page_size)``; without ``total_count`` a short page is the last. Records are ``stockout_list``.
Queries span at most 30 days (``Limits.max_window``); the engine splits longer ranges. WDT's
interval is closed, so a record exactly at a window boundary is read twice; the ledger keeps one.

Errors (WDT's code table is not published; these codes are the simulator's [GUESS], see
:mod:`ferry.sandbox.wangdiantong`):

=====================================================  ==========================================
1007 sign/credentials, 1008 timestamp, 1030 parameter,  ``ConfigError`` naming the connection and
1060 arrears; TOP 22/25/27/29/31/41; HTTP 4xx           quoting the vendor's code and text
1020; TOP 7 (``retry_after`` from the ban's seconds)    ``ThrottledError``
1012/1013/1040/1200/1610, other WDT codes, TOP 10/15    ``RetriableError``
HTTP 5xx, timeouts, non-JSON answers                    ``RetriableError`` (:class:`VendorClient`)
=====================================================  ==========================================

An unofficial client also retries 1030; the guessed table reads 1030 as a parameter error, so
it is a ``ConfigError`` here. WDT has no token or session (the app secret signs every call),
so nothing expires and ``AuthExpiredError`` never arises; TOP 27 "Invalid Session" is treated
as bad credentials.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar, Literal, NoReturn

from pydantic import Field, SecretStr, model_validator

from ferry.connectors._vendor import VendorClient, VendorConnection, VendorSource, form_text, window_limit
from ferry.connectors._wdt_sign import qimen_sign, wdt_sign
from ferry.connectors.base import Limits, Page, PageState
from ferry.connectors.paging import PageNumberPaginator, first_known, pages_reach_total, short_page
from ferry.errors import ConfigError, RetriableError

__all__ = ["WangdiantongConnection", "WangdiantongConnector"]

LIMITS = Limits(max_window=window_limit(30), max_page_size=100, default_page_size=40, page_base=0)
"""Documented limits of ``stockout_order_query_trade`` (no rate limit is published)."""

CONFIG_CODES: dict[int, str] = {
    1007: "check sid, app_key and app_secret (the signature or the credentials were rejected)",
    1008: "the request timestamp was refused; check this machine's clock",
    1030: "a request parameter was refused; check the scheme's request fields",
    1060: "the WDT account has no balance or the app is in arrears; settle it with WangDianTong",
}
THROTTLE_CODES = frozenset({1020})
RETRY_CODES = frozenset({1012, 1013, 1040, 1200, 1610})
TOP_CONFIG_HINTS: dict[int, str] = {
    22: "the scheme's api is not a Qimen method WDT offers",
    25: "check app_secret (the Qimen signature was rejected)",
    27: "check the Qimen app's authorisation",
    29: "check app_key (the Qimen app key is unknown)",
    31: "the request timestamp was refused; check this machine's clock",
    41: "check target_app_key, sid and the scheme's request fields",
}
TOP_THROTTLE = 7
_CHINA = timezone(timedelta(hours=8))
_BAN_SECONDS = re.compile(r"(\d+(?:\.\d+)?)\s*more seconds")


class WangdiantongConnection(VendorConnection):
    """A WangDianTong 企业版 account, reached directly (openapi2) or through Qimen."""

    type: Literal["wangdiantong"] = "wangdiantong"
    route: Literal["direct", "qimen"] = Field(
        "direct", description="direct: api.wangdian.cn/openapi2; qimen: the Taobao Qimen router (企业奇门)."
    )
    sid: str = Field(min_length=1, description="The WDT seller account (卖家账号 sid).")
    app_key: str = Field(min_length=1, description="openapi2 appkey (direct) or the Qimen app key (qimen).")
    app_secret: SecretStr = Field(description="The secret that signs every call. Secret: never shown.")
    target_app_key: str | None = Field(
        None, description="Qimen only: WangDianTong's app key on Qimen (target_app_key)."
    )

    source_impl: ClassVar[str | None] = "ferry.connectors.wangdiantong:WangdiantongConnector"

    @model_validator(mode="after")
    def _qimen_needs_target(self) -> WangdiantongConnection:
        if self.route == "qimen" and not self.target_app_key:
            raise ValueError("route qimen needs target_app_key (WangDianTong's app key on Qimen)")
        return self


def direct_api(api: str) -> str:
    """``wdt.stockout.order.query.trade`` -> ``stockout_order_query_trade.php`` (``.php`` kept)."""
    api = api.strip().strip("/")
    if api.endswith(".php"):
        return api
    name = api.split("wdt.", 1)[1] if "wdt." in api else api
    return name.replace(".", "_") + ".php"


def qimen_method(api: str) -> str:
    """``stockout_order_query_trade.php`` -> ``wdt.stockout.order.query.trade`` (methods kept)."""
    api = api.strip().strip("/")
    if not api.endswith(".php"):
        return api
    return "wdt." + api[: -len(".php")].replace("_", ".")


class WangdiantongConnector(VendorSource):
    """Source connector for WangDianTong; see the module docstring for routes, paging and errors.

    Args:
        spec: The connection.
        transport: An ``httpx`` transport (the sandbox), or ``None`` for the network.
        clock: Seconds since the epoch, for signed timestamps (tests share the simulator's).
    """

    def __init__(
        self,
        spec: WangdiantongConnection,
        *,
        transport: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.limits = spec.limits(LIMITS)
        self.client = VendorClient(spec, transport=transport)
        self.pager = PageNumberPaginator(
            page_param="page_no",
            size_param="page_size",
            base=self.limits.page_base,
            cap=self.limits.max_page_size,
            last=first_known(pages_reach_total, short_page),
        )
        """``ceil(total_count / page_size)`` pages, else a short page is the last."""
        self.clock = clock
        self._secret = spec.app_secret.get_secret_value()

    def fetch(self, api: str, method: str, request: Mapping[str, Any], state: PageState) -> Page:
        """Fetch page ``state.index`` (sent as 0-based ``page_no``) of one query."""
        values = {key: value for key, value in form_text(request).items() if value != ""}
        values.update({key: str(value) for key, value in self.pager.request_fields(state).items()})
        if self.spec.route == "qimen":
            name = qimen_method(api)
            body = self._qimen(name, values)
        else:
            name = direct_api(api)
            body = self._direct(name, values)
        records = body.get("stockout_list")
        if records is None:
            records = []
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise RetriableError(
                f"{self.client.where(name)}: stockout_list is not a list of objects: "
                f"{self.client.quote(str(records))}"
            )
        total = _int_or_none(body.get("total_count"))
        following = self.pager.after(state, records, total=total)
        return Page(records=records, next=following, total=total)

    # -- direct openapi2 --------------------------------------------------------------------

    def _direct(self, api: str, values: dict[str, str]) -> dict[str, Any]:
        params = {
            **values,
            "sid": self.spec.sid,
            "appkey": self.spec.app_key,
            "timestamp": str(int(self.clock())),
        }
        params["sign"] = wdt_sign(params, self._secret)
        url = f"{self.spec.base_url.rstrip('/')}/{api}"
        doc = self._post(api, url, params)
        self._check_wdt(api, doc.get("code"), doc.get("message"))
        return doc

    # -- Qimen ------------------------------------------------------------------------------

    def _qimen(self, method: str, values: dict[str, str]) -> dict[str, Any]:
        stamp = datetime.fromtimestamp(self.clock(), _CHINA).strftime("%Y-%m-%d %H:%M:%S")
        params = {
            **values,
            "method": method,
            "app_key": self.spec.app_key,
            "target_app_key": self.spec.target_app_key or "",
            "sid": self.spec.sid,
            "format": "json",
            "v": "2.0",
            "sign_method": "md5",
            "timestamp": stamp,
        }
        params["sign"] = qimen_sign(params, self._secret)
        doc = self._post(method, self.spec.base_url, params)
        error = doc.get("error_response")
        if isinstance(error, dict):
            self._raise_top(method, error)
        body = doc.get("response")
        if not isinstance(body, dict):
            raise RetriableError(
                f"{self.client.where(method)}: answer has neither response nor error_response: "
                f"{self.client.quote(str(doc))}"
            )
        if str(body.get("flag", "success")).lower() != "success":
            message = body.get("message") or body.get("sub_message")
            self._check_wdt(method, body.get("code"), message, failed=True)
        return body

    def _raise_top(self, method: str, error: dict[str, Any]) -> NoReturn:
        code = _int_or_none(error.get("code"))
        text = str(error.get("msg", ""))
        if error.get("sub_msg"):
            text += f" ({error.get('sub_code') or ''}: {error['sub_msg']})"
        client = self.client
        if code == TOP_THROTTLE:
            match = _BAN_SECONDS.search(str(error.get("sub_msg", "")))
            raise client.throttled(method, code, text, float(match.group(1)) if match else None)
        if code in TOP_CONFIG_HINTS:
            raise client.config_error(method, code, text, TOP_CONFIG_HINTS[code])
        raise client.retriable(method, code, text)

    # -- shared -----------------------------------------------------------------------------

    def _post(self, api: str, url: str, params: dict[str, str]) -> dict[str, Any]:
        response = self.client.request("POST", url, api=api, data=params)
        if response.status_code >= 400:
            raise ConfigError(
                f"{self.client.where(api)}: HTTP {response.status_code}: {self.client.quote(response.text)}\n"
                f"  hint: check base_url and the scheme's api (route {self.spec.route})"
            )
        doc = self.client.json(response, api=api)
        if not isinstance(doc, dict):
            raise RetriableError(
                f"{self.client.where(api)}: answer is not a JSON object: {self.client.quote(str(doc))}"
            )
        return doc

    def _check_wdt(self, api: str, code: Any, message: Any, *, failed: bool = False) -> None:
        """Raise the error class for WDT result ``code`` (0 is success unless ``failed``)."""
        number = _int_or_none(code)
        if number == 0 and not failed:
            return
        client = self.client
        if number in CONFIG_CODES:
            raise client.config_error(api, code, message, CONFIG_CODES[number])
        if number in THROTTLE_CODES:
            raise client.throttled(api, code, message)
        raise client.retriable(api, code, message)

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
