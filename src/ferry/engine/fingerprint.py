"""Field names and types of source records, and what changed between two fingerprints.

A record's *paths* are its keys, nested objects as dotted paths and array elements as ``[]``::

    {"id": 7, "buyer": {"nick": "a"}, "items": [{"sku": "A1", "qty": 2}], "tags": ["x"]}
    -> id: int, buyer: object, buyer.nick: string, items: array, items[]: object,
       items[].sku: string, items[].qty: int, tags: array, tags[]: string

Each path has a set of types (``string int float bool null object array``; anything else a
connector returns, such as a ``Decimal`` or a ``datetime``, counts as ``float`` or ``string``)
and two counts over the records fingerprinted: ``seen`` (records where the key was present,
null or not) and ``objects`` (records where it held an object, whose keys are its children).

A :class:`Fingerprint` adds pages up; :func:`compare` says how a page differs from the known
fingerprint of its scheme:

- ``appeared``: a path the scheme never had (under a parent that appeared too, only the parent);
- ``disappeared``: a path present in *every* record that had its parent so far (and in at least
  :data:`MIN_SEEN` of them), absent from every record of the page that has its parent: an
  optional field, already absent sometimes, is never flagged;
- ``type``: a path holding a type it never held. ``null`` goes with every type, and ``int`` and
  ``float`` go together (a price of ``12`` on one page and ``12.5`` on the next is one number).

A hostile record cannot make this expensive: the walk stops at depth :data:`MAX_DEPTH`, looks
at the first :data:`MAX_ELEMENTS` elements of an array, at most :data:`MAX_NODES` values per
record, and a fingerprint keeps at most :data:`MAX_FIELDS` paths of at most :data:`MAX_PATH`
characters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

__all__ = [
    "MAX_DEPTH",
    "MAX_ELEMENTS",
    "MAX_FIELDS",
    "MAX_NODES",
    "MAX_PATH",
    "MIN_SEEN",
    "TYPE_NAMES",
    "Change",
    "Fingerprint",
    "compare",
    "record_paths",
    "shows",
    "type_mask",
    "type_names",
]

STRING, INT, FLOAT, BOOL, NULL, OBJECT, ARRAY = 1, 2, 4, 8, 16, 32, 64
TYPE_NAMES = {
    STRING: "string",
    INT: "int",
    FLOAT: "float",
    BOOL: "bool",
    NULL: "null",
    OBJECT: "object",
    ARRAY: "array",
}
"""Type bit -> name, in the order names are listed."""
_BITS = {name: bit for bit, name in TYPE_NAMES.items()}
_KIND: dict[type, int] = {
    str: STRING,
    int: INT,
    float: FLOAT,
    bool: BOOL,
    type(None): NULL,
    dict: OBJECT,
    list: ARRAY,
    tuple: ARRAY,
    Decimal: FLOAT,
}
NUMBER = INT | FLOAT

MAX_DEPTH = 8
"""Nesting levels walked; a deeper value counts as its container's type only."""
MAX_ELEMENTS = 20
"""Elements of an array looked at (the first ones)."""
MAX_NODES = 2000
"""Values looked at per record."""
MAX_FIELDS = 1000
"""Paths a fingerprint keeps; more (a record keyed by data, a hostile one) are not tracked."""
MAX_PATH = 191
"""Longest path kept (the store's key length); longer ones are not tracked."""
MIN_SEEN = 10
"""Records that must have had a field before its absence from a whole page counts as drift."""


def _kind(value: Any) -> int:
    kind = _KIND.get(type(value))
    if kind is not None:
        return kind
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int | float | Decimal):
        return FLOAT if not isinstance(value, int) else INT
    if isinstance(value, Mapping):
        return OBJECT
    return ARRAY if isinstance(value, list | tuple) else STRING


