"""Server-rendered pages: runs, records (search, detail, replay), API assets and alerts."""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import Field, ValidationError
from starlette.datastructures import FormData

from ferry.console import _views as views
from ferry.console._charts import Series, line_chart
from ferry.console._i18n import translator
from ferry.console._limits import Key, Page, RowId, parse_time, problems
from ferry.console._models import RecordKey, ReplayRequest
from ferry.console._pages import back, not_found, safe_next
from ferry.console._runpage import run_page
from ferry.console._web import SHANGHAI, console_of, flash, page_csrf, page_user, render, zone_offset
from ferry.engine.counts import SHOWN_COUNTS
from ferry.engine.misses import missing_lines
from ferry.observe.alerts.messages import RULE_TITLES
from ferry.store import RECORD_STATUSES

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
User = Annotated[str, Depends(page_user)]
Csrf = Annotated[str, Depends(page_csrf)]
PAGE = 50


# -- runs -----------------------------------------------------------------------------------


@router.get("/runs")
def runs(request: Request, user: User, scheme: Key = "") -> Response:
    console = console_of(request)
    items = views.list_runs(console, scheme or None, limit=200)
    schemes = [s.id for s in views.scheme_summaries(console)]
    return render(request, "runs.html", runs=items, scheme=scheme, schemes=schemes)


@router.get("/runs/{run_id}")
def run(
    request: Request,
    run_id: RowId,
    user: User,
    wpage: Page = 1,
    lpage: Page = 1,
    show: Key = "",
    log: Key = "",
) -> Response:
    page = run_page(
        console_of(request).store,
        run_id,
        request.query_params.multi_items(),
        windows_page=wpage,
        log_page=lpage,
        show_empty=show == "all",
        problems_only=log == "problems",
    )
    if page is None:
        return not_found(request)
    counts = [(k, page.run.counts[k]) for k in (*SHOWN_COUNTS, "duration_s") if k in page.run.counts]
    missing = missing_lines(page.run.placeholders, lang=getattr(request.state, "lang", "en"))
    return render(request, "run.html", run=page.run, p=page, counts=counts, missing=missing)


# -- records --------------------------------------------------------------------------------


@router.get("/records")
def records(
    request: Request,
    user: User,
    scheme: Key = "",
    id: Key = "",
    number: Key = "",
    since: Annotated[str, Field(max_length=64)] = "",
    until: Annotated[str, Field(max_length=64)] = "",
    page: Page = 0,
) -> Response:
    statuses = [s for s in request.query_params.getlist("status") if s in RECORD_STATUSES]
    result = views.search_records(
        console_of(request),
        scheme_id=scheme or None,
        status=statuses,
        record_id=id or None,
        number=number or None,
        since=parse_time(since, "since"),
        until=parse_time(until, "until"),
        limit=PAGE,
        offset=page * PAGE,
    )
    query = {"scheme": scheme, "id": id, "number": number, "since": since, "until": until}
    here = [(k, v) for k, v in query.items() if v] + [("status", s) for s in statuses]
    schemes = [s.id for s in views.scheme_summaries(console_of(request))]
    return render(
        request,
        "records.html",
        result=result,
        filters=query,
        selected=statuses,
        all_statuses=RECORD_STATUSES,
        schemes=schemes,
        page=page,
        here_query=urlencode(here),
        back_to="/records" + (f"?{urlencode([*here, ('page', page)])}" if here or page else ""),
    )


@router.get("/records/{scheme_id}/{record_id:path}")
def record(request: Request, scheme_id: Key, record_id: Key, user: User) -> Response:
    console = console_of(request)
    detail = views.record_detail(console, scheme_id, record_id)
    if detail is None:
        return not_found(request)
    key = json.dumps([scheme_id, record_id], ensure_ascii=False)
    loaded = scheme_id in console.loaded()
    return render(request, "record.html", r=detail, key=key, here=request.url.path, loaded=loaded)


