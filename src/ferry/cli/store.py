"""``ferry store info`` and ``ferry store migrate``: which store is used and its schema revision."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ferry.cli._common import EXIT_OK, echo, guarded, open_store, print_json, redact, state, stdout_console
from ferry.cli._tables import fitted_table

__all__ = ["app", "register"]

app = typer.Typer(name="store", no_args_is_help=True)


@app.callback()
def store() -> None:
    """The store (ledger, cursors, runs): where it is and its schema revision.

    Example:

        ferry --store mysql+pymysql://ferry:pw@db/ferry store info
    """


@app.command("info")
@guarded
def info(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Print the store URL (password masked), its schema revision and records per scheme and state.

    Example:

        ferry store info --json
    """
    with open_store() as st:
        schemes = st.list_schemes()
        counts = {str(s["id"]): st.count_by_status(str(s["id"])) for s in schemes}
        doc: dict[str, Any] = {
            "url": redact(str(getattr(st, "url", state().store_url or ""))),
            "dialect": getattr(st, "dialect", None),
            "revision": st.current_revision(),
            "head": st.head_revision(),
            "schemes": [
                {
                    "id": s["id"],
                    "name": s.get("name"),
                    "enabled": s.get("enabled"),
                    "records": counts[str(s["id"])],
                }
                for s in schemes
            ],
        }
    if as_json:
        print_json(doc)
        raise typer.Exit(EXIT_OK)
    echo(f"store:    {doc['url']} ({doc['dialect']})")
    echo(f"revision: {doc['revision']} (newest known: {doc['head']})")
    if not schemes:
        echo("schemes:  (none yet; a scheme is recorded on its first run)")
        raise typer.Exit(EXIT_OK)
    statuses = ("pending", "queued", "finished", "error", "dead")
    rows = [
        (
            str(item["id"]),
            str(item.get("name") or ""),
            *(f"{counts[str(item['id'])].get(s, 0):,}" for s in statuses),
        )
        for item in schemes
    ]
    console = stdout_console()
    table = fitted_table(("scheme", "name", *statuses), rows, width=console.width, right=statuses)
    console.print(table)
    raise typer.Exit(EXIT_OK)


@app.command("migrate")
@guarded
def migrate() -> None:
    """Bring the store's schema to the newest revision (every command also does this on open).

    Example:

        FERRY_STORE_URL=postgresql+psycopg://ferry@db/ferry ferry store migrate
    """
    with open_store() as st:  # opening migrates
        echo(f"store {redact(str(getattr(st, 'url', '')))} is at revision {st.current_revision()}")
    raise typer.Exit(EXIT_OK)


def register(main: typer.Typer) -> None:
    """Add the ``store`` group to ``main``."""
    main.add_typer(app)
