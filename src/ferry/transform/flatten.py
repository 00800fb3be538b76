"""``beatFlat``: one ledger row per element of the named array(s).

The element replaces the array under its own key, so a target reaches its fields both as
``items.sku_id`` (dotted) and as ``items_sku_id`` (the value language resolves the
underscore-joined name against the element, so the ledger stores each value once); parent
fields are kept. The row id is the record id suffixed with ``-<index>`` (0-based), per array when
several arrays are flattened (``A1-0-2``). A record whose array is missing or empty is kept
as one unflattened row with its own id, so nothing is silently dropped.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

__all__ = ["beat_flat"]


def beat_flat(
    record_id: str, record: dict[str, Any], arrays: Sequence[str]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(row_id, row)`` pairs for ``record`` flattened by ``arrays`` in order."""
    if not arrays:
        yield record_id, record
        return
    key, rest = arrays[0], arrays[1:]
    elements = record.get(key)
    if not isinstance(elements, list) or not elements:
        yield from beat_flat(record_id, record, rest)
        return
    if not rest:  # the common single array: no nested generators per row
        for index, element in enumerate(elements):
            row = dict(record)
            row[key] = element
            yield f"{record_id}-{index}", row
        return
    for index, element in enumerate(elements):
        row = dict(record)
        row[key] = element
        yield from beat_flat(f"{record_id}-{index}", row, rest)
