"""Benchmark: local paginated HTTP source -> MariaDB upsert, three contenders side by side.

Measured in the same run against the same local API (``python -m ferry.demo`` in its own
process, the same data and pages of 1,000) and the same MariaDB, each contender writing the
same flattened order lines into a fresh database (``contenders.py`` says what each one does):
- ``minimal``: a hand-written sync (httpx pages + flatten + PyMySQL ``executemany`` REPLACE
  INTO, no ledger, no DSL): the baseline;
- ``ferry``: Ferry running the demo schemes (products, then orders flattened per item with a
  ``_findCollection`` lookup and a ``_function``) with its SQLite ledger;
- ``dlt``: ``@dlt.resource`` with ``primary_key`` and ``write_disposition="merge"``, the
  sqlalchemy destination with the primary key created (needs the ``bench`` extra:
  ``pip install -e '.[bench]'``; without dlt the bench says so and runs the other two).

The contenders run round-robin, once each per repeat, and are compared by their medians
(a shared, noisy machine moves single runs by +-20%): records/s, the ratio to the minimal
sync, and Ferry / dlt (docs/architecture.md §8 asks for >= 1.0 and >= 3). After every run
the rows in the contender's ``order_lines`` are counted; all must be equal.

Usage: python tests/bench/bench_http_to_mariadb.py [--lines 200000] [--repeat 3]
       [--contenders minimal,ferry,dlt] [--settings '{"deliver_workers": 2}']
Another checkout ("before" figures): PYTHONPATH=<checkout>/src python tests/bench/bench_http_to_mariadb.py
Peak memory: tests/bench/bench_rss.py. Not part of the test run; never asserts a timing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from collections.abc import Callable
from typing import Any

import contenders as c

LABELS = {
    "minimal": "minimal sync (httpx + executemany)",
    "ferry": "ferry (ledger + DSL + delivery)",
    "dlt": "dlt {version} (resource, merge, sqlalchemy)",
}


def make_run_ferry(settings: dict[str, Any]) -> Callable[[str, str], tuple[int, float]]:
    def run_ferry(url: str, database: str) -> tuple[int, float]:
        result = c.ferry(url, database, settings=settings)
        return result["orders"]["delivered"], result["orders"]["seconds"]

    return run_ferry


def run_dlt(url: str, database: str) -> tuple[int, float]:
    result = c.dlt(url, database)
    return result["loaded"], result["seconds"]


def one_run(name: str, run: Callable[[str, str], tuple[int, float]], url: str) -> tuple[int, float, int]:
    """(records the contender reports, seconds, rows counted in its ``order_lines``)"""
    database = c.fresh_database(tables=name != "dlt")  # dlt creates its own table and key
    try:
        records, seconds = run(url, database)
        return records, seconds, c.count_lines(database)
    finally:
        c.drop_database(database)


def choose_contenders(asked: str | None) -> tuple[list[str], str | None]:
    """The contenders to run and dlt's version; exits when dlt is asked for but missing."""
    version = c.dlt_version()
    names = asked.split(",") if asked else ["minimal", "ferry", "dlt"]
    unknown = sorted(set(names) - set(LABELS))
    if unknown:
        raise SystemExit(f"unknown contender(s) {', '.join(unknown)}; known: {', '.join(LABELS)}")
    if "dlt" in names and version is None:
        if asked:
            raise SystemExit("dlt is not installed: pip install -e '.[bench]' (or drop it from --contenders)")
        print("dlt is not installed (pip install -e '.[bench]'): running minimal and ferry only")
        names.remove("dlt")
    return names, version


def print_table(names: list[str], rates: dict[str, list[float]], version: str | None) -> None:
    medians = {name: statistics.median(rates[name]) for name in names}
    print(f"\n{'contender':<46}{'records/s':>12}{'vs minimal':>12}   (medians of {len(rates[names[0]])})")
    for name in names:
        ratio = f"{medians[name] / medians['minimal']:>12.2f}" if "minimal" in medians else f"{'-':>12}"
        goal = "   (goal >= 1.00)" if name == "ferry" and "minimal" in medians else ""
        print(f"{LABELS[name].format(version=version):<46}{medians[name]:>12,.0f}{ratio}{goal}")
    if "ferry" in medians and "dlt" in medians:
        print(f"{'ferry / dlt':<46}{medians['ferry'] / medians['dlt']:>12.2f}   (goal >= 3.00)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000, help="about this many flattened order lines")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each contender, round-robin")
    parser.add_argument("--contenders", help="comma-separated, from minimal,ferry,dlt (default: all)")
    parser.add_argument("--settings", default="{}", help="JSON merged into Ferry's orders scheme settings")
    args = parser.parse_args()
    names, version = choose_contenders(args.contenders)
    runs = {"minimal": c.minimal_sync, "ferry": make_run_ferry(json.loads(args.settings)), "dlt": run_dlt}
    checkout = c.ferry_checkout()
    print(f"ferry from {checkout or 'an installed package'}; dlt {version or 'not installed'}")
    if args.repeat < 3:
        print(f"--repeat {args.repeat}: a check only, a comparison takes medians of 3 or more")

    rates: dict[str, list[float]] = {name: [] for name in names}
    counted: dict[str, set[int]] = {name: set() for name in names}
    source, url = c.start_source(int(args.lines / c.LINES_PER_ORDER))
    try:
        for repeat in range(1, args.repeat + 1):
            parts = []
            for name in names:
                records, seconds, rows = one_run(name, runs[name], url)
                rates[name].append(records / seconds)
                counted[name].update({records, rows})
                parts.append(f"{name} {rates[name][-1]:,.0f} records/s ({seconds:.2f} s)")
            print(f"  run {repeat}: " + ", ".join(parts))
    finally:
        c.stop_source(source)

    print_table(names, rates, version)
    return check_counts(counted)


def check_counts(counted: dict[str, set[int]]) -> int:
    """0 when every run of every contender reported and left the same number of order lines."""
    numbers = set().union(*counted.values())
    if len(numbers) == 1:
        print(f"order lines: {numbers.pop():,} reported and counted in order_lines by every run")
        return 0
    seen = ", ".join(f"{name} {sorted(n)}" for name, n in counted.items())
    print(f"MISMATCH: the contenders did not all write the same order lines: {seen}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
