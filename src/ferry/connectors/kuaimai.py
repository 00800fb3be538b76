"""KuaiMai 快麦 ERP open API source connector (docs/vendor-protocols.md §3).

A scheme's ``api`` is the gateway ``method`` (``erp.aftersale.list.query``); its rendered
``request`` fields become business parameters of one signed form POST to the router::

    kuaimai:
      type: kuaimai
      base_url: https://gw.superboss.cc/router
      app_key: ${KUAIMAI_APP_KEY}
      app_secret: ${KUAIMAI_APP_SECRET}
      session: ${KUAIMAI_SESSION}                # access token
      refresh_token: ${KUAIMAI_REFRESH_TOKEN}    # optional: lets Ferry renew an expired session

Paging: ``pageNo`` (1-based) and ``pageSize`` (1..200) are set by the connector and override the
scheme's literal values. The page is the last when it is empty, shorter than ``pageSize``, when
``pageNo * pageSize >= total``, or when the response says ``hasNext: false``. ``total`` is
reported for reconciliation. Empty request values are not sent (one of the two documented
client behaviours; an empty filter would otherwise reach the vendor as a filter).

Limits: no window limit is documented for the after-sales list (the one-day advice is for
``erp.trade.list.query``), so none is set; 200 rows per page, which is also the default page size
(the vendor's own default when ``pageSize`` is omitted is 1, but the connector always sends it).
No numeric rate limit is published: 10 calls per second per app key **[GUESS]**, matching the
simulator; ``rate_per_second`` on the connection overrides it.

Errors (HTTP 200 ``{"success": false, "code": "25", "msg": ...}``):

=================================================  ============================================
25/24 signature, 28/29 app key, 30/31 timestamp,   ``ConfigError`` naming the connection and
11 permission, 21/22 method, 40/41 arguments       quoting code and message, with a hint
27/26/105/106/``invalid_session`` session          with ``refresh_token``: ``open.token.refresh``
                                                   once and retry (still expired:
                                                   ``AuthExpiredError``); without it:
                                                   ``ConfigError`` (see below)
7, or a message with 频繁/限流, or HTTP 429         ``ThrottledError``
5xx, timeouts, HTML pages, other codes             ``RetriableError``
=================================================  ============================================

Why an expired session without a refresh token is a ``ConfigError``: a KuaiMai session is
granted by the merchant's authorization of the app, not by a login with the app's own
credentials, so Ferry has no way to obtain a new one; retrying with the same dead session can
never succeed. The user must authorize again (or configure ``refresh_token``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr

from ferry.connectors._kuaimai_sign import SignMethod, signed_form
from ferry.connectors._vendor import VendorClient, VendorConnection, VendorSource, form_text
from ferry.connectors.base import Limits, Page, PageState
from ferry.connectors.paging import PageNumberPaginator, any_of, no_more_flag, pages_reach_total, short_page
from ferry.errors import FerryError, RetriableError

__all__ = ["DEFAULT_LIMITS", "KuaimaiConnection", "KuaimaiConnector"]

DEFAULT_LIMITS = Limits(
    max_window=None, max_page_size=200, default_page_size=200, page_base=1, rate_per_second=10
)
"""KuaiMai's documented limits (rate: [GUESS], see the module docstring)."""

TOKEN_REFRESH = "open.token.refresh"
SESSION_CODES = frozenset({"26", "27", "105", "106", "invalid_session"})
THROTTLE_CODES = frozenset({"7"})
THROTTLE_WORDS = ("频繁", "限流")
BUSY_WORDS = ("繁忙", "稍后", "超时")

