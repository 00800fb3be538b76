"""JuShuiTan 聚水潭 open API v2 simulator (docs/vendor-protocols.md §4).

Every call is a form POST (``app_key, access_token, timestamp, version=2, charset, biz, sign``)
answered with HTTP 200 and ``{"code": N, "msg": "...", "data": ...}``. The gateway checks, in
this order: the app key, the timestamp (±15 minutes, code 140), the MD5 signature (code 10),
the rate budget per app key (5/s: code 199; 100/min: code 200), the access token (code 100),
then the business parameters.

Endpoints:

- ``/open/other/inout/query`` (其它出入库查询): ``modified_begin``/``modified_end`` (both or
  neither, span ≤ 7 days) unless ``so_ids``/``io_ids`` are given; ``status``, ``types``,
  ``date_type`` (0 modified, 2 io_date), ``wms_co_id``; 1-based ``page_index``; ``page_size``
  default 30, max 50; answers ``page_size, page_index, data_count, page_count, has_next, datas``.
- ``/open/sku/query`` (普通商品资料查询, for lookup schemes): the same time-range and paging rules
  (``JstQuerySkuRequest.java``), or ``sku_ids`` (comma-separated, ≤ 20).
- ``/openWeb/auth/getInitToken`` and ``/openWeb/auth/refreshToken``: new ``access_token`` and
  ``refresh_token`` (``expires_in`` 30 days).

Choices where the document guesses or conflicts:

- **[CONFLICT] timestamp tolerance**: ±15 minutes (``JstErrorCode.java``), not 10.
- **[GUESS] parameter errors**: code ``param_error_code`` (default 1) with the rule in ``msg``.
- **[GUESS] time bounds**: ``modified_begin <= modified <= modified_end`` (inclusive end). Ferry's
  half-open windows then overlap by one second at their boundary; the ledger key makes that
  harmless.
- **[GUESS] past the last page**: ``datas: []`` with ``has_next: false``.
- **[GUESS] unknown app key**: code 10 (the signature cannot be verified).
- **[GUESS] bad refresh token**: code 100; a refresh token is single-use. An ISV app
  (``isv=True``) may renew tokens by neither endpoint: code 150.
- **[CONFLICT] getInitToken grant_type**: both ``authorization_code`` and ``refresh_token``.
- **[GUESS] rate scope**: per app key, token endpoints included.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
import orjson

from ferry.sandbox._dataset import Dataset
from ferry.sandbox._faults import Faults
from ferry.sandbox._jushuitan_data import (
    BAD_INOUTS,
    BAD_SKUS,
    MATERIAL_COUNT,
    TIME_FORMAT,
    inout_record,
    sku_record,
)
from ferry.sandbox._jushuitan_query import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    MAX_SPAN,
    Rejected,
    inout_query,
    sku_query,
)
from ferry.sandbox._simulator import Call, Simulator, TokenBook, json_response

__all__ = ["JushuitanSimulator"]

Row = dict[str, Any]
Form = dict[str, str]


def _md5_sign(secret: str, form: Form) -> str:
    text = secret + "".join(f"{k}{form[k]}" for k in sorted(form) if k != "sign" and form[k] != "")
    return hashlib.md5(text.encode("utf-8")).hexdigest()


class JushuitanSimulator(Simulator):
    """JuShuiTan open API v2: signed form calls, 7-day windows, 1-based pages, codes 10/100/140/199/200.

    Args:
        size: 其它出入库单 seeded over ``world.spread`` (the SKU master has 60 SKUs).
        faults: Fault injection (``token_expiry_calls`` expires access tokens).
        clock: Seconds since the epoch.
        isv: Behave like an ISV (服务商) app: token renewal answers code 150.
        param_error_code: The code of business-parameter errors ([GUESS] 1).
    """

    name = "jushuitan"
    title = "JuShuiTan 聚水潭 open API v2"
    default_rate_per_second = 5
    default_rate_per_minute = 100

    APP_KEY = "b0b7d1db226d4216a3d58df9ffa2dde5"
    APP_SECRET = "99c4cef262f34ca882975a7064de0b87"
    ACCESS_TOKEN = "b7e3b1e24e174593af8ca5c397e53dad"
    REFRESH_TOKEN = "5f1e0c3a9d2b4c7e8a6f4d2c1b0a9e8d"

    INOUT_QUERY = "/open/other/inout/query"
    SKU_QUERY = "/open/sku/query"
    INIT_TOKEN = "/openWeb/auth/getInitToken"
    REFRESH_TOKEN_PATH = "/openWeb/auth/refreshToken"

    TOKEN_LIFETIME = 2_592_000
    """``expires_in`` of a token, seconds (30 days, [GUESS] typical value)."""
    TIMESTAMP_TOLERANCE = 15 * 60
    MAX_SPAN = MAX_SPAN
    MAX_PAGE_SIZE = MAX_PAGE_SIZE
    DEFAULT_PAGE_SIZE = DEFAULT_PAGE_SIZE

    def __init__(
        self,
        *,
        size: int = 200,
        faults: Faults | None = None,
        clock: Callable[[], float] = time.time,
        isv: bool = False,
        param_error_code: int = 1,
    ) -> None:
        super().__init__(size=size, faults=faults, clock=clock)
        self.isv = isv
        self.param_error_code = param_error_code
        self.apps = {self.APP_KEY: self.APP_SECRET}
        self.tokens = TokenBook(self.TOKEN_LIFETIME, self.faults.token_expiry_calls, clock)
        self.tokens.issue(self.ACCESS_TOKEN, self.APP_KEY)
        self.refresh_tokens = {self.REFRESH_TOKEN: self.APP_KEY}
        self.renewals = 0
        """Tokens issued by the two token endpoints (tests read this)."""
        self.inout = Dataset(
            ((str(rec["io_id"]), modified, rec) for modified, rec in map(self._bill, range(size))),
            dice=self.dice,
            touch=_touch,
            clock=self.now,
            defects=BAD_INOUTS,
        )
        self.skus = Dataset(
            ((rec["sku_id"], modified, rec) for modified, rec in map(self._sku, range(MATERIAL_COUNT))),
            dice=self.dice,
            touch=_touch,
            clock=self.now,
            defects=BAD_SKUS,
        )

    def _bill(self, index: int) -> tuple[datetime, Row]:
        return inout_record(index, self.size)

    def _sku(self, index: int) -> tuple[datetime, Row]:
        return sku_record(index, MATERIAL_COUNT)

    # -- gateway ----------------------------------------------------------------------------

    def dispatch(self, request: httpx.Request, call: Call) -> httpx.Response:
        """Check the common parameters, then answer the endpoint."""
        if request.method != "POST":
            return self._answer(call, 404, "接口不存在", status=404)
        form: Form = dict(request.url.params)
        form.update(parse_qsl(request.content.decode("utf-8", "replace"), keep_blank_values=True))
        path = request.url.path
        call.credential = form.get("app_key", "")
        business = path in (self.INOUT_QUERY, self.SKU_QUERY)
        if not business and path not in (self.INIT_TOKEN, self.REFRESH_TOKEN_PATH):
            return self._answer(call, 404, "接口不存在", status=404)
        refused = self._gate(request, call, form)
        if refused is not None:
            return refused
        if not business:
            return self._token(call, form, refresh=path == self.REFRESH_TOKEN_PATH)
        status = self.tokens.check(form.get("access_token"))
        if status != "ok":
            call.fault = "expired" if status == "expired" else None
            return self._answer(call, 100, "无效的access_token或access_token已过期")
        try:
            if form.get("version") != "2":
                raise Rejected("version必须为2")
            try:
                biz = orjson.loads(form.get("biz") or "{}")
            except orjson.JSONDecodeError:
                raise Rejected("biz不是合法的JSON") from None
            if not isinstance(biz, dict):
                raise Rejected("biz必须是JSON对象")
            data = inout_query(self.inout, biz) if path == self.INOUT_QUERY else sku_query(self.skus, biz)
        except Rejected as exc:
            return self._answer(call, self.param_error_code, str(exc))
        return self._answer(call, 0, "执行成功", data)

    def _gate(self, request: httpx.Request, call: Call, form: Form) -> httpx.Response | None:
        """App key, timestamp, signature and rate budget: the refusal, or ``None``."""
        secret = self.apps.get(form.get("app_key", ""))
        if secret is None:
            return self._answer(call, 10, "验证失败！无效签名")
        try:
            skew = abs(int(form.get("timestamp", "")) - self.clock())
        except ValueError:
            skew = math.inf
        if skew > self.TIMESTAMP_TOLERANCE:
            return self._answer(call, 140, "无效的timestamp，请求最大时间误差15分钟")
        if form.get("sign") != _md5_sign(secret, form):
            return self._answer(call, 10, "验证失败！无效签名")
        return self.over_budget(request, call)

    def throttled(self, request: httpx.Request, call: Call, which: str) -> httpx.Response:
        """Code 199 over the per-second budget, 200 over the per-minute budget (HTTP 200)."""
        if which == "second":
            return self._answer(call, 199, f"调用频次超过限制，每秒不能超过{self.budget.per_second}次")
        return self._answer(call, 200, f"调用频次超过限制，每分钟不能超过{self.budget.per_minute}次")

    def _answer(
        self, call: Call, code: int, msg: str, data: Any = None, *, status: int = 200
    ) -> httpx.Response:
        call.code = code
        return json_response({"code": code, "msg": msg, "data": data}, status=status)

    # -- tokens -----------------------------------------------------------------------------

    def _token(self, call: Call, form: Form, *, refresh: bool) -> httpx.Response:
        app_key = form["app_key"]
        if self.isv:
            return self._answer(call, 150, "服务商应用禁止刷新access_token")
        if refresh:
            if form.get("grant_type") != "refresh_token":
                return self._answer(call, self.param_error_code, "grant_type必须为refresh_token")
            if self.refresh_tokens.pop(form.get("refresh_token", ""), None) != app_key:
                return self._answer(call, 100, "无效的refresh_token")
        else:
            if form.get("grant_type") not in ("authorization_code", "refresh_token"):
                return self._answer(call, self.param_error_code, "grant_type必须为authorization_code")
            if not form.get("code"):
                return self._answer(call, self.param_error_code, "code不能为空")
        self.renewals += 1
        seed = f"{app_key}:{self.renewals}:{self.tokens.issued}"
        access = self.tokens.issue(hashlib.md5(f"access:{seed}".encode()).hexdigest(), app_key)
        again = hashlib.md5(f"refresh:{seed}".encode()).hexdigest()
        self.refresh_tokens[again] = app_key
        data = {
            "access_token": access,
            "expires_in": self.TOKEN_LIFETIME,
            "refresh_token": again,
            "scope": "all",
        }
        return self._answer(call, 0, "执行成功", data)

    def describe(self) -> dict[str, Any]:
        """The API paths and the demo credentials."""
        return {
            "paths": [self.INOUT_QUERY, self.SKU_QUERY, self.INIT_TOKEN, self.REFRESH_TOKEN_PATH],
            "app_key": self.APP_KEY,
            "app_secret": self.APP_SECRET,
            "access_token": self.ACCESS_TOKEN,
            "refresh_token": self.REFRESH_TOKEN,
        }


def _touch(row: Row, modified: datetime) -> None:
    row["modified"] = modified.strftime(TIME_FORMAT)
