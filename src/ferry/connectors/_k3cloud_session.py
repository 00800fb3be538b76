"""K3Cloud WebAPI calls: login, the session, and the transport-level answers.

Every call is ``POST {base_url}/{ServiceName}.common.kdsvc`` with a JSON body
(docs/vendor-protocols.md §1.2). :class:`K3CloudSession` logs in per the connection's ``login`` mode,
keeps the session and resends it the way the official SDK does (header ``kdservice-sessionid``
and the ``Cookie`` header carrying every cookie the server set), and on a "session lost" answer
(``MsgCode`` 1) logs in again once and repeats the call.

Login modes (docs/vendor-protocols.md §1.3):

================  ===========================================================================
``app_secret``    ``AuthService.LoginByAppSecret`` ``{"parameters": [acctId, user, appId, appSecret, lcid]}``
``sign``          ``AuthService.LoginBySign`` ``{"parameters": [acctId, user, appId, ts, sign, "lcid"]}``
``password``      ``AuthService.ValidateUser`` ``{"acctID", "username", "password", "lcid"}``
``signed_headers``  no login call: every request carries the SDK's ``X-Api-*``/``X-Kd-*`` headers;
                  the session cookie the server answers with is reused like a login session
================  ===========================================================================

Classification (§1.2, §1.3; 5xx, 408, 429 and timeouts are :class:`VendorClient`'s; the
``MsgCode`` of business answers is :mod:`ferry.connectors._k3cloud_status`'s):

=====================================================  =========================================
HTTP 519 (API gateway) ``errcode`` 4002/4006/5001      ``ConfigError`` (app id, clock, URL)
other non-200/206 statuses not already classified      ``ConfigError`` (check ``base_url``)
body ``response_error: ...``                           ``RetriableError`` quoting it
``LoginResultType`` != 1                               ``ConfigError`` quoting ``Message``
``MsgCode`` 1 again right after a new login            ``AuthExpiredError``; in ``signed_headers``
                                                       mode ``ConfigError`` (signature rejected)
=====================================================  =========================================
"""

from __future__ import annotations

import http.cookiejar
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from ferry.connectors._k3cloud_sign import login_sign, signed_headers
from ferry.connectors._k3cloud_status import SESSION_LOST, session_lost, status_text
from ferry.connectors._vendor import VendorClient
from ferry.errors import RetriableError

if TYPE_CHECKING:
    from ferry.connectors.k3cloud import K3CloudConnection

__all__ = ["AUTH_SERVICE", "FORM_SERVICE", "LOGIN_SERVICES", "K3CloudSession"]

AUTH_SERVICE = "Kingdee.BOS.WebApi.ServicesStub.AuthService."
FORM_SERVICE = "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService."
SESSION_COOKIE = "kdservice-sessionid"
GATEWAY_HINTS = {
    4002: "check app_id: the gateway did not recognise the application",
    4006: "the request timestamp was rejected: check this machine's clock",
    5001: "the gateway does not know this API: check base_url",
}
LOGIN_SERVICES = {
    "app_secret": "LoginByAppSecret",
    "sign": "LoginBySign",
    "password": "ValidateUser",
}


