"""WangDianTong 旺店通 企业版: the direct openapi2 route and the Qimen 奇门 route (docs/vendor-protocols.md §5).

One simulator serves both routes at ``http://wangdiantong.sandbox``:

* **direct**: ``POST /openapi2/<api>.php``, form fields ``sid``, ``appkey``, ``timestamp`` (Unix
  seconds, at most 5 minutes off), ``sign`` (length-prefixed MD5, :func:`wdt_sign`) plus the
  business parameters. Answers ``{"code": 0, "message": "", "total_count": n, "stockout_list": [...]}``;
  failures are HTTP 200 with ``{"code": <int>, "message": "<text>"}``.
* **Qimen**: ``POST /router/qm`` (or ``/router/qmtest``), parameters in the form body or the
  query string: ``method=wdt.stockout.order.query.trade``, ``app_key``, ``target_app_key``,
  ``sid``, ``format=json``, ``v=2.0``, ``sign_method=md5``, ``timestamp`` (``yyyy-MM-dd HH:mm:ss``,
  Beijing time) and ``sign`` (TOP MD5, :func:`qimen_sign`). Success is wrapped as
  ``{"response": {"flag": "success", "code": "0", ..., "total_count": n, "stockout_list": [...]}}``;
  gateway errors use the TOP shape ``{"error_response": {"code": 25, "msg": "Invalid signature", ...}}``
  and WDT's own refusals come back wrapped with ``flag: "failure"`` and WDT's code.

Both routes reach the same handler (:func:`ferry.sandbox._wdt_stockouts.query_stockouts`).

Choices where the document is silent or guesses ([GUESS] in docs/vendor-protocols.md §5.6/§5.7), shared
with the connector :mod:`ferry.connectors.wangdiantong`:

==========================================  =================================================
direct: bad sign / unknown appkey or sid    1007 签名错误 / "sid或appkey错误"
direct: timestamp more than 5 min off       1008 时间戳超时
direct: bad or out-of-range parameter       1030 参数错误: <detail> (e.g. 时间跨度不能超过30天)
direct: throttled                           1020 调用频率过高
Qimen: bad sign                             TOP 25 Invalid signature
Qimen: unknown app_key                      TOP 29 Invalid App Key
Qimen: timestamp more than 10 min off       TOP 31 Invalid Timestamp (TOP's own tolerance)
Qimen: missing parameter, bad target app    TOP 41 Invalid Arguments (with a sub_msg)
Qimen: unknown method                       TOP 22 Invalid Method
Qimen: throttled                            TOP 7 App Call Limited, "ban will last for N more seconds"
Qimen: WDT refuses (sid, parameters)        ``response.flag = "failure"`` with the direct code
unknown ``.php`` path                       HTTP 404
==========================================  =================================================

No rate limit is published: the default budget is unlimited; ``Faults(rate_per_second=...)`` or
``rate_per_minute`` turns throttling on. WDT has no tokens or sessions: every call is signed with
the app secret, so nothing ever expires.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qsl

import httpx

from ferry.connectors._wdt_sign import qimen_sign, wdt_sign
from ferry.sandbox._dataset import Dataset
from ferry.sandbox._faults import Faults
from ferry.sandbox._simulator import CHINA, Call, Simulator, json_response
from ferry.sandbox._wdt_stockouts import BAD_RECORDS, QueryRejected, build_stockouts, query_stockouts, touch

__all__ = ["WangdiantongSimulator"]

Handler = Callable[[dict[str, str]], dict[str, Any]]


class _Refused(Exception):
    """A WDT-level refusal: ``code`` from :attr:`WangdiantongSimulator.CODES`."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(kind)
        self.kind = kind
        self.detail = detail


class _TopError(Exception):
    """A Qimen gateway refusal with a TOP code."""

    def __init__(self, code: int, msg: str, sub_code: str | None = None, sub_msg: str | None = None) -> None:
        super().__init__(msg)
        self.code, self.msg, self.sub_code, self.sub_msg = code, msg, sub_code, sub_msg


