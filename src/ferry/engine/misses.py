"""Placeholders that found nothing: per target field, in how many of a run's mapped records.

A placeholder whose path is absent from a record (``{{items.outerID}}`` where the source sends
``outerId``) gives null, which a nullable column takes without a word. So delivery notes, for
every record it maps, the target fields whose value read a path the record does not have
(:attr:`~ferry.expr.EvalContext.missed`; a path present with a null value is not a miss), and
counts each field once per record. The run keeps the counts with its record (``placeholders``
of :meth:`Store.get_run <ferry.store.Store.get_run>`): ``{"mapped": 399, "missing":
{"outer_id": 399}}``; ``ferry run``, ``ferry runs show`` and the console's run page say them
as ``outer_id: missing in 399 of 399 records``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SHOWN_FIELDS", "PlaceholderMisses", "missing_lines"]

SHOWN_FIELDS = 10
"""Fields listed one per line; the rest are summed up as ``and N more fields``."""


@dataclass
class PlaceholderMisses:
    """One run's (or one deliverer's) misses: records mapped, and per target field the records
    in which a placeholder of its value found nothing."""

    mapped: int = 0
    fields: Counter[str] = field(default_factory=Counter)

    def note(self, missed: Iterable[str], names: Mapping[str, str]) -> None:
        """Count one record's misses: ``missed`` holds the scheme paths of the values whose
        placeholders found nothing (a path may repeat), ``names`` the target field of each."""
        for name in {names.get(key, key) for key in missed}:
            self.fields[name] += 1

    def merge(self, other: Mapping[str, Any]) -> None:
        """Add another deliverer's counts, as :meth:`as_dict` gave them (a forked child's)."""
        self.mapped += int(other.get("mapped") or 0)
        self.fields.update({str(k): int(v) for k, v in (other.get("missing") or {}).items()})

    def as_dict(self) -> dict[str, Any]:
        """``{"mapped": n, "missing": {field: records}}``, the most missed field first."""
        return {"mapped": self.mapped, "missing": dict(_ordered(self.fields))}


def _ordered(fields: Mapping[str, int]) -> list[tuple[str, int]]:
    return sorted(((k, v) for k, v in fields.items() if v), key=lambda kv: (-kv[1], kv[0]))


def missing_lines(
    placeholders: Mapping[str, Any] | None, *, lang: str = "en", limit: int = SHOWN_FIELDS
) -> list[str]:
    """One line per target field with misses, the most missed first, at most ``limit`` of them
    and then ``and N more fields``: ``outer_id: missing in 399 of 399 records``. Empty when
    nothing was missed (or the run mapped nothing, or was recorded before misses were kept)."""
    if not placeholders:
        return []
    mapped = int(placeholders.get("mapped") or 0)
    fields = _ordered(placeholders.get("missing") or {})
    say = _zh if lang == "zh" else _en
    lines = [say.line(name, n, mapped) for name, n in fields[:limit]]
    if len(fields) > limit:
        lines.append(say.more(len(fields) - limit))
    return lines


class _en:
    @staticmethod
    def line(name: str, n: int, mapped: int) -> str:
        return f"{name}: missing in {n:,} of {mapped:,} record{'s' if mapped != 1 else ''}"

    @staticmethod
    def more(n: int) -> str:
        return f"and {n:,} more field{'s' if n != 1 else ''}"


class _zh:
    @staticmethod
    def line(name: str, n: int, mapped: int) -> str:
        return f"{name}：{mapped:,} 条记录中有 {n:,} 条取不到占位符的值"

    @staticmethod
    def more(n: int) -> str:
        return f"还有 {n:,} 个字段"