class K3CloudSession:
    """Logged-in calls to one K3Cloud data centre.

    Args:
        spec: The connection.
        client: Its classified HTTP client.
        clock: Unix seconds (``time.time``); signatures use it.
    """

    def __init__(
        self, spec: K3CloudConnection, client: VendorClient, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.spec = spec
        self.client = client
        self.clock = clock
        self.cookies: dict[str, str] = {}
        self.logged_in = False
        self.logins = 0
        # The session is ours to send: stop httpx from replaying stale cookies by itself.
        client.http.cookies.jar.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        client.http.event_hooks["response"].append(self._gateway_errors)

    # -- public ---------------------------------------------------------------------------

    def url(self, service: str) -> str:
        """The absolute URL of ``service`` (a full service name without ``.common.kdsvc``)."""
        return f"{self.spec.base_url.rstrip('/')}/{service}.common.kdsvc"

    def call(self, service: str, body: Any, *, api: str) -> Any:
        """POST ``body`` to ``service`` in the session and return the parsed answer.

        Logs in first if needed; a "session lost" answer triggers one new login and one retry.

        Raises:
            AuthExpiredError: The session was lost again right after a fresh login.
            ConfigError: Login refused, or (``signed_headers``) the signature was rejected.
        """
        if not self.logged_in:
            self.login()
        document = self._post(service, body, api=api)
        if session_lost(document) is None:
            return document
        self.logout_locally()
        self.login()
        document = self._post(service, body, api=api)
        status = session_lost(document)
        if status is None:
            return document
        self.logout_locally()
        if self.spec.login == "signed_headers":
            raise self.client.config_error(
                api,
                SESSION_LOST,
                status_text(status),
                "the server rejected the signed headers: check app_id, app_secret, acct_id, "
                "username and org_num, and this machine's clock",
            )
        raise self.client.expired(api, SESSION_LOST, status_text(status))

    def login(self) -> None:
        """Log in per ``spec.login`` and keep the session (``signed_headers``: nothing to do).

        Raises:
            ConfigError: ``LoginResultType`` is not 1; the message quotes the vendor's text.
        """
        self.logins += 1
        mode = self.spec.login
        if mode == "signed_headers":
            self.logged_in = True
            return
        service = LOGIN_SERVICES[mode]
        document = self._post(AUTH_SERVICE + service, self._login_body(mode), api=service)
        if not isinstance(document, dict) or "LoginResultType" not in document:
            raise RetriableError(
                f"{self.client.where(service)}: unexpected login answer: "
                f"{self.client.quote(orjson.dumps(document).decode())}"
            )
        result = document.get("LoginResultType")
        if result != 1:
            message = document.get("Message") or document.get("MessageCode") or "login refused"
            raise self.client.config_error(
                service,
                f"LoginResultType {result}",
                message,
                self._login_hint(mode),
            )
        session = document.get("KDSVCSessionId")
        if session:
            self.cookies[SESSION_COOKIE] = str(session)
        if SESSION_COOKIE not in self.cookies:
            raise RetriableError(f"{self.client.where(service)}: login succeeded but sent no session id")
        self.logged_in = True

    def logout_locally(self) -> None:
        """Forget the session (the next call logs in again)."""
        self.cookies.clear()
        self.logged_in = False

    # -- internals ------------------------------------------------------------------------

    def _login_body(self, mode: str) -> dict[str, Any]:
        spec = self.spec
        if mode == "password":
            password = spec.password.get_secret_value() if spec.password else ""
            return {
                "acctID": spec.acct_id,
                "username": spec.username,
                "password": password,
                "lcid": spec.lcid,
            }
        secret = spec.app_secret.get_secret_value() if spec.app_secret else ""
        if mode == "sign":
            ts = str(int(self.clock()))
            sign = login_sign(spec.acct_id, spec.username, spec.app_id, secret, ts)
            return {"parameters": [spec.acct_id, spec.username, spec.app_id, ts, sign, str(spec.lcid)]}
        return {"parameters": [spec.acct_id, spec.username, spec.app_id, secret, spec.lcid]}

    @staticmethod
    def _login_hint(mode: str) -> str:
        if mode == "password":
            return "check acct_id (the data centre id), username and password"
        return "check acct_id (the data centre id), username, app_id and app_secret"

    def _headers(self, url: str) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept-Charset": "utf-8"}
        spec = self.spec
        if spec.login == "signed_headers":
            ts = str(int(self.clock()))
            headers.update(
                signed_headers(
                    url=url,
                    app_id=spec.app_id,
                    app_secret=spec.app_secret.get_secret_value() if spec.app_secret else "",
                    acct_id=spec.acct_id,
                    username=spec.username,
                    lcid=spec.lcid,
                    org_num=spec.org_num,
                    timestamp=ts,
                    nonce=ts,
                )
            )
        session = self.cookies.get(SESSION_COOKIE)
        if session:
            headers[SESSION_COOKIE] = session
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return headers

    def _post(self, service: str, body: Any, *, api: str) -> Any:
        url = self.url(service)
        response = self.client.request(
            "POST", url, api=api, content=orjson.dumps(body, default=str), headers=self._headers(url)
        )
        if response.status_code not in (200, 206):
            raise self.client.config_error(
                api,
                f"HTTP {response.status_code}",
                response.text,
                f"check base_url (the K3Cloud root ending in /k3cloud/, now {self.spec.base_url})",
            )
        for name, value in response.cookies.items():
            self.cookies[name] = value
        text = response.text
        if text.lstrip().startswith("response_error:"):
            raise RetriableError(f"{self.client.where(api)}: {self.client.quote(text)}")
        return self.client.json(response, api=api)

    def _gateway_errors(self, response: httpx.Response) -> None:
        """Kingdee API gateway answers (HTTP 519) are configuration problems, not outages."""
        if response.status_code != 519:
            return
        response.read()
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            body = {}
        body = body if isinstance(body, dict) else {}
        code, text = body.get("errcode"), body.get("description")
        service = response.request.url.path.rsplit("/", 1)[-1].removesuffix(".common.kdsvc")
        hint = GATEWAY_HINTS.get(
            code if isinstance(code, int) else -1, "the Kingdee API gateway refused the call"
        )
        raise self.client.config_error(
            service.rsplit(".", 1)[-1], f"gateway {code}", text or response.text, hint
        )