class _Walk:
    """One record's paths and their type bits, within the bounds of the module docstring."""

    __slots__ = ("budget", "out")

    def __init__(self) -> None:
        self.out: dict[str, int] = {}
        self.budget = MAX_NODES

    def obj(self, value: Mapping[Any, Any], prefix: str, depth: int) -> None:
        out = self.out
        for key, item in value.items():
            self.budget -= 1
            if self.budget < 0:
                return
            path = prefix + key if type(key) is str else prefix + str(key)
            kind = _KIND.get(type(item)) or _kind(item)
            out[path] = out.get(path, 0) | kind
            if kind >= OBJECT and depth < MAX_DEPTH:
                self.nested(item, kind, path, depth + 1)

    def nested(self, item: Any, kind: int, path: str, depth: int) -> None:
        if kind == OBJECT:
            self.obj(item, path + ".", depth)
        else:
            self.array(item, path + "[]", depth)

    def array(self, values: Any, path: str, depth: int) -> None:
        out = self.out
        for item in values[:MAX_ELEMENTS]:
            self.budget -= 1
            if self.budget < 0:
                return
            kind = _KIND.get(type(item)) or _kind(item)
            out[path] = out.get(path, 0) | kind
            if kind >= OBJECT and depth < MAX_DEPTH:
                self.nested(item, kind, path, depth + 1)


def record_paths(record: Mapping[str, Any]) -> dict[str, int]:
    """``{path: type bits}`` of one record (an array path has the bits of all its elements)."""
    walk = _Walk()
    walk.obj(record, "", 1)
    return walk.out


def type_names(mask: int) -> str:
    """``"int,null"``: the names of the type bits in ``mask``, comma-separated."""
    return ",".join(name for bit, name in TYPE_NAMES.items() if mask & bit)


def type_mask(names: str | None) -> int:
    """The bits of :func:`type_names`' text (unknown names are ignored)."""
    return sum(_BITS.get(name.strip(), 0) for name in set((names or "").split(",")))


def _parent(path: str) -> str | None:
    """``items[].sku`` -> ``items[]``, ``buyer.nick`` -> ``buyer``, ``id`` -> ``None``."""
    dot = path.rfind(".")
    return path[:dot] if dot > 0 else None