def _selected(form: FormData) -> list[RecordKey]:
    """The records ticked on the page (``sel``: ``["scheme", "id"]`` in JSON); bad ones skipped."""
    keys: list[RecordKey] = []
    for value in form.getlist("sel"):
        try:
            scheme_id, record_id = json.loads(str(value))
            keys.append(RecordKey(scheme_id=str(scheme_id), record_id=str(record_id)))
        except (ValueError, TypeError):
            continue
    return keys


def _replay_request(form: FormData, keys: list[RecordKey]) -> ReplayRequest:
    """The form as a :class:`ReplayRequest`: ``keys``, or the search filter when ``mode=filter``.

    Raises:
        ValidationError: A field out of bounds (a time outside 1970-9998, an over-long id).
    """

    def text(name: str) -> str | None:
        return str(form.get(name) or "").strip() or None

    return ReplayRequest.model_validate(
        {
            "records": [] if form.get("mode") == "filter" else keys,
            "scheme_id": text("scheme"),
            "status": [str(s) for s in form.getlist("status") if s in RECORD_STATUSES],
            "record_id": str(form.get("id") or "") or None,
            "number": str(form.get("number") or "") or None,
            "since": text("since"),
            "until": text("until"),
        }
    )


@router.post("/records/replay")
async def replay(request: Request, user: Csrf) -> Response:
    form = await request.form()
    keys = _selected(form)
    if form.get("mode") != "filter" and not keys:
        flash(request, "no_records", kind="error")
    else:
        try:
            body = _replay_request(form, keys)
        except ValidationError as exc:
            flash(request, "msg.replay_invalid", {"problems": "; ".join(problems(exc.errors()))}, "error")
        else:
            _replay_and_say(request, body)
    return back(safe_next(str(form.get("back_to") or "/records")))


def _replay_and_say(request: Request, body: ReplayRequest) -> None:
    """Replay and flash how many records went back, then each delivery started (or not)."""
    try:
        result = views.replay(console_of(request), body)
    except ValueError:
        flash(request, "msg.replay_refused", kind="error")
        return
    flash(request, "msg.replayed", {"count": result.replayed})
    if result.kept:
        flash(request, "msg.dead_letters_kept", {"count": result.kept}, "error")
    for started in result.started:
        flash(request, started.key, started.params, "ok" if started.ok else "error")


# -- API assets and alerts ------------------------------------------------------------------


@router.get("/apis")
def apis(request: Request, user: User, hours: int = 24) -> Response:
    hours = min(max(hours, 1), 168)
    stats = views.api_assets(console_of(request), hours=hours)
    t = translator(request.state.lang)
    charts = {}
    for stat in stats:
        shape = "%H:%M" if hours <= 24 else "%m-%d %H:%M"
        labels = [b.start.astimezone(SHANGHAI).strftime(shape) for b in stat.buckets]
        every = max(len(labels) // 6, 1)
        charts[(stat.connection, stat.api)] = (
            line_chart(
                [
                    Series(t("n_calls"), [b.calls for b in stat.buckets], "series-0"),
                    Series(t("failed"), [b.errors for b in stat.buckets], "series-2"),
                ],
                labels,
                title=f"{stat.api} {t('n_calls')}",
                width=460,
                height=170,
                label_every=every,
                x_caption=f"UTC{zone_offset()}",
            ),
            line_chart(
                [
                    Series("p50", [b.p50 for b in stat.buckets]),
                    Series("p95", [b.p95 for b in stat.buckets]),
                    Series("p99", [b.p99 for b in stat.buckets]),
                ],
                labels,
                title=f"{stat.api} {t('latency')}",
                width=460,
                height=170,
                label_every=every,
                x_caption=f"UTC{zone_offset()}",
            ),
        )
    return render(request, "apis.html", stats=stats, charts=charts, hours=hours)


@router.get("/alerts")
def alerts(request: Request, user: User) -> Response:
    data = views.alerts(console_of(request))
    columns: list[str] = []
    for rule in data.rules:
        columns += [key for key in rule if key not in columns and key != "description_zh"]
    titles = {kind: pair[0 if request.state.lang == "zh" else 1] for kind, pair in RULE_TITLES.items()}
    return render(request, "alerts.html", data=data, columns=columns, rule_titles=titles)
