"""``ferry records``: search the ledger; ``ferry records show SCHEME ID``: one record in full."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from ferry.cli._common import (
    EXIT_INVALID,
    EXIT_OK,
    echo,
    fail,
    fmt_time,
    guarded,
    open_store,
    parse_time,
    print_json,
    redact,
    stdout_console,
    truncate,
)
from ferry.cli._tables import fitted_table

if TYPE_CHECKING:
    from ferry.store import LedgerRow

__all__ = ["app", "record_document", "register"]


class Status(StrEnum):
    """Ledger record states (typer needs an Enum for a repeatable choice)."""

    pending = "pending"
    queued = "queued"
    finished = "finished"
    error = "error"
    dead = "dead"
    quarantined = "quarantined"
    dropped = "dropped"


STATUS_STYLES = {
    "finished": "green",
    "pending": "cyan",
    "queued": "blue",
    "error": "yellow",
    "dead": "bold red",
    "quarantined": "magenta",
    "dropped": "dim",
}

app = typer.Typer(
    name="records",
    invoke_without_command=True,
    no_args_is_help=False,
)


def _decoded(text: Any) -> Any:
    """The target response as stored (JSON text when it was structured) decoded for display."""
    if isinstance(text, str):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def record_document(row: LedgerRow, *, full: bool) -> dict[str, Any]:
    """A ledger row as a JSON-able mapping; ``full`` adds content and target response."""
    doc: dict[str, Any] = {
        "scheme_id": row.scheme_id,
        "record_id": row.record_id,
        "number": row.number,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at,
        "last_error": None if row.last_error is None else redact(row.last_error),
        "window_start": row.window_start,
        "window_end": row.window_end,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "delivered_at": row.delivered_at,
        "run_id": getattr(row, "run_id", None),
    }
    if full:
        doc["content"] = row.content
        doc["target_response"] = _decoded(row.target_response)
    return doc


@app.callback()
@guarded
def records(
    ctx: typer.Context,
    scheme: Annotated[
        str | None, typer.Option("--scheme", help="Only this scheme id.", show_default=False)
    ] = None,
    status: Annotated[
        list[Status] | None,
        typer.Option("--status", help="Only these states (repeatable).", show_default=False),
    ] = None,
    record_id: Annotated[
        str | None, typer.Option("--id", help="Record id; a trailing * matches a prefix.", show_default=False)
    ] = None,
    number: Annotated[
        str | None,
        typer.Option("--number", help="Record number; a trailing * matches a prefix.", show_default=False),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="TIME",
            help="Updated at or after (2024-05-01 08:00:00, or 2h).",
            show_default=False,
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", metavar="TIME", help="Updated before this time.", show_default=False),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000, help="Rows to show.")] = 100,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Rows to skip (paging).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Search ledger records, most recently updated first.

    Times without a zone are Asia/Shanghai; the table shows them the same way.

    Example:

        ferry records --scheme kuaimai-aftersale --status error --status dead --since 1d
    """
    if ctx.invoked_subcommand is not None:
        return
    since_at = parse_time(since, option="'--since'") if since else None
    until_at = parse_time(until, option="'--until'") if until else None
    with open_store() as store:
        rows = store.find_records(
            scheme,
            status=[s.value for s in status] if status else None,
            record_id=record_id,
            number=number,
            since=since_at,
            until=until_at,
            limit=limit,
            offset=offset,
        )
    if as_json:
        print_json([record_document(row, full=False) for row in rows])
        raise typer.Exit(EXIT_OK)
    if not rows:
        echo("no records match", style="dim")
        raise typer.Exit(EXIT_OK)
    console = stdout_console()
    console.print(_records_table(rows, console.width))
    more = " (more may match: raise --limit or use --offset)" if len(rows) == limit else ""
    echo(f"{len(rows)} record{'s' if len(rows) != 1 else ''}{more}", style="dim")
    raise typer.Exit(EXIT_OK)


def _records_table(rows: list[LedgerRow], width: int) -> Table:
    """The search result table; the last error gets the width the other columns leave."""
    headers = ("scheme", "id", "number", "status", "attempts", "next attempt", "last error")
    cells = [
        (
            row.scheme_id,
            row.record_id,
            row.number or "",
            Text(row.status, style=STATUS_STYLES.get(row.status, "")),
            str(row.attempts),
            fmt_time(row.next_attempt_at) if row.status in ("pending", "error") else "",
            truncate(redact(row.last_error or ""), 1000),
        )
        for row in rows
    ]
    return fitted_table(headers, cells, width=width, right={"attempts"}, flex="last error")


@app.command("show")
@guarded
def show(
    scheme: Annotated[str, typer.Argument(help="Scheme id.", show_default=False)],
    record_id: Annotated[str, typer.Argument(metavar="ID", help="Record id.", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Print one ledger record: its state, every delivery attempt, source content, last error
    and target response.

    Example:

        ferry records show kuaimai-aftersale 2024050100012-0
    """
    with open_store() as store:
        row = store.get_record(scheme, record_id)
        history = store.record_history(scheme, record_id) if row is not None else []
    if row is None:
        fail(
            f"no record {record_id!r} in scheme {scheme!r}",
            EXIT_INVALID,
            hint=f"search with: ferry records --scheme {scheme} --id '{record_id[:20]}*'",
        )
    doc = record_document(row, full=True)
    doc["attempt_history"] = [
        {
            **h,
            "error": h["error"] and redact(h["error"]),
            "at": fmt_time(h["at"]),
            "next_attempt_at": h["next_attempt_at"] and fmt_time(h["next_attempt_at"]),
        }
        for h in history
    ]
    if as_json:
        print_json(doc)
        raise typer.Exit(EXIT_OK)
    echo(f"record {row.record_id} of scheme {row.scheme_id}", style="bold")
    for key in ("number", "status", "attempts", "run_id"):
        echo(f"  {key.replace('_', ' ')}: {'' if doc[key] is None else doc[key]}")
    for key in ("next_attempt_at", "window_start", "window_end", "created_at", "updated_at", "delivered_at"):
        if doc[key] is not None:
            echo(f"  {key.replace('_', ' ')}: {fmt_time(doc[key])}")
    echo("attempts:", style="bold")
    for h in doc["attempt_history"]:
        retry = f", retry at {h['next_attempt_at']}" if h["next_attempt_at"] else ""
        echo(f"  #{h['attempt']} {h['at']} {h['status']} (run {h['run_id']}){retry}: {h['error']}")
    if row.status == "finished":
        echo(f"  #{row.attempts} {fmt_time(doc['delivered_at'])} finished (run {row.run_id})")
    elif not history:
        echo("  (none yet)" if row.attempts == 0 else f"  {row.attempts} attempt(s), now {row.status}")
    echo("content:", style="bold")
    print_json(row.content)
    echo("last error:", style="bold")
    echo(f"  {doc['last_error']}" if doc["last_error"] else "  (none)")
    echo("target response:", style="bold")
    if doc["target_response"] is None:
        echo("  (none)")
    else:
        print_json(doc["target_response"])
    raise typer.Exit(EXIT_OK)


def register(main: typer.Typer) -> None:
    """Add the ``records`` group to ``main``."""
    main.add_typer(app)
