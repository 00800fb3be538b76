"""Kingdee K3Cloud (金蝶云星空) WebAPI simulator (docs/vendor-protocols.md §1).

Every call is ``POST http://k3cloud.sandbox/k3cloud/<ServiceName>.common.kdsvc`` with a JSON
body (service names match case-insensitively; another path is HTTP 404, another method 405):

=========================================================================  =====================
``Kingdee.BOS.WebApi.ServicesStub.AuthService.ValidateUser``               user + password login
``...AuthService.LoginByAppSecret`` / ``...AuthService.LoginBySign``       third-party app login
``...AuthService.Logout``                                                  ends the session
``Kingdee.BOS.ServiceFacade.ServicesStub.Account.AccountService.GetDataCenterList``  data centres
``Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.ExecuteBillQuery``    rows as arrays
``...DynamicFormService.BillQuery``                                        rows as objects
``...DynamicFormService.View``                                             one bill
``...DynamicFormService.Save`` / ``BatchSave`` / ``Draft``                 see ``_k3cloud_save``
``...DynamicFormService.Submit`` / ``Audit`` / ``UnAudit`` / ``Delete``    see ``_k3cloud_ops``
``...DynamicFormService.ExcuteOperation`` (also ``ExecuteOperation``)      ``opNumber`` = one of
                                                                           the operations above,
                                                                           ``Forbid``, ``Enable``
``...DynamicFormService.Allocate``                                         see ``_k3cloud_ops``
``...DynamicFormService.QueryAsyncResult``                                 see ``_k3cloud_async``
=========================================================================  =====================

Any other ``<ServiceName>.common.kdsvc`` under ``/k3cloud/`` answers HTTP 200 with a failed
``ResponseStatus`` (``MsgCode`` 4, ``服务“<ServiceName>”不存在``; the text is **[GUESS]**), as the
vendor answers a call it cannot serve: the SDKs read business errors from the body, never from
the status.

Bodies: query services take ``{"data": {...}}``, the others ``{"formid": .., "data": {...}}``
(``ExcuteOperation`` adds ``opNumber``); ``data`` may also be a JSON string (§1.4 [GUESS]), and
the legacy envelope ``{"parameters": "[...]"}`` is read too. Keys match case-insensitively. A
form-service call with ``"beginmethod": "BeginQueryImpl"`` (the SDKs' async mode, e.g. the
Python SDK's ``BatchSaveQuery``) answers a ``QueryResultInfo`` task; see ``_k3cloud_async``.

**Authentication** (§1.3). A login answers the documented ``LoginResult`` (``LoginResultType``
1, ``KDSVCSessionId``) and sets the cookies ``kdservice-sessionid`` and ``ASP.NET_SessionId``;
wrong credentials answer ``LoginResultType`` 0 with a ``Message``. A form-service call is
admitted when it carries a live session (header ``kdservice-sessionid``, or either cookie), else
when its signed ``X-Api-*``/``X-Kd-*`` headers verify, which opens a session and sets the same
cookies. A live session is not re-checked against signed headers, and an expired session with
valid signed headers is silently replaced (as observed on a real server:
adamzhang1987/kingdee-k3cloud-mcp ``docs/session-auth-experiments.md``). Anything else - no
session, an expired one (lifetime, or ``Faults.token_expiry_calls`` calls), a bad signature, a
timestamp more than :attr:`K3CloudSimulator.TIMESTAMP_TOLERANCE` seconds off (§1.3.C [GUESS]) -
answers ``MsgCode`` 1 ``会话信息已丢失，请重新登录`` in the service's error wrapper (§1.4, §1.6).

**Throttling** is off by default (no documented limit); with ``Faults.rate_per_*`` a call over
budget answers ``MsgCode`` 14 ``调用频率超出限制`` (§1.6 [GUESS]). An injected server error is
HTTP 500 with an HTML body (§1.6).
"""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import orjson

from ferry.sandbox._faults import Faults
from ferry.sandbox._k3cloud_async import AsyncTasks, is_async
from ferry.sandbox._k3cloud_auth import Account, login_parameters, verify_signed_headers
from ferry.sandbox._k3cloud_login import LOGIN_FIELDS, check_login, login_failure, login_result
from ferry.sandbox._k3cloud_ops import OPERATIONS, allocate, operate
from ferry.sandbox._k3cloud_query import execute_query, view_bill
from ferry.sandbox._k3cloud_replies import (
    CALL_LIMIT,
    EXCEPTION,
    NOT_ALLOWED,
    OPERATION_EMPTY,
    SESSION_LOST,
    SESSION_LOST_TEXT,
    K3Error,
    failure,
    msg_code,
    response_status,
    unpack,
    wrap,
)
from ferry.sandbox._k3cloud_save import save_models
from ferry.sandbox._k3cloud_store import Store
from ferry.sandbox._simulator import Call, Simulator, TokenBook

