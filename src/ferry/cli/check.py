"""``ferry check SCHEME...``: log in and connect for real, before the first run."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ferry.cli._common import EXIT_INVALID, EXIT_OK, echo, guarded, open_store, redact, stdout_console
from ferry.cli._load import load_schemes
from ferry.cli._sample import CheckSample, SampleFrom

if TYPE_CHECKING:
    from ferry.engine.checks import CheckResult
    from ferry.scheme.model import Scheme
    from ferry.store import Store

__all__ = ["check", "print_checks", "register"]


def print_checks(results: Sequence[CheckResult]) -> int:
    """Print the results as a table (connection, scheme, result, hint); how many failed."""
    table = Table(title="checks", title_justify="left", show_lines=False)
    for header in ("connection", "scheme", "side", "result", "hint"):
        table.add_column(header, overflow="fold")
    for r in results:
        verdict = "ok: " if r.ok else "FAILED: "
        table.add_row(
            redact(r.connection),
            r.scheme_id,
            r.side,
            verdict + redact(r.result),
            redact(r.hint or ""),
            style=None if r.ok else "red",
        )
    stdout_console().print(table)
    return sum(1 for r in results if not r.ok)


CHECK_WINDOWS = 31
"""Windows ``ferry check --sample live`` asks at most (a month of daily windows: it stays quick;
``ferry preview`` walks further)."""


def _sample(
    schemes: Sequence[Scheme],
    results: Sequence[CheckResult],
    store: Store,
    origin: SampleFrom,
    max_windows: int,
) -> None:
    """Check the placeholders of each scheme whose source check passed (live) against sample records."""
    from ferry.cli._sample import sample_schemes

    reached = {r.scheme_id for r in results if r.side == "source" and r.ok}
    chosen = [s for s in schemes if origin is SampleFrom.ledger or s.id in reached]
    if chosen:
        echo()
        sample_schemes(chosen, origin, store, max_windows=max_windows)


def _create(schemes: Sequence[Scheme], sandbox_rows: bool) -> int:
    """Create each SQL target's database and tables; how many failed (each printed)."""
    from ferry.engine.checks import create_tables
    from ferry.errors import ConfigError
    from ferry.sandbox.seeds import SIZE_VARIABLE
    from ferry.sandbox.seeds import sandbox_rows as rows_of

    rows = rows_of(int(os.environ.get(SIZE_VARIABLE) or 200)) if sandbox_rows else None
    failed = 0
    for scheme in schemes:
        try:
            done = create_tables(scheme, rows=rows)
        except ConfigError as exc:
            failed += 1
            for i, line in enumerate(redact(str(exc)).splitlines()):
                echo(f"{scheme.id}: {line}" if i == 0 else line, style="red" if i == 0 else None, err=True)
            continue
        echo(f"{scheme.id}: {done}")
    return failed


@guarded
def check(
    schemes: Annotated[
        list[Path],
        typer.Argument(metavar="SCHEME", help="Scheme files to check.", show_default=False),
    ],
    create_tables: Annotated[
        bool,
        typer.Option(
            "--create-tables",
            help="First create each SQL target's database (the one its URL, or its statements' "
            "qualifier, names) and run the schema.sql beside the scheme file in it.",
        ),
    ] = False,
    sandbox_rows: Annotated[
        bool,
        typer.Option(
            "--sandbox-rows",
            help="With --create-tables: also add the rows the systems beside `ferry sandbox` hold "
            "(seed 000's MES knows the sandbox's sales orders). For the sandbox only.",
        ),
    ] = False,
    sample: Annotated[
        CheckSample,
        typer.Option(
            "--sample",
            help="Check each scheme's placeholders against sample records: one page of the live "
            "source (the first of the windows a run would read that holds records), the newest "
            "ledger rows, or off. Missing ones are warnings; they never fail the check.",
        ),
    ] = CheckSample.live,
    max_windows: Annotated[
        int,
        typer.Option(
            "--max-windows",
            min=1,
            max=100_000,
            help="With --sample live: windows asked at most while looking for one with records.",
        ),
    ] = CHECK_WINDOWS,
) -> None:
    """Log in and connect for real, per connection, before the first run.

    For each scheme: the source's current window is asked for its first page (a vendor logs
    in and signs as it always does; nothing is stored); a SQL target connects and the tables
    and columns its main_sql/extend_sql write (and an UPDATE's key columns) must exist; a
    K3Cloud or KIS target logs in. Nothing is written (but by --create-tables). Prints
    connection -> result -> hint. Exit code 0 when every check passed, 2 when any failed
    (`ferry serve` runs the same checks at start).

    Then each scheme's placeholders are checked against sample records (--sample): every
    `{field}` of the target request, `_function` and lookup, and every condition field, that
    no sampled record has (nor the source's `response` declares) is printed as a warning with
    its path and a did-you-mean. Warnings do not change the exit code.

    Example:

        ferry --env-file .env check --create-tables examples/*/scheme.yaml
    """
    from ferry.engine.checks import check_schemes

    if sandbox_rows and not create_tables:
        raise typer.BadParameter(
            "adds rows to the tables --create-tables creates", param_hint="'--sandbox-rows'"
        )
    loaded = load_schemes(schemes)
    failed = _create(loaded, sandbox_rows) if create_tables else 0
    with open_store() as store:
        results = check_schemes(loaded, store)
        failed += print_checks(results)
        if sample is not CheckSample.off:
            _sample(loaded, results, store, SampleFrom(sample.value), max_windows)
    if failed:
        echo(
            f"{failed} check{'s' if failed != 1 else ''} failed; fix them and run ferry check again",
            style="bold red",
        )
        raise typer.Exit(EXIT_INVALID)
    echo(f"{len(results)} checks passed", style="bold green")
    raise typer.Exit(EXIT_OK)


def register(app: typer.Typer) -> None:
    """Add ``check`` to ``app``."""
    app.command("check")(check)
