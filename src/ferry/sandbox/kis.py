"""Kingdee KIS 云 simulator: the ``koas`` gateway (docs/vendor-protocols.md §2).

Endpoints (all ``POST`` with a JSON body; ``access_token`` in the query string):

=============================================  ================================================
``/koas/oauth2/access_token``                  ``?client_id=&client_secret=``, body ``{"code"}``
``/koas/user/get_service_gateway``             signed; ``{session_id, pid, acctnumber, icrmid}``
``/koas/APP006992/api/Material/List``          signed + routed; material base data, paged
``/koas/app007104/api/miscellaneousreceipt/create``  signed + routed; one 其他入库单
``/koas/app007104/api/miscellaneousreceipt/list``    signed + routed; the stored bills, paged
=============================================  ================================================

"Signed" calls carry ``Kis-State``, ``Kis-Timestamp``, ``Kis-Traceid`` and ``KIS-Signature`` =
lowercase hex SHA-256 of ``Kis-State + session_id + Kis-Traceid + session_secret +
Kis-Timestamp``; "routed" calls add the ``Kis-Authdata`` and ``X-Gw-Router-Addr`` that
``get_service_gateway`` returned. Paths match case-insensitively.

Every answer is ``{"errcode": 0, "description": "成功", "data": ...}`` or an error envelope.
No code table is published (§2.4), so apart from 10201 (observed) these are **[GUESS]**:

=======  ==========================================================================
10001    access_token unknown or expired (lifetime, or ``Faults.token_expiry_calls``)
10002    signature missing or wrong (also missing ``Kis-*`` headers)
10003    ``Kis-Authdata`` / ``X-Gw-Router-Addr`` missing or not the session's
10004    wrong ``client_id`` / ``client_secret`` (not in the §2.4 table)
10005    wrong authorization ``code`` (not in the §2.4 table)
20001    bad parameter (wrong ``acctnumber``, ``session_id``, page number or size)
10201    the bill was rejected: ``业务接口返回失败结果，失败原因：<reason>``; line errors
         name the line (``第2行物料FItemID[99999]不存在``); a second bill with the same
         ``FBillNo`` is rejected with ``单据编号[...]已存在``
50000    injected server error (HTTP 500)
=======  ==========================================================================

Other choices: the access token lives 2 hours [GUESS] and the ``*_expire_in`` fields are
absolute Unix seconds (§2.3); the authorization code may be used again (a server-side
integration keeps it in its connection); ``Kis-Timestamp`` must be Unix seconds but is not
checked against the clock (no tolerance is documented); the refresh endpoints are not
simulated (a client logs in again with its code); no rate limit is documented, so throttling
only happens when ``Faults`` sets one, as HTTP 429 ``{"errcode": 429, ...}`` [GUESS].
"""

from __future__ import annotations

import copy
import hashlib
import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from ferry.sandbox import world
from ferry.sandbox._dataset import Dataset
from ferry.sandbox._faults import Faults
from ferry.sandbox._kis_bills import (
    BAD_MATERIALS,
    BAD_PARAMETER,
    KisRejected,
    business_failure,
    check_bill,
    list_page,
    material_row,
)
from ferry.sandbox._simulator import Call, Simulator, TokenBook, json_response

__all__ = ["KisSimulator"]

TOKEN = "/koas/oauth2/access_token"
GATEWAY = "/koas/user/get_service_gateway"
MATERIALS = "/koas/APP006992/api/Material/List"
CREATE = "/koas/app007104/api/miscellaneousreceipt/create"
BILLS = "/koas/app007104/api/miscellaneousreceipt/list"

TOKEN_INVALID = 10001
BAD_SIGNATURE = 10002
AUTH_DATA_INVALID = 10003
BAD_CLIENT = 10004
BAD_CODE = 10005

Handler = Callable[[httpx.Request, Call], httpx.Response]


