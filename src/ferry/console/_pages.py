"""Server-rendered pages: login, dashboard and schemes (runs, records, APIs, alerts are in
:mod:`ferry.console._pages_data`). Every action is a POST form with the CSRF token that
redirects back (303) with a message."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ferry.console import _views as views
from ferry.console._auth import authenticate, check_csrf, list_users
from ferry.console._charts import Series, line_chart
from ferry.console._i18n import translator
from ferry.console._limits import Key
from ferry.console._web import (
    SHANGHAI,
    CsrfRejected,
    console_of,
    flash,
    page_csrf,
    page_user,
    render,
    session_user,
    zone_offset,
)

__all__ = ["router", "safe_next"]

router = APIRouter(include_in_schema=False)
User = Annotated[str, Depends(page_user)]
Csrf = Annotated[str, Depends(page_csrf)]


def safe_next(target: str | None) -> str:
    """A local path to go to after login (anything else becomes ``/``)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


def back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def not_found(request: Request) -> HTMLResponse:
    return render(
        request, "message.html", status_code=404, message=translator(request.state.lang)("not_found")
    )


# -- login ----------------------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    if session_user(request) is not None:
        return back(safe_next(next))
    no_users = not list_users(console_of(request).store)
    return render(request, "login.html", next=safe_next(next), no_users=no_users, failed=False)


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    if not check_csrf(request.session, csrf_token):
        raise CsrfRejected()
    if not authenticate(console_of(request).store, username, password):
        return render(
            request, "login.html", status_code=401, next=safe_next(next), no_users=False, failed=True
        )
    request.session.clear()  # a fresh session (and CSRF token) for the logged-in user
    request.session["user"] = username
    return back(safe_next(next))


@router.post("/logout")
def logout(request: Request, user: Csrf) -> Response:
    request.session.clear()
    return back("/login")


# -- dashboard ------------------------------------------------------------------------------


@router.get("/")
def dashboard(request: Request, user: User) -> Response:
    data = views.dashboard(console_of(request))
    t = translator(request.state.lang)
    act = data.activity
    chart = line_chart(
        [
            Series(t("records_in"), act.received),
            Series(t("delivered"), act.delivered),
            Series(t("failed"), act.failed),
        ],
        [h.astimezone(SHANGHAI).strftime("%H:00") for h in act.hours],
        title=t("last_24h"),
        x_caption=f"UTC{zone_offset()}",
    )
    totals = {
        "received": sum(act.received),
        "delivered": sum(act.delivered),
        "failed": sum(act.failed),
    }
    return render(request, "dashboard.html", data=data, chart=chart, totals=totals)


# -- schemes --------------------------------------------------------------------------------


@router.get("/schemes")
def schemes(request: Request, user: User) -> Response:
    console = console_of(request)
    summaries = views.scheme_summaries(console)
    broken = views.dashboard(console).broken_files
    return render(request, "schemes.html", schemes=summaries, broken=broken)


@router.get("/schemes/{scheme_id}")
def scheme(request: Request, scheme_id: Key, user: User) -> Response:
    console = console_of(request)
    detail = views.scheme_detail(console, scheme_id)
    if detail is None:
        return not_found(request)
    preview = views.scheme_preview(console, scheme_id) if detail.summary.loaded else None
    return render(request, "scheme.html", detail=detail, s=detail.summary, preview=preview)


def _scheme_url(scheme_id: str, back_to: str) -> str:
    return safe_next(back_to) if back_to else f"/schemes/{quote(scheme_id, safe='')}"


@router.post("/schemes/{scheme_id}/enabled")
def enable(
    request: Request,
    scheme_id: Key,
    user: Csrf,
    enabled: Annotated[str, Form()] = "1",
    back_to: Annotated[str, Form()] = "",
) -> Response:
    result = views.set_enabled(console_of(request), scheme_id, enabled == "1")
    flash(request, result.key, result.params, "ok" if result.ok else "error")
    return back(_scheme_url(scheme_id, back_to))


@router.post("/schemes/{scheme_id}/run")
def run(request: Request, scheme_id: Key, user: Csrf, back_to: Annotated[str, Form()] = "") -> Response:
    result = views.run_now(console_of(request), scheme_id)
    flash(request, result.key, result.params, "ok" if result.ok else "error")
    return back(_scheme_url(scheme_id, back_to))
