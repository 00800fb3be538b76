"""The quality report in the console: ``/quality`` (a page with charts) and ``/api/quality``.

The same rows as ``ferry quality report`` (:mod:`ferry.store.quality_report`): per scheme and
run or day, ``source total = filtered + collected`` and ``due = delivered + quarantined +
failed + pending``, with the rule that held each quarantined record. The page draws the last
days as stacked bars (where the rows each day took up went) and the rules' counts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from ferry.console._charts import Series, stacked_bars
from ferry.console._i18n import translator
from ferry.console._limits import Key, Time, local_time, parse_time
from ferry.console._web import SHANGHAI, api_user, console_of, page_user, render
from ferry.engine.counts import count_label
from ferry.store.quality_report import QualityRow, quality_report, totals

__all__ = ["COLUMNS", "router"]

router = APIRouter()
COLUMNS = (
    "source_total",
    "filtered",
    "collected",
    "due",
    "quarantined",
    "delivered",
    "failed",
    "pending",
    "dropped",
    "warned",
)
"""The report's columns, left to right, as the CLI shows them."""
_LABEL_KEYS = {"filtered": "filtered_out"}
DAYS = 14
"""Days the page shows when no time is given."""
_STACK = ("delivered", "quarantined", "failed", "pending")
"""The buckets of ``due`` drawn per day, bottom to top."""
_RULE_STACK = ("quarantined", "warned", "failed")


def column_label(name: str, lang: str) -> str:
    """The label of a report column in ``lang`` (the run counts' vocabulary)."""
    return count_label(_LABEL_KEYS.get(name, name), lang)


def _rows(
    request: Request, scheme: str, by: str, since: datetime | None, until: datetime | None
) -> list[QualityRow]:
    start = since or datetime.now(UTC) - timedelta(days=DAYS)
    return quality_report(
        console_of(request).store, scheme_id=scheme or None, by=by, since=start, until=until, tz=SHANGHAI
    )


def _charts(days: list[QualityRow], lang: str) -> tuple[Any, Any]:
    """Stacked buckets per day, and per rule its counts (both summed over the schemes shown)."""
    t = translator(lang)
    by_day: dict[str, dict[str, int]] = {}
    for row in days:
        day = by_day.setdefault(row.key, dict.fromkeys(_STACK, 0))
        for name in _STACK:
            day[name] += getattr(row, name)
    labels = sorted(by_day)
    per_day = stacked_bars(
        [
            Series(column_label(n, lang), [by_day[d][n] for d in labels], f"series-{i}")
            for i, n in enumerate(_STACK)
        ],
        [d[5:] for d in labels],
        title=t("quality_by_day"),
    )
    total = totals(days)
    rules = sorted(total.rules) if total else []
    per_rule = stacked_bars(
        [
            Series(
                column_label(n, lang), [total.rules[r][n] if total else 0 for r in rules], f"series-{i + 1}"
            )
            for i, n in enumerate(_RULE_STACK)
        ],
        rules,
        title=t("quality_by_rule"),
    )
    return per_day, per_rule


@router.get("/quality", include_in_schema=False)
def quality_page(
    request: Request,
    user: Annotated[str, Depends(page_user)],
    scheme: Key = "",
    by: Literal["run", "day"] = "day",
    since: Key = "",
    until: Key = "",
) -> Response:
    lang = getattr(request.state, "lang", "en")
    start = local_time(parse_time(since, "since"), SHANGHAI)
    end = local_time(parse_time(until, "until"), SHANGHAI)
    rows = _rows(request, scheme, by, start, end)
    days = rows if by == "day" else _rows(request, scheme, "day", start, end)
    per_day, per_rule = _charts(days, lang)
    schemes = sorted({s["id"] for s in console_of(request).store.list_schemes()})
    columns = [(name, column_label(name, lang)) for name in COLUMNS]
    return render(
        request,
        "quality.html",
        rows=rows,
        by=by,
        scheme=scheme,
        schemes=schemes,
        since=since,
        until=until,
        columns=columns,
        per_day=per_day,
        per_rule=per_rule,
    )


@router.get("/api/quality", tags=["console"])
def quality_api(
    request: Request,
    user: Annotated[str, Depends(api_user)],
    scheme: Key | None = None,
    by: Literal["run", "day"] = "run",
    since: Annotated[
        Time | None, Query(description="Runs started at or after this (default: 14 days ago).")
    ] = None,
    until: Annotated[Time | None, Query(description="Runs started before this.")] = None,
) -> dict[str, Any]:
    """The quality report: per scheme and run or day (days in Asia/Shanghai), each row's buckets
    (``source_total = filtered + collected``, ``due = delivered + quarantined + failed +
    pending``), its rules and whether it balances."""
    start, end = local_time(since, SHANGHAI), local_time(until, SHANGHAI)
    rows = _rows(request, scheme or "", by, start, end)
    return {"by": by, "rows": [row.as_dict() for row in rows]}
