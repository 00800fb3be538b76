"""Request plumbing shared by the pages and the API: who is logged in, CSRF checks, rendering.

- Pages without a session redirect to ``/login?next=...``; API calls answer 401 JSON.
- Every state-changing request needs the session's CSRF token: the ``csrf_token`` form field
  or the ``X-CSRF-Token`` header (the only way for the JSON API); else 403.
- Every text a template outputs passes the console's redactor (Jinja ``finalize``).
- Every time is shown in Asia/Shanghai with its offset (``2026-12-08 03:06:04 +08:00``).
- Flash messages are kept as a label key and its values, and shown in the language of the
  page that shows them; the values (ids, counts) are marked ``translate="no"``: they are data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from markupsafe import Markup, escape

from ferry.console._auth import check_csrf, csrf_token, user_exists
from ferry.console._context import Console
from ferry.console._i18n import label_or, status_labels, translator
from ferry.console._names import referenced, scheme_namer
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
    "say_html",
    "templates",
    "zone_offset",
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


def zone_offset(at: datetime | None = None) -> str:
    """The console zone's UTC offset at ``at`` (default now), as ``+08:00``."""
    offset = (at or datetime.now(UTC)).astimezone(SHANGHAI).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    hours, rest = divmod(abs(minutes), 60)
    return f"{'-' if minutes < 0 else '+'}{hours:02d}:{rest:02d}"


def _dt(value: datetime | str | None) -> str:
    """A time as ``YYYY-MM-DD HH:MM:SS +08:00`` in Asia/Shanghai (ISO text is parsed first; a
    naive time is taken as Asia/Shanghai already)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        at = value
    at = at.astimezone(SHANGHAI) if at.tzinfo is not None else at.replace(tzinfo=SHANGHAI)
    return f"{at:%Y-%m-%d %H:%M:%S} {zone_offset(at)}"


def _pretty(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def _number(value: Any) -> str:
    """An integer with thousands separators (``1,040``); anything else as it is."""
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _commands(value: Any) -> Markup:
    """Text whose ``ferry ...`` command (to the end of the text) is shown as code, not translated."""
    text = str(value)
    head, sep, command = text.partition("ferry ")
    if not sep:
        return Markup(escape(text))
    return Markup(f'{escape(head)}<code translate="no">{escape(sep + command)}</code>')


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
    env.filters.update(dt=_dt, pretty=_pretty, ms=_ms, seg=_segment, n=_number, commands=_commands)
    return env


templates = Jinja2Templates(env=_environment())


def flash(request: Request, key: str, params: Mapping[str, object] | None = None, kind: str = "ok") -> None:
    """Show the message ``key`` (a label with ``{name}`` placeholders) on the next page rendered
    for this session, in that page's language, after those flashed before; ``kind`` is ``ok``
    or ``error``."""
    queued = request.session.get("flash")
    queued = queued if isinstance(queued, list) else []
    request.session["flash"] = [*queued[-4:], [key, {k: str(v) for k, v in (params or {}).items()}, kind]]


def say_html(key: str, lang: str, params: Mapping[str, object] | None = None) -> Markup:
    """The label ``key`` in ``lang`` with its placeholders filled, each value escaped and marked
    ``translate="no"`` (a value is data: an id, a count, another component's answer)."""
    values = {k: Markup('<span translate="no">{}</span>').format(v) for k, v in (params or {}).items()}
    return Markup(escape(translator(lang)(key))).format(**values)


def _flashed(request: Request, lang: str) -> list[tuple[Markup, str]]:
    queued = request.session.pop("flash", None)
    shown = []
    for item in queued if isinstance(queued, list) else []:
        if isinstance(item, list) and len(item) == 3:
            key, params, kind = item
            shown.append((say_html(str(key), lang, params if isinstance(params, dict) else {}), str(kind)))
    return shown


def render(request: Request, name: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render template ``name`` with the labels, user, CSRF token and redactor of this request.

    Besides ``t`` (labels), a template has ``cl`` (a run count's label), ``lo`` (a kind's or
    level's label, else the value), ``say`` (a message with values), ``scheme_ref`` (how to
    name a scheme), ``refs_in`` (the schemes a text names) and ``zone`` (``+08:00``).
    """
    lang: str = getattr(request.state, "lang", "en")
    console = console_of(request)
    names = console.scheme_names()

    def lang_url(code: str) -> str:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
        return request.url.path + "?" + urlencode([*params, ("lang", code)])

    base = {
        "t": translator(lang),
        "cl": lambda key: count_label(key, lang),
        "accounting": lambda scheme_id, counts: accounting_lines(scheme_id, counts, lang),
        "lo": label_or(lang),
        "say": lambda key, **params: say_html(key, lang, params),
        "scheme_ref": scheme_namer(names),
        "refs_in": lambda text: referenced(str(text), names),
        "zone": zone_offset(),
        "lang": lang,
        "statuses": status_labels(lang),
        "user": request.session.get("user"),
        "csrf": csrf_token(request.session),
        "redact": console.redactor(),
        "path": request.url.path,
        "lang_url": lang_url,
        "flash": _flashed(request, lang),
    }
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)
