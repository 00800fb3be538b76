"""Routes of the quarantine screen: the page ``/quarantine`` and the JSON API ``/api/quarantine``.

Reading needs a logged-in user; every action (release, edit and release, drop) needs the same
as a replay: a logged-in user and the session's CSRF token (the form field for the page, the
``X-CSRF-Token`` header for the API). The user is the ``who`` of the audit row.

API answers: 404 for a record not in the ledger, 409 for one that is not quarantined (released
or dropped meanwhile: nothing is changed), 422 for content that is not a JSON object or a drop
without a reason.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from ferry.console import _quarantine as q
from ferry.console._limits import MAX_OFFSET, Key, Offset, Page
from ferry.console._models import RecordKey
from ferry.console._pages import back, not_found, safe_next
from ferry.console._views import scrubbed
from ferry.console._web import api_csrf, api_user, console_of, flash, page_csrf, page_user, render

__all__ = ["api_router", "page_router"]

api_router = APIRouter(prefix="/api/quarantine", tags=["quarantine"])
page_router = APIRouter(include_in_schema=False)
ApiUser = Annotated[str, Depends(api_user)]
ApiCsrf = Annotated[str, Depends(api_csrf)]
PageUser = Annotated[str, Depends(page_user)]
PageCsrf = Annotated[str, Depends(page_csrf)]
Held = Literal["quarantined", "dropped"]
PAGE = 50


def _clean(request: Request, model: Any) -> Any:
    return scrubbed(model, console_of(request).redactor())


# -- JSON API ----------------------------------------------------------------------------------


@api_router.get("", response_model=q.HeldPage)
def api_list(
    request: Request,
    user: ApiUser,
    scheme_id: Key | None = None,
    rule: Key | None = None,
    status: Held = "quarantined",
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[Offset, Query(description=f"Rows to skip, at most {MAX_OFFSET:,}.")] = 0,
) -> Any:
    """Held records (or ``status=dropped``), the most recently held first, filtered by scheme
    and rule; with the counts per scheme and rule."""
    page = q.held_page(
        console_of(request), scheme_id=scheme_id, rule=rule, status=status, limit=limit, offset=offset
    )
    return _clean(request, page)


@api_router.get("/audit", response_model=list[q.AuditModel])
def api_audit(
    request: Request,
    user: ApiUser,
    scheme_id: Key | None = None,
    record_id: Key | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    """Who released, edited or dropped which record, when; status and content before and after."""
    redact = console_of(request).redactor()
    entries = q.audit(console_of(request), scheme_id=scheme_id, record_id=record_id, limit=limit)
    return [scrubbed(e, redact) for e in entries]


def _refused(exc: Exception) -> HTTPException:
    """The API's answer to an action that changed nothing."""
    if isinstance(exc, q.NoSuchRecord):
        return HTTPException(404, str(exc))
    if isinstance(exc, q.NotQuarantined):
        return HTTPException(409, str(exc))
    return HTTPException(422, str(exc))


_REFUSED = (q.NoSuchRecord, q.NotQuarantined, ValueError)


def _known(request: Request, scheme_id: str, record_id: str) -> None:
    if q.held(console_of(request), scheme_id, record_id) is None:
        raise _refused(q.NoSuchRecord(scheme_id, record_id))


@api_router.post("/release", response_model=q.QuarantineResult)
def api_release_many(request: Request, body: q.BulkReleaseRequest, user: ApiCsrf) -> Any:
    """Release the listed records as they are; 409 (nothing of that scheme changed) when one is not held."""
    try:
        return q.release(
            console_of(request), body.records, who=user, reason=body.reason, deliver=body.deliver
        )
    except _REFUSED as exc:
        raise _refused(exc) from None


@api_router.post("/drop", response_model=q.QuarantineResult)
def api_drop_many(request: Request, body: q.BulkDropRequest, user: ApiCsrf) -> Any:
    """Drop the listed records with a reason."""
    try:
        return q.drop(console_of(request), body.records, who=user, reason=body.reason)
    except _REFUSED as exc:
        raise _refused(exc) from None


@api_router.get("/{scheme_id}/{record_id:path}", response_model=q.HeldModel)
def api_record(request: Request, scheme_id: Key, record_id: Key, user: ApiUser) -> Any:
    """One record with its hold (the rule, path, value and reason; any status)."""
    found = q.held(console_of(request), scheme_id, record_id)
    if found is None:
        raise _refused(q.NoSuchRecord(scheme_id, record_id))
    return _clean(request, found)


