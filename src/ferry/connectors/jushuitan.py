"""JuShuiTan 聚水潭 open API v2 source connector (docs/vendor-protocols.md §4).

Every call is a signed form POST to ``{base_url}{api}``::

    app_key, access_token, timestamp (epoch seconds), version=2, charset=utf-8,
    biz=<the request as compact JSON>, sign=md5(app_secret + sorted k+v)

The scheme's rendered request becomes ``biz``; the connector sets ``page_index`` (1-based) and
``page_size`` (at most 50) over the request's own values. ``types``, ``so_ids``, ``io_ids`` and
``i_ids`` are JSON arrays on the wire; a text value is accepted as a JSON array or as
comma-separated values. The scheme's HTTP method is ignored: the API only takes POST.

Paging: ``has_next: false`` (or an empty ``datas``) ends the window; without ``has_next`` the
connector falls back to ``page_index >= page_count``, then to a short page. ``data_count`` is the
window's total. Limits: 7-day windows, page size 30 (max 50), 5 calls/s and 100 calls/min.

Tokens: on code 100 (invalid or expired ``access_token``) the connector renews the token once
and retries the call once -- with ``/openWeb/auth/refreshToken`` when it holds a refresh token
(configured, or from an earlier renewal), else with ``/openWeb/auth/getInitToken`` and a random
6-character code (the 自有商城 flow, ``ranjingya auth.py``). Still 100 afterwards ->
``AuthExpiredError``. ISV apps may not renew (code 150) -> ``ConfigError``: a person must
authorize the app again. Renewed tokens live in memory only; the next run starts from the
configured ``access_token`` and renews again if it has expired. Other codes: see
:mod:`ferry.connectors._jushuitan_codes`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar, Literal

import httpx
import orjson
from pydantic import Field, SecretStr

from ferry.connectors._jushuitan_codes import EXPIRED, OK, error_for, result_code
from ferry.connectors._jushuitan_sign import biz_text, random_code, sign
from ferry.connectors._vendor import VendorClient, VendorConnection, VendorSource
from ferry.connectors.base import Limits, Page, PageState
from ferry.connectors.paging import (
    PageNumberPaginator,
    first_known,
    last_numbered_page,
    no_more_flag,
    short_page,
)
from ferry.errors import RetriableError

__all__ = ["DEFAULT_LIMITS", "JushuitanConnection", "JushuitanConnector"]

DEFAULT_LIMITS = Limits(
    max_window=timedelta(days=7),
    max_page_size=50,
    default_page_size=30,
    page_base=1,
    rate_per_second=5,
    rate_per_minute=100,
)
"""JuShuiTan's documented limits: 7-day modified range, page_size ≤ 50 (default 30), 5/s, 100/min."""

INIT_TOKEN = "/openWeb/auth/getInitToken"
REFRESH_TOKEN = "/openWeb/auth/refreshToken"
LIST_FIELDS = frozenset({"types", "so_ids", "io_ids", "i_ids"})
"""Request fields JuShuiTan expects as JSON arrays (``string[]``)."""

_REJECTED_HINT = "the vendor rejected the request; check the scheme's request fields against the API document"
_RENEW_HINT = (
    "the access_token could not be renewed: authorize the app again on the JuShuiTan open platform "
    "and set access_token (and refresh_token) on the connection"
)


class JushuitanConnection(VendorConnection):
    """A JuShuiTan open platform app (v2 API)::

    jushuitan:
      type: jushuitan
      base_url: https://openapi.jushuitan.com
      app_key: ${JST_APP_KEY}
      app_secret: ${JST_APP_SECRET}
      access_token: ${JST_ACCESS_TOKEN}
    """

    type: Literal["jushuitan"] = "jushuitan"
    base_url: str = Field(
        "https://openapi.jushuitan.com",
        pattern=r"^https?://",
        description="API root: https://openapi.jushuitan.com (test: https://dev-api.jushuitan.com).",
    )
    app_key: str = Field(min_length=1, description="The app's app_key (not secret; sent with every call).")
    app_secret: SecretStr = Field(description="The app's app_secret, the MD5 signing key. Secret.")
    access_token: SecretStr = Field(description="The authorized shop's access_token. Secret.")
    refresh_token: SecretStr | None = Field(
        None,
        description=(
            "Optional refresh_token: renews an expired access_token through /openWeb/auth/refreshToken "
            "(without it the connector asks /openWeb/auth/getInitToken). Secret."
        ),
    )

    source_impl: ClassVar[str | None] = "ferry.connectors.jushuitan:JushuitanConnector"


