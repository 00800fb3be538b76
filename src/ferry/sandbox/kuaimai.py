"""KuaiMai 快麦 ERP open API simulator (docs/vendor-protocols.md §3).

The V2 gateway: ``POST http://kuaimai.sandbox/router`` with a flat
``application/x-www-form-urlencoded`` form (query parameters are read too). Common parameters:
``method``, ``appKey``, ``session`` (the access token), ``timestamp`` (``yyyy-MM-dd HH:mm:ss``
Beijing time, ±10 minutes), ``format`` (``json``), ``version`` (``1.0``), ``sign_method``
(``hmac`` default, ``md5``, ``hmac-sha256``) and ``sign``, verified exactly as §3.3 says:
empty values are dropped, and a signature computed with them kept is accepted too; the hex is
compared case-insensitively.

Methods: ``erp.aftersale.list.query`` (see :mod:`ferry.sandbox._kuaimai_aftersale`) and
``open.token.refresh`` (business parameter ``refreshToken``; answers
``{"success": true, "session": {"accessToken", "refreshToken", "expireTime"}}``).

Errors are HTTP 200 ``{"success": false, "code": "<string>", "msg", "trace_id", "solution"}``
with the TOP-derived codes: 21/22 missing/invalid method, 24/25 missing/invalid signature,
26/27 missing/invalid session (unknown, expired, or another app's), 28/29 missing/invalid app
key, 30/31 missing/invalid timestamp, 41 invalid arguments, 7 throttled.

Choices where the document is silent ([GUESS]):

- **Throttling**: ``code "7"`` (App Call Limited) in an HTTP 200 answer, above 10 calls per
  second per app key (``Faults.rate_per_second`` overrides; 0 = unlimited). Set
  :attr:`KuaimaiSimulator.throttle_status` to 429 for the HTTP 429 variant some clients expect.
- **Sessions** live 30 days; ``Faults.token_expiry_calls`` expires them after that many calls.
  ``open.token.refresh`` needs no valid session (the expired one may be sent, and is signed
  like any parameter); it issues a new session and returns the same refresh token (not
  rotated). An unknown refresh token is code 27.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import httpx

from ferry.sandbox._faults import Faults
from ferry.sandbox._kuaimai_aftersale import ArgumentError, aftersale_dataset, query_aftersales
from ferry.sandbox._simulator import Call, Simulator, TokenBook, json_response

__all__ = ["KuaimaiSimulator", "expected_sign"]

PATH = "/router"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
AFTERSALE_LIST = "erp.aftersale.list.query"
TOKEN_REFRESH = "open.token.refresh"

Params = dict[str, str]


def expected_sign(params: Mapping[str, str], secret: str, method: str) -> str | None:
    """The signature the gateway expects for ``params`` (``None`` for an unknown ``method``).

    Kept apart from the connector's signer on purpose: the two implementations check each
    other against the document's vectors.
    """
    text = "".join(key + params[key] for key in sorted(params) if key != "sign").encode()
    key = secret.encode()
    if method == "hmac":
        return hmac.new(key, text, hashlib.md5).hexdigest().upper()
    if method == "md5":
        return hashlib.md5(key + text + key).hexdigest().upper()
    if method == "hmac-sha256":
        return hmac.new(key, text, hashlib.sha256).hexdigest().upper()
    return None


class KuaimaiSimulator(Simulator):
    """The KuaiMai router with after-sales work orders; ``size`` is the number of work orders."""

    name = "kuaimai"
    title = "KuaiMai 快麦 ERP open API"
    default_rate_per_second = 10

    APP_KEY = "km-demo-app"
    APP_SECRET = "km-demo-secret-7f3a9c2e5b"
    SESSION = "km-demo-session-0001"
    """The demo access token (``session`` in connections.yaml)."""
    REFRESH_TOKEN = "km-demo-refresh-0001"
    SESSION_LIFETIME = timedelta(days=30)
    CLOCK_SKEW = timedelta(minutes=10)

    def __init__(
        self, *, size: int = 200, faults: Faults | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(size=size, faults=faults, clock=clock)
        self.apps: dict[str, str] = {self.APP_KEY: self.APP_SECRET}
        self.sessions = TokenBook(
            self.SESSION_LIFETIME.total_seconds(), self.faults.token_expiry_calls, clock
        )
        self.sessions.issue(self.SESSION, self.APP_KEY)
        self.refresh_tokens: dict[str, str] = {self.REFRESH_TOKEN: self.APP_KEY}
        self.throttle_status = 200
        """HTTP status of the throttling answer: 200 (code 7 in the body) or 429."""
        self.aftersales = aftersale_dataset(size, dice=self.dice, clock=self.now)
        self._traces = 0

    # -- the gateway --------------------------------------------------------------------------

    def dispatch(self, request: httpx.Request, call: Call) -> httpx.Response:
        """Route one gateway call: authenticate, count it against the budget, run the method."""
        if request.url.path.rstrip("/") != PATH:
            return json_response(
                {"success": False, "code": "404", "msg": f"no route {request.url.path}"}, 404
            )
        params = self._params(request)
        call.api = params.get("method", PATH)
        call.credential = params.get("appKey", "")
        try:
            self._authenticate(params, request)
            throttled = self.over_budget(request, call)
            if throttled is not None:
                return throttled
            if call.api == TOKEN_REFRESH:
                return json_response(self._refresh(params))
            self._check_session(params, call)
            if call.api == AFTERSALE_LIST:
                return json_response(query_aftersales(self.aftersales, params))
            raise ArgumentError("22", f"Invalid Method: {call.api}")
        except ArgumentError as exc:
            call.code = exc.code
            return json_response(self._error(exc.code, exc.msg))

    def throttled(self, request: httpx.Request, call: Call, which: str) -> httpx.Response:
        """Code 7 (App Call Limited), in an HTTP 200 answer or, if configured, HTTP 429."""
        call.code = "7"
        body = self._error("7", f"App Call Limited: 调用过于频繁 (per {which})")
        return json_response(body, status=self.throttle_status, headers={"Retry-After": "1"})

    def describe(self) -> dict[str, Any]:
        """The router URL and demo credentials for ``connections.yaml``."""
        return {
            "base_url": f"{self.base_url}{PATH}",
            "app_key": self.APP_KEY,
            "app_secret": self.APP_SECRET,
            "session": self.SESSION,
            "refresh_token": self.REFRESH_TOKEN,
            "sign_method": "hmac",
            "methods": [AFTERSALE_LIST, TOKEN_REFRESH],
        }

    # -- authentication -----------------------------------------------------------------------

    @staticmethod
    def _params(request: httpx.Request) -> Params:
        params: Params = dict(request.url.params)
        if request.content:
            params.update(parse_qsl(request.content.decode("utf-8"), keep_blank_values=True))
        return params

    def _authenticate(self, params: Params, request: httpx.Request) -> None:
        """Check method, app key, timestamp and signature, in the gateway's order."""
        if not params.get("method"):
            raise ArgumentError("21", "Missing Method")
        app_key = params.get("appKey")
        if not app_key:
            raise ArgumentError("28", "Missing App Key")
        secret = self.apps.get(app_key)
        if secret is None:
            raise ArgumentError("29", "Invalid App Key")
        self._check_timestamp(params.get("timestamp"))
        if params.get("format", "json") != "json":
            raise ArgumentError("41", "Invalid Arguments: format 只支持 json")
        if not params.get("sign"):
            raise ArgumentError("24", "Missing Signature")
        method = params.get("sign_method") or "hmac"
        given = params["sign"].upper()
        dropped = {k: v for k, v in params.items() if v != ""}
        kept = {k: v for k, v in params.items() if k != "sign"}
        if given not in {expected_sign(dropped, secret, method), expected_sign(kept, secret, method)}:
            raise ArgumentError("25", "Invalid Signature: 签名错误")
        for key in [k for k, v in params.items() if v == ""]:
            del params[key]

    def _check_timestamp(self, value: str | None) -> None:
        if not value:
            raise ArgumentError("30", "Missing Timestamp")
        try:
            sent = datetime.strptime(value, TIME_FORMAT)
        except ValueError:
            raise ArgumentError("31", "Invalid Timestamp: 格式应为 yyyy-MM-dd HH:mm:ss (GMT+8)") from None
        if abs(sent - self.now()) > self.CLOCK_SKEW:
            raise ArgumentError("31", "Invalid Timestamp: 时间戳与服务器时间相差超过10分钟")

    def _check_session(self, params: Params, call: Call) -> None:
        session = params.get("session")
        if not session:
            raise ArgumentError("26", "Missing Session")
        state = self.sessions.check(session)
        if state == "ok" and self.sessions.subject(session) != params["appKey"]:
            state = "unknown"
        if state == "expired":
            call.fault = "expired"
            raise ArgumentError("27", "Invalid Session: session已过期，请刷新或重新授权")
        if state != "ok":
            raise ArgumentError("27", "Invalid Session: session不存在")

    def _refresh(self, params: Params) -> dict[str, Any]:
        token = params.get("refreshToken")
        if not token:
            raise ArgumentError("40", "Missing Required Arguments: refreshToken")
        if self.refresh_tokens.get(token) != params["appKey"]:
            raise ArgumentError("27", "Invalid Session: refreshToken无效或已过期，请重新授权")
        issued = self.sessions.issued
        session = self.sessions.issue(f"km-session-{issued:04d}-{self.clock():.0f}", params["appKey"])
        expires = self.now() + self.SESSION_LIFETIME
        return {
            "success": True,
            "session": {
                "accessToken": session,
                "refreshToken": token,
                "expireTime": expires.strftime(TIME_FORMAT),
            },
        }

    def _error(self, code: str, msg: str) -> dict[str, Any]:
        self._traces += 1
        return {
            "success": False,
            "code": code,
            "msg": msg,
            "trace_id": f"km{int(self.clock() * 1000):x}{self._traces:05d}",
            "solution": "请参考快麦开放平台错误码说明",
        }
