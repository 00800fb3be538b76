"""Request plumbing shared by the pages and the API: who is logged in, CSRF checks, rendering.

- Pages without a session redirect to ``/login?next=...``; API calls answer 401 JSON.
- Every state-changing request needs the session's CSRF token: the ``csrf_token`` form field
  or the ``X-CSRF-Token`` header (the only way for the JSON API); else 403.
- Every text a template outputs passes the console's redactor (Jinja ``finalize``).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from markupsafe import Markup

from ferry.console._auth import check_csrf, csrf_token, user_exists
from ferry.console._context import Console
from ferry.console._i18n import status_labels, translator
from ferry.engine.counts import accounting_lines, count_label

__all__ = [
    "CsrfRejected",
    "LoginRequired",
    "api_csrf",
    "api_user",
    "console_of",
    "flash",
    "page_csrf",
    "page_user",
    "render",
    "templates",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")
HERE = Path(__file__).resolve().parent
CSRF_HEADER = "x-csrf-token"


class LoginRequired(Exception):
    """A page was asked for without a session; answered with a redirect to the login page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class CsrfRejected(Exception):
    """A page form came without the session's CSRF token; answered with 403."""


def console_of(request: Request) -> Console:
    """The app's :class:`Console`."""
    console: Console = request.app.state.console
    return console


def session_user(request: Request) -> str | None:
    """The logged-in user, or ``None`` (also when the user was removed meanwhile)."""
    name = request.session.get("user")
    if not isinstance(name, str) or not name:
        return None
    if not user_exists(console_of(request).store, name):
        request.session.clear()
        return None
    return name


def api_user(request: Request) -> str:
    """Dependency of every API route: the user, or 401."""
    user = session_user(request)
    if user is None:
        raise HTTPException(
            401, "login required: POST /api/session first", headers={"WWW-Authenticate": "Session"}
        )
    return user


def page_user(request: Request) -> str:
    """Dependency of every page: the user, or a redirect to the login page."""
    user = session_user(request)
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target if request.method == "GET" else "/")
    return user


async def _supplied_token(request: Request, *, form: bool) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header or not form:
        return header
    content_type = request.headers.get("content-type", "")
    if "form" not in content_type:
        return None
    value = (await request.form()).get("csrf_token")
    return value if isinstance(value, str) else None


async def api_csrf(request: Request, user: str = Depends(api_user)) -> str:
    """Dependency of every API POST: logged in and the ``X-CSRF-Token`` header matches, else 401/403."""
    if not check_csrf(request.session, await _supplied_token(request, form=False)):
        raise HTTPException(
            403, "CSRF token missing or invalid: send GET /api/session's csrf_token as X-CSRF-Token"
        )
    return user


async def page_csrf(request: Request, user: str = Depends(page_user)) -> str:
    """Dependency of every page POST: logged in and the form's ``csrf_token`` matches."""
    if not check_csrf(request.session, await _supplied_token(request, form=True)):
        raise CsrfRejected()
    return user


# -- templates ------------------------------------------------------------------------------


@pass_context
def _finalize(ctx: Any, value: Any) -> Any:
    if value is None:
        return ""
    redact = ctx.get("redact")
    if redact is None:
        return value
    if isinstance(value, Markup):
        return Markup(redact(str(value)))
    if isinstance(value, str):
        return redact(value)
    return value


def _dt(value: datetime | str | None, seconds: bool = True) -> str:
    """A time as ``YYYY-MM-DD HH:MM:SS`` in Asia/Shanghai (ISO text is parsed first)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        at = value
    if at.tzinfo is not None:
        at = at.astimezone(SHANGHAI)
    return at.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%m-%d %H:%M")


def _pretty(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def _segment(value: Any) -> str:
    return quote(str(value), safe="")


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(HERE / "templates")),
        autoescape=select_autoescape(["html", "xml", "svg"]),
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(dt=_dt, pretty=_pretty, ms=_ms, seg=_segment)
    return env


templates = Jinja2Templates(env=_environment())


def flash(request: Request, message: str, kind: str = "ok") -> None:
    """Show ``message`` on the next page rendered for this session."""
    request.session["flash"] = [message, kind]


def render(request: Request, name: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render template ``name`` with the labels, user, CSRF token and redactor of this request."""
    lang: str = getattr(request.state, "lang", "en")
    flashed = request.session.pop("flash", None)

    def lang_url(code: str) -> str:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
        return request.url.path + "?" + urlencode([*params, ("lang", code)])

    base = {
        "t": translator(lang),
        "count_label": lambda name: count_label(name, lang),
        "accounting": lambda scheme_id, counts: accounting_lines(scheme_id, counts, lang),
        "lang": lang,
        "statuses": status_labels(lang),
        "user": request.session.get("user"),
        "csrf": csrf_token(request.session),
        "redact": console_of(request).redactor(),
        "path": request.url.path,
        "lang_url": lang_url,
        "flash": flashed,
    }
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)
