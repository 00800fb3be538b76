"""Building the console app: session, language, security headers, routes, static files, metrics."""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from ferry._text import clip, shown
from ferry.console import _api, _pages, _pages_data, _quality, _quarantine_routes
from ferry.console._context import Console
from ferry.console._i18n import LANG_COOKIE, LANGUAGES, pick_language, translator
from ferry.console._limits import MAX_BODY_BYTES, BadParameter, BodyLimit, problems
from ferry.console._runner import BackgroundRunner
from ferry.console._web import HERE, CsrfRejected, LoginRequired, api_user, render
from ferry.errors import Issue
from ferry.scheme.model import Scheme
from ferry.store import Store

__all__ = ["SESSION_COOKIE", "SESSION_HOURS", "create_app"]

log = logging.getLogger("ferry.console")

SESSION_COOKIE = "ferry_session"
SESSION_HOURS = 12
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def create_app(
    store: Store,
    *,
    schemes: Callable[[], Mapping[str, Scheme]],
    trigger: Callable[[str], str] | None = None,
    alert_rules: Callable[[], Sequence[Mapping[str, Any]]] | None = None,
    secret_key: str | None = None,
    metrics_token: str | None = None,
    load_issues: Callable[[], Mapping[str, Sequence[Issue]]] | None = None,
    runner: BackgroundRunner | None = None,
) -> FastAPI:
    """The web console: server-rendered pages, the JSON API under ``/api`` and ``/metrics``.

    Args:
        store: The store the console reads and acts on.
        schemes: Returns the loaded schemes by id (called per request; may reload files).
        trigger: Starts a run of a scheme and returns a message (the scheduler's). ``None``:
            the console runs schemes itself in background threads (``runner``, by default a
            :class:`BackgroundRunner`), one at a time per scheme. After a replay the console
            calls ``trigger`` (or the runner's deliver-only run) to send the records at once.
        alert_rules: Returns the alert rules to show, each a flat mapping (lists are shown
            comma-separated), e.g. ``lambda: describe_rules(config)`` from
            :mod:`ferry.observe.alerts`.
        secret_key: Signs the session cookie. Default ``$FERRY_CONSOLE_SECRET``, else a random
            key per process: sessions then end when the process restarts.
        metrics_token: When set (default ``$FERRY_METRICS_TOKEN``; ``""`` for none),
            ``/metrics`` requires ``Authorization: Bearer <token>``. It never needs a session.
        load_issues: Returns the issues of scheme files that failed to load, by path.
        runner: The background runner to use when ``trigger`` is ``None``.

    Every page and API call requires a logged-in user (pages redirect to ``/login``, the API
    answers 401) and every POST the session's CSRF token (403 otherwise).
    """
    key = secret_key or os.environ.get("FERRY_CONSOLE_SECRET") or secrets.token_urlsafe(32)
    token = (metrics_token if metrics_token is not None else os.environ.get("FERRY_METRICS_TOKEN")) or None
    run_now: Callable[[str], str]
    deliver_now: Callable[[str], str]
    if trigger is None:
        runner = runner or BackgroundRunner(store, schemes)
        run_now, deliver_now = runner.trigger, runner.deliver
    else:
        runner, run_now, deliver_now = None, trigger, trigger
    console = Console(
        store=store,
        schemes=schemes,
        run_now=run_now,
        deliver_now=deliver_now,
        alert_rules=alert_rules,
        load_issues=load_issues,
        runner=runner,
        metrics_token=token,
    )
    app = FastAPI(
        title="Ferry console API",
        summary="Schemes, runs, ledger records, API assets and alerts of a Ferry store.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served below, behind the login
    )
    app.state.console = console
    app.include_router(_api.router)
    app.include_router(_pages.router)
    app.include_router(_pages_data.router)
    app.include_router(_quarantine_routes.api_router)
    app.include_router(_quarantine_routes.page_router)
    app.include_router(_quality.router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    _add_special_routes(app, console)
    _add_handlers(app)
    _add_middleware(app, key)
    return app


def _add_special_routes(app: FastAPI, console: Console) -> None:
    @app.get("/openapi.json", include_in_schema=False)
    def openapi(user: str = Depends(api_user)) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        if console.metrics_token is not None:
            supplied = request.headers.get("authorization", "")
            expected = f"Bearer {console.metrics_token}"
            if not hmac.compare_digest(supplied.encode(), expected.encode()):
                return PlainTextResponse(
                    "metrics need Authorization: Bearer <token>\n",
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
        try:
            body, content_type = console.render_metrics(console.store)
        except Exception as exc:
            log.warning("rendering /metrics failed: %s", type(exc).__name__)
            return PlainTextResponse("metrics failed; see the console's log\n", status_code=500)
        return Response(body, media_type=content_type)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> RedirectResponse:
        return RedirectResponse("/static/ferry.svg", status_code=301)


def _echoed(value: Any) -> Any:
    """A request value as a 422 answer may echo it: short, whatever was sent."""
    if value is None or isinstance(value, bool | int | float):
        return value if not isinstance(value, int) or value.bit_length() <= 64 else shown(value)
    return clip(value, 200) if isinstance(value, str) else shown(value)


def _add_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    def bad_parameter(request: Request, exc: RequestValidationError) -> Response:
        """422 naming every bad parameter: JSON for the API (FastAPI's ``detail`` list, inputs
        cut short, and one ``message``), the message page for the pages."""
        lines = problems(list(exc.errors()))
        if not request.url.path.startswith("/api/"):
            return render(request, "message.html", status_code=422, message="; ".join(lines))
        detail = [
            {
                "type": e.get("type"),
                "loc": list(e.get("loc", ())),
                "msg": e.get("msg"),
                "input": _echoed(e.get("input")),
            }
            for e in exc.errors()
        ]
        return JSONResponse({"detail": detail, "message": "; ".join(lines)}, status_code=422)

    @app.exception_handler(BadParameter)
    def bad_value(request: Request, exc: BadParameter) -> Response:
        """422 for a parameter a route checks itself (a page's time field)."""
        if not request.url.path.startswith("/api/"):
            return render(request, "message.html", status_code=422, message=str(exc))
        return JSONResponse({"detail": str(exc), "message": str(exc)}, status_code=422)

    @app.exception_handler(LoginRequired)
    def login_required(request: Request, exc: LoginRequired) -> Response:
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(exc.next_url, safe='/')}", status_code=303)

    @app.exception_handler(CsrfRejected)
    def csrf_rejected(request: Request, exc: CsrfRejected) -> HTMLResponse:
        message = translator(getattr(request.state, "lang", "en"))("forbidden")
        return render(request, "message.html", status_code=403, message=message)


def _add_middleware(app: FastAPI, secret_key: str) -> None:
    @app.middleware("http")
    async def language_and_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        asked = request.query_params.get("lang")
        request.state.lang = pick_language(
            asked, request.cookies.get(LANG_COOKIE), request.headers.get("accept-language")
        )
        response = await call_next(request)
        if asked in LANGUAGES:
            response.set_cookie(LANG_COOKIE, asked, max_age=365 * 86400, httponly=True, samesite="lax")
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    # Added last, so it runs first: the session exists for everything above.
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key,
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_HOURS * 3600,
        same_site="lax",
        https_only=False,
    )
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)  # outermost: refuse before reading
