"""Kingdee KIS 云 connector: material list source, 其他入库单 target (docs/vendor-protocols.md §2).

``connections.yaml``::

    kis:
      type: kingdee_kis
      base_url: https://api.kingdee.com
      client_id: ${KIS_CLIENT_ID}
      client_secret: ${KIS_CLIENT_SECRET}
      auth_code: ${KIS_AUTH_CODE}          # authorization code from the app launch
      acct_number: ${KIS_ACCT_NUMBER}      # 账套

As a **source** it pages a KIS list API such as ``/koas/APP006992/api/Material/List`` (the
material scheme seed 002 looks SKUs up in): ``CurrentPage`` (1-based) and ``ItemsOfPage`` are
set from the page state, overriding the request's (``PageSize`` too, if the request has it);
rows come from ``data.List``; the last page is the one numbered ``data.TotalPage`` (or
``TotalPages``), or an empty one; ``data.TotalItems`` is the reported total.

As a **target** it creates bills, e.g. ``/koas/app007104/api/miscellaneousreceipt/create``:
``Delivery.body`` is one bill (operation none), either already in the API's
``{"Object": {"Head": ..., "Entry": [...]}}`` shape or flat as the seed's metadata writes it
(every field but ``Entry`` goes to ``Head``). A list body holds one bill per record. Each bill
is one call and gets one :class:`Outcome`: errcode 0 with the new bill's id is ``ok``
(``response`` = ``{FID, FBillNo}``); errcode 0 *without* ``data.FID`` did not acknowledge the
bill and is ``ok=False`` quoting the answer (it climbs the retry ladder); a rejected bill
(10201, 20001, ...) is ``ok=False`` quoting the vendor's text. A bill the gateway reports as
existing already (``单据编号[...]已存在``) counts as written and unchanged: the create call
cannot update, and the earlier write was this record's (a retry after a lost answer), so
treating it as success keeps delivery idempotent; a bill changed since its first write is
therefore not updated in KIS.

Login, signing and expiry are in :mod:`ferry.connectors._kis_session`. No window or rate
limit is documented; page size at most 100 [GUESS].
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, ClassVar, Literal

import httpx
import orjson
from pydantic import Field, SecretStr

from ferry.connectors._kis_session import Answer, KisSession
from ferry.connectors._vendor import VendorClient, VendorConnection, VendorSource
from ferry.connectors.base import Delivery, Limits, Outcome, Page, PageState
from ferry.connectors.paging import PageNumberPaginator, first_known, last_numbered_page, short_page
from ferry.errors import ConfigError, RetriableError

__all__ = ["KisConnection", "KisConnector"]

LIMITS = Limits(max_window=None, max_page_size=100, default_page_size=100, page_base=1)
"""KIS documents no window or rate limit; the page size cap of 100 is a [GUESS]."""

DUPLICATE_MARK = "已存在"
"""Text of the gateway's duplicate-bill-number rejection (see :mod:`ferry.sandbox.kis`)."""

_API_PREFIX = "/koas/app007104/api/"


class KisConnection(VendorConnection):
    """A Kingdee KIS 云 account set reached through the ``koas`` open-API gateway."""

    type: Literal["kingdee_kis"] = "kingdee_kis"
    client_id: str = Field(min_length=1, description="App client_id from the KIS 云 open platform.")
    client_secret: SecretStr = Field(description="App client_secret. Secret.")
    auth_code: SecretStr = Field(description="Authorization code from the app launch (body `code`). Secret.")
    acct_number: str = Field(min_length=1, description="Account set number (账套, `acctnumber`).")
    pid: str = Field("", description="Product id sent to get_service_gateway (`pid`), if the app needs one.")
    icrmid: str = Field("", description="Customer id sent to get_service_gateway (`icrmid`), if needed.")

    source_impl: ClassVar[str | None] = "ferry.connectors.kis:KisConnector"
    target_impl: ClassVar[str | None] = "ferry.connectors.kis:KisConnector"