_HINTS: dict[str, str] = {
    "24": "the request carried no sign; this is a bug in Ferry, please report it",
    "25": "check app_secret and sign_method (hmac, md5 or hmac-sha256) of this connection",
    "28": "set app_key on this connection",
    "29": "check app_key: the gateway knows no such app",
    "30": "the request carried no timestamp; this is a bug in Ferry, please report it",
    "31": "the gateway allows ±10 minutes of Beijing time: check this machine's clock",
    "11": "the app lacks permission for this method: request it in the KuaiMai open platform",
    "21": "set the scheme's api to a KuaiMai method name, e.g. erp.aftersale.list.query",
    "22": "check the scheme's api: the gateway knows no such method",
    "40": "a required business parameter is missing: check the scheme's request fields",
    "41": "a business parameter was rejected: check the scheme's request fields",
}
RENEW_HINT = (
    "the session (access token) is invalid or expired; authorize the app again in the KuaiMai "
    "open platform and put the new access token in this connection's session, or set "
    "refresh_token so Ferry can renew it"
)
REFRESH_HINT = (
    "the refresh_token was rejected; authorize the app again in the KuaiMai open platform and "
    "update this connection's session and refresh_token"
)


class KuaimaiConnection(VendorConnection):
    """A KuaiMai (快麦) ERP open-platform app and the merchant session it was granted."""

    type: Literal["kuaimai"] = "kuaimai"
    base_url: str = Field(
        "https://gw.superboss.cc/router",
        pattern=r"^https?://",
        description="The gateway router URL (a bare host gets /router appended).",
    )
    app_key: str = Field(min_length=1, description="The app's appKey.")
    app_secret: SecretStr = Field(description="The app's secret, used to sign every call. Secret.")
    session: SecretStr = Field(description="The merchant's access token (KuaiMai calls it session). Secret.")
    sign_method: SignMethod = Field(
        "hmac", description="Signature: hmac (HMAC-MD5, default), md5 or hmac-sha256."
    )
    refresh_token: SecretStr | None = Field(
        None, description="Refresh token for open.token.refresh when the session expires. Secret."
    )

    source_impl: ClassVar[str | None] = "ferry.connectors.kuaimai:KuaimaiConnector"


def router_url(base_url: str) -> str:
    """``base_url`` itself, or ``<base_url>/router`` when it has no path."""
    return base_url.rstrip("/") + "/router" if urlsplit(base_url).path in ("", "/") else base_url


def _is_success(body: Any) -> bool:
    if not isinstance(body, dict):
        return False
    success = body.get("success")
    return success is True or (success is None and body.get("code") in (None, "", "0", 0))


