"""``ferry demo``: the main job. The five seed schemes against the in-process sandbox, into SQLite.

Starts the six vendor simulators in-process (no network, no service), runs the two helper
schemes and the five seed schemes of ``examples/`` once each, and prints per scheme what was
fetched, filtered, delivered and failed, and where to look. Everything the demo keeps is in
its own folder, ``$FERRY_HOME/demo`` (the ledger ``ferry.db``, the seeds' MySQL targets as
SQLite files, what the K3Cloud and KIS simulators hold), so it never mixes with the store of
``ferry serve`` or ``ferry run`` in the same folder, and a second run starts the simulators
with what the first delivered into them.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from ferry.cli._common import EXIT_OK, echo, guarded, stdout_console
from ferry.cli._progress import LiveReporter, reporter_for

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
        int, typer.Option("--size", min=1, max=100_000, help="Records each simulator holds.")
    ] = 200,
) -> None:
    """Run the five seed schemes end to end against the in-process sandbox, into SQLite.

    The simulators of K3Cloud, KIS, JuShuiTan, WangDianTong, KuaiMai and OKKI run inside this
    process. Seeds 000/001 write into SQLite stand-ins of their MySQL databases, 002-004 into
    the KIS and K3Cloud simulators. Everything stays in $FERRY_HOME/demo (FERRY_HOME defaults
    to ./.ferry): its own ledger (--store does not apply), the targets and what the simulators
    hold, so a second run delivers nothing twice and still shows what the first delivered.
    Records a target rejects (seed 004 has receipts whose sales order does not exist) are shown
    as failed and kept for replay; the exit code is 1 only if a scheme's run failed.

    Example:

        ferry demo --size 500
    """
    from ferry.sandbox import Sandbox
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
    sandbox = Sandbox.default(size=size)
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

    summary = Table(title="seed schemes", title_justify="left")
    for header in ("scheme", "status", "fetched", "filtered out", "delivered", "failed", "dead", "seconds"):
        summary.add_column(header, justify="left" if header in ("scheme", "status") else "right")
    worst = EXIT_OK
    with open_store(f"sqlite:///{home / 'ferry.db'}") as store:
        for seed, report in run_seeds(
            store,
            sandbox=sandbox,
            env=env,
            connections=lambda s: sqlite_connections(s, files),
            progress=progress,
        ):
            c = report.counts
            summary.add_row(
                report.scheme_id if not seed.helper else f"{report.scheme_id} (helper)",
                report.status,
                f"{c.fetched:,}",
                f"{c.filtered_out:,}",
                f"{c.delivered:,}",
                f"{c.failed:,}",
                f"{c.dead:,}",
                f"{c.duration_s:.2f}",
            )
            if report.error:
                echo(f"{report.scheme_id}: {report.error.splitlines()[0]}", style="red", err=True)
            if report.status in ("failed", "invalid"):
                worst = max(worst, report.exit_code)
        store_url = store.url
    console.print(summary)
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
