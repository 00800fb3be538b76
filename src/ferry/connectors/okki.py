"""XiaoMan OKKI CRM connector: a source for the open API's list endpoints (docs/vendor-protocols.md §6).

``connections.yaml``::

    okki:
      type: okki
      base_url: https://api-sandbox.xiaoman.cn   # the production host, despite its name
      client_id: ${OKKI_CLIENT_ID}
      client_secret: ${OKKI_CLIENT_SECRET}
      scope: invoices

Authentication is OAuth2 client credentials: ``POST /v1/oauth2/access_token`` (form) gives a
Bearer token for 8 hours. The connector fetches it on first use and again when a call answers
HTTP 401 (``access_denied``, an expired token), once; a second 401 raises
``AuthExpiredError``. A 400/401 from the token endpoint itself (``invalid_client``,
``invalid_scope`` ...) is a ``ConfigError`` naming the connection and quoting the OAuth error.

Paging (``GET /v1/invoices/receipt/list`` and its siblings): ``start_index`` is the 1-based
page number and ``count`` the page size; both are set from the page state, overriding the
request's. Every other request field (``start_time``, ``end_time``, ``removed`` ...) is passed
through. Records come from ``data.list``; ``data.totalItem`` is the reported total; the last
page is reached when ``start_index * count >= totalItem`` or the list is empty.

Other answers: HTTP 403 (missing scope, ``no permission invoices scopes``) and 400/404 are
``ConfigError``; 429 is ``ThrottledError``; 5xx and timeouts are ``RetriableError`` (the
engine retries). No rate limit and no window limit are published; ``count`` at most 100
[GUESS].
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import httpx
from pydantic import Field, SecretStr

from ferry.connectors._vendor import VendorClient, VendorConnection, VendorSource, form_text
from ferry.connectors.base import Limits, Page, PageState
from ferry.connectors.paging import PageNumberPaginator, first_known, pages_reach_total, short_page
from ferry.errors import RetriableError

__all__ = ["OkkiConnection", "OkkiConnector"]

TOKEN_PATH = "/v1/oauth2/access_token"

LIMITS = Limits(max_window=None, max_page_size=100, default_page_size=20, page_base=1)
"""No window or rate limit is published; the default page size is the API's 20, 100 the [GUESS] cap."""

_CREDENTIALS_HINT = "check client_id and client_secret (OKKI → 企业管理 → 外部对接 → API对接) and scope"


class OkkiConnection(VendorConnection):
    """An OKKI CRM company reached through its open API with OAuth2 client credentials."""

    type: Literal["okki"] = "okki"
    client_id: str = Field(min_length=1, description="client_id from OKKI 企业管理 → 外部对接 → API对接.")
    client_secret: SecretStr = Field(description="client_secret of the same app. Secret.")
    scope: str = Field(
        "invoices",
        min_length=1,
        description="Space-separated module scopes; receipts (回款单) need `invoices`.",
    )

    source_impl: ClassVar[str | None] = "ferry.connectors.okki:OkkiConnector"


