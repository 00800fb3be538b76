"""``ferry replay SCHEME ...``: send ledger records back to ``pending`` so they are delivered again.

Replay needs only the scheme id and the store. The records go out with the scheme's next
delivery: ``ferry run SCHEME.yaml --deliver-only`` (or the scheduler), or at once when
``--run SCHEME.yaml`` is given. Target writes are idempotent, so replaying a record that did
arrive is harmless.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ferry._text import printable
from ferry.cli._common import (
    EXIT_INVALID,
    EXIT_OK,
    echo,
    fail,
    guarded,
    open_store,
    parse_time,
    stdout_console,
)
from ferry.cli._load import load_schemes
from ferry.cli._progress import LiveReporter, reporter_for

__all__ = ["register", "replay"]


class ReplayStatus(StrEnum):
    """States a replay may select (typer needs an Enum for a repeatable choice)."""

    error = "error"
    dead = "dead"
    finished = "finished"


def _check_ids(record_ids: list[str]) -> None:
    """Refuse an id that would select every record (blank, or only wildcards such as ``*``)."""
    from ferry.store import selects_everything

    wild = next((rid for rid in record_ids if selects_everything(rid)), None)
    if wild is not None:
        raise typer.BadParameter(
            f"{printable(repr(wild))} is blank or only wildcards, which would replay every record; "
            "give exact record ids, or --status / --window",
            param_hint="'--id'",
        )


def _span(window: tuple[str, str] | None) -> tuple[datetime, datetime] | None:
    """``--window START END`` as times, START before END."""
    if window is None:
        return None
    span = (
        parse_time(window[0], option="'--window' START"),
        parse_time(window[1], option="'--window' END"),
    )
    if span[0] >= span[1]:
        raise typer.BadParameter(
            f"START {window[0]!r} must be before END {window[1]!r}", param_hint="'--window'"
        )
    return span


@guarded
def replay(
    scheme_id: Annotated[
        str, typer.Argument(metavar="SCHEME", help="Scheme id (not a file).", show_default=False)
    ],
    record_ids: Annotated[
        list[str] | None, typer.Option("--id", help="Record id to replay (repeatable).", show_default=False)
    ] = None,
    status: Annotated[
        list[ReplayStatus] | None,
        typer.Option("--status", help="Replay records in this state (repeatable).", show_default=False),
    ] = None,
    window: Annotated[
        tuple[str, str] | None,
        typer.Option(
            "--window",
            metavar="START END",
            help="Replay records collected in windows starting in [START, END).",
            show_default=False,
        ),
    ] = None,
    run_file: Annotated[
        Path | None,
        typer.Option(
            "--run",
            metavar="SCHEME.yaml",
            help="Deliver the replayed records now with this scheme file (same as ferry run --deliver-only).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Set matching records back to pending and print how many; the next delivery sends them.

    Give at least one of --id, --status, --window; given together, a record must match all.
    --id takes exact ids: a blank id or one made only of wildcards (*, %, ?, _) is refused, as
    it would replay everything. Without --status every matching record is replayed whatever
    its state (except one being delivered right now). Deliver them with
    `ferry run SCHEME.yaml --deliver-only`, or add --run SCHEME.yaml to deliver at once.
    Exit code 2 for an unknown scheme or bad options.

    Example:

        ferry replay kuaimai-aftersale --status dead --window "2024-05-01" "2024-05-02" --run scheme.yaml
    """
    if not (record_ids or status or window):
        raise typer.BadParameter("say which records to replay", param_hint="'--id' / '--status' / '--window'")
    _check_ids(record_ids or [])
    span = _span(window)
    scheme = None
    if run_file is not None:
        (scheme,) = load_schemes([run_file])
        if scheme.id != scheme_id:
            fail(
                f"{run_file} is scheme {scheme.id!r}, not {scheme_id!r}",
                EXIT_INVALID,
                hint="give --run the file of the scheme you replay",
            )
    with open_store() as store:
        known = [str(s.get("id")) for s in store.list_schemes()]
        if scheme_id not in known:
            fail(
                f"unknown scheme {scheme_id!r} in this store",
                EXIT_INVALID,
                hint=f"known schemes: {', '.join(known)}"
                if known
                else "no scheme has run against this store yet",
            )
        count = store.replay(
            scheme_id,
            record_ids=list(record_ids) if record_ids else None,
            status=[s.value for s in status] if status else None,
            window=span,
        )
        echo(
            f"{count:,} record{'s' if count != 1 else ''} of scheme {scheme_id} set back to pending",
            style="bold",
        )
        if count.kept:
            echo(
                f"{count.kept:,} dead letter{'s' if count.kept != 1 else ''} from collecting left as "
                f"{'they are' if count.kept != 1 else 'it is'}: a record without an id or that could not "
                "be read has nothing to deliver again; fix it at the source (see: ferry records "
                f"--scheme {scheme_id} --status dead)",
                style="yellow",
            )
        if scheme is None:
            if count:
                echo(f"deliver them with: ferry run <{scheme_id} scheme file> --deliver-only", style="dim")
            raise typer.Exit(EXIT_OK)
        from ferry.cli.run import print_report
        from ferry.engine.pacing import RateSharing
        from ferry.engine.runner import run_scheme

        with reporter_for(scheme.id, stdout_console()) as reporter:
            report = run_scheme(
                scheme, store, collect=False, deliver=True, progress=reporter, rates=RateSharing.from_env()
            )
            if isinstance(reporter, LiveReporter):
                reporter.finish()
    print_report(report)
    raise typer.Exit(report.exit_code)


def register(app: typer.Typer) -> None:
    """Add ``replay`` to ``app``."""
    app.command("replay")(replay)
