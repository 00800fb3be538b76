"""``ferry reconcile``: compare a range of the source with the ledger, window by window."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ferry.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    echo,
    guarded,
    open_store,
    parse_time,
    print_json,
    stdout_console,
)
from ferry.cli._load import load_schemes
from ferry.cli._tables import fitted_table

if TYPE_CHECKING:
    from ferry.engine.reconcile import ReconcileReport

__all__ = ["reconcile", "register"]

TIME = "'YYYY-MM-DD HH:MM:SS'"


@guarded
def reconcile(
    scheme_file: Annotated[Path, typer.Argument(metavar="SCHEME", help="Scheme file.", show_default=False)],
    since: Annotated[
        str,
        typer.Option(
            "--since", metavar=TIME, help="Start of the range (in the scheme's zone).", show_default=False
        ),
    ],
    until: Annotated[
        str | None,
        typer.Option("--until", metavar=TIME, help="End of the range (default: now).", show_default=False),
    ] = None,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair", help="Queue the missing records (and changed ones under on_change: redeliver)."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Re-scan [since, until) of the source and report, per window, what the ledger misses.

    Reads the source exactly as collecting does (same request, filter and beatFlat) and
    writes nothing, unless --repair: then the missing records go into the ledger as pending
    and the next delivery sends them. Exit code 0 when nothing is missing (or all of it was
    repaired), 1 when records are missing, 2 on invalid input.

    Example:

        ferry reconcile examples/002-jushuitan-otherinout-to-kis/scheme.yaml --since "2024-05-01 00:00:00" --repair
    """
    from datetime import datetime

    from ferry.connectors.registry import build_source
    from ferry.engine.reconcile import reconcile as run_reconcile
    from ferry.transform.plan import compile_scheme

    (scheme,) = load_schemes([scheme_file])
    start = parse_time(since, option="'--since'", tz=scheme.tz)
    end = parse_time(until, option="'--until'", tz=scheme.tz) if until else datetime.now(scheme.tz)
    if end <= start:
        raise typer.BadParameter("must be after --since", param_hint="'--until'")
    source = build_source(compile_scheme(scheme).source.connection)
    try:
        with open_store() as store:
            report = run_reconcile(scheme, store, source, since=start, until=end, repair=repair)
    finally:
        source.close()
    if as_json:
        print_json(
            {
                "scheme": report.scheme_id,
                "since": start.isoformat(),
                "until": end.isoformat(),
                "missing": report.missing,
                "changed": report.changed,
                "extra": report.extra,
                "repaired": report.repaired,
                "windows": [w.as_dict() for w in report.windows],
            }
        )
    else:
        _print_report(report, f"ferry reconcile {scheme_file} --since '{since}' --repair", repair=repair)
    raise typer.Exit(EXIT_FAILED if report.missing and not repair else EXIT_OK)


def _print_report(report: ReconcileReport, again: str, *, repair: bool) -> None:
    """The per-window table, the totals and the missing ids; ``again`` repairs them."""
    console = stdout_console()
    headers = [
        "window",
        "source",
        "api total",
        "ledger",
        "delivered",
        "missing",
        "changed",
        "extra",
        "repaired",
    ]
    cells = [
        [
            str(w.window),
            f"{w.source:,}",
            "" if w.source_total is None else f"{w.source_total:,}",
            f"{w.ledger:,}",
            f"{w.delivered:,}",
            f"{len(w.missing):,}",
            f"{len(w.changed):,}",
            f"{len(w.extra):,}",
            f"{w.repaired:,}",
        ]
        for w in report.windows
    ]
    console.print(fitted_table(headers, cells, width=console.width, right=set(headers[1:])))
    echo(
        f"{report.scheme_id}: {report.missing:,} missing, {report.changed:,} changed, "
        f"{report.extra:,} extra, {report.repaired:,} repaired",
        style="bold",
    )
    for w in report.windows:
        if w.missing:
            shown = ", ".join(w.missing[:10]) + (" ..." if len(w.missing) > 10 else "")
            echo(f"  missing in {w.window}: {shown}")
    if report.missing and not repair:
        echo(f"  queue them with: {again}", style="yellow")


def register(app: typer.Typer) -> None:
    """Add ``reconcile`` to ``app``."""
    app.command("reconcile")(reconcile)
