"""``ferry demo``: the main job. The five seed schemes against the in-process sandbox, into SQLite.

Starts the six vendor simulators in-process (no network, no service), runs the two helper
schemes and the five seed schemes of ``examples/`` once each, and prints per scheme the run's
accounting (every record fetched, stored, delivered, quarantined or failed), which failures were
planned (seed 004's receipts without a sales order), the record seed 001's quality rule held
(KuaiMai work order 4000007) with the commands that fix and release it, and where to look.
Everything the demo keeps is in its own folder, ``$FERRY_HOME/demo`` (the ledger ``ferry.db``,
the seeds' MySQL targets as SQLite files, ``demo.env`` for the printed commands, what the
K3Cloud and KIS simulators hold), so it never mixes with the store of ``ferry serve`` or
``ferry run`` in the same folder, and a second run starts the simulators with what the first
delivered into them.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from ferry.cli._common import EXIT_FAILED, EXIT_OK, echo, guarded, stdout_console
from ferry.cli._counts import print_accounting
from ferry.cli._progress import LiveReporter, reporter_for
from ferry.engine.counts import RunCounts, still_waiting
from ferry.sandbox.planned import PlannedFailures, planned_failures
from ferry.sandbox.quality_demo import SCHEME as QUALITY_SCHEME

if TYPE_CHECKING:
    from ferry.engine.runner import RunReport
    from ferry.store import Store

__all__ = ["demo", "register"]

STATE_FILE = "state.json"
"""What the seeds wrote into the K3Cloud and KIS simulators, loaded again by the next demo."""


def _demo_home() -> Path:
    """``$FERRY_HOME/demo``: the demo's own folder (never the store ``ferry serve`` uses)."""
    home = Path(os.environ.get("FERRY_HOME", ".ferry")) / "demo"
    home.mkdir(parents=True, exist_ok=True)
    return home.resolve()


def _dump_written(sandbox: Any, folder: Path) -> dict[str, Path]:
    """What the seeds wrote into the K3Cloud and KIS simulators, as JSON files to look at."""
    folder.mkdir(parents=True, exist_ok=True)
    documents = {
        "k3cloud-BD_Customer.json": sandbox["k3cloud"].bills("BD_Customer"),
        "k3cloud-SAL_SaleOrder.json": sandbox["k3cloud"].bills("SAL_SaleOrder"),
        "kis-miscellaneousreceipt.json": sandbox["kis"].bills(),
    }
    paths = {}
    for name, rows in documents.items():
        path = folder / name
        path.write_bytes(orjson.dumps(rows, option=orjson.OPT_INDENT_2, default=str))
        paths[name] = path
    return paths