__all__ = ["K3CloudSimulator"]

PREFIX = "/k3cloud/"
AUTH_SERVICE = "Kingdee.BOS.WebApi.ServicesStub.AuthService."
FORM_SERVICE = "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService."
DATA_CENTERS = "Kingdee.BOS.ServiceFacade.ServicesStub.Account.AccountService.GetDataCenterList"
SESSION_COOKIE = "kdservice-sessionid"
ASP_COOKIE = "ASP.NET_SessionId"
QUERIES = frozenset({"ExecuteBillQuery", "BillQuery"})
WRITES = frozenset(
    {"Save", "BatchSave", "Draft", "Submit", "Audit", "UnAudit", "Delete", "ExcuteOperation", "Allocate"}
)
ASYNC_RESULT = "QueryAsyncResult"
_FORM_NAMES = {n.lower(): n for n in ("View", ASYNC_RESULT, *QUERIES, *WRITES)} | {
    "executeoperation": "ExcuteOperation"
}
_AUTH_NAMES = {n.lower(): n for n in ("ValidateUser", "LoginByAppSecret", "LoginBySign", "Logout")}
_PATH = re.compile(r"^/k3cloud/(?P<service>[^/]+?)\.common\.kdsvc$", re.IGNORECASE)


def service_of(path: str) -> tuple[str, str] | None:
    """``("auth" | "form" | "centres", method)`` for a request path, ``("unknown", service)``
    for a service the simulator does not serve, ``None`` if not a service path."""
    match = _PATH.match(path)
    if match is None:
        return None
    full = match["service"].lower()
    if full == DATA_CENTERS.lower():
        return "centres", "GetDataCenterList"
    for kind, prefix, names in (("auth", AUTH_SERVICE, _AUTH_NAMES), ("form", FORM_SERVICE, _FORM_NAMES)):
        if full.startswith(prefix.lower()) and full[len(prefix) :] in names:
            return kind, names[full[len(prefix) :]]
    return "unknown", match["service"]


def _cookies(header: str) -> dict[str, str]:
    jar: dict[str, str] = {}
    for part in re.split(r"[;,]", header):
        name, sep, value = part.partition("=")
        if sep:
            jar[name.strip()] = value.strip()
    return jar


def _answer(body: Any, cookies: list[str] | None = None, status: int = 200) -> httpx.Response:
    headers = [("Content-Type", "application/json;charset=utf-8")]
    headers += [("Set-Cookie", cookie) for cookie in cookies or []]
    return httpx.Response(status, content=orjson.dumps(body, default=str), headers=headers)


