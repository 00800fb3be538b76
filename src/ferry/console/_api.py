"""The JSON API under ``/api`` (OpenAPI at ``/openapi.json``).

Log in with ``GET /api/session`` (a CSRF token) then ``POST /api/session`` with that token
in ``X-CSRF-Token``; keep the session cookie and send the token with every POST::

    s = httpx.Client(base_url="http://127.0.0.1:8000")
    token = s.get("/api/session").json()["csrf_token"]
    token = s.post("/api/session", json={"username": "ops", "password": "..."},
                   headers={"X-CSRF-Token": token}).json()["csrf_token"]
    s.post("/api/records/replay", json={"scheme_id": "004", "status": ["error"]},
           headers={"X-CSRF-Token": token})

Every parameter is bounded where it is declared (:mod:`ferry.console._limits`): a bad one is
answered 422 with FastAPI's ``detail`` list and a ``message`` naming it, a body over 2 MB 413.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from ferry.console import _views as views
from ferry.console._auth import authenticate, check_csrf, csrf_token
from ferry.console._limits import MAX_OFFSET, Key, Offset, RowId, Time
from ferry.console._models import (
    ActionResult,
    Alerts,
    ApiStatModel,
    Dashboard,
    EnableRequest,
    LoginRequest,
    PreviewModel,
    RecordDetail,
    RecordPage,
    ReplayRequest,
    ReplayResult,
    RunDetail,
    RunSummary,
    SchemeDetail,
    SchemeSummary,
    SessionInfo,
)
from ferry.console._web import api_csrf, api_user, console_of, session_user
from ferry.store import RECORD_STATUSES

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["console"])
User = Annotated[str, Depends(api_user)]
Csrf = Annotated[str, Depends(api_csrf)]
_NAIVE = "without a zone, in the scheme's zone (Asia/Shanghai when no scheme_id is given); years 1970-9998."


def _clean(request: Request, model: Any) -> Any:
    return views.scrubbed(model, console_of(request).redactor())


def _found(value: Any, what: str) -> Any:
    if value is None:
        raise HTTPException(404, f"{what} not found")
    return value


def _statuses(status: list[str]) -> list[str]:
    unknown = [s for s in status if s not in RECORD_STATUSES]
    if unknown:
        raise HTTPException(422, f"unknown status {unknown[0]!r}; known: {', '.join(RECORD_STATUSES)}")
    return status


# -- session --------------------------------------------------------------------------------


@router.get("/session", response_model=SessionInfo)
def session_info(request: Request) -> SessionInfo:
    """Whether this session is logged in, and its CSRF token (no login needed)."""
    user = session_user(request)
    return SessionInfo(authenticated=user is not None, user=user, csrf_token=csrf_token(request.session))


@router.post("/session", response_model=SessionInfo)
def login(request: Request, body: LoginRequest) -> SessionInfo:
    """Log in; the answer carries the new session's CSRF token. 401 on a wrong name or password."""
    if not check_csrf(request.session, request.headers.get("x-csrf-token")):
        raise HTTPException(403, "CSRF token missing or invalid: GET /api/session first")
    if not authenticate(console_of(request).store, body.username, body.password):
        raise HTTPException(401, "wrong user name or password")
    request.session.clear()
    request.session["user"] = body.username
    return SessionInfo(authenticated=True, user=body.username, csrf_token=csrf_token(request.session))


@router.post("/session/logout", response_model=ActionResult)
def logout(request: Request, user: Csrf) -> ActionResult:
    """End the session."""
    request.session.clear()
    return ActionResult(ok=True, message=f"{user} logged out")


# -- dashboard and schemes ------------------------------------------------------------------


@router.get("/dashboard", response_model=Dashboard)
def dashboard(request: Request, user: User) -> Any:
    """Records in, delivered and failed per hour over 24 h; every scheme's status and last run."""
    return _clean(request, views.dashboard(console_of(request)))


@router.get("/schemes", response_model=list[SchemeSummary])
def schemes(request: Request, user: User) -> Any:
    """Every scheme: enabled, ledger counts by status, last run."""
    redact = console_of(request).redactor()
    return [views.scrubbed(s, redact) for s in views.scheme_summaries(console_of(request))]


@router.get("/schemes/{scheme_id}", response_model=SchemeDetail)
def scheme(request: Request, scheme_id: Key, user: User) -> Any:
    """Flow steps, field mapping and validation issues of one scheme."""
    return _clean(request, _found(views.scheme_detail(console_of(request), scheme_id), "scheme"))


