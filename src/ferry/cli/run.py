"""``ferry run SCHEME.yaml...``: collect and deliver, with live progress and a summary table."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from ferry.cli._common import EXIT_OK, echo, guarded, open_store, parse_time, redact, state, stdout_console
from ferry.cli._counts import print_accounting, print_accounting_notes, print_missing
from ferry.cli._load import load_schemes
from ferry.cli._progress import LiveReporter, reporter_for

if TYPE_CHECKING:
    from ferry.engine.runner import RunReport

__all__ = ["print_report", "register", "run"]

STATUS_STYLES = {
    "succeeded": "bold green",
    "partial": "bold yellow",
    "failed": "bold red",
    "invalid": "bold red",
}


def print_report(report: RunReport) -> None:
    """Print one scheme's outcome: a status line, the accounting table, what the scheme still
    has waiting (even when this run delivered nothing), the target fields whose placeholders
    found nothing in some records, and the error, if any."""
    console = stdout_console()
    style = STATUS_STYLES.get(report.status, "bold")
    run = f" (run {report.run_id})" if report.run_id is not None else ""
    console.print(
        Text.assemble((report.scheme_id, "bold"), ": ", (report.status, style), run), soft_wrap=True
    )
    counts = report.counts
    print_accounting(console, [], [([], counts, [f"{counts.duration_s:.2f}s"])], ["duration"])
    if counts.recovered:
        echo(
            f"{counts.recovered:,} record{'s' if counts.recovered != 1 else ''} recovered that a first pass "
            f"missed ({counts.verified:,} window re-reads; see: ferry runs show {report.run_id})",
            style="cyan",
        )
    print_accounting_notes(report.scheme_id, counts)
    print_missing(report.misses.as_dict())
    if report.error:
        lines = redact(report.error).splitlines()
        # An engine bug comes with its traceback: only --debug shows it. Other errors are
        # composed messages (an issue list, a hint) and are shown whole.
        bug = report.error.startswith("internal error")
        shown = lines[:1] if bug and not state().debug else lines
        echo(f"error: {shown[0]}" if shown else "error", style="red", err=True)
        for line in shown[1:]:
            echo(line, err=True)
        if report.run_id is not None:
            echo(f"  details: ferry runs show {report.run_id}", err=True)


@guarded
def run(
    schemes: Annotated[
        list[Path],
        typer.Argument(
            metavar="SCHEME",
            help="Scheme files, run in this order (lookup schemes first).",
            show_default=False,
        ),
    ],
    collect_only: Annotated[
        bool, typer.Option("--collect-only", help="Only fetch into the ledger; deliver nothing.")
    ] = False,
    deliver_only: Annotated[
        bool, typer.Option("--deliver-only", help="Only deliver pending records; fetch nothing.")
    ] = False,
    remedy: Annotated[
        bool,
        typer.Option(
            "--remedy", help="Run the omissionRemedy (补漏) sweep instead of the incremental windows."
        ),
    ] = False,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            metavar="'YYYY-MM-DD HH:MM:SS'",
            help="Collect windows up to this time instead of now (naive times are in the scheme's zone).",
            show_default=False,
        ),
    ] = None,
    fail_fast: Annotated[
        bool,
        typer.Option(
            "--fail-fast",
            help="Stop at the first scheme whose run fails or that has records failing (this run's or earlier).",
        ),
    ] = False,
) -> None:
    """Run schemes once: collect new source records into the ledger, then deliver them.

    Schemes run one after another in the order given, so a scheme that others look up
    (_mongoQuery, _findCollection) is filled first. Every file is validated before anything
    runs. Exit code 0 when nothing is failing; 1 when a run failed, a record failed or is
    dead, or a scheme still has records failing from an earlier run (even if this run
    delivered nothing); 2 when a scheme or option is invalid.

    Example:

        ferry run examples/products/scheme.yaml examples/stock-in/scheme.yaml --until "2024-05-01 00:00:00"
    """
    from ferry.engine.pacing import RateSharing
    from ferry.engine.runner import run_scheme

    if collect_only and deliver_only:
        raise typer.BadParameter(
            "choose at most one of them", param_hint="'--collect-only' / '--deliver-only'"
        )
    if remedy and deliver_only:
        raise typer.BadParameter(
            "the omissionRemedy sweep collects; drop --deliver-only", param_hint="'--remedy'"
        )
    if until is not None:
        parse_time(until, option="'--until'")  # reject a bad value before loading anything
    loaded = load_schemes(schemes)
    statuses: Counter[str] = Counter()
    worst = EXIT_OK
    console = stdout_console()
    with open_store() as store:
        for scheme in loaded:
            now = parse_time(until, option="'--until'", tz=scheme.tz) if until is not None else None
            with reporter_for(scheme.id, console) as reporter:
                report = run_scheme(
                    scheme,
                    store,
                    collect=not deliver_only,
                    deliver=not collect_only,
                    remedy=remedy,
                    now=now,
                    progress=reporter,
                    rates=RateSharing.from_env(),
                )
                if isinstance(reporter, LiveReporter):
                    reporter.finish()
            print_report(report)
            statuses[report.status] += 1
            worst = max(worst, report.exit_code)
            if fail_fast and report.exit_code != EXIT_OK:
                skipped = len(loaded) - sum(statuses.values())
                if skipped:
                    echo(
                        f"--fail-fast: {skipped} later scheme{'s' if skipped != 1 else ''} not run", err=True
                    )
                break
    if len(loaded) > 1:
        parts = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
        echo(f"{len(loaded)} schemes: {parts}", style="bold")
    raise typer.Exit(worst)


def register(app: typer.Typer) -> None:
    """Add ``run`` to ``app``."""
    app.command("run")(run)
