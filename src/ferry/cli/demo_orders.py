"""``ferry demo-orders``: the throughput demo on the embedded default, with no service but SQLite.

Starts the in-process demo API (paginated JSON with nested order items), then runs the two
demo schemes (``src/ferry/demo/schemes``): products, then orders flattened by item, mapped
with a ``_findCollection`` lookup and a ``_function`` into ``$FERRY_HOME/demo.db``.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Annotated

import typer

from ferry.cli._common import EXIT_OK, echo, guarded, open_store, stdout_console
from ferry.cli._progress import LiveReporter, reporter_for
from ferry.cli.run import print_report

__all__ = ["SCHEMES_DIR", "demo_orders", "register"]

SCHEMES_DIR = Path(__file__).resolve().parents[1] / "demo" / "schemes"
DEMO_UNTIL = "2024-06-02 00:00:00"
"""The demo data ends on 2024-06-01; collecting up to this fixed time makes every run repeatable."""


def _ferry_home() -> Path:
    home = Path(os.environ.get("FERRY_HOME", ".ferry"))
    home.mkdir(parents=True, exist_ok=True)
    return home


def _prepare_target(path: Path) -> None:
    con = sqlite3.connect(path)
    try:
        con.executescript((SCHEMES_DIR / "schema.sql").read_text(encoding="utf-8"))
    finally:
        con.close()


@guarded
def demo_orders(
    orders: Annotated[int, typer.Option("--orders", min=1, help="Orders the demo API serves.")] = 20_000,
    products: Annotated[int, typer.Option("--products", min=1, help="Products in the catalogue.")] = 500,
    latency_ms: Annotated[float, typer.Option("--latency-ms", min=0, help="Added latency per API call.")] = 0,
) -> None:
    """Run the throughput demo on SQLite: a demo orders API -> ledger -> SQLite table.

    Serves a paginated JSON API in-process, collects products and orders (orders are
    flattened per item and filtered), maps each line with a lookup and a _function, and
    writes them with REPLACE INTO into $FERRY_HOME/demo.db (FERRY_HOME defaults to ./.ferry).
    Running it again delivers nothing twice.

    Example:

        ferry demo-orders --orders 5000
    """
    from ferry.cli._common import parse_time
    from ferry.demo.server import DemoSource
    from ferry.engine.pacing import RateSharing
    from ferry.engine.runner import run_scheme
    from ferry.scheme.loader import load_scheme

    home = _ferry_home()
    target_db = (home / "demo.db").resolve()
    _prepare_target(target_db)
    console = stdout_console()
    worst = EXIT_OK
    with DemoSource(n_orders=orders, n_products=products, latency_ms=latency_ms) as source:
        env = {**os.environ, "FERRY_DEMO_URL": source.base_url, "FERRY_DEMO_DB": str(target_db)}
        echo(f"demo API: {source.base_url} ({orders:,} orders, {products:,} products)", style="bold")
        with open_store() as store:
            for name in ("products.yaml", "orders.yaml"):
                scheme = load_scheme(SCHEMES_DIR / name, env=env)
                now = parse_time(DEMO_UNTIL, option="'--until'", tz=scheme.tz)
                with reporter_for(scheme.id, console) as reporter:
                    report = run_scheme(
                        scheme, store, now=now, progress=reporter, rates=RateSharing.from_env()
                    )
                    if isinstance(reporter, LiveReporter):
                        reporter.finish()
                print_report(report)
                worst = max(worst, report.exit_code)
            store_url = store.url
    with sqlite3.connect(target_db) as con:
        lines = con.execute("SELECT count(*) FROM order_lines").fetchone()[0]
    echo("")
    echo(f"target: {target_db} (order_lines: {lines:,} rows)", style="bold")
    echo(f"  sqlite3 {target_db} 'SELECT * FROM order_lines LIMIT 5'")
    echo(f"ledger: {store_url}")
    echo("  ferry records --scheme demo-orders --limit 5     ferry runs")
    raise typer.Exit(worst)


def register(app: typer.Typer) -> None:
    """Add ``demo-orders`` to ``app``."""
    app.command("demo-orders")(demo_orders)