class KuaimaiConnector(VendorSource):
    """Source connector: signed, paged calls to the KuaiMai gateway.

    Args:
        spec: The connection.
        transport: An ``httpx.BaseTransport`` (the sandbox), or ``None`` for the network.
        clock: Seconds since the epoch for ``timestamp`` (tests pass a fixed one).
    """

    def __init__(
        self, spec: KuaimaiConnection, *, transport: Any = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.limits = spec.limits(DEFAULT_LIMITS)
        self.client = VendorClient(spec, transport=transport)
        self.url = router_url(spec.base_url)
        self.pager = PageNumberPaginator(
            page_param="pageNo",
            size_param="pageSize",
            base=self.limits.page_base,
            cap=self.limits.max_page_size,
            last=any_of(short_page, no_more_flag, pages_reach_total),
        )
        """The last page: empty, short, ``hasNext: false`` or ``pageNo * pageSize >= total``."""
        self.clock = clock
        self._secret = spec.app_secret.get_secret_value()
        self._session = spec.session.get_secret_value()
        self._refresh_token = spec.refresh_token.get_secret_value() if spec.refresh_token else None
        self.refreshes = 0
        """Sessions obtained through ``open.token.refresh`` so far."""

    # -- source ---------------------------------------------------------------------------

    def fetch(self, api: str, method: str, request: Mapping[str, Any], state: PageState) -> Page:
        """Fetch page ``state.index`` of ``api``; see the module docstring for paging and errors.

        ``method`` (the scheme's HTTP verb) is ignored: the gateway takes form POSTs only.
        """
        business = {k: v for k, v in form_text(request).items() if v != ""}
        business.update({k: str(v) for k, v in self.pager.request_fields(state).items()})
        body = self.call(api, business)
        total = _int_or_none(body.get("total"))
        records = self._records(api, body, total)
        flag = body.get("hasNext")
        has_more = flag if isinstance(flag, bool) else None
        following = self.pager.after(state, records, total=total, has_more=has_more)
        return Page(records=records, next=following, total=total)

    def _records(self, api: str, body: dict[str, Any], total: int | None) -> list[dict[str, Any]]:
        """The answer's ``list`` of records; an empty result may omit it, but only ``total == 0``
        proves the result empty."""
        records = body.get("list")
        if records is None and total == 0:
            return []
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise RetriableError(
                f"{self.client.where(api)}: response has no list of records: {self.client.quote(str(body))}"
            )
        return records

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()

    # -- the gateway --------------------------------------------------------------------------

    def call(self, api: str, business: Mapping[str, str]) -> dict[str, Any]:
        """One signed gateway call; the parsed body on success, a Ferry error otherwise.

        An invalid or expired session is renewed once through ``open.token.refresh`` when a
        ``refresh_token`` is configured, and the call repeated.
        """
        body = self._send(api, business, self._session)
        if _is_success(body):
            return body
        code, msg = self._code(body)
        if code not in SESSION_CODES:
            raise self._classify(api, code, msg)
        if self._refresh_token is None:
            raise self.client.config_error(api, code, msg, RENEW_HINT)
        self._renew()
        body = self._send(api, business, self._session)
        if _is_success(body):
            return body
        code, msg = self._code(body)
        if code in SESSION_CODES:
            raise self.client.expired(api, code, msg)
        raise self._classify(api, code, msg)

    def _send(self, api: str, business: Mapping[str, str], session: str | None) -> Any:
        form = signed_form(
            method=api,
            app_key=self.spec.app_key,
            session=session,
            secret=self._secret,
            sign_method=self.spec.sign_method,
            business=business,
            at=self.clock(),
        )
        response = self.client.request(
            "POST",
            self.url,
            api=api,
            data=form,
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"},
        )
        return self.client.json(response, api=api)

    def _renew(self) -> None:
        """Exchange the refresh token for a new session (``open.token.refresh``)."""
        assert self._refresh_token is not None
        body = self._send(TOKEN_REFRESH, {"refreshToken": self._refresh_token}, self._session)
        session = body.get("session") if _is_success(body) else None
        token = session.get("accessToken") if isinstance(session, dict) else None
        if not token:
            code, msg = self._code(body)
            if code in SESSION_CODES or code in ("40", "41"):
                raise self.client.config_error(TOKEN_REFRESH, code, msg, REFRESH_HINT)
            raise self._classify(TOKEN_REFRESH, code, msg)
        assert isinstance(session, dict)
        self._session = str(token)
        self._refresh_token = str(session.get("refreshToken") or self._refresh_token)
        self.client.secrets += [s for s in (self._session, self._refresh_token) if len(s) >= 4]
        self.refreshes += 1

    def _code(self, body: Any) -> tuple[str, str]:
        if not isinstance(body, dict):
            return "", str(body)
        code = str(body.get("code", "") or "")
        msg = str(body.get("msg") or body.get("message") or "")
        trace = body.get("trace_id") or body.get("traceId")
        return code, f"{msg} (trace_id {trace})" if trace else msg

    def _classify(self, api: str, code: str, msg: str) -> FerryError:
        if code in THROTTLE_CODES or any(word in msg for word in THROTTLE_WORDS):
            return self.client.throttled(api, code, msg)
        hint = _HINTS.get(code)
        if hint is not None:
            return self.client.config_error(api, code, msg, hint)
        return self.client.retriable(api, code or "(none)", msg)


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value is None or value == "" else int(value)
    except (TypeError, ValueError):
        return None