@api_router.post("/{scheme_id}/{record_id:path}/release", response_model=q.QuarantineResult)
def api_release(
    request: Request, scheme_id: Key, record_id: Key, user: ApiCsrf, body: q.ReleaseRequest | None = None
) -> Any:
    """Deliver a held record as it is: back to ``pending``; delivered now unless ``deliver`` is false."""
    body = body or q.ReleaseRequest()
    _known(request, scheme_id, record_id)
    try:
        return q.release(
            console_of(request),
            q.one(scheme_id, record_id),
            who=user,
            reason=body.reason,
            deliver=body.deliver,
        )
    except _REFUSED as exc:
        raise _refused(exc) from None


@api_router.post("/{scheme_id}/{record_id:path}/edit", response_model=q.QuarantineResult)
def api_edit(request: Request, scheme_id: Key, record_id: Key, body: q.EditRequest, user: ApiCsrf) -> Any:
    """Replace a held record's content (a JSON object, or its JSON text), then release it."""
    try:
        return q.edit(
            console_of(request),
            scheme_id,
            record_id,
            body.content,
            who=user,
            reason=body.reason,
            deliver=body.deliver,
        )
    except _REFUSED as exc:
        raise _refused(exc) from None


@api_router.post("/{scheme_id}/{record_id:path}/drop", response_model=q.QuarantineResult)
def api_drop(request: Request, scheme_id: Key, record_id: Key, body: q.DropRequest, user: ApiCsrf) -> Any:
    """Drop a held record for good, with a reason (kept with the record and in the audit)."""
    _known(request, scheme_id, record_id)
    try:
        return q.drop(console_of(request), q.one(scheme_id, record_id), who=user, reason=body.reason)
    except _REFUSED as exc:
        raise _refused(exc) from None


# -- pages -------------------------------------------------------------------------------------


def _held_url(scheme_id: str, record_id: str) -> str:
    return f"/quarantine/{quote(scheme_id, safe='')}/{quote(record_id, safe='')}"


def _list_url(scheme_id: str) -> str:
    return "/quarantine?" + urlencode({"scheme": scheme_id})


def _record_url(scheme_id: str, record_id: str) -> str:
    return f"/records/{quote(scheme_id, safe='')}/{quote(record_id, safe='')}"


@page_router.get("/quarantine")
def page_list(
    request: Request,
    user: PageUser,
    scheme: Key = "",
    rule: Key = "",
    view: Literal["held", "dropped", "audit"] = "held",
    page: Page = 0,
) -> Response:
    console = console_of(request)
    scheme_id, rule_name = scheme or None, rule or None
    result = q.held_page(
        console,
        scheme_id=scheme_id,
        rule=rule_name,
        status="dropped" if view == "dropped" else "quarantined",
        limit=PAGE,
        offset=page * PAGE,
    )
    entries = q.audit(console, scheme_id=scheme_id, limit=200) if view == "audit" else []
    return render(
        request,
        "quarantine.html",
        result=result,
        entries=entries,
        view=view,
        page=page,
        schemes=sorted(console.scheme_names()),
        rules=sorted({c.rule for c in result.counts if c.rule}),
        **_links({"scheme": scheme, "rule": rule}, view, page),
    )


def _links(filters: dict[str, str], view: str, page: int) -> dict[str, Any]:
    """The list page's filters and the links that keep them (tabs, pages, back after an action)."""
    kept = [(k, v) for k, v in filters.items() if v]
    return {
        "filters": filters,
        "tab_query": lambda name: urlencode([*kept, ("view", name)]),
        "page_query": lambda number: urlencode([*kept, ("view", view), ("page", number)]),
        "back_to": "/quarantine?" + urlencode([*kept, ("view", view), ("page", page)]),
    }


def _edit_page(
    request: Request, record: q.HeldModel, *, text: str | None = None, error: str = "", status_code: int = 200
) -> Response:
    console = console_of(request)
    entries = q.audit(console, scheme_id=record.scheme_id, record_id=record.record_id, limit=50)
    text = text if text is not None else json.dumps(record.content, ensure_ascii=False, indent=2, default=str)
    return render(
        request,
        "quarantine_edit.html",
        status_code=status_code,
        h=record,
        text=text,
        error=error,
        entries=entries,
        here=_held_url(record.scheme_id, record.record_id),
    )


