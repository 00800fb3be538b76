"""Logging in to the KIS 云 gateway and making signed business calls (docs/vendor-protocols.md §2.3).

Login is two calls: ``/koas/oauth2/access_token`` (client id and secret in the query, the
authorization code in the body) gives ``access_token``, ``session_id`` and ``session_secret``;
``/koas/user/get_service_gateway`` (signed) gives ``auth_data`` and ``gw_router_addr`` for the
account set (账套). A business call then sends ``?access_token=`` with the signed ``Kis-*``
headers and the routing headers.

Expiry is handled when the gateway reports it (errcode 10001 token, 10003 auth data): the
session logs in again once and repeats the call; if that is expired too it raises
``AuthExpiredError`` (the engine retries). Bad credentials, a wrong code or account set and a
rejected signature raise ``ConfigError``; errcode 50000 raises ``RetriableError``. Any other
errcode is returned to the caller, who knows whether it concerns one bill or the request.
The errcodes other than 10201 are this project's [GUESS] (see :mod:`ferry.sandbox.kis`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from ferry.connectors._kis_sign import kis_headers
from ferry.connectors._vendor import VendorClient
from ferry.errors import ConfigError, RetriableError

if TYPE_CHECKING:
    from ferry.connectors.kis import KisConnection

__all__ = ["EXPIRED", "Answer", "KisSession"]

TOKEN_PATH = "/koas/oauth2/access_token"
GATEWAY_PATH = "/koas/user/get_service_gateway"

EXPIRED = frozenset({10001, 10003})
"""access_token expired / auth_data expired: log in again."""
BAD_CONFIG = frozenset({10002, 10004, 10005})
"""Bad signature, bad client credentials, bad authorization code."""
SERVER_ERROR = 50000

_CREDENTIALS_HINT = "check client_id, client_secret and auth_code of this connection (KIS 云 开放平台 app)"
_ACCOUNT_HINT = "check acct_number (账套号) and pid of this connection; the app must be authorised for it"
_SIGNATURE_HINT = (
    "the gateway rejected the KIS-Signature; check that the session secret is not altered by a proxy"
)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


@dataclass(frozen=True)
class _Login:
    access_token: str
    session_id: str
    session_secret: str
    auth_data: str
    gw_router_addr: str


@dataclass(frozen=True)
class Answer:
    """A gateway answer the caller must judge: ``errcode`` (0 = success), text and data."""

    errcode: int
    description: str
    data: Any


class KisSession:
    """One logged-in KIS session for a connection; logs in lazily and again on expiry."""

    def __init__(
        self, spec: KisConnection, client: VendorClient, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.spec = spec
        self.client = client
        self.clock = clock
        self.state = uuid.uuid4().hex
        """``Kis-State``: one random id for the life of the connector."""
        self._login: _Login | None = None
        self.logins = 0
        """How many times this session logged in (tests)."""

    def call(self, path: str, body: Any) -> Answer:
        """POST ``body`` to the business API ``path``; see the module docstring for errors."""
        for attempt in (1, 2):
            login = self._login or self.login()
            envelope = self._post(path, body, login, routed=True)
            answer = self._answer(envelope, path)
            if answer.errcode in EXPIRED:
                self._login = None
                if attempt == 2:
                    raise self.client.expired(path, answer.errcode, answer.description)
                continue
            self._raise_for(path, answer)
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    def login(self) -> _Login:
        """Get a token, then the service gateway of the account set; remember the result."""
        spec = self.spec
        params = {"client_id": spec.client_id, "client_secret": spec.client_secret.get_secret_value()}
        headers = kis_headers(state=self.state, trace_id=str(uuid.uuid4()), timestamp=int(self.clock()))
        response = self._send(TOKEN_PATH, params, {"code": spec.auth_code.get_secret_value()}, headers)
        token = self._answer(self.client.json(response, api=TOKEN_PATH), TOKEN_PATH)
        if token.errcode != 0:
            self._raise_for(TOKEN_PATH, token)
            raise self.client.config_error(TOKEN_PATH, token.errcode, token.description, _CREDENTIALS_HINT)
        data = token.data if isinstance(token.data, dict) else {}
        try:
            access_token, session_id = str(data["access_token"]), str(data["session_id"])
            session_secret = str(data["session_secret"])
        except KeyError as exc:
            raise RetriableError(f"{self.client.where(TOKEN_PATH)}: answer lacks {exc.args[0]}") from None
        partial = _Login(access_token, session_id, session_secret, "", "")
        body = {
            "session_id": session_id,
            "pid": spec.pid,
            "acctnumber": spec.acct_number,
            "icrmid": spec.icrmid,
        }
        gateway = self._answer(self._post(GATEWAY_PATH, body, partial, routed=False), GATEWAY_PATH)
        if gateway.errcode in EXPIRED:
            raise self.client.expired(GATEWAY_PATH, gateway.errcode, gateway.description)
        if gateway.errcode != 0:
            self._raise_for(GATEWAY_PATH, gateway)
            raise self.client.config_error(GATEWAY_PATH, gateway.errcode, gateway.description, _ACCOUNT_HINT)
        route = gateway.data if isinstance(gateway.data, dict) else {}
        self._login = _Login(
            access_token,
            session_id,
            session_secret,
            str(route.get("auth_data", "")),
            str(route.get("gw_router_addr", "")),
        )
        self.logins += 1
        return self._login

    def _post(self, path: str, body: Any, login: _Login, *, routed: bool) -> Any:
        headers = kis_headers(
            state=self.state,
            trace_id=str(uuid.uuid4()),
            timestamp=int(self.clock()),
            session_id=login.session_id,
            session_secret=login.session_secret,
            auth_data=login.auth_data if routed else None,
            gw_router_addr=login.gw_router_addr if routed else None,
        )
        response = self._send(path, {"access_token": login.access_token}, body, headers)
        return self.client.json(response, api=path)

    def _send(self, path: str, params: dict[str, str], body: Any, headers: dict[str, str]) -> httpx.Response:
        response = self.client.request(
            "POST",
            path,
            api=path,
            params=params,
            content=orjson.dumps(body, default=_json_default),
            headers={**headers, "Content-Type": "application/json"},
        )
        if response.status_code == 404:
            raise ConfigError(
                f"{self.client.where(path)}: HTTP 404, no such API: {self.client.quote(response.text)}\n"
                "  hint: check the api path of the metadata (e.g. /koas/app007104/api/miscellaneousreceipt/create)"
            )
        return response

    def _answer(self, envelope: Any, path: str) -> Answer:
        if not isinstance(envelope, dict) or "errcode" not in envelope:
            raise RetriableError(
                f"{self.client.where(path)}: answer has no errcode: {self.client.quote(str(envelope))}"
            )
        try:
            errcode = int(envelope["errcode"])
        except (TypeError, ValueError):
            raise RetriableError(
                f"{self.client.where(path)}: errcode is not a number: {self.client.quote(str(envelope))}"
            ) from None
        return Answer(errcode, str(envelope.get("description") or ""), envelope.get("data"))

    def _raise_for(self, path: str, answer: Answer) -> None:
        """Raise for the errcodes no caller can handle: bad configuration, server error."""
        if answer.errcode in BAD_CONFIG:
            hint = _SIGNATURE_HINT if answer.errcode == 10002 else _CREDENTIALS_HINT
            raise self.client.config_error(path, answer.errcode, answer.description, hint)
        if answer.errcode == SERVER_ERROR:
            raise self.client.retriable(path, answer.errcode, answer.description)
