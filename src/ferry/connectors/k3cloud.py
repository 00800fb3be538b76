"""Kingdee K3Cloud (金蝶云星空) WebAPI connector: ExecuteBillQuery source, Save/BatchSave target.

Protocol: docs/vendor-protocols.md §1. Connection (``connections.yaml``)::

    k3cloud:
      type: kingdee_k3cloud
      base_url: ${K3CLOUD_URL}          # https://erp.example.com/k3cloud
      acct_id: ${K3CLOUD_ACCT_ID}       # 数据中心 id
      username: ${K3CLOUD_USERNAME}
      app_id: ${K3CLOUD_APP_ID}         # <clientId>_<32-char secret part>
      app_secret: ${K3CLOUD_APP_SECRET}
      lcid: 2052
      login: app_secret                 # or sign, password (with password:), signed_headers

**Login** (:mod:`ferry.connectors._k3cloud_session`): ``app_secret`` (the default, what the
examples' fields describe: ``LoginByAppSecret``), ``sign`` (``LoginBySign``, the secret never
leaves the machine), ``password`` (``ValidateUser`` with ``password``) or ``signed_headers``
(the SDK 7.x/8.x per-request ``X-Api-*`` signature, no login call). A lost session
(``MsgCode`` 1) means one new login and one retry, then ``AuthExpiredError``; a refused login
(``LoginResultType`` != 1) or rejected signature is a ``ConfigError`` naming the connection and
quoting the vendor.

**Source** ``fetch``: ``api`` is ``ExecuteBillQuery`` (answers are arrays in ``FieldKeys``
order) or ``BillQuery`` (objects), any capitalisation. The request is split into query
parameters and columns (:mod:`ferry.connectors._k3cloud_query`) and sent as
``{"data": {"FormId", "FieldKeys", "FilterString", "OrderString", "TopRowCount", "StartRow",
"Limit"}}``; ``StartRow = state.offset`` and ``Limit`` = the page size override the request's.
The last page is the one with fewer rows than ``Limit``; the next page starts ``Limit`` rows
later (:attr:`K3CloudConnector.pager`). The query reports no total, so a row that leaves the
result set while it is paged shifts the later rows back and the next page skips one, unseen. A
``TopRowCount`` > 0 is passed on as the vendor's absolute end row. An error answer
(``[[{"Result": {"ResponseStatus": ...}}]]``) for a bad field, form or filter (``MsgCode`` 8,
9, 11 ..., or 4 with ``...不存在``/``GetRealExpress``) is a ``ConfigError`` quoting the vendor;
``MsgCode`` 10 (no data) is an empty page; the rest as :mod:`ferry.connectors._k3cloud_status`
says (14 throttled, 4/6 retriable).

**Target** ``write``: :mod:`ferry.connectors._k3cloud_save` (operations, options, per-record
outcomes by ``DIndex``, ``distributionOrg`` allocated with a following ``Allocate`` call). A
record is delivered only when ``SuccessEntitys`` holds its Model's ``DIndex``; an answer that
leaves it out is an error quoting the answer, even with ``IsSuccess`` true.

**Limits**: no window limit; page size at most 2000 (the official documentation's maximum;
one source says 10000, but a server that silently caps at 2000 would make a larger ``Limit``
look like the last page and lose rows); default 2000; ``StartRow`` offsets from 0; no
documented rate budget ([GUESS]: none; ``MsgCode`` 14 is honoured as throttling).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Literal

import httpx
from pydantic import Field, SecretStr, model_validator

from ferry.connectors._k3cloud_allocate import allocation_body, note_allocation
from ferry.connectors._k3cloud_match import match_entries, match_existing
from ferry.connectors._k3cloud_query import plan_query, rows_to_records
from ferry.connectors._k3cloud_save import SAVE_LIKE, SaveCall, build_call, outcomes
from ferry.connectors._k3cloud_session import FORM_SERVICE, LOGIN_SERVICES, K3CloudSession
from ferry.connectors._k3cloud_status import (
    find_status,
    is_success,
    msg_code,
    raise_for_call_status,
    status_text,
)
from ferry.connectors._vendor import VendorClient, VendorConnection, VendorSource
from ferry.connectors.base import Delivery, Limits, Outcome, Page, PageState
from ferry.connectors.paging import OffsetPaginator, short_page
from ferry.errors import ConfigError, FerryError, RetriableError

__all__ = ["K3CloudConnection", "K3CloudConnector"]

MAX_PAGE_SIZE = 2000
DEFAULTS = Limits(
    max_window=None,
    max_page_size=MAX_PAGE_SIZE,
    default_page_size=MAX_PAGE_SIZE,
    page_base=0,
    rate_per_second=None,
    rate_per_minute=None,
)
"""What docs/vendor-protocols.md §1 documents (see the module docstring)."""

QUERY_SERVICES = {"executebillquery": "ExecuteBillQuery", "billquery": "BillQuery"}
NO_DATA = 10


class K3CloudConnection(VendorConnection):
    """A K3Cloud data centre reached through its WebAPI, as one user of one third-party app."""

    type: Literal["kingdee_k3cloud"] = "kingdee_k3cloud"
    acct_id: str = Field(min_length=1, description="Data centre id (acctID/DBid), e.g. 64f0a1b2c3d4e5.")
    username: str = Field(min_length=1, description="K3Cloud user the integration acts as.")
    app_id: str = Field(
        "",
        description="Third-party app id (第三方系统登录授权), <clientId>_<secret part>; not for login: password.",
    )
    app_secret: SecretStr | None = Field(None, description="The app's secret. Secret: shown masked.")
    password: SecretStr | None = Field(
        None, description="The user's password, for login: password (ValidateUser). Secret: shown masked."
    )
    lcid: int = Field(2052, description="Language id: 2052 simplified Chinese, 1033 English.")
    org_num: str = Field(
        "0", description="Organisation number sent in the signed headers (login: signed_headers)."
    )
    login: Literal["app_secret", "sign", "password", "signed_headers"] = Field(
        "app_secret",
        description=(
            "app_secret: LoginByAppSecret (default); sign: LoginBySign (SHA-256, the secret is not sent); "
            "password: ValidateUser with password; signed_headers: X-Api/X-Kd signature on every request."
        ),
    )

    source_impl: ClassVar[str | None] = "ferry.connectors.k3cloud:K3CloudConnector"
    target_impl: ClassVar[str | None] = "ferry.connectors.k3cloud:K3CloudConnector"

    @model_validator(mode="after")
    def _credentials_for_login(self) -> K3CloudConnection:
        if self.login == "password":
            if self.password is None or not self.password.get_secret_value():
                raise ValueError("login: password needs password")
        else:
            missing = [
                name
                for name, value in (
                    ("app_id", self.app_id),
                    ("app_secret", self.app_secret.get_secret_value() if self.app_secret else ""),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"login: {self.login} needs {' and '.join(missing)}")
        return self


class K3CloudConnector(VendorSource):
    """Source and target for one :class:`K3CloudConnection` (see the module docstring).

    Args:
        spec: The connection.
        transport: An ``httpx`` transport (the sandbox), or ``None`` for the network.
        clock: Unix seconds for signatures (tests pass a fixed one).
    """

    def __init__(
        self,
        spec: K3CloudConnection,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.limits = spec.limits(DEFAULTS)
        self.client = VendorClient(spec, transport=transport)
        self.session = K3CloudSession(spec, self.client, clock=clock)
        self.pager = OffsetPaginator(
            offset_param="StartRow",
            size_param="Limit",
            cap=self.limits.max_page_size,
            last=short_page,
            advance="size",
        )
        """``StartRow``/``Limit``; a page with fewer rows than ``Limit`` is the last. ``StartRow`` is
        a position: it advances by ``Limit``, not by the rows served (a row repeated from the
        previous page must not make the next page skip one)."""

    # -- source ---------------------------------------------------------------------------

    def fetch(self, api: str, method: str, request: Mapping[str, Any], state: PageState) -> Page:
        """Fetch one page of ``api`` (ExecuteBillQuery or BillQuery) at ``state.offset``."""
        service = QUERY_SERVICES.get(api.strip().lower())
        if service is None:
            raise ConfigError(
                f"{self.client.where(api)}: not a K3Cloud query\n  hint: use api ExecuteBillQuery or BillQuery"
            )
        where = self.client.where(service)
        plan = plan_query(request, where=where)
        top = plan.top_row_count
        if top and state.offset >= top:
            return Page(records=[], next=None)
        data = {**plan.params, "TopRowCount": top, **self.pager.request_fields(state)}
        document = self.session.call(FORM_SERVICE + service, {"data": data}, api=service)
        rows = self._rows(service, document)
        records = rows_to_records(plan, rows, where=where)
        following = self.pager.after(state, rows)
        return Page(records=records, next=following)

    def _rows(self, service: str, document: Any) -> list[Any]:
        status = find_status(document)
        if status is not None:
            if is_success(status) or msg_code(status) == NO_DATA:
                return []
            raise_for_call_status(self.client, service, status)
            raise self.client.config_error(
                service,
                msg_code(status),
                status_text(status),
                "check FormId, the FieldKeys (column values), FilterString and OrderString",
            )
        if not isinstance(document, list):
            raise RetriableError(
                f"{self.client.where(service)}: expected an array of rows, got {type(document).__name__}"
            )
        return document

    # -- target ---------------------------------------------------------------------------

    def write(self, delivery: Delivery) -> Sequence[Outcome]:
        """Save/BatchSave/Submit/Audit ``delivery``; one outcome per record (by ``DIndex``)."""
        save = build_call(delivery, where=self.client.where(delivery.api))
        api = save.operation
        if api in SAVE_LIKE:
            model = save.body["data"].get("Model")
            models = model if isinstance(model, list) else [model]
            match_existing(save.form_id, models, save.match_field, self._query_rows)
            match_entries(save.form_id, models, save.match_entry, self._query_rows)
        document = self.session.call(FORM_SERVICE + save.operation, save.body, api=api)
        status = find_status(document)
        if status is None:
            raise RetriableError(
                f"{self.client.where(api)}: the answer has no Result.ResponseStatus: "
                f"{self.client.quote(str(document))}"
            )
        raise_for_call_status(self.client, api, status)
        results = outcomes(save, document, status, self.client.quote)
        allocation = allocation_body(save, results)
        if allocation is not None:
            self._allocate(save, results, *allocation)
        return results

    def _query_rows(self, form_id: str, field_keys: str, filter_string: str, limit: int) -> list[list[Any]]:
        """Rows of one ExecuteBillQuery (for matching existing records before a save)."""
        data = {"FormId": form_id, "FieldKeys": field_keys, "FilterString": filter_string, "Limit": limit}
        document = self.session.call(
            FORM_SERVICE + "ExecuteBillQuery", {"data": data}, api="ExecuteBillQuery"
        )
        return [row for row in self._rows("ExecuteBillQuery", document) if isinstance(row, list)]

    def _allocate(
        self, save: SaveCall, results: Sequence[Outcome], body: dict[str, Any], ids: list[Any]
    ) -> None:
        """Allocate the saved records to ``distributionOrg``; never fails the saved records."""
        try:
            document = self.session.call(FORM_SERVICE + "Allocate", body, api="Allocate")
            status = find_status(document)
            if status is None:
                raise RetriableError(
                    f"{self.client.where('Allocate')}: the answer has no Result.ResponseStatus"
                )
            if not status.get("SuccessEntitys"):
                raise_for_call_status(self.client, "Allocate", status)
        except FerryError as exc:
            note_allocation(save, results, ids, None, str(exc))
            return
        note_allocation(save, results, ids, status, None)

    def login(self) -> str:
        """Log in now (``ferry check``); see :class:`~ferry.connectors.base.Login`."""
        self.session.login()
        if self.spec.login == "signed_headers":
            return "signed headers: no login call; every request carries the signature"
        return f"logged in ({LOGIN_SERVICES[self.spec.login]})"

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()

    def __enter__(self) -> K3CloudConnector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
