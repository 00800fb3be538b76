"""``ferry runs``: recent runs with their counts; ``ferry runs show ID``: one run per window."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer
from rich.text import Text

from ferry.cli._common import (
    EXIT_INVALID,
    EXIT_OK,
    echo,
    fail,
    fmt_time,
    guarded,
    open_store,
    print_json,
    redact,
    stdout_console,
    truncate,
)
from ferry.cli._counts import print_missing
from ferry.cli._tables import Cell, fitted_table, natural_width
from ferry.engine.counts import SHOWN_COUNTS, RunCounts, count_label, still_waiting

__all__ = ["app", "register", "run_document"]

STATUS_STYLES = {"succeeded": "green", "partial": "yellow", "failed": "bold red", "running": "cyan"}
LIST_COUNTS = ("fetched", "new", "delivered", "failed", "dead")

app = typer.Typer(
    name="runs",
    invoke_without_command=True,
    no_args_is_help=False,
)


def run_document(run: dict[str, Any]) -> dict[str, Any]:
    """A run as the store returns it, made safe to print (errors redacted)."""
    doc = dict(run)
    if doc.get("error"):
        doc["error"] = redact(str(doc["error"]))
    return doc


def _duration(run: dict[str, Any]) -> str:
    counts = run.get("counts") or {}
    if counts.get("duration_s") is not None:
        return f"{float(counts['duration_s']):.2f}s"
    started, finished = run.get("started_at"), run.get("finished_at")
    if isinstance(started, datetime) and isinstance(finished, datetime):
        return f"{(finished - started).total_seconds():.2f}s"
    return ""


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:,}" if isinstance(value, int) else str(value)


def _count(run: dict[str, Any], key: str) -> str:
    value = (run.get("counts") or {}).get(key)
    return "" if value is None else f"{int(value):,}"


@app.callback()
@guarded
def runs(
    ctx: typer.Context,
    scheme: Annotated[
        str | None, typer.Option("--scheme", help="Only this scheme id.", show_default=False)
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="Runs to show.")] = 20,
    run_id: Annotated[
        int | None,
        typer.Option("--id", help="Show this one run (same as `ferry runs show ID`).", show_default=False),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List recent runs, newest first, with their status and counts.

    Example:

        ferry runs --scheme kuaimai-aftersale --limit 5
    """
    if ctx.invoked_subcommand is not None:
        return
    if run_id is not None:
        _show(run_id, as_json=as_json)
    with open_store() as store:
        found = store.list_runs(scheme, limit=limit)
    if as_json:
        print_json([run_document(r) for r in found])
        raise typer.Exit(EXIT_OK)
    if not found:
        echo("no runs yet" + (f" for scheme {scheme!r}" if scheme else ""), style="dim")
        raise typer.Exit(EXIT_OK)
    headers = ("id", "scheme", "kind", "status", "started", *LIST_COUNTS, "duration", "error")
    rows: list[list[Cell]] = []
    for r in found:
        status = str(r.get("status", ""))
        rows.append(
            [
                str(r.get("id", "")),
                str(r.get("scheme_id", "")),
                str(r.get("kind", "")),
                Text(status, style=STATUS_STYLES.get(status, "")),
                fmt_time(r.get("started_at")),
                *(_count(r, key) for key in LIST_COUNTS),
                _duration(r),
                truncate(redact(str(r.get("error") or "")), 1000),
            ]
        )
    console = stdout_console()
    table = fitted_table(
        headers,
        rows,
        width=console.width,
        right={"id", *LIST_COUNTS, "duration"},
        flex="error",
        optional=("kind", "dead", "new", "started"),
    )
    console.print(table)
    raise typer.Exit(EXIT_OK)


def _show(run_id: int, *, as_json: bool) -> None:
    with open_store() as store:
        run = store.get_run(run_id)
    if run is None:
        fail(f"no run with id {run_id}", EXIT_INVALID, hint="list recent runs with: ferry runs")
    doc = run_document(run)
    if as_json:
        print_json(doc)
        raise typer.Exit(EXIT_OK)
    status = str(doc.get("status", ""))
    console = stdout_console()
    console.print(
        Text.assemble(
            (f"run {doc.get('id')}", "bold"),
            f" of scheme {doc.get('scheme_id')} ({doc.get('kind')}): ",
            (status, STATUS_STYLES.get(status, "")),
        ),
        soft_wrap=True,
    )
    echo(f"  started:  {fmt_time(doc.get('started_at'))}")
    echo(f"  finished: {fmt_time(doc.get('finished_at')) or '(still running)'}")
    echo(f"  duration: {_duration(doc)}")
    counts = doc.get("counts") or {}
    _print_counts(counts)
    if "due" in counts:  # recorded with the accounting (runs before it have no due count)
        _print_accounting(str(doc.get("scheme_id", "")), RunCounts.from_dict(counts))
    print_missing(doc.get("placeholders"), indent="  ")
    windows = doc.get("windows") or []
    if windows:
        keys = ("pages", "fetched", "stored", "total", "ledger", "delivered", "recovered", "short", "seconds")
        rows = [
            (str(i), str(w.get("window", "")), *(_cell(w.get(key)) for key in keys))
            for i, w in enumerate(windows, 1)
        ]
        headers = ("#", "window", *keys)
        if natural_width(headers, rows) <= console.width:
            console.print(
                fitted_table(headers, rows, width=console.width, right={"#", *keys}, title="windows")
            )
        else:  # a narrow terminal: one window per two lines rather than a crushed table
            echo("windows:")
            for row in rows:
                echo(f"  {row[0]}. {row[1]}")
                echo(
                    "     "
                    + ", ".join(f"{key} {value}" for key, value in zip(keys, row[2:], strict=True) if value)
                )
    else:
        echo("  windows:  (none: a deliver-only run, or nothing new to collect)")
    if doc.get("error"):
        echo("error:", style="bold red")
        for line in str(doc["error"]).splitlines():
            echo(f"  {line}")
    raise typer.Exit(EXIT_OK)


def _print_counts(counts: dict[str, Any]) -> None:
    """Every count of the run with its label (the scheme's state after the run is said apart)."""
    after = ("waiting_", "failing_", "duration_s")
    keys = [key for key in SHOWN_COUNTS if key in counts]
    keys += [key for key in counts if key not in SHOWN_COUNTS and not key.startswith(after)]
    shown = [f"{count_label(key)} {counts[key]:,}" for key in keys if isinstance(counts[key], int | float)]
    if shown:
        echo("  counts:   " + ", ".join(shown))


def _print_accounting(scheme_id: str, counts: RunCounts) -> None:
    """The run's two identities written out, and what the scheme still had waiting after it."""
    collected, delivered = counts.equations()
    echo(f"  collect:  {collected}")
    echo(f"  deliver:  {delivered}")
    for problem in counts.imbalance():
        echo(f"  counts do not balance: {problem}", style="red")
    for line in still_waiting(scheme_id, counts):
        echo(f"  after the run: {line}", style="yellow")


@app.command("show")
@guarded
def show(
    run_id: Annotated[
        int, typer.Argument(metavar="ID", help="Run id (see `ferry runs`).", show_default=False)
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Print one run: status, times, every count, and what each window fetched.

    Example:

        ferry runs show 42
    """
    _show(run_id, as_json=as_json)


def register(main: typer.Typer) -> None:
    """Add the ``runs`` group to ``main``."""
    main.add_typer(app)