def _as_list(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            return value
        return parsed if isinstance(parsed, list) else value
    return [part.strip() for part in text.split(",") if part.strip()]


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


class JushuitanConnector(VendorSource):
    """Source connector for JuShuiTan query APIs (``/open/other/inout/query``, ``/open/sku/query`` ...)."""

    def __init__(self, spec: JushuitanConnection, *, transport: httpx.BaseTransport | None = None) -> None:
        self.spec = spec
        self.name = spec.name
        self.limits = spec.limits(DEFAULT_LIMITS)
        self.client = VendorClient(spec, transport=transport)
        self.pager = PageNumberPaginator(
            page_param="page_index",
            size_param="page_size",
            base=self.limits.page_base,
            cap=self.limits.max_page_size,
            last=first_known(no_more_flag, last_numbered_page, short_page),
        )
        """``has_next``, else ``page_count``, else a short page (see the module docstring)."""
        self.clock = time.time
        """Epoch seconds for ``timestamp`` (tests replace it)."""
        self.renewals = 0
        """Access tokens obtained by this connector."""
        self._access_token = spec.access_token.get_secret_value()
        self._refresh_token = spec.refresh_token.get_secret_value() if spec.refresh_token else None

    # -- source -----------------------------------------------------------------------------

    def fetch(self, api: str, method: str, request: Mapping[str, Any], state: PageState) -> Page:
        """Fetch page ``state.index + 1`` of ``api``; see the module docstring for the rules."""
        biz = {
            key: (_as_list(value) if key in LIST_FIELDS else value)
            for key, value in request.items()
            if value is not None
        }
        biz.update(self.pager.request_fields(state))
        data, records = self._datas(api, self.call(api, biz))
        total = _int_or_none(data.get("data_count"))
        has_next = data.get("has_next")
        following = self.pager.after(
            state,
            records,
            total=total,
            pages=_int_or_none(data.get("page_count")),
            has_more=None if has_next is None else _truthy(has_next),
        )
        return Page(records=records, next=following, total=total)

    def _datas(self, api: str, data: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The answer's ``data`` object (``null``: an empty one) and its ``datas`` records."""
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise RetriableError(
                f"{self.client.where(api)}: data is not an object: {self.client.quote(str(data))}"
            )
        records = data.get("datas") or []
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise RetriableError(
                f"{self.client.where(api)}: datas is not a list of objects: {self.client.quote(str(records))}"
            )
        return data, records

    # -- calls ------------------------------------------------------------------------------

    def call(self, api: str, biz: Mapping[str, Any]) -> Any:
        """Call a business API with ``biz``; returns the envelope's ``data``.

        Renews the access token once on code 100 and retries once.

        Raises:
            ConfigError: Bad signature/app key, clock skew, missing permission, rejected request.
            ThrottledError: Codes 199/200.
            AuthExpiredError: Still code 100 after renewing the token.
            RetriableError: Transport failures, 5xx, malformed answers, vendor "busy" answers.
        """
        text = biz_text(biz)
        body = self._business(api, text)
        if result_code(body) == EXPIRED:
            self._renew(api)
            body = self._business(api, text)
        return self._data(api, body, _REJECTED_HINT)

    def _business(self, api: str, biz: str) -> Any:
        form = {
            "app_key": self.spec.app_key,
            "access_token": self._access_token,
            "timestamp": str(int(self.clock())),
            "version": "2",
            "charset": "utf-8",
            "biz": biz,
        }
        return self._post(api, form)

    def _post(self, api: str, form: dict[str, str]) -> Any:
        form = {key: value for key, value in form.items() if value != ""}
        form["sign"] = sign(self.spec.app_secret.get_secret_value(), form)
        response = self.client.request(
            "POST",
            api,
            api=api,
            data=form,
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"},
        )
        body = self.client.json(response, api=api)
        if result_code(body) is None:
            raise RetriableError(
                f"{self.client.where(api)}: HTTP {response.status_code}, answer without a result code: "
                f"{self.client.quote(response.text)}"
            )
        return body

    def _data(self, api: str, body: Any, rejected_hint: str) -> Any:
        code = result_code(body)
        assert code is not None
        if code == OK:
            return body.get("data")
        raise error_for(
            self.client, api, code, body.get("msg"), now=self.clock(), rejected_hint=rejected_hint
        )

    # -- tokens -----------------------------------------------------------------------------

    def _renew(self, api: str) -> None:
        """Obtain a new access token (refresh token first, then getInitToken)."""
        if self._refresh_token:
            body = self._token(
                REFRESH_TOKEN,
                {"grant_type": "refresh_token", "refresh_token": self._refresh_token, "scope": "all"},
            )
            if result_code(body) != EXPIRED:  # a refused refresh token falls back to getInitToken
                self._adopt(REFRESH_TOKEN, self._data(REFRESH_TOKEN, body, _RENEW_HINT))
                return
            self._refresh_token = None
        body = self._token(INIT_TOKEN, {"grant_type": "authorization_code", "code": random_code()})
        if result_code(body) == EXPIRED:
            raise self.client.config_error(INIT_TOKEN, EXPIRED, body.get("msg"), _RENEW_HINT)
        self._adopt(INIT_TOKEN, self._data(INIT_TOKEN, body, _RENEW_HINT))

    def _token(self, api: str, fields: dict[str, str]) -> Any:
        form = {
            "app_key": self.spec.app_key,
            "timestamp": str(int(self.clock())),
            "charset": "utf-8",
            **fields,
        }
        return self._post(api, form)

    def _adopt(self, api: str, data: Any) -> None:
        token = data.get("access_token") if isinstance(data, dict) else None
        if not token:
            raise RetriableError(f"{self.client.where(api)}: the answer carries no access_token")
        self._access_token = str(token)
        self.client.secrets.append(self._access_token)
        refresh = data.get("refresh_token")
        if refresh:
            self._refresh_token = str(refresh)
            self.client.secrets.append(self._refresh_token)
        self.renewals += 1

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()
