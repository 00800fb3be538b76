"""Resolving dotted row paths (``shop_no``, ``receiver.city``, ``items.sku_id``) against records.

Rules (compiled once per path, applied per record with no regex and no string splitting):

* ``a.b.c`` walks nested mappings; a missing key or a non-mapping on the way gives ``None``.
* The whole dotted name is first tried as a literal key of the top-level mapping, so keys that
  contain dots (``"F.Number"``) still resolve.
* A numeric segment indexes a list (``items.0.sku_id``); out of range gives ``None``.
* Any other segment that meets a list *projects*: the rest of the path is resolved on every
  element and the result is a list, one entry per element (``None`` where an element lacks the
  field). Nested projections are flattened into one list, so ``orders.items.qty`` over two orders
  of two lines each gives four quantities. This is what ``SUM({{items.qty}})`` consumes.
* Beat-flattened rows hold the current element under ``items`` (so ``items.qty`` walks into it)
  and also carry ``items_qty``; when the dotted walk finds nothing, the underscore-joined key is
  tried as a last resort.

:func:`has_path` tells the two kinds of ``None`` apart: a path that is absent from the record
(a typo, or a field the source does not send) and one that is present with a null value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["compile_walk", "has_path", "resolve_path", "split_path"]

Walk = Callable[[Any], Any]


def split_path(path: str) -> list[str]:
    """Split a dotted path into segments (``"a.b"`` -> ``["a", "b"]``)."""
    return path.split(".")


def _walk_from(value: Any, segs: tuple[str, ...], i: int) -> tuple[Any, bool]:
    """Walk ``segs[i:]`` from ``value``; return ``(result, projected)``."""
    n = len(segs)
    while i < n:
        seg = segs[i]
        if isinstance(value, Mapping):
            value = value.get(seg)
        elif isinstance(value, list):
            if seg.isdigit():
                idx = int(seg)
                value = value[idx] if idx < len(value) else None
            else:
                out: list[Any] = []
                for element in value:
                    got, projected = _walk_from(element, segs, i)
                    if projected:
                        out.extend(got)
                    else:
                        out.append(got)
                return out, True
        else:
            return None, False
        if value is None:
            return None, False
        i += 1
    return value, False


def compile_walk(segments: list[str] | tuple[str, ...]) -> Walk:
    """Return a function that walks ``segments`` from a value (see module rules).

    With no segments the function returns its argument unchanged.
    """
    segs = tuple(segments)
    if not segs:
        return _identity
    if len(segs) == 1:
        (only,) = segs

        def walk_one(value: Any) -> Any:
            if type(value) is dict or isinstance(value, Mapping):
                return value.get(only)
            return _walk_from(value, segs, 0)[0]

        return walk_one

    def walk(value: Any) -> Any:
        return _walk_from(value, segs, 0)[0]

    return walk


def has_path(value: Any, segs: tuple[str, ...] | list[str]) -> bool:
    """Whether ``segs`` lead somewhere in ``value``: every key on the way is present, though the
    last value, or a mapping on the way, may be null (``receiver: null`` holds
    ``receiver.city``, null). Over a list, a numeric segment must be in range and any other
    segment must be present in at least one element (a projection).

    Called only when a walk gave ``None``, to tell an absent path from a null value.
    """
    for i, seg in enumerate(segs):
        if isinstance(value, Mapping):
            if seg not in value:
                return False
            value = value[seg]
        elif isinstance(value, list):
            if not seg.isdigit():
                return any(has_path(element, segs[i:]) for element in value)
            if int(seg) >= len(value):
                return False
            value = value[int(seg)]
        else:
            return False
        if value is None:
            return True
    return True


def _identity(value: Any) -> Any:
    return value


def resolve_path(row: Mapping[str, Any], path: str) -> Any:
    """Resolve ``path`` against ``row`` once (convenience; hot code uses compiled getters)."""
    if path in row:
        return row[path]
    segs = split_path(path)
    got = compile_walk(segs)(row)
    if got is None and len(segs) > 1:
        return row.get("_".join(segs))
    return got