class OkkiConnector(VendorSource):
    """Source of OKKI list endpoints for one :class:`OkkiConnection`."""

    def __init__(self, spec: OkkiConnection, *, transport: httpx.BaseTransport | None = None) -> None:
        self.spec = spec
        self.name = spec.name
        self.limits = spec.limits(LIMITS)
        self.client = VendorClient(spec, transport=transport)
        self.pager = PageNumberPaginator(
            page_param="start_index",
            size_param="count",
            base=self.limits.page_base,
            cap=self.limits.max_page_size,
            last=first_known(pages_reach_total, short_page),
        )
        """``start_index * count >= totalItem`` (a short page without ``totalItem``) is the last."""
        self._token: str | None = None
        self.tokens_fetched = 0
        """How many tokens this connector asked for (tests)."""

    def fetch(self, api: str, method: str, request: Mapping[str, Any], state: PageState) -> Page:
        """Fetch one page; see the module docstring for paging and errors."""
        values = form_text({**request, **self.pager.request_fields(state)})
        document = self._call(method, api, values)
        data = document.get("data")
        data = data if isinstance(data, dict) else {}
        rows = data.get("list")
        rows = [] if rows is None else rows
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise RetriableError(f"{self.client.where(api)}: data.list is not a list of objects")
        total = _int(data.get("totalItem"))
        following = self.pager.after(state, rows, total=total)
        return Page(records=rows, next=following, total=total)

    def _call(self, method: str, api: str, values: dict[str, str]) -> dict[str, Any]:
        verb = "POST" if method.upper() == "POST" else "GET"
        for attempt in (1, 2):
            token = self._token or self._fetch_token()
            kwargs: dict[str, Any] = {"params": values} if verb == "GET" else {"data": values}
            response = self.client.request(
                verb, api, api=api, headers={"Authorization": f"Bearer {token}"}, **kwargs
            )
            if response.status_code == 401:
                self._token = None
                if attempt == 2:
                    error, message = self._oauth_text(response, api)
                    raise self.client.expired(api, error, message)
                continue
            return self._business(response, api)
        raise AssertionError("unreachable")  # pragma: no cover

    def _business(self, response: httpx.Response, api: str) -> dict[str, Any]:
        document = self.client.json(response, api=api)
        if not isinstance(document, dict):
            raise RetriableError(
                f"{self.client.where(api)}: answer is not an object: {self.client.quote(response.text)}"
            )
        code, message = document.get("code"), document.get("message", "")
        if response.is_success and code in (200, 0, "200", "0"):
            return document
        if code is None:
            raise RetriableError(
                f"{self.client.where(api)}: HTTP {response.status_code} answer has no code: "
                f"{self.client.quote(response.text)}"
            )
        if code in (500, "500"):
            raise self.client.retriable(api, code, message)
        if code in (429, "429"):
            raise self.client.throttled(api, code, message)
        hint = (
            "the app lacks the scope; add it to this connection's scope and to the app in OKKI"
            if response.status_code == 403 or "scope" in str(message)
            else "check the api path and the request fields of the source metadata"
        )
        raise self.client.config_error(api, code, message, hint)

    def _fetch_token(self) -> str:
        spec = self.spec
        form = {
            "grant_type": "client_credentials",
            "client_id": spec.client_id,
            "client_secret": spec.client_secret.get_secret_value(),
            "scope": spec.scope,
        }
        response = self.client.request("POST", TOKEN_PATH, api=TOKEN_PATH, data=form)
        if response.status_code in (400, 401, 403):
            error, message = self._oauth_text(response, TOKEN_PATH)
            raise self.client.config_error(TOKEN_PATH, error, message, _CREDENTIALS_HINT)
        document = self.client.json(response, api=TOKEN_PATH)
        token = document.get("access_token") if isinstance(document, dict) else None
        if not response.is_success or not token:
            raise RetriableError(
                f"{self.client.where(TOKEN_PATH)}: no access_token in HTTP {response.status_code} answer: "
                f"{self.client.quote(response.text)}"
            )
        self._token = str(token)
        self.tokens_fetched += 1
        return self._token

    def _oauth_text(self, response: httpx.Response, api: str) -> tuple[str, str]:
        """``(error, message)`` of an OAuth error answer (HTTP status and text if not JSON)."""
        try:
            document = self.client.json(response, api=api)
        except RetriableError:
            return f"HTTP {response.status_code}", response.text
        if not isinstance(document, dict):
            return f"HTTP {response.status_code}", response.text
        error = str(document.get("error") or f"HTTP {response.status_code}")
        message = document.get("message") or document.get("error_description") or ""
        return error, str(message)

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()

    def __enter__(self) -> OkkiConnector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _int(value: Any) -> int | None:
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None