@page_router.get("/quarantine/{scheme_id}/{record_id:path}")
def page_record(request: Request, scheme_id: Key, record_id: Key, user: PageUser) -> Response:
    found = q.held(console_of(request), scheme_id, record_id)
    if found is None:
        return not_found(request)
    return _edit_page(request, found)


def _keys(form: FormData) -> list[RecordKey]:
    """The records ticked on the list (``sel``) or the row's own button (``one``): each
    ``["scheme", "id"]`` in JSON; bad ones skipped."""
    keys: list[RecordKey] = []
    for value in [*form.getlist("one"), *([] if form.get("one") else form.getlist("sel"))]:
        try:
            scheme_id, record_id = json.loads(str(value))
            keys.append(RecordKey(scheme_id=str(scheme_id), record_id=str(record_id)))
        except (ValueError, TypeError):
            continue
    return keys


def _say(request: Request, result: q.QuarantineResult) -> None:
    flash(request, result.key, result.params)
    for started in result.started:
        flash(request, started.key, started.params, "ok" if started.ok else "error")


def _refusal(request: Request, exc: Exception) -> None:
    flash(request, "msg.q_refused", {"detail": str(exc)}, "error")


def _text(form: FormData, name: str) -> str:
    return str(form.get(name) or "").strip()


@page_router.post("/quarantine/release")
async def page_release_many(request: Request, user: PageCsrf) -> Response:
    form = await request.form()
    keys = _keys(form)
    if not keys:
        flash(request, "no_records", kind="error")
    else:
        try:
            _say(request, q.release(console_of(request), keys, who=user, deliver=bool(form.get("deliver"))))
        except _REFUSED as exc:
            _refusal(request, exc)
    return back(safe_next(_text(form, "back_to") or "/quarantine"))


@page_router.post("/quarantine/drop")
async def page_drop_many(request: Request, user: PageCsrf) -> Response:
    form = await request.form()
    keys = _keys(form)
    if not keys:
        flash(request, "no_records", kind="error")
    elif not _text(form, "reason"):
        flash(request, "msg.q_reason_needed", kind="error")
    else:
        try:
            _say(request, q.drop(console_of(request), keys, who=user, reason=_text(form, "reason")))
        except _REFUSED as exc:
            _refusal(request, exc)
    return back(safe_next(_text(form, "back_to") or "/quarantine"))


@page_router.post("/quarantine/{scheme_id}/{record_id:path}/release")
async def page_release(request: Request, scheme_id: Key, record_id: Key, user: PageCsrf) -> Response:
    form = await request.form()
    try:
        result = q.release(
            console_of(request),
            q.one(scheme_id, record_id),
            who=user,
            reason=_text(form, "reason"),
            deliver=bool(form.get("deliver")),
        )
    except _REFUSED as exc:
        _refusal(request, exc)
        return back(_list_url(scheme_id))
    _say(request, result)
    return back(_record_url(scheme_id, record_id))


@page_router.post("/quarantine/{scheme_id}/{record_id:path}/edit")
async def page_edit(request: Request, scheme_id: Key, record_id: Key, user: PageCsrf) -> Response:
    form = await request.form()
    console = console_of(request)
    text = str(form.get("content") or "")
    try:
        result = q.edit(
            console,
            scheme_id,
            record_id,
            text,
            who=user,
            reason=_text(form, "reason"),
            deliver=bool(form.get("deliver")),
        )
    except q.BadContent as exc:
        found = q.held(console, scheme_id, record_id)
        if found is None:
            return not_found(request)
        return _edit_page(request, found, text=text, error=str(exc), status_code=422)
    except _REFUSED as exc:
        _refusal(request, exc)
        return back(_list_url(scheme_id))
    _say(request, result)
    return back(_record_url(scheme_id, record_id))


@page_router.post("/quarantine/{scheme_id}/{record_id:path}/drop")
async def page_drop(request: Request, scheme_id: Key, record_id: Key, user: PageCsrf) -> Response:
    form = await request.form()
    reason = _text(form, "reason")
    if not reason:
        flash(request, "msg.q_reason_needed", kind="error")
        known = q.held(console_of(request), scheme_id, record_id) is not None
        return back(_held_url(scheme_id, record_id) if known else _list_url(scheme_id))
    try:
        _say(request, q.drop(console_of(request), q.one(scheme_id, record_id), who=user, reason=reason))
    except _REFUSED as exc:
        _refusal(request, exc)
        return back(_list_url(scheme_id))
    return back(_list_url(scheme_id))
