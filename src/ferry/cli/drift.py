"""``ferry drift``: the schema drift events of a scheme's source, and accepting them."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from typing import Annotated

import typer

from ferry.cli._common import EXIT_OK, echo, fmt_time, guarded, open_store, print_json, stdout_console
from ferry.cli._tables import fitted_table

__all__ = ["app", "register"]

app = typer.Typer(name="drift", no_args_is_help=True)

SchemeArg = Annotated[str, typer.Argument(metavar="SCHEME", help="The scheme id.", show_default=False)]


@app.callback()
def drift() -> None:
    """Schema drift: source fields that appeared, disappeared or changed type (settings.schema_drift).

    Example:

        ferry drift show 001-kuaimai-aftersale-to-mysql && ferry drift accept 001-kuaimai-aftersale-to-mysql
    """


@app.command("show")
@guarded
def show(
    scheme: Annotated[
        str | None, typer.Argument(metavar="[SCHEME]", help="Only this scheme.", show_default=False)
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Accepted events too, not only open ones.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Newest events shown.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List drift events, newest first: field, change, types before and after, run, record."""
    from ferry.store import drift as stored

    with open_store() as store:
        events = stored.list_drift(store, scheme, status=None if every else stored.OPEN, limit=limit)
    if as_json:
        print_json(events)
        raise typer.Exit(EXIT_OK)
    if not events:
        echo("no open schema drift" if not every else "no schema drift recorded")
        raise typer.Exit(EXIT_OK)
    headers = (
        "id",
        "scheme",
        "field",
        "change",
        "before",
        "after",
        "run",
        "record",
        "seen",
        "status",
        "detected",
    )
    rows = [
        (
            str(e["id"]),
            e["scheme_id"],
            e["field"],
            e["change"],
            e["before"] or "",
            e["after"] or "",
            f"#{e['run_id']}" if e["run_id"] else "",
            e["record_id"] or "",
            str(e["occurrences"]),
            e["status"],
            fmt_time(e["detected_at"]),
        )
        for e in events
    ]
    console = stdout_console()
    console.print(
        fitted_table(
            headers,
            rows,
            width=console.width,
            right=("id", "seen"),
            optional=("detected", "record", "scheme"),
        )
    )


@app.command("accept")
@guarded
def accept(
    scheme: SchemeArg,
    by: Annotated[str | None, typer.Option("--by", help="Who accepts (default: the OS user).")] = None,
) -> None:
    """Accept a scheme's open drift: the new fields and types become its known fingerprint.

    Held (quarantine) and failing (fail) drift then passes on the next run; warned drift
    leaves the console badge and the schema_drift alert recovers.
    """
    from ferry.engine.drift import accept_fingerprint
    from ferry.store import drift as stored

    with open_store() as store:
        count = stored.accept_drift(
            store, scheme, accept_fingerprint, by=by or getpass.getuser(), now=datetime.now(UTC)
        )
    echo(f"accepted {count} drift event(s) of {scheme}" if count else f"{scheme} has no open schema drift")


def register(main: typer.Typer) -> None:
    """Add the ``drift`` group to ``main``."""
    main.add_typer(app)
