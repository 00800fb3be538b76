"""Reading a value out of a parsed JSON document by a dotted path (``data.list``, ``rows.0.id``)."""

from __future__ import annotations

from typing import Any, Final

__all__ = ["MISSING", "get_path"]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()
"""Returned by :func:`get_path` when the path does not exist (distinct from a JSON ``null``)."""


def get_path(document: Any, path: str | None) -> Any:
    """The value at dotted ``path`` in ``document``; ``""``/``None`` is the document itself.

    Object keys are matched exactly; a segment of digits also indexes into a list.
    Returns :data:`MISSING` when any segment is absent.
    """
    if not path:
        return document
    current = document
    for part in path.split("."):
        if isinstance(current, dict):
            if part not in current:
                return MISSING
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return MISSING
    return current