@guarded
def demo(
    size: Annotated[
        int, typer.Option("--size", min=7, max=100_000, help="Records each simulator holds (at least 7).")
    ] = 200,
) -> None:
    """Run the five seed schemes end to end against the in-process sandbox, into SQLite.

    The simulators of K3Cloud, KIS, JuShuiTan, WangDianTong, KuaiMai and OKKI run inside this
    process. Seeds 000/001 write into SQLite stand-ins of their MySQL databases, 002-004 into
    the KIS and K3Cloud simulators. Everything stays in $FERRY_HOME/demo (FERRY_HOME defaults
    to ./.ferry): its own ledger (--store does not apply), the targets and what the simulators
    hold, so a second run delivers nothing twice and still shows what the first delivered.
    The table accounts for every record (fetched = filtered out + without id + unchanged + new
    + changed, in ledger rows; due = delivered + failed + dead + quarantined + still pending).
    Seed 004 has receipts whose sales order does not exist: they fail on purpose, are labelled
    planned with their reason and kept for replay. KuaiMai serves work order 4000007 with a
    status outside the documented ones: seed 001's quality rule quarantines it, and the demo
    prints the rule, the value and the commands that fix and deliver it. Exit code 0 only when
    the failures and the quarantined records are exactly the planned ones, 1 when anything else
    failed, is still failing or is held, 2 for invalid input.

    Example:

        ferry demo --size 500
    """
    from ferry.demo.quality_step import QualityStep
    from ferry.sandbox.seeds import (
        load_state,
        prepare_sqlite_targets,
        run_seeds,
        sandbox_env,
        save_state,
        sqlite_connections,
    )
    from ferry.store import open_store

    home = _demo_home()
    console = stdout_console()
    store = open_store(f"sqlite:///{home / 'ferry.db'}")
    quality = QualityStep.prepare(store, home, size)
    sandbox = quality.sandbox
    kept = load_state(sandbox, home / "sandbox" / STATE_FILE, size)
    files = prepare_sqlite_targets(home, size)
    env = sandbox_env(sandbox)
    echo(
        f"sandbox: 6 simulators in-process, {size:,} records each"
        f"{' (K3Cloud and KIS as the last demo left them)' if kept else ''}; ledger and targets in {home}",
        style="bold",
    )

    def progress(seed: Any, scheme: Any) -> Any:
        # Live progress on a terminal; in a log, the summary table below says it all.
        return _Reporter(reporter_for(scheme.id, console)) if console.is_terminal else nullcontext(None)

    planned = planned_failures(sandbox)
    rows: list[tuple[list[str], RunCounts, list[str]]] = []
    notes: list[tuple[str, str]] = []
    worst = EXIT_OK
    runs: dict[str, int | None] = {}
    with store:
        for seed, report in run_seeds(
            store,
            sandbox=sandbox,
            env=env,
            connections=lambda s: sqlite_connections(s, files),
            progress=progress,
        ):
            c = report.counts
            if report.error:
                echo(f"{report.scheme_id}: {report.error.splitlines()[0]}", style="red", err=True)
            code, lines = _outcome(store, report, planned.get(report.scheme_id))
            worst = max(worst, code)
            notes += lines
            label = f"{report.scheme_id} (helper)" if seed.helper else report.scheme_id
            failing = f"{c.still_failing:,}" + (" planned" if c.still_failing and code == EXIT_OK else "")
            rows.append(([label, report.status], c, [failing, f"{c.duration_s:.2f}"]))
            runs[report.scheme_id] = report.run_id
        code, held = quality.outcome(store, runs.get(QUALITY_SCHEME))
        worst = max(worst, code)
        store_url = store.url
    echo("seed schemes", style="bold")
    print_accounting(console, ["scheme", "status"], rows, ["still failing", "seconds"])
    for line, style in notes + held:
        echo(line, style=style)
    if worst == EXIT_OK:
        echo("result: as planned, nothing else failing (exit 0)", style="bold green")
    else:
        echo(f"result: not as planned (exit {worst})", style="bold red")
    written = _dump_written(sandbox, home / "sandbox")
    save_state(sandbox, home / "sandbox" / STATE_FILE, size)
    echo("Where to look:", style="bold")
    echo(f"  ledger:       {store_url}")
    echo(f"                ferry --store {store_url} runs")
    echo(
        f"                ferry --store {store_url} records --scheme 004-okki-receipts-to-k3cloud --status error"
    )
    echo(
        f"  seed 000:     sqlite3 {home / 'ty_mes.db'} \"select * from mt_so_head where SO_STATUS='CLOSED'\""
    )
    echo(f"  seed 001:     sqlite3 {home / 'bi.db'} 'select * from aftersale_list_query limit 5'")
    for name, path in written.items():
        echo(f"  {name:<30}{path}")
    raise typer.Exit(worst)


def _outcome(
    store: Store, report: RunReport, planned: PlannedFailures | None
) -> tuple[int, list[tuple[str, str]]]:
    """One scheme's exit code in the demo (:attr:`RunReport.exit_code`, except that failures
    which are exactly the ``planned`` ones, each for the planned reason, count as success)
    and the lines to print under the table (with their style)."""
    c = report.counts
    code = report.exit_code
    # Quarantined records are the quality step's (QualityStep.outcome), with the demo's commands.
    waiting = still_waiting(report.scheme_id, replace(c, waiting_quarantined=0))
    if planned is None or code != EXIT_FAILED or report.status == "failed" or c.waiting_pending:
        return code, [(line, "yellow") for line in waiting]
    failing: dict[str, str | None] = {}
    if c.still_failing == len(planned.record_ids):
        found = store.find_records(report.scheme_id, status=["error", "dead"], limit=c.still_failing)
        failing = {row.record_id: row.last_error for row in found}
    if planned.matches(failing):
        line = (
            f"{report.scheme_id}: {c.still_failing:,} records failing as planned: {planned.why} "
            f"({planned.reason}); see them: ferry --store {store.url} records --scheme {report.scheme_id} "
            "--status error"
        )
        return EXIT_OK, [(line, "cyan")]
    unplanned = (
        f"{report.scheme_id}: not the planned failures: {len(planned.record_ids):,} planned "
        f"({planned.why}: {planned.reason}), {c.still_failing:,} failing"
    )
    return EXIT_FAILED, [(line, "yellow") for line in waiting] + [(unplanned, "red")]


class _Reporter:
    """Makes a progress reporter a context manager that finishes the live display."""

    def __init__(self, reporter: Any) -> None:
        self.reporter = reporter

    def __enter__(self) -> Any:
        self.reporter.__enter__()
        return self.reporter

    def __exit__(self, *exc: object) -> None:
        if isinstance(self.reporter, LiveReporter):
            self.reporter.finish()
        self.reporter.__exit__(*exc)


def register(app: typer.Typer) -> None:
    """Add ``demo`` to ``app``."""
    app.command("demo")(demo)
