"""``ferry quality report``: per scheme, per run or per day, where every record went.

The buckets and their identities are those of :mod:`ferry.store.quality_report`: ``source
total = filtered + collected``, ``due = delivered + quarantined + failed + pending``, and each
quarantined row held by one rule (listed per rule below the table).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.text import Text

from ferry.cli._common import (
    EXIT_OK,
    SHANGHAI,
    echo,
    fail,
    fmt_time,
    guarded,
    open_store,
    parse_time,
    print_json,
    stdout_console,
)
from ferry.cli._tables import Cell, fitted_table
from ferry.cli.runs import STATUS_STYLES

if TYPE_CHECKING:
    from ferry.store.quality_report import QualityRow

__all__ = ["COLUMNS", "app", "register"]

app = typer.Typer(
    name="quality",
    no_args_is_help=True,
    help="Data quality: the quality report (where every record of the runs went, per rule).",
)

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
"""The report's columns, left to right (``failed``: error + dead)."""
_HEADERS = {"source_total": "source total"}
_RULE_COLUMNS = ("quarantined", "dropped", "warned", "failed")


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"--tz: unknown time zone {name!r}", hint="write an IANA name such as Asia/Shanghai or UTC")


def _number(value: int) -> str:
    return f"{value:,}"


def _report_table(rows: list[QualityRow], by: str, width: int) -> Any:
    """One line per run (with when it started and its status) or per day (with its runs)."""
    about = ("run", "started", "status") if by == "run" else ("day", "runs")
    headers = ("scheme", *about, *(_HEADERS.get(c, c) for c in COLUMNS))
    cells: list[list[Cell]] = []
    for row in rows:
        numbers = [_number(row.source_total if c == "source_total" else getattr(row, c)) for c in COLUMNS]
        if by == "run":
            status = str(row.status)
            described: list[Cell] = [
                row.key,
                fmt_time(row.started_at),
                Text(status, style=STATUS_STYLES.get(status, "")),
            ]
        else:
            described = [row.key, _number(row.runs)]
        cells.append([row.scheme_id, *described, *numbers])
    right = {"run", "runs", *(_HEADERS.get(c, c) for c in COLUMNS)}
    optional = ("started", "status", "pending", "dropped", "warned", "due")
    return fitted_table(headers, cells, width=width, right=right, optional=optional, title="quality report")


def _rules_table(rows: list[QualityRow], by: str, width: int) -> Any | None:
    key = "run" if by == "run" else "day"
    cells: list[list[Cell]] = []
    for row in rows:
        for rule in sorted(row.rules):
            counts = row.rules[rule]
            cells.append([row.scheme_id, row.key, rule, *(_number(counts[c]) for c in _RULE_COLUMNS)])
    if not cells:
        return None
    headers = ("scheme", key, "rule", *_RULE_COLUMNS)
    return fitted_table(headers, cells, width=width, right={key, *_RULE_COLUMNS}, title="per rule")


@app.command("report")
@guarded
def report(
    scheme: Annotated[
        str | None, typer.Option("--scheme", help="Only this scheme id.", show_default=False)
    ] = None,
    by: Annotated[str, typer.Option("--by", help="One row per run or per day: run | day.")] = "run",
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="Runs started at or after T (YYYY-MM-DD[ HH:MM], or 7d).", show_default=False
        ),
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Runs started before T.", show_default=False)
    ] = None,
    tz: Annotated[str, typer.Option("--tz", help="Time zone of days and of naive times.")] = "Asia/Shanghai",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Where every record of the runs went: source total = filtered + collected; due = delivered
    + quarantined + failed (error + dead) + pending; the rule that held each quarantined record,
    and how many an operator dropped since.

    Example:

        ferry quality report --scheme shop-orders --by day --since 7d
    """
    from ferry.store.quality_report import BY, quality_report

    if by not in BY:
        fail(f"--by: must be one of {', '.join(BY)} (got {by!r})")
    zone, start, end = _times(since, until, tz)
    with open_store() as store:
        rows = quality_report(store, scheme_id=scheme, by=by, since=start, until=end, tz=zone)
    if as_json:
        print_json({"by": by, "rows": [row.as_dict() for row in rows]})
        raise typer.Exit(EXIT_OK)
    if not rows:
        echo("no finished runs" + (f" of scheme {scheme!r}" if scheme else "") + " in that time", style="dim")
        raise typer.Exit(EXIT_OK)
    _print(rows, by)
    raise typer.Exit(EXIT_OK)


def _times(
    since: str | None, until: str | None, tz: str
) -> tuple[ZoneInfo, datetime | None, datetime | None]:
    """The time zone, and ``--since``/``--until`` as aware times (naive ones read in the zone)."""
    zone = SHANGHAI if tz == "Asia/Shanghai" else _zone(tz)
    start = parse_time(since, option="--since", tz=zone) if since else None
    end = parse_time(until, option="--until", tz=zone) if until else None
    return zone, start, end


def _print(rows: list[QualityRow], by: str) -> None:
    """The report's table, its per-rule table, and a red line per identity that does not hold."""
    console = stdout_console()
    console.print(_report_table(rows, by, console.width))
    rules = _rules_table(rows, by, console.width)
    if rules is not None:
        console.print(rules)
    for row in rows:
        for problem in row.imbalance():
            console.print(
                Text(f"{row.scheme_id} {by} {row.key}: counts do not balance: {problem}", style="red")
            )


def register(main: typer.Typer) -> None:
    """Add the ``quality`` group to ``main``."""
    main.add_typer(app)
