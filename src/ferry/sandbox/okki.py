"""XiaoMan OKKI CRM simulator: OAuth2 tokens and the 回款单 list (docs/vendor-protocols.md §6).

Endpoints:

==================================  =============================================================
``POST /v1/oauth2/access_token``    form or JSON: ``grant_type`` ``client_credentials`` (or
                                    ``password`` with ``username`` and the SHA-256 hex ``password``),
                                    ``client_id``, ``client_secret``, ``scope`` (space-separated)
``POST /v1/oauth2/refresh_token``   ``grant_type=refresh_token``, ``refresh_token``, client id/secret
``GET /v1/invoices/receipt/list``   ``Authorization: Bearer <token>`` (a bare token too);
                                    ``start_index`` (1-based page), ``count``, ``start_time``,
                                    ``end_time`` (``update_time`` between them, both inclusive),
                                    ``removed`` (1: the deleted receipts) in the query, a form or
                                    a JSON body
==================================  =============================================================

Answers follow the documentation: tokens ``{"token_type": "Bearer", "expires_in", "access_token"}``
(``refresh_token`` only for the password grant); OAuth errors ``{"error", "error_description",
"message"}`` (``invalid_client`` HTTP 401, others 400); a missing, unknown or expired token on
the list is HTTP 401 ``access_denied``; the list answers ``{"code": 200, "message": "success",
"now", "data": {"list", "totalItem"}}``. Receipts come from :mod:`ferry.sandbox._okki_receipts`
through a :class:`~ferry.sandbox.Dataset`, so drift, late arrivals and duplicates apply.

Choices where the documentation is silent ([GUESS]):

- asking for a token again while the last one is valid returns the same token with its
  remaining lifetime (8 hours); after it expired (lifetime, or ``Faults.token_expiry_calls``
  calls on the list) a new one is minted;
- a token without the ``invoices`` scope gets HTTP 403 ``{"code": 403, "message": "no permission
  invoices scopes"}``;
- bad list parameters (``start_index`` < 1, ``count`` outside 1..100, unparseable times,
  ``removed`` not 0/1) get HTTP 400 ``{"code": 400, "message": ...}``; a date-only ``end_time``
  means the end of that day; pages past the end are empty with the same ``totalItem``;
- no rate limit is published: none by default; with ``Faults.rate_per_*`` the answer is HTTP 429
  ``{"code": 429, "message": "Too Many Requests"}``; injected server errors are HTTP 500
  ``{"code": 500, ...}``;
- multipart bodies are not parsed.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx

from ferry.sandbox import world
from ferry.sandbox._dataset import Dataset
from ferry.sandbox._faults import Faults
from ferry.sandbox._okki_params import form_fields, list_params
from ferry.sandbox._okki_receipts import BAD_RECORDS, TIME_FORMAT, receipt, touch
from ferry.sandbox._simulator import Call, Simulator, TokenBook, json_response

__all__ = ["OkkiSimulator"]

TOKEN = "/v1/oauth2/access_token"
REFRESH = "/v1/oauth2/refresh_token"
RECEIPTS = "/v1/invoices/receipt/list"

SCOPES = frozenset(
    [
        "product",
        "company",
        "lead",
        "opportunity",
        "invoices",
        "user",
        "costInvoice",
        "paymentInvoice",
        "purchaseOrder",
        "warehouse",
        "capitalAccount",
        "webhook",
    ]
)

_DENIED = "The resource owner or authorization server denied the request."
_OAUTH_TEXT = {
    "invalid_request": "The request is missing a required parameter, includes an invalid parameter value, "
    "includes a parameter more than once, or is otherwise malformed.",
    "unsupported_grant_type": "The authorization grant type is not supported by the authorization server.",
    "invalid_client": "Client authentication failed",
    "invalid_scope": "The requested scope is invalid, unknown, or malformed",
    "invalid_credentials": "The user credentials were incorrect.",
}


class OkkiSimulator(Simulator):
    """OKKI CRM's open API: OAuth2 client credentials and the receipt list.

    Args:
        size: Receipts in the normal list; ``size // 20`` more are deleted (``removed=1``).
        faults: Fault injection (transport faults, token expiry, drift/late/duplicates).
        clock: Seconds since the epoch.
        token_lifetime: Seconds a token lives (8 hours, as documented).
    """

    name = "okki"
    title = "XiaoMan OKKI CRM open API"

    CLIENT_ID = "okki-demo-client"
    CLIENT_SECRET = "okki-demo-secret"
    USERNAME = "demo@okki.example"
    PASSWORD = "okki-demo-password"
    """The password grant expects its SHA-256 hex digest."""
    TOKEN_LIFETIME = 28_800.0

    def __init__(
        self,
        *,
        size: int = 200,
        faults: Faults | None = None,
        clock: Callable[[], float] = time.time,
        token_lifetime: float = TOKEN_LIFETIME,
    ) -> None:
        super().__init__(size=size, faults=faults, clock=clock)
        self.token_lifetime = token_lifetime
        self.tokens = TokenBook(token_lifetime, self.faults.token_expiry_calls, clock)
        self._current: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._dead: set[str] = set()
        self._refresh: dict[str, tuple[str, str]] = {}
        deleted = size // 20
        self.receipts = self._dataset(range(size), size)
        self.removed = self._dataset(range(size, size + deleted), size + deleted)

    def _dataset(self, indexes: range, count: int) -> Dataset:
        def records() -> Any:
            for index in indexes:
                modified = world.spread(index, count)
                rid, row = receipt(index, modified)
                yield rid, modified, row

        return Dataset(records(), dice=self.dice, touch=touch, clock=self.now, defects=BAD_RECORDS)

    # -- the Simulator hooks ----------------------------------------------------------------

    def dispatch(self, request: httpx.Request, call: Call) -> httpx.Response:
        """Route one call."""
        path = request.url.path
        if path == TOKEN and request.method == "POST":
            return self._token(request, call)
        if path == REFRESH and request.method == "POST":
            return self._refresh_token(request, call)
        if path == RECEIPTS and request.method in ("GET", "POST"):
            return self._receipts(request, call)
        status = 405 if path in (TOKEN, REFRESH, RECEIPTS) else 404
        text = "Method Not Allowed" if status == 405 else "Not Found Resource"
        return self._envelope(call, status, text, status=status)

    def throttled(self, request: httpx.Request, call: Call, which: str) -> httpx.Response:
        """[GUESS] HTTP 429 in the business envelope."""
        return self._envelope(call, 429, "Too Many Requests", status=429)

    def server_error(self, request: httpx.Request, call: Call) -> httpx.Response:
        """[GUESS] HTTP 500 in the business envelope."""
        return self._envelope(call, 500, "Internal Server Error", status=500)

    def describe(self) -> dict[str, Any]:
        """Path prefix, demo credentials and dataset sizes."""
        return {
            "prefix": "/v1",
            "credentials": {
                "client_id": self.CLIENT_ID,
                "client_secret": self.CLIENT_SECRET,
                "scope": "invoices",
                "username": self.USERNAME,
                "password": self.PASSWORD,
            },
            "receipts": len(self.receipts),
            "removed": len(self.removed),
            "apis": [TOKEN, REFRESH, RECEIPTS],
        }

    # -- OAuth2 -----------------------------------------------------------------------------

    def _token(self, request: httpx.Request, call: Call) -> httpx.Response:
        form = form_fields(request)
        call.api = TOKEN
        call.credential = form.get("client_id", "")
        throttled = self.over_budget(request, call)
        if throttled is not None:
            return throttled
        grant = form.get("grant_type", "")
        if not grant:
            return self._oauth_error(call, "invalid_request", "Check the `grant_type` parameter")
        if grant not in ("client_credentials", "password"):
            return self._oauth_error(call, "unsupported_grant_type", f"grant_type {grant!r} is not supported")
        if form.get("client_id") != self.CLIENT_ID or form.get("client_secret") != self.CLIENT_SECRET:
            return self._oauth_error(call, "invalid_client", _OAUTH_TEXT["invalid_client"])
        scopes = form.get("scope", "").split()
        unknown = [s for s in scopes if s not in SCOPES]
        if not scopes or unknown:
            hint = f"unknown scope {unknown[0]!r}" if unknown else "Specify a scope in the request"
            return self._oauth_error(call, "invalid_scope", hint)
        user = ""
        if grant == "password":
            digest = hashlib.sha256(self.PASSWORD.encode()).hexdigest()
            if form.get("username") != self.USERNAME or form.get("password", "").lower() != digest:
                return self._oauth_error(call, "invalid_credentials", _OAUTH_TEXT["invalid_credentials"])
            user = self.USERNAME
        return self._grant(call, user, " ".join(sorted(set(scopes))), refresh=grant == "password")

    def _refresh_token(self, request: httpx.Request, call: Call) -> httpx.Response:
        form = form_fields(request)
        call.api = REFRESH
        call.credential = form.get("client_id", "")
        if form.get("grant_type") != "refresh_token":
            return self._oauth_error(call, "unsupported_grant_type", "grant_type must be refresh_token")
        if form.get("client_id") != self.CLIENT_ID or form.get("client_secret") != self.CLIENT_SECRET:
            return self._oauth_error(call, "invalid_client", _OAUTH_TEXT["invalid_client"])
        grant = self._refresh.pop(form.get("refresh_token", ""), None)
        if grant is None:
            return self._oauth_error(call, "invalid_request", "The refresh token is invalid.", status=401)
        user, scope = grant
        self._current.pop((self.CLIENT_ID, user, scope), None)
        return self._grant(call, user, scope, refresh=True)

    def _grant(self, call: Call, user: str, scope: str, *, refresh: bool) -> httpx.Response:
        key = (self.CLIENT_ID, user, scope)
        now = self.clock()
        current = self._current.get(key)
        if current is None or current[0] in self._dead or now - current[1] >= self.token_lifetime:
            token = secrets.token_urlsafe(48)
            self.tokens.issue(token, self.CLIENT_ID, scopes=scope.split(), user=user)
            current = self._current[key] = (token, now)
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "expires_in": max(1, int(self.token_lifetime - (now - current[1]))),
            "access_token": current[0],
        }
        if refresh:
            body["refresh_token"] = secrets.token_urlsafe(32)
            self._refresh[body["refresh_token"]] = (user, scope)
        call.code = 200
        return json_response(body)

    # -- the receipt list -------------------------------------------------------------------

    def _receipts(self, request: httpx.Request, call: Call) -> httpx.Response:
        call.api = RECEIPTS
        auth = request.headers.get("Authorization", "").strip()
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else auth
        verdict = self.tokens.check(token)
        if verdict != "ok":
            if verdict == "expired":
                self._dead.add(token)
                call.fault = "expired"
            why = {"expired": "Access token has expired", "unknown": "Access token could not be verified"}
            message = why[verdict] if token else 'Missing "Authorization" header'
            call.code = "access_denied"
            return json_response(
                {"error": "access_denied", "error_description": _DENIED, "message": message}, 401
            )
        call.credential = self.tokens.subject(token)
        throttled = self.over_budget(request, call)
        if throttled is not None:
            return throttled
        if "invoices" not in self.tokens.data(token)["scopes"]:
            return self._envelope(call, 403, "no permission invoices scopes", status=403)
        params = {**form_fields(request), **dict(request.url.params)}
        try:
            page, count, start, end, removed = list_params(params)
        except ValueError as exc:
            return self._envelope(call, 400, str(exc), status=400)
        dataset = self.removed if removed else self.receipts
        dataset.tick()
        ids = dataset.select(start, end, end_inclusive=True)
        rows = dataset.page(ids, (page - 1) * count, count)
        return self._envelope(call, 200, "success", data={"list": rows, "totalItem": len(ids)})

    # -- envelopes --------------------------------------------------------------------------

    def _envelope(
        self, call: Call, code: int, message: str, *, data: Any = None, status: int = 200
    ) -> httpx.Response:
        call.code = code
        body: dict[str, Any] = {"code": code, "message": message, "now": self.now().strftime(TIME_FORMAT)}
        if data is not None:
            body["data"] = data
        return json_response(body, status=status)

    def _oauth_error(
        self, call: Call, error: str, message: str, *, status: int | None = None
    ) -> httpx.Response:
        call.code = error
        status = status or (401 if error == "invalid_client" else 400)
        body = {"error": error, "error_description": _OAUTH_TEXT.get(error, message), "message": message}
        return json_response(body, status=status)
