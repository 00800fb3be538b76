"""A run's accounting as the CLI prints it (``ferry run``, ``ferry demo``, ``ferry serve --once``).

The columns follow the two identities of :mod:`ferry.engine.counts`, left to right:
``fetched + flattened`` split into the collect buckets, then ``due`` split into the deliver
buckets, labelled with the one vocabulary (:func:`~ferry.engine.counts.count_label`). A
column that is zero in every row is dropped when the table does not fit the terminal: the
sums still read true without it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ferry.cli._common import echo
from ferry.cli._tables import Cell, fitted_table, natural_width
from ferry.engine.counts import COLLECT_BUCKETS, DELIVER_BUCKETS, RunCounts, count_label, still_waiting
from ferry.engine.misses import missing_lines

__all__ = ["TABLE_COUNTS", "accounting_table", "print_accounting", "print_accounting_notes", "print_missing"]

TABLE_COUNTS: tuple[str, ...] = (
    "fetched",
    "flattened",
    *COLLECT_BUCKETS,
    "due",
    "delivered",
    "delivered_unchanged",
    *DELIVER_BUCKETS[1:],
)
"""The counts a run table shows, in order."""
_DROP_ORDER = (
    "quarantined",
    "repeated",
    "rejected",
    "delivered_unchanged",
    "no_id",
    "pending",
    "changed",
    "flattened",
    "filtered_out",
    "unchanged",
)
"""Columns that may be dropped when zero in every row, first dropped first (``fetched``,
``new``, ``due``, ``delivered``, ``failed`` and ``dead`` are always shown)."""


def accounting_table(
    lead: Sequence[str],
    rows: Sequence[tuple[Sequence[Cell], RunCounts, Sequence[Cell]]],
    trail: Sequence[str],
    *,
    width: int,
) -> Table | None:
    """A table of runs: the ``lead`` columns (scheme, status ...), the counts of
    :data:`TABLE_COUNTS`, then the ``trail`` columns (duration ...); each row is
    ``(lead cells, counts, trail cells)``. Columns zero in every row are left out, in
    :data:`_DROP_ORDER`, until the table fits ``width`` with room between columns; ``None``
    when it does not fit even then."""
    names = list(TABLE_COUNTS)
    headers = [*lead, *(count_label(n) for n in names), *trail]
    cells = _cells(names, rows)
    zero = [n for n in _DROP_ORDER if not any(getattr(counts, n) for _, counts, _ in rows)]
    _drop_until_roomy(headers, cells, [count_label(name) for name in zero], width)
    if natural_width(headers, cells) > width:
        return None
    right = [h for h in headers if h not in lead]
    return fitted_table(headers, cells, width=width, right=right)


def _cells(
    names: Sequence[str], rows: Sequence[tuple[Sequence[Cell], RunCounts, Sequence[Cell]]]
) -> list[list[Cell]]:
    """The table's cells: each row's lead cells, its ``names`` counts, its trail cells."""
    return [[*head, *(f"{int(getattr(counts, n)):,}" for n in names), *tail] for head, counts, tail in rows]


def _drop_until_roomy(headers: list[str], cells: list[list[Cell]], droppable: list[str], width: int) -> None:
    """Drop the ``droppable`` columns, in order, until the table fits ``width`` with three
    spaces between columns."""
    for header in droppable:
        if natural_width(headers, cells) + 2 * (len(headers) - 1) <= width:
            return
        i = headers.index(header)
        headers.pop(i)
        for row in cells:
            row.pop(i)


def print_accounting(
    console: Console,
    lead: Sequence[str],
    rows: Sequence[tuple[Sequence[Cell], RunCounts, Sequence[Cell]]],
    trail: Sequence[str],
) -> None:
    """Print :func:`accounting_table`, or on a terminal too narrow for it one line per row
    with the two identities written out (``fetched 1,035 = unchanged 972 + new 63; due 63 =
    delivered 63``)."""
    table = accounting_table(lead, rows, trail, width=console.width)
    if table is not None:
        console.print(table)
        return
    for head, counts, tail in rows:
        named = ", ".join(f"{header} {cell}" for header, cell in zip(trail, tail, strict=True))
        text = "; ".join([*counts.equations(), *([named] if named else [])])
        console.print(Text(" ".join(str(cell) for cell in head) + (": " if head else "") + text))


def print_accounting_notes(scheme_id: str, counts: RunCounts) -> None:
    """Print under a run's table what the scheme still has waiting, and any count that does
    not balance (a bug to report: every record must be counted once)."""
    for line in still_waiting(scheme_id, counts):
        echo(line, style="yellow")
    for problem in counts.imbalance():
        echo(f"counts do not balance: {problem}", style="red", err=True)


def print_missing(placeholders: Mapping[str, Any] | None, indent: str = "") -> None:
    """Print the target fields whose placeholders found nothing, one line each
    (``outer_id: missing in 399 of 399 records``), under a line saying what that usually
    means; nothing when every placeholder found its field."""
    lines = missing_lines(placeholders)
    if not lines:
        return
    echo(
        f"{indent}placeholders that found nothing (a typo in the scheme, or a field the source does not send):",
        style="yellow",
    )
    for line in lines:
        echo(f"{indent}  {line}", style="yellow")
