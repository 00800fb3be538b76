"""Bad records and volume drops: the data-quality faults a simulator can serve.

A vendor sometimes answers with records a scheme cannot take as they are: a quantity sent as
``"两件"``, an order number missing, a status no document lists. Each simulator declares, in a
small :class:`DefectTable` beside its seeded records, which of its fields go wrong and how, per
kind:

- ``wrong_type``: a numeric field as a non-numeric string, or an object where a string is
  expected;
- ``missing_required``: a field the seed scheme needs is absent;
- ``enum_violation``: a status or type outside the vendor's documented set.

Which records are bad is a pure function of ``Faults.seed`` and the record id
(:func:`unit`), never of the order of calls, so the same record is bad every time it is served
and a test can name the bad ids in advance (``Dataset.bad``). The stored record stays intact:
:meth:`Defect.apply` corrupts a copy when the record is served.

Example of a table (KuaiMai work orders)::

    DefectTable(
        wrong_type=(Defect("items[0].receivableCount", "两件"), Defect("tid", wrapped)),
        missing_required=(Defect("tid"), Defect("items[0].outerId")),
        enum_violation=(Defect("status", 99),),
    )
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BAD_RECORD_KINDS",
    "REMOVE",
    "Defect",
    "DefectTable",
    "choose_defect",
    "unit",
    "wrapped",
]

BAD_RECORD_KINDS: tuple[str, ...] = ("wrong_type", "missing_required", "enum_violation")
"""Every kind of bad record, in the order a record's kind is drawn from."""

Row = dict[str, Any]


class _Remove:
    def __repr__(self) -> str:
        return "REMOVE"


REMOVE: Any = _Remove()
"""A :class:`Defect` value: delete the field instead of replacing it."""


def wrapped(value: Any) -> dict[str, Any]:
    """A :class:`Defect` value: the original inside an object (``"P1"`` -> ``{"value": "P1"}``),
    what a vendor sends when a field it documents as text comes back as a reference object."""
    return {"value": value}


def unit(seed: int, salt: str, rid: str) -> float:
    """A number in ``[0, 1)`` fixed by ``seed``, ``salt`` and the record id ``rid``.

    The choices of the data-quality faults use it instead of the simulator's sequential dice,
    so turning them on changes no other fault's rolls and the same record is chosen on every
    call and in every process.
    """
    digest = hashlib.blake2b(f"{seed}:{salt}:{rid}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _keys(path: str) -> tuple[str | int, ...]:
    """``"items[0].outerId"`` -> ``("items", 0, "outerId")``."""
    keys: list[str | int] = []
    for part in path.split("."):
        name, _, index = part.partition("[")
        keys.append(name)
        if index:
            keys.append(int(index.rstrip("]")))
    return tuple(keys)


@dataclass(frozen=True)
class Defect:
    """One way a record goes wrong: the field at ``path`` gets ``value``.

    Args:
        path: Dotted path with list indexes, e.g. ``status`` or ``items[0].outerId``.
        value: The served value; :data:`REMOVE` deletes the field, a callable is given the
            original value and returns the served one (e.g. :func:`wrapped`).
    """

    path: str
    value: Any = REMOVE
    keys: tuple[str | int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", _keys(self.path))

    def _parent(self, row: Any) -> Any:
        node = row
        for key in self.keys[:-1]:
            node = node[key]
        return node

    def applies(self, row: Row) -> bool:
        """Whether ``row`` has the field at :attr:`path` (a record without it cannot lose it)."""
        try:
            parent = self._parent(row)
            return isinstance(parent, dict) and self.keys[-1] in parent
        except (KeyError, IndexError, TypeError):
            return False

    def served(self, original: Any) -> Any:
        """The value served in place of ``original``."""
        return self.value(original) if callable(self.value) else self.value

    def apply(self, row: Row) -> Row:
        """A corrupted deep copy of ``row`` (``row`` itself is not changed)."""
        bad = copy.deepcopy(row)
        parent = self._parent(bad)
        last = self.keys[-1]
        if self.value is REMOVE:
            del parent[last]
        else:
            parent[last] = self.served(parent[last])
        return bad


@dataclass(frozen=True)
class DefectTable:
    """Per simulator (or per record set): the defects of each kind its records can show."""

    wrong_type: tuple[Defect, ...] = ()
    missing_required: tuple[Defect, ...] = ()
    enum_violation: tuple[Defect, ...] = ()

    def options(self, kind: str, row: Row) -> tuple[Defect, ...]:
        """The defects of ``kind`` that ``row`` can show."""
        return tuple(d for d in getattr(self, kind) if d.applies(row))


def choose_defect(
    table: DefectTable, rid: str, row: Row, *, seed: int, kinds: Iterable[str]
) -> tuple[str, Defect] | None:
    """The kind and defect of bad record ``rid``: a kind of ``kinds`` the table can apply to
    ``row``, then one of its defects, both drawn by :func:`unit` (``None``: none applies)."""
    usable = [(kind, options) for kind in kinds if (options := table.options(kind, row))]
    if not usable:
        return None
    kind, options = usable[int(unit(seed, "bad-kind", rid) * len(usable))]
    return kind, options[int(unit(seed, "bad-field", rid) * len(options))]
