"""Tables that fit the terminal: fixed columns at their natural width, one flexible text column.

Rich squeezes every column of a table that is too wide, which turns numbers and times into
``2,0…``. Instead :func:`fitted_table` keeps the fixed columns whole (tightening the padding on
narrow terminals), gives the flexible column (an error message) what is left, cut with an
ellipsis, and drops it when fewer than 8 cells remain. Cells are plain text, never rich
markup: record ids and vendor errors come from outside.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from rich import box
from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

__all__ = ["Cell", "fitted_table", "natural_width"]

Cell = str | Text
MIN_FLEX = 8


def _width(cell: Cell) -> int:
    return cell.cell_len if isinstance(cell, Text) else cell_len(cell)


def _text(cell: Cell) -> Text:
    return cell if isinstance(cell, Text) else Text(cell)


def natural_width(
    headers: Sequence[str], rows: Sequence[Sequence[Cell]], *, skip: Collection[str] = ()
) -> int:
    """Width of the table with every column whole and tight padding (one space between columns)."""
    columns = [i for i, h in enumerate(headers) if h not in skip]
    widths = [max([cell_len(headers[i]), *(_width(r[i]) for r in rows)]) for i in columns]
    return sum(widths) + max(len(columns) - 1, 0)


def fitted_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    *,
    width: int,
    right: Collection[str] = (),
    flex: str | None = None,
    optional: Sequence[str] = (),
    title: str | None = None,
) -> Table:
    """Build a table of ``rows`` (one cell per header) no wider than ``width`` where possible.

    Args:
        headers: Column titles, in order.
        rows: Cells as ``str`` (printed literally) or styled :class:`~rich.text.Text`.
        width: The console width.
        right: Headers of right-aligned (numeric) columns.
        flex: The header of the column that gets the remaining width (cut with ``…``); it is
            dropped when fewer than 8 cells remain.
        optional: Headers dropped, in this order, while the fixed columns do not fit.
        title: Optional title printed above the table.
    """
    dropped: set[str] = set()
    fixed_skip = {flex} if flex else set()
    for header in optional:
        if natural_width(headers, rows, skip=fixed_skip | dropped) <= width:
            break
        dropped.add(header)
    keep = [i for i, h in enumerate(headers) if h not in dropped]
    fixed = [i for i in keep if headers[i] != flex]
    natural = {i: max([cell_len(headers[i]), *(_width(r[i]) for r in rows)]) for i in fixed}
    gaps = len(keep) - 1
    has_flex = any(headers[i] == flex for i in keep)
    need = sum(natural.values()) + (MIN_FLEX if has_flex else 0)
    padding = (0, 1) if need + 3 * gaps <= width else (0, 0)
    gap = 3 if padding == (0, 1) else 1
    room = 0
    if has_flex:
        room = width - sum(natural.values()) - gap * gaps
        if room < MIN_FLEX:
            keep = fixed
    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=padding,
        title=title,
        title_justify="left",
    )
    for i in keep:
        header = headers[i]
        if header == flex:
            table.add_column(header, no_wrap=True, overflow="ellipsis", max_width=room)
        else:
            table.add_column(header, justify="right" if header in right else "left", no_wrap=True)
    for row in rows:
        cells = []
        for i in keep:
            cell = _text(row[i])
            if headers[i] == flex:
                cell = cell.copy()
                cell.truncate(room, overflow="ellipsis")
            cells.append(cell)
        table.add_row(*cells)
    return table