@dataclass
class Fingerprint:
    """Paths with their type bits and counts over ``records`` records (see the module docstring)."""

    records: int = 0
    fields: dict[str, list[int]] = field(default_factory=dict)
    """path -> ``[type bits, seen, objects]``."""

    def add(self, paths: Mapping[str, int]) -> None:
        """Count one record's :func:`record_paths`."""
        self.records += 1
        fields = self.fields
        for path, mask in paths.items():
            stats = fields.get(path)
            if stats is None:
                if len(fields) >= MAX_FIELDS or len(path) > MAX_PATH:
                    continue
                fields[path] = [mask, 1, 1 if mask & OBJECT else 0]
                continue
            stats[0] |= mask
            stats[1] += 1
            if mask & OBJECT:
                stats[2] += 1

    @classmethod
    def of(cls, records: Iterable[Any]) -> Fingerprint:
        """The fingerprint of ``records`` (anything but a mapping is skipped)."""
        out = cls()
        for record in records:
            if isinstance(record, Mapping):
                out.add(record_paths(record))
        return out

    def merge(self, other: Fingerprint) -> bool:
        """Add ``other`` in; whether a path or a type was new (the counts always change)."""
        self.records += other.records
        grew = False
        for path, (mask, seen, objects) in other.fields.items():
            stats = self.fields.get(path)
            if stats is None:
                if len(self.fields) < MAX_FIELDS:
                    self.fields[path] = [mask, seen, objects]
                    grew = True
                continue
            grew = grew or bool(mask & ~stats[0])
            stats[0] |= mask
            stats[1] += seen
            stats[2] += objects
        return grew

    def parent_count(self, path: str) -> int:
        """Records where ``path``'s parent held an object (every record for a top-level path)."""
        parent = _parent(path)
        if parent is None:
            return self.records
        stats = self.fields.get(parent)
        return stats[2] if stats is not None else 0

    def always_present(self, path: str) -> bool:
        """Whether ``path`` was in every record that had its parent, in :data:`MIN_SEEN` or more."""
        stats = self.fields.get(path)
        if stats is None or path.endswith("[]"):  # an empty array is not a missing element
            return False
        return stats[1] >= MIN_SEEN and stats[1] >= self.parent_count(path)

    def as_dict(self) -> dict[str, Any]:
        """The stored form: ``{"records": n, "fields": {path: {"types", "seen", "objects"}}}``."""
        return {
            "records": self.records,
            "fields": {
                path: {"types": type_names(mask), "seen": seen, "objects": objects}
                for path, (mask, seen, objects) in sorted(self.fields.items())
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fingerprint:
        """The fingerprint :meth:`as_dict` stored."""
        fields = {
            str(path): [type_mask(v.get("types")), int(v.get("seen") or 0), int(v.get("objects") or 0)]
            for path, v in (data.get("fields") or {}).items()
        }
        return cls(records=int(data.get("records") or 0), fields=fields)


@dataclass(frozen=True)
class Change:
    """One drifted path: ``change`` is ``appeared``, ``disappeared`` or ``type``; ``before`` and
    ``after`` are type names (:func:`type_names`), ``None`` on the side where the path is absent."""

    field: str
    change: str
    before: str | None
    after: str | None

    def describe(self) -> str:
        """``items[].outerId disappeared (was string)``, ``qty changed type: int -> string``."""
        if self.change == "appeared":
            return f"{self.field} appeared ({self.after})"
        if self.change == "disappeared":
            return f"{self.field} disappeared (was {self.before})"
        return f"{self.field} changed type: {self.before} -> {self.after}"


def _new_types(known: int, seen: int) -> int:
    """The type bits of ``seen`` that ``known`` does not allow (null always goes, numbers widen)."""
    if not known & ~NULL:  # only ever null: whatever comes is compatible
        return 0
    if known & NUMBER:
        known |= NUMBER
    return seen & ~known & ~NULL


def _under(path: str, roots: set[str]) -> bool:
    parent = _parent(path)
    while parent is not None:
        if parent in roots:
            return True
        parent = _parent(parent)
    return path.endswith("[]") and path[:-2] in roots


def _new_paths(known: Fingerprint, page: Fingerprint) -> list[Change]:
    """Paths of ``page`` that ``known`` lacks (not those under one) or holds with other types."""
    changes: list[Change] = []
    appeared: set[str] = set()
    for path in sorted(page.fields):
        mask = page.fields[path][0]
        stats = known.fields.get(path)
        if stats is None:
            if len(known.fields) < MAX_FIELDS and not _under(path, appeared):
                changes.append(Change(path, "appeared", None, type_names(mask)))
            appeared.add(path)
        elif _new_types(stats[0], mask):
            changes.append(Change(path, "type", type_names(stats[0]), type_names(mask | stats[0])))
    return changes


def _gone_paths(known: Fingerprint, page: Fingerprint) -> list[Change]:
    """Paths ``known`` always had that no record of ``page`` with their parent has."""
    changes: list[Change] = []
    gone: set[str] = set()
    for path in sorted(known.fields):
        if path in page.fields or not page.parent_count(path) or not known.always_present(path):
            continue
        if not _under(path, gone):
            changes.append(Change(path, "disappeared", type_names(known.fields[path][0]), None))
        gone.add(path)
    return changes


def compare(known: Fingerprint, page: Fingerprint) -> list[Change]:
    """How ``page`` differs from ``known`` (the module docstring lists the rules), sorted by path."""
    return sorted(_new_paths(known, page) + _gone_paths(known, page), key=lambda c: c.field)


def shows(paths: Mapping[str, int], known: Fingerprint, change: Change) -> Any:
    """What of one record shows ``change``: the type names it holds at the path (``appeared``,
    ``type``), ``"absent"`` (``disappeared``, when the record has the parent), else ``None``."""
    mask = paths.get(change.field)
    if change.change == "disappeared":
        parent = _parent(change.field)
        has_parent = parent is None or bool(paths.get(parent, 0) & OBJECT)
        return "absent" if mask is None and has_parent else None
    if mask is None:
        return None
    if change.change == "appeared":
        return type_names(mask)
    stats = known.fields.get(change.field)
    return type_names(mask) if stats is not None and _new_types(stats[0], mask) else None