@router.get("/schemes/{scheme_id}/preview", response_model=PreviewModel)
def preview(
    request: Request, scheme_id: Key, user: User, limit: Annotated[int, Query(ge=1, le=50)] = 5
) -> Any:
    """Dry run: the newest ledger records mapped and packed as a run would send them."""
    return _clean(request, _found(views.scheme_preview(console_of(request), scheme_id, limit), "scheme"))


@router.post("/schemes/{scheme_id}/enabled", response_model=ActionResult)
def enable(request: Request, scheme_id: Key, body: EnableRequest, user: Csrf) -> ActionResult:
    """Switch a scheme on or off (the scheduler skips disabled schemes)."""
    result = views.set_enabled(console_of(request), scheme_id, body.enabled)
    if not result.ok:
        raise HTTPException(404, result.message)
    return result


@router.post("/schemes/{scheme_id}/run", response_model=ActionResult)
def run(request: Request, scheme_id: Key, user: Csrf) -> ActionResult:
    """Run a scheme now (collect and deliver) in the background."""
    result = views.run_now(console_of(request), scheme_id)
    if not result.ok:
        raise HTTPException(409, result.message)
    return result


# -- runs -----------------------------------------------------------------------------------


@router.get("/runs", response_model=list[RunSummary])
def runs(
    request: Request,
    user: User,
    scheme_id: Key | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    """Run history, newest first, with counts."""
    redact = console_of(request).redactor()
    return [views.scrubbed(r, redact) for r in views.list_runs(console_of(request), scheme_id, limit)]


@router.get("/runs/{run_id}", response_model=RunDetail)
def run_detail(request: Request, run_id: RowId, user: User) -> Any:
    """One run: counts, per-window detail and its first 2,000 log lines (the run page pages through all)."""
    return _clean(request, _found(views.run_detail(console_of(request), run_id), "run"))


# -- records --------------------------------------------------------------------------------


@router.get("/records", response_model=RecordPage)
def records(
    request: Request,
    user: User,
    scheme_id: Key | None = None,
    status: Annotated[list[str], Query(max_length=10)] = [],  # noqa: B006 - FastAPI copies defaults
    record_id: Annotated[Key | None, Query(description="Exact id, or a prefix ending in *.")] = None,
    number: Annotated[Key | None, Query(description="Exact number, or a prefix ending in *.")] = None,
    since: Annotated[Time | None, Query(description=f"Updated at or after; {_NAIVE}")] = None,
    until: Annotated[Time | None, Query(description=f"Updated before; {_NAIVE}")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[Offset, Query(description=f"Rows to skip, at most {MAX_OFFSET:,}.")] = 0,
) -> Any:
    """Search the ledger; ``since``/``until`` bound the last update. An id or number that is
    blank or only wildcards (``*``, ``%``) is no filter."""
    page = views.search_records(
        console_of(request),
        scheme_id=scheme_id,
        status=_statuses(status),
        record_id=record_id,
        number=number,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    return _clean(request, page)


@router.get("/records/{scheme_id}/{record_id:path}", response_model=RecordDetail)
def record(request: Request, scheme_id: Key, record_id: Key, user: User) -> Any:
    """A record: content, mapped payload, target response, last error and attempt history."""
    return _clean(request, _found(views.record_detail(console_of(request), scheme_id, record_id), "record"))


@router.post("/records/replay", response_model=ReplayResult)
def replay(request: Request, body: ReplayRequest, user: Csrf) -> ReplayResult:
    """Send records back to pending: the listed ones, or every one matching the filter.

    422 when no real filter is given: a scheme alone, or an id or number that is blank or only
    wildcards (``*``, ``%``, ``**``), would replay everything.
    """
    _statuses(body.status)
    try:
        return views.replay(console_of(request), body)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


# -- API assets and alerts ------------------------------------------------------------------


@router.get("/apis", response_model=list[ApiStatModel])
def apis(request: Request, user: User, hours: Annotated[int, Query(ge=1, le=168)] = 24) -> Any:
    """Per connection and API: calls, error rate, latency p50/p95/p99 overall and per bucket."""
    return views.api_assets(console_of(request), hours=hours)


@router.get("/alerts", response_model=Alerts)
def alerts(request: Request, user: User) -> Any:
    """Alert incidents with their notices, and the alert rules."""
    return _clean(request, views.alerts(console_of(request)))