class WangdiantongSimulator(Simulator):
    """WangDianTong 企业版 openapi2 and its Qimen route (see the module docstring).

    Args:
        size: Stock-outs in the seeded dataset.
        faults: Fault injection (transport faults, throttling, drift, late records, duplicates).
        clock: Seconds since the epoch; signed timestamps are checked against it.
    """

    name = "wangdiantong"
    title = "WangDianTong 旺店通 企业版 (openapi2 + 奇门)"

    SID = "ferry-demo"
    """The demo seller account (``sid``), the same on both routes."""
    APP_KEY = "ferry-wdt-app"
    """Direct route: the openapi2 ``appkey``."""
    APP_SECRET = "ferry-wdt-secret"
    """Direct route: the openapi2 ``appsecret``."""
    QIMEN_APP_KEY = "21450001"
    """Qimen route: the caller's TOP ``app_key``."""
    QIMEN_APP_SECRET = "ferry-qimen-secret"
    """Qimen route: the caller's TOP app secret."""
    TARGET_APP_KEY = "23204092"
    """Qimen route: WDT's app key on Qimen (``target_app_key``)."""

    DIRECT_PREFIX = "/openapi2/"
    QIMEN_PATHS = ("/router/qm", "/router/qmtest")
    TIMESTAMP_TOLERANCE = timedelta(minutes=5)
    """Direct route (official doc)."""
    QIMEN_TIMESTAMP_TOLERANCE = timedelta(minutes=10)
    """Qimen route: TOP's tolerance [GUESS]."""
    TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

    CODES: ClassVar[dict[str, tuple[int, str]]] = {
        "sign": (1007, "签名错误"),
        "credentials": (1007, "sid或appkey错误"),
        "timestamp": (1008, "时间戳超时"),
        "throttled": (1020, "调用频率过高"),
        "params": (1030, "参数错误"),
    }
    """WDT refusals by kind -> (code, message) [GUESS, docs/vendor-protocols.md §5.6]; subclass to change."""

    def __init__(
        self, *, size: int = 200, faults: Faults | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(size=size, faults=faults, clock=clock)
        self.dataset = Dataset(
            build_stockouts(size), dice=self.dice, touch=touch, clock=self.now, defects=BAD_RECORDS
        )
        self.handlers: dict[str, Handler] = {"stockout_order_query_trade": self._stockout_order_query_trade}
        """API handlers by bare name: ``<name>.php`` directly, ``wdt.<dotted name>`` on Qimen."""

    # -- shared -----------------------------------------------------------------------------

    @staticmethod
    def params(request: httpx.Request) -> dict[str, str]:
        """The request's parameters: query string, then form body (the body wins)."""
        values = dict(request.url.params)
        if request.content:
            values.update(parse_qsl(request.content.decode("utf-8"), keep_blank_values=True))
        return values

    def dispatch(self, request: httpx.Request, call: Call) -> httpx.Response:
        path = request.url.path.rstrip("/")
        if path in self.QIMEN_PATHS:
            return self._qimen(request, call)
        if path.startswith(self.DIRECT_PREFIX) and path.endswith(".php"):
            return self._direct(request, call, path[len(self.DIRECT_PREFIX) : -len(".php")])
        return httpx.Response(404, text=f"<html><body><h1>404 Not Found</h1>{path}</body></html>")

    def throttled(self, request: httpx.Request, call: Call, which: str) -> httpx.Response:
        if request.url.path.rstrip("/") in self.QIMEN_PATHS:
            seconds = 1 if which == "second" else 60
            call.code = 7
            return self._top_error(  # TOP's throttling shape
                _TopError(
                    7,
                    "App Call Limited",
                    "accesscontrol.limited-by-app-access-count",
                    f"This ban will last for {seconds} more seconds",
                ),
            )
        call.code = self.CODES["throttled"][0]
        return self._refusal(_Refused("throttled"), call)

    def describe(self) -> dict[str, Any]:
        """Both routes' URLs and demo credentials; each block is a ready ``connections.yaml`` entry."""
        return {
            "direct": {
                "base_url": f"{self.base_url}/openapi2",
                "sid": self.SID,
                "app_key": self.APP_KEY,
                "app_secret": self.APP_SECRET,
            },
            "qimen": {
                "base_url": f"{self.base_url}/router/qm",
                "sid": self.SID,
                "app_key": self.QIMEN_APP_KEY,
                "app_secret": self.QIMEN_APP_SECRET,
                "target_app_key": self.TARGET_APP_KEY,
            },
            "apis": ["stockout_order_query_trade.php", "wdt.stockout.order.query.trade"],
            "records": len(self.dataset),
        }

    def _stockout_order_query_trade(self, params: dict[str, str]) -> dict[str, Any]:
        try:
            total, rows = query_stockouts(self.dataset, params)
        except QueryRejected as exc:
            raise _Refused("params", exc.message) from None
        return {"total_count": total, "stockout_list": rows}

    # -- direct openapi2 --------------------------------------------------------------------

    def _direct(self, request: httpx.Request, call: Call, api: str) -> httpx.Response:
        call.api = f"{api}.php"
        params = self.params(request)
        call.credential = params.get("appkey", "")
        handler = self.handlers.get(api)
        if handler is None:
            return httpx.Response(404, text=f"<html><body><h1>404 Not Found</h1>{call.api}</body></html>")
        try:
            missing = [name for name in ("sid", "appkey", "timestamp", "sign") if not params.get(name)]
            if missing:
                raise _Refused("params", f"缺少公共参数: {', '.join(missing)}")
            if params["appkey"] != self.APP_KEY or params["sid"] != self.SID:
                raise _Refused("credentials")
            limited = self.over_budget(request, call)
            if limited is not None:
                return limited
            if params["sign"] != wdt_sign(params, self.APP_SECRET):
                raise _Refused("sign")
            try:
                skew = abs(int(params["timestamp"]) - self.clock())
            except ValueError:
                raise _Refused("timestamp", f"timestamp应为Unix秒: {params['timestamp']}") from None
            if skew > self.TIMESTAMP_TOLERANCE.total_seconds():
                raise _Refused("timestamp")
            body = handler(params)
        except _Refused as exc:
            return self._refusal(exc, call)
        call.code = 0
        return json_response({"code": 0, "message": "", **body})

    def _refusal(self, exc: _Refused, call: Call) -> httpx.Response:
        code, message = self.CODES[exc.kind]
        call.code = code
        return json_response({"code": code, "message": f"{message}: {exc.detail}" if exc.detail else message})

    # -- Qimen ------------------------------------------------------------------------------

    def _qimen(self, request: httpx.Request, call: Call) -> httpx.Response:
        params = self.params(request)
        method = params.get("method", "")
        call.api = method or "(no method)"
        call.credential = params.get("app_key", "")
        try:
            missing = [n for n in ("method", "app_key", "timestamp", "sign") if not params.get(n)]
            if missing:
                raise _TopError(
                    41, "Invalid Arguments", "isv.missing-parameter", f"缺少参数: {', '.join(missing)}"
                )
            if params["app_key"] != self.QIMEN_APP_KEY:
                raise _TopError(29, "Invalid App Key")
            limited = self.over_budget(request, call)
            if limited is not None:
                return limited
            if params.get("sign_method", "md5").lower() != "md5":
                raise _TopError(41, "Invalid Arguments", "isv.invalid-parameter", "sign_method仅支持md5")
            if params["sign"] != qimen_sign(params, self.QIMEN_APP_SECRET):
                raise _TopError(25, "Invalid signature")
            self._check_qimen_timestamp(params["timestamp"])
            if params.get("target_app_key") != self.TARGET_APP_KEY:
                raise _TopError(41, "Invalid Arguments", "isv.invalid-parameter", "target_app_key无效")
            handler = self._qimen_handler(method)
        except _TopError as exc:
            call.code = exc.code
            return self._top_error(exc)
        try:
            if params.get("sid") != self.SID:
                raise _Refused("credentials")
            body = handler(params)
        except _Refused as exc:
            code, message = self.CODES[exc.kind]
            call.code = code
            text = f"{message}: {exc.detail}" if exc.detail else message
            failure = {
                "flag": "failure",
                "code": str(code),
                "message": text,
                "sub_code": None,
                "sub_message": None,
            }
            return json_response({"response": failure})
        call.code = 0
        ok = {
            "flag": "success",
            "code": "0",
            "message": "",
            "sub_code": None,
            "sub_message": None,
            "errorcode": 0,
        }
        return json_response({"response": {**ok, **body}})

    def _qimen_handler(self, method: str) -> Handler:
        name = method.split("wdt.", 1)[1] if "wdt." in method else ""
        handler = self.handlers.get(name.replace(".", "_"))
        if handler is None:
            raise _TopError(22, "Invalid Method", "isv.method-not-exist", f"方法不存在: {method}")
        return handler

    def _check_qimen_timestamp(self, text: str) -> None:
        try:
            sent = datetime.strptime(text, self.TIME_FORMAT).replace(tzinfo=CHINA)
        except ValueError:
            raise _TopError(
                31, "Invalid Timestamp", "isv.invalid-parameter", f"timestamp格式错误: {text}"
            ) from None
        if abs(sent.timestamp() - self.clock()) > self.QIMEN_TIMESTAMP_TOLERANCE.total_seconds():
            raise _TopError(31, "Invalid Timestamp")

    def _top_error(self, exc: _TopError) -> httpx.Response:
        body: dict[str, Any] = {"code": exc.code, "msg": exc.msg}
        if exc.sub_code:
            body["sub_code"] = exc.sub_code
        if exc.sub_msg:
            body["sub_msg"] = exc.sub_msg
        body["request_id"] = f"sandbox{len(self.calls):08d}"
        return json_response({"error_response": body})