def bill_payload(body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` in the create API's ``{"Object": {"Head": ..., "Entry": [...]}}`` shape."""
    if "Object" in body:
        return dict(body)
    if "Head" in body:
        return {"Object": {"Head": body["Head"], "Entry": body.get("Entry") or []}}
    head = {key: value for key, value in body.items() if key != "Entry"}
    return {"Object": {"Head": head, "Entry": body.get("Entry") or []}}


class KisConnector(VendorSource):
    """Source (list APIs) and target (bill create APIs) for one :class:`KisConnection`."""

    def __init__(self, spec: KisConnection, *, transport: httpx.BaseTransport | None = None) -> None:
        self.spec = spec
        self.name = spec.name
        self.limits = spec.limits(LIMITS)
        self.client = VendorClient(spec, transport=transport)
        self.session = KisSession(spec, self.client)
        self.pager = PageNumberPaginator(
            page_param="CurrentPage",
            size_param="ItemsOfPage",
            base=self.limits.page_base,
            cap=self.limits.max_page_size,
            last=first_known(last_numbered_page, short_page),
        )
        """Page ``TotalPage`` is the last (a short page when the answer has no page count)."""

    # -- source -----------------------------------------------------------------------------

    def fetch(self, api: str, method: str, request: Mapping[str, Any], state: PageState) -> Page:
        """Fetch one page of a KIS list API (always ``POST``; see the module docstring)."""
        path = _path(api)
        body: dict[str, Any] = {**request, **self.pager.request_fields(state)}
        if "PageSize" in request:
            body["PageSize"] = self.pager.page_size(state)
        answer = self.session.call(path, body)
        if answer.errcode != 0:
            raise self.client.config_error(
                path, answer.errcode, answer.description, "check the request fields of the source metadata"
            )
        data = answer.data if isinstance(answer.data, dict) else {}
        rows = data.get("List") or []
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise RetriableError(f"{self.client.where(path)}: data.List is not a list of objects")
        total, pages = _int(data.get("TotalItems")), _int(data.get("TotalPage", data.get("TotalPages")))
        return Page(records=rows, next=self.pager.after(state, rows, total=total, pages=pages), total=total)

    # -- target -----------------------------------------------------------------------------

    def write(self, delivery: Delivery) -> Sequence[Outcome]:
        """Create one bill per record; one :class:`Outcome` per ``delivery.record_ids`` entry."""
        path = _path(delivery.api)
        ids = delivery.record_ids
        if not ids:
            return []
        if isinstance(delivery.body, Mapping):
            outcome = self._create(path, delivery.body, ids[0])
            return [replace(outcome, record_id=rid) for rid in ids]
        bodies = delivery.body if isinstance(delivery.body, list) else None
        if bodies is None or len(bodies) != len(ids) or not all(isinstance(b, Mapping) for b in bodies):
            raise ConfigError(
                f"{self.client.where(path)}: expected one bill object per record, got "
                f"{type(delivery.body).__name__} for {len(ids)} record(s)\n"
                "  hint: KIS creates one bill per call; leave the target's operation unset (none)"
            )
        return [self._create(path, body, rid) for body, rid in zip(bodies, ids, strict=True)]

    def _create(self, path: str, body: Mapping[str, Any], record_id: str) -> Outcome:
        answer = self.session.call(path, bill_payload(body))
        if answer.errcode == 0:
            return self._created(path, answer, record_id)
        text = self.client.vendor_text(answer.errcode, answer.description)
        if DUPLICATE_MARK in answer.description:
            head = bill_payload(body)["Object"].get("Head") or {}
            response = {"FBillNo": head.get("FBillNo"), "already_exists": True, "description": text}
            return Outcome(record_id, ok=True, response=response, unchanged=True)
        return Outcome(record_id, ok=False, error=f"{self.client.where(path)}: {text}")

    def _created(self, path: str, answer: Answer, record_id: str) -> Outcome:
        """errcode 0 acknowledges the bill only with its id: ``data.FID`` (vendor-apis §2.5)."""
        data = answer.data
        if isinstance(data, Mapping) and data.get("FID") not in (None, "", 0, "0"):
            return Outcome(record_id, ok=True, response=data)
        envelope = {"errcode": answer.errcode, "description": answer.description, "data": data}
        quoted = self.client.quote(orjson.dumps(envelope, default=str).decode())
        return Outcome(
            record_id,
            ok=False,
            response=data,
            error=f"{self.client.where(path)}: errcode 0 but the answer has no bill id (data.FID): {quoted}",
        )

    def login(self) -> str:
        """Get a token and the account set's gateway now (``ferry check``); see
        :class:`~ferry.connectors.base.Login`."""
        self.session.login()
        return f"logged in (token and gateway of account set {self.spec.acct_number})"

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()

    def __enter__(self) -> KisConnector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _path(api: str) -> str:
    """``api`` as a URL path: a bare ``miscellaneousreceipt/create`` goes under ``/koas/app007104/api/``."""
    api = api.strip()
    return api if api.startswith("/") else _API_PREFIX + api


def _int(value: Any) -> int | None:
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None