class KisSimulator(Simulator):
    """The KIS 云 gateway with material base data and a 其他入库单 store.

    Args:
        size: Materials in the catalogue when ``materials`` is not given (at least the shared
            world's 60, so every JuShuiTan SKU of seed 002 has a KIS material).
        faults: Fault injection; ``token_expiry_calls`` counts every call made with a token,
            the ``get_service_gateway`` call included.
        clock: Seconds since the epoch.
        materials: Exact number of materials (tests of paging).
        token_lifetime: Seconds an access token lives.
    """

    name = "kis"
    title = "Kingdee KIS 云 (koas gateway)"

    CLIENT_ID = "kis-demo-client"
    CLIENT_SECRET = "kis-demo-secret"
    AUTH_CODE = "kis-demo-auth-code"
    ACCT_NUMBER = "UE0001"
    TOKEN_LIFETIME = 7200.0

    def __init__(
        self,
        *,
        size: int = 200,
        faults: Faults | None = None,
        clock: Callable[[], float] = time.time,
        materials: int | None = None,
        token_lifetime: float = TOKEN_LIFETIME,
    ) -> None:
        super().__init__(size=size, faults=faults, clock=clock)
        count = materials if materials is not None else max(size, len(world.materials()))
        self.materials = {m.item_id: m for m in world.materials(count)}
        self.material_rows = [material_row(m) for m in self.materials.values()]
        self.material_data = Dataset(
            ((str(row["FItemID"]), world.spread(i, count), row) for i, row in enumerate(self.material_rows)),
            dice=self.dice,
            clock=self.now,
            defects=BAD_MATERIALS,
        )
        """The material list as a :class:`Dataset`: drift, late and duplicate faults apply to it."""
        self.tokens = TokenBook(token_lifetime, self.faults.token_expiry_calls, clock)
        self.token_lifetime = token_lifetime
        self._bills: dict[str, dict[str, Any]] = {}
        self._next_fid = 1001
        self._routes: dict[str, Handler] = {
            TOKEN.lower(): self._access_token,
            GATEWAY.lower(): self._service_gateway,
            MATERIALS.lower(): self._material_list,
            CREATE.lower(): self._create,
            BILLS.lower(): self._bill_list,
        }

    # -- the Simulator hooks ----------------------------------------------------------------

    def dispatch(self, request: httpx.Request, call: Call) -> httpx.Response:
        """Route one call; every answer is an ``errcode`` envelope."""
        path = request.url.path
        route = self._routes.get(path.lower())
        if route is None:
            return self._error(call, BAD_PARAMETER, f"接口不存在：{path}", status=404)
        if request.method != "POST":
            return self._error(call, BAD_PARAMETER, "请求方法必须是POST", status=405)
        try:
            return route(request, call)
        except KisRejected as exc:
            return self._error(call, exc.errcode, exc.description)

    def throttled(self, request: httpx.Request, call: Call, which: str) -> httpx.Response:
        """[GUESS] HTTP 429 with an envelope (no KIS throttling answer is documented)."""
        unit = "秒" if which == "second" else "分钟"
        return self._error(call, 429, f"请求过于频繁：每{unit}调用次数超限", status=429)

    def server_error(self, request: httpx.Request, call: Call) -> httpx.Response:
        """An injected server failure: HTTP 500, errcode 50000 [GUESS]."""
        return self._error(call, 50000, "服务器内部错误，请稍后重试", status=500)

    def is_write(self, request: httpx.Request) -> bool:
        """Creating a bill changes data."""
        return request.url.path.lower() == CREATE.lower()

    def describe(self) -> dict[str, Any]:
        """Path prefix, demo credentials and catalogue size."""
        return {
            "prefix": "/koas",
            "credentials": {
                "client_id": self.CLIENT_ID,
                "client_secret": self.CLIENT_SECRET,
                "auth_code": self.AUTH_CODE,
                "acct_number": self.ACCT_NUMBER,
            },
            "materials": len(self.materials),
            "apis": [TOKEN, GATEWAY, MATERIALS, CREATE, BILLS],
        }

    # -- inspection (tests) -----------------------------------------------------------------

    def bills(self) -> list[dict[str, Any]]:
        """Every stored bill (copies), in creation order: ``{FID, FBillNo, Fdate, Head, Entry}``."""
        with self.lock:
            return copy.deepcopy(list(self._bills.values()))

    def snapshot(self) -> dict[str, Any]:
        """The bills created so far, to :meth:`restore` in a later process (copies)."""
        with self.lock:
            return {"bills": copy.deepcopy(list(self._bills.values())), "next_fid": self._next_fid}

    def restore(self, state: dict[str, Any]) -> None:
        """Hold the bills :meth:`snapshot` saved again (a bill number seen again is a duplicate)."""
        with self.lock:
            for bill in copy.deepcopy(state.get("bills", [])):
                self._bills[str(bill["FBillNo"])] = bill
            self._next_fid = max(self._next_fid, int(state.get("next_fid", 0)))

    # -- endpoints --------------------------------------------------------------------------

    def _access_token(self, request: httpx.Request, call: Call) -> httpx.Response:
        params = request.url.params
        call.credential = params.get("client_id", "")
        throttled = self.over_budget(request, call)
        if throttled is not None:
            return throttled
        if params.get("client_id") != self.CLIENT_ID or params.get("client_secret") != self.CLIENT_SECRET:
            return self._error(call, BAD_CLIENT, "client_id或client_secret错误")
        body = self._body(request)
        if not isinstance(body, dict) or body.get("code") != self.AUTH_CODE:
            return self._error(call, BAD_CODE, "授权码code无效或已过期")
        token = secrets.token_hex(16)
        session_id, session_secret = secrets.token_hex(12), secrets.token_hex(16)
        self.tokens.issue(token, self.CLIENT_ID, session_id=session_id, session_secret=session_secret)
        expires = int(self.clock() + self.token_lifetime)
        return self._ok(
            call,
            {
                "access_token": token,
                "access_token_expire_in": expires,
                "session_id": session_id,
                "session_id_expire_in": expires,
                "session_secret": session_secret,
            },
        )

    def _service_gateway(self, request: httpx.Request, call: Call) -> httpx.Response:
        session = self._authorize(request, call, routed=False)
        if isinstance(session, httpx.Response):
            return session
        body = self._body(request)
        if not isinstance(body, dict) or body.get("session_id") != session["session_id"]:
            return self._error(call, BAD_PARAMETER, "参数错误：session_id与access_token不匹配")
        if body.get("acctnumber") != self.ACCT_NUMBER:
            return self._error(call, BAD_PARAMETER, f"参数错误：账套[{body.get('acctnumber')}]不存在或未授权")
        session["auth_data"] = secrets.token_hex(20)
        session["gw_router_addr"] = f"{self.name}-gw-{secrets.token_hex(4)}"
        return self._ok(
            call,
            {
                "auth_data": session["auth_data"],
                "gw_router_addr": session["gw_router_addr"],
                "extend_data": {
                    "refresh_auth_data_token": secrets.token_hex(16),
                    "refresh_auth_data_token_expire_in": int(self.clock() + self.token_lifetime),
                },
            },
        )

    def _material_list(self, request: httpx.Request, call: Call) -> httpx.Response:
        session = self._authorize(request, call, routed=True)
        if isinstance(session, httpx.Response):
            return session
        data = self.material_data
        data.tick()
        ids = data.select()
        rows = [data.get(rid) or {} for rid in ids]
        return self._ok(
            call, list_page(rows, self._json_object(request), lambda start, size: data.page(ids, start, size))
        )

    def _bill_list(self, request: httpx.Request, call: Call) -> httpx.Response:
        session = self._authorize(request, call, routed=True)
        if isinstance(session, httpx.Response):
            return session
        rows = [{"FID": b["FID"], "FBillNo": b["FBillNo"], **b["Head"]} for b in self._bills.values()]
        return self._ok(call, list_page(rows, self._json_object(request)))

    def _create(self, request: httpx.Request, call: Call) -> httpx.Response:
        session = self._authorize(request, call, routed=True)
        if isinstance(session, httpx.Response):
            return session
        bill_no, date, head, entries = check_bill(self._json_object(request), self.materials)
        if bill_no in self._bills:
            raise business_failure(f"单据编号[{bill_no}]已存在")
        fid = self._next_fid
        self._next_fid += 1
        self._bills[bill_no] = {
            "FID": fid,
            "FBillNo": bill_no,
            "Fdate": date.isoformat(),
            "Head": head,
            "Entry": entries,
        }
        return self._ok(call, {"FID": fid, "FBillNo": bill_no})

    # -- checks -----------------------------------------------------------------------------

    def _authorize(
        self, request: httpx.Request, call: Call, *, routed: bool
    ) -> dict[str, Any] | httpx.Response:
        """The token's session data, or the error answer (token, budget, signature, routing)."""
        token = request.url.params.get("access_token")
        verdict = self.tokens.check(token)
        if verdict != "ok" or token is None:
            if verdict == "expired":
                call.fault = "expired"
            return self._error(call, TOKEN_INVALID, "access_token无效或已过期")
        call.credential = self.tokens.subject(token)
        throttled = self.over_budget(request, call)
        if throttled is not None:
            return throttled
        session = self.tokens.data(token)
        headers = request.headers
        state, stamp = headers.get("Kis-State"), headers.get("Kis-Timestamp")
        trace, signature = headers.get("Kis-Traceid"), headers.get("KIS-Signature")
        if not (state and stamp and trace and signature):
            return self._error(
                call, BAD_SIGNATURE, "签名验证失败：缺少Kis-State、Kis-Timestamp、Kis-Traceid或KIS-Signature"
            )
        if not stamp.isdigit():
            return self._error(call, BAD_SIGNATURE, f"签名验证失败：Kis-Timestamp[{stamp}]必须是Unix秒")
        text = f"{state}{session['session_id']}{trace}{session['session_secret']}{stamp}"
        if signature != hashlib.sha256(text.encode("utf-8")).hexdigest():
            return self._error(call, BAD_SIGNATURE, "签名验证失败：KIS-Signature不正确")
        if routed:
            auth_data, router = headers.get("Kis-Authdata"), headers.get("X-Gw-Router-Addr")
            if (
                not auth_data
                or auth_data != session.get("auth_data")
                or router != session.get("gw_router_addr")
            ):
                return self._error(call, AUTH_DATA_INVALID, "auth_data无效或已过期，请重新获取服务网关")
        return session

    def _body(self, request: httpx.Request) -> Any:
        try:
            return orjson.loads(request.content or b"null")
        except orjson.JSONDecodeError:
            return None

    def _json_object(self, request: httpx.Request) -> dict[str, Any]:
        body = self._body(request)
        if not isinstance(body, dict):
            raise business_failure("403-ParseRequestContent:请求体不是JSON对象\r\n请求参数转换成JSON对象异常")
        return body

    # -- envelopes --------------------------------------------------------------------------

    def _ok(self, call: Call, data: Any) -> httpx.Response:
        call.code = 0
        return json_response({"errcode": 0, "description": "成功", "data": data})

    def _error(self, call: Call, errcode: int, description: str, *, status: int = 200) -> httpx.Response:
        call.code = errcode
        return json_response({"errcode": errcode, "description": description, "data": None}, status=status)