class K3CloudSimulator(Simulator):
    """One K3Cloud data centre with seeded sale orders and base data (see ``_k3cloud_forms``).

    Args:
        size: Seeded sale orders (``world.sale_orders(size)``).
        faults: Fault injection; data faults apply to every query, ``token_expiry_calls``
            counts the calls made in one session.
        clock: Seconds since the epoch (sessions, signed-header timestamps, modification times).
        session_lifetime: Seconds a session lives (**[GUESS]**: not documented).
        timestamp_tolerance: Seconds a signed-header timestamp may be off; ``None`` accepts any.
    """

    name = "k3cloud"
    title = "Kingdee K3Cloud 金蝶云星空 WebAPI"

    ACCT_ID = "64f0a1b2c3d4e5"
    USERNAME = "demo"
    PASSWORD = "demo-password"
    APP_ID = "123456_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"
    APP_SECRET = "fakeappsecret0123456789abcdef0123"
    LCID = 2052
    ORG_NUM = "100"
    """Demo credentials: those of the document's COMPUTED signed-header vector (§1.3.C)."""
    SESSION_LIFETIME = 7200.0
    TIMESTAMP_TOLERANCE = 900.0

    def __init__(
        self,
        *,
        size: int = 200,
        faults: Faults | None = None,
        clock: Callable[[], float] = time.time,
        session_lifetime: float = SESSION_LIFETIME,
        timestamp_tolerance: float | None = TIMESTAMP_TOLERANCE,
    ) -> None:
        super().__init__(size=size, faults=faults, clock=clock)
        self.account = Account(self.ACCT_ID, self.USERNAME, self.PASSWORD, self.APP_ID, self.APP_SECRET)
        self.sessions = TokenBook(session_lifetime, self.faults.token_expiry_calls, clock)
        self.timestamp_tolerance = timestamp_tolerance
        self.store = Store(size, self.dice, self._now)
        self.logins: Counter[str] = Counter()
        """Successful logins by service (``signed-headers`` for sessions opened by headers)."""
        self.refusals: list[str] = []
        """Why each refused authentication was refused (never sent to the client)."""
        self._asp: dict[str, str] = {}
        self._ended: set[str] = set()
        self.tasks = AsyncTasks()
        """Answers of calls begun in the asynchronous mode, until polled."""

    # -- the Simulator hooks ----------------------------------------------------------------

    def dispatch(self, request: httpx.Request, call: Call) -> httpx.Response:
        """Route one call (see the module docstring)."""
        service = service_of(request.url.path)
        if service is None:
            return httpx.Response(
                404, text="<html><body><h2>404 - File or directory not found.</h2></body></html>"
            )
        kind, method = service
        call.api = method
        if request.method != "POST":
            return httpx.Response(405, text="<html><body><h2>405 - Method Not Allowed</h2></body></html>")
        try:
            body = orjson.loads(request.content) if request.content.strip() else {}
        except orjson.JSONDecodeError:
            body = None
        if kind == "auth":
            return self._auth(method, body, request, call)
        if kind == "centres":
            return _answer(
                [{"Id": self.ACCT_ID, "Number": "DEMO", "Name": "演示数据中心", "DatabaseType": 3}]
            )
        if kind == "unknown":
            call.code = EXCEPTION
            return _answer(failure(method, EXCEPTION, f"服务“{method}”不存在"))
        return self._form_call(method, body, request, call)

    def throttled(self, request: httpx.Request, call: Call, which: str) -> httpx.Response:
        """``MsgCode`` 14 in the service's wrapper (§1.6 [GUESS])."""
        call.code = CALL_LIMIT
        return _answer(failure(call.api, CALL_LIMIT, "调用频率超出限制"))

    def server_error(self, request: httpx.Request, call: Call) -> httpx.Response:
        """HTTP 500 with an IIS error page (§1.6: the SDK raises on any status but 200/206)."""
        return httpx.Response(
            500,
            content="<html><head><title>运行时错误</title></head><body><h2>“/k3cloud”应用程序中的服务器错误。</h2></body></html>".encode(),
            headers={"Content-Type": "text/html; charset=utf-8"},
        )

    def is_write(self, request: httpx.Request) -> bool:
        """Save, BatchSave, Draft, Submit, Audit, UnAudit, Delete, ExcuteOperation, Allocate."""
        service = service_of(request.url.path)
        return service is not None and service[0] == "form" and service[1] in WRITES

    def describe(self) -> dict[str, Any]:
        """The service root, the demo credentials and the forms."""
        return {
            "base_url": f"{self.base_url}/k3cloud/",
            "prefix": PREFIX,
            "credentials": {
                "acct_id": self.ACCT_ID,
                "username": self.USERNAME,
                "password": self.PASSWORD,
                "app_id": self.APP_ID,
                "app_secret": self.APP_SECRET,
                "lcid": self.LCID,
                "org_num": self.ORG_NUM,
            },
            "forms": {store.meta.form_id: len(store.all()) for store in self.store.forms.values()},
        }

    # -- inspection (tests) -----------------------------------------------------------------

    def bills(self, form_id: str) -> list[dict[str, Any]]:
        """Every record of ``form_id`` (copies, references as their FNumber), in id order."""
        with self.lock:
            form = self.store.form(form_id)
            return [self.store.view(form.meta.form_id, r) for r in form.all()]

    def bill(self, form_id: str, pk: int) -> dict[str, Any] | None:
        """Record ``pk`` of ``form_id`` as :meth:`bills` shows it, or ``None``."""
        with self.lock:
            form = self.store.form(form_id)
            record = form.get(int(pk))
            return None if record is None else self.store.view(form.meta.form_id, record)

    def bill_by_number(self, form_id: str, number: str) -> dict[str, Any] | None:
        """The record numbered ``number`` (``FBillNo``/``FNumber``), or ``None``."""
        with self.lock:
            form = self.store.form(form_id)
            record = form.by_number(number)
            return None if record is None else self.store.view(form.meta.form_id, record)

    def snapshot(self) -> dict[str, Any]:
        """The forms' records and allocations, to :meth:`restore` in a later process (copies)."""
        with self.lock:
            return self.store.snapshot()

    def restore(self, state: dict[str, Any]) -> None:
        """Show what :meth:`snapshot` saved again: saved records replace the seeded ones."""
        with self.lock:
            self.store.restore(state)

    def saves(self, form_id: str, pk: int) -> int:
        """How many saves changed record ``pk``."""
        return self.store.form(form_id).saves[int(pk)]

    def allocations(self, form_id: str, pk: int) -> list[str]:
        """Organisation numbers record ``pk`` was allocated to (``Allocate``/``distributionOrg``)."""
        return list(self.store.allocations.get((self.store.form(form_id).meta.form_id, int(pk)), []))

    def _now(self) -> datetime:
        """:meth:`now` to the second, as K3Cloud stores dates."""
        return self.now().replace(microsecond=0)

    # -- authentication ---------------------------------------------------------------------

    def _open_session(self, subject: str) -> list[str]:
        kd, asp = str(uuid.uuid4()), uuid.uuid4().hex[:24]
        self.sessions.issue(kd, subject)
        self._asp[asp] = kd
        return [f"{SESSION_COOKIE}={kd}; path=/", f"{ASP_COOKIE}={asp}; path=/; HttpOnly"]

    def _known(self, token: str | None) -> bool:
        if not token or token in self._ended:
            return False
        try:
            self.sessions.subject(token)
        except KeyError:
            return False
        return True

    def _session_of(self, request: httpx.Request) -> str | None:
        jar = _cookies(request.headers.get("cookie", ""))
        candidates = (
            request.headers.get(SESSION_COOKIE),
            jar.get(SESSION_COOKIE),
            self._asp.get(jar.get(ASP_COOKIE, "")),
        )
        return next((token for token in candidates if self._known(token)), None)

    def _admit(self, request: httpx.Request, call: Call) -> tuple[bool, list[str]]:
        """``(admitted, cookies to set)`` for a form-service call."""
        token = self._session_of(request)
        state = self.sessions.check(token) if token else "unknown"
        if token and state == "ok":
            call.credential = self.sessions.subject(token)
            return True, []
        headers = request.headers
        if "x-kd-appkey" in headers or "x-api-signature" in headers:
            reason = verify_signed_headers(
                headers, request.url.path, self.account, self.clock(), self.timestamp_tolerance
            )
            if reason is None:
                call.credential = self.USERNAME
                self.logins["signed-headers"] += 1
                return True, self._open_session(self.USERNAME)
            self.refusals.append(reason)
        elif state == "expired":
            call.fault = "expired"
        return False, []

    def _auth(self, method: str, body: Any, request: httpx.Request, call: Call) -> httpx.Response:
        if method == "Logout":
            token = self._session_of(request)
            if token:
                self._ended.add(token)
            return _answer(True)
        names = LOGIN_FIELDS[method]
        values = login_parameters(body, names)
        if values is None:
            call.code = 0
            return _answer(login_failure("登录参数格式不正确"))
        given = dict(zip(names, values, strict=True))
        given["lcid"] = given["lcid"].strip() or str(self.LCID)
        call.credential = given["username"]
        problem = check_login(self.account, method, given, self.clock(), self.timestamp_tolerance)
        if problem is not None:
            call.code = 0
            return _answer(login_failure(problem))
        self.logins[method] += 1
        cookies = self._open_session(self.USERNAME)
        session = cookies[0].split(";", 1)[0].split("=", 1)[1]
        call.code = 1
        return _answer(login_result(self.account, session, int(given["lcid"])), cookies)

    # -- form services ----------------------------------------------------------------------

    def _form_call(self, method: str, body: Any, request: httpx.Request, call: Call) -> httpx.Response:
        admitted, cookies = self._admit(request, call)
        if not admitted:
            call.code = SESSION_LOST
            return _answer(failure(method, SESSION_LOST, SESSION_LOST_TEXT))
        refused = self.over_budget(request, call)
        if refused is not None:
            return refused
        if method == ASYNC_RESULT:
            info = self.tasks.result(body)
            call.code = msg_code(info["Result"])
            return _answer(info, cookies)
        try:
            answer = self._run(method, body)
        except K3Error as exc:
            answer = wrap(method, exc.status())
        call.code = msg_code(answer)
        if is_async(body, request.headers):
            return _answer(self.tasks.begin(answer), cookies)
        return _answer(answer, cookies)

    def _run(self, method: str, body: Any) -> Any:
        form_id, data, op_number = unpack(method, body, queries=QUERIES)
        now = self._now()
        store = self.store
        if method in QUERIES:
            return execute_query(store, {**data, "formid": form_id}, as_objects=method == "BillQuery")
        if method == "View":
            return {
                "Result": {"ResponseStatus": response_status(), "Result": view_bill(store, form_id, data)}
            }
        if method in ("Save", "BatchSave", "Draft"):
            return save_models(
                store, form_id, data, now, batch=method == "BatchSave", draft=method == "Draft"
            )
        if method == "Allocate":
            return allocate(store, form_id, data)
        operation = (op_number if method == "ExcuteOperation" else method).lower()
        if not operation:
            raise K3Error(OPERATION_EMPTY, "操作代码 opNumber 不能为空")
        if operation not in OPERATIONS:
            raise K3Error(NOT_ALLOWED, f"操作“{op_number}”不存在")
        return operate(store, form_id, operation, data, now)
