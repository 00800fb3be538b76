"""Value maps (值映射): named tables that translate one value into another, used as ``_map``.

::

    _map shops {shop_code}                         # the table's own unmatched policy
    _map shops {{shop.code}} unmatched=quarantine  # this field's policy: keep | quarantine
    _map shops {shop_code} default=未知门店         # this field's default (the rest of the text)
    _map shops _function UPPER({shop_code})        # map what a _function (or lookup) returns

The operand after the table name is any value: a placeholder (its value keeps its type), a
template, a ``_function``, a lookup or another ``_map``. Its result is compared with the table's
keys as text (:func:`key_text`: trimmed, ``101``, ``101.0`` and ``"101"`` are one key; case
counts). A null or blank result is returned as it is, without consulting the table: nothing to
map (a ``required`` field or quality rule catches it). A value the table does not hold gets the
unmatched policy (:class:`Unmatched`): ``keep`` returns the value itself, ``default`` a fixed
value, ``quarantine`` raises :class:`~ferry.errors.Quarantined` (rule ``map:<table>``).

The tables are built by the scheme loader (:mod:`ferry.scheme.maps`) and compiled into the
values: :func:`compile_map` resolves the table name among the tables of the scheme being
compiled, which :func:`value_maps` makes current while a scheme's values compile. No table is
read per record.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import logging
import math
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Literal

from ferry._text import shown
from ferry.errors import ExpressionError, Quarantined
from ferry.expr.context import EvalContext

__all__ = [
    "MAP_PREFIX",
    "MapCall",
    "Unmatched",
    "ValueMap",
    "current_maps",
    "key_text",
    "parse_map",
    "resolve_table",
    "table_digest",
    "value_maps",
]

MAP_PREFIX = "_map"
log = logging.getLogger("ferry.expr.valuemap")

UnmatchedKind = Literal["keep", "default", "quarantine"]
_LOGGED_KEYS = 5
"""Unmatched values of one table logged per process (then only counted)."""


@dataclass(frozen=True, slots=True)
class Unmatched:
    """What a value with no match in the table becomes: ``keep`` (the value itself),
    ``default`` (``default``) or ``quarantine`` (the record is held)."""

    kind: UnmatchedKind = "keep"
    default: Any = None

    def describe(self) -> str:
        """``keep``, ``quarantine`` or ``default 'X'``."""
        return f"default {shown(self.default, 40)}" if self.kind == "default" else self.kind


@dataclass(eq=False)
class ValueMap:
    """One named table: its entries by key text, its unmatched policy, where it was read from
    and the digest of its content (the table's version, stored with each run)."""

    name: str
    entries: Mapping[str, Any]
    unmatched: Unmatched = Unmatched()
    origin: str = "inline"
    """The file it was read from, relative to the scheme (``maps/shops.csv``), or ``inline``."""
    digest: str = ""
    """``sha256:`` of the entries (:func:`table_digest`); filled in when left empty."""
    missed: dict[str, int] = field(default_factory=dict, repr=False)
    """Unmatched key texts seen in this process, with how often (the first few are logged)."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if not self.digest:
            self.digest = table_digest(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def version(self) -> str:
        """The short form of :attr:`digest` shown to people (``sha256:1a2b3c4d5e6f``)."""
        return self.digest[:19]

    def describe(self) -> str:
        """``shops: 3 entries from maps/shops.csv, unmatched keep (sha256:1a2b3c4d5e6f)``."""
        count = len(self.entries)
        return (
            f"{self.name}: {count:,} entr{'y' if count == 1 else 'ies'} from {self.origin}, "
            f"unmatched {self.unmatched.describe()} ({self.version})"
        )

    def as_dict(self) -> dict[str, Any]:
        """What a run stores of the table: ``{origin, entries, unmatched, digest}``."""
        return {
            "origin": self.origin,
            "entries": len(self.entries),
            "unmatched": self.unmatched.describe(),
            "digest": self.digest,
        }

    def note_miss(self, key: str) -> None:
        """Count an unmatched key; log the first few distinct ones of the table."""
        with self._lock:
            seen = self.missed.get(key)
            self.missed[key] = (seen or 0) + 1
            first = seen is None and len(self.missed) <= _LOGGED_KEYS
        if first:
            log.warning("value map %r has no entry for %s", self.name, shown(key, 80))


def key_text(value: Any) -> str:
    """The text a value is matched by: trimmed; a whole number as digits (``101``, ``101.0``,
    ``Decimal('101.00')`` all give ``'101'``); ``true``/``false``; a date or time in ISO form
    (``2024-05-01 08:00:00``)."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        return _number_text(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return "" if value is None else str(value).strip()


def _number_text(value: float | Decimal) -> str:
    if not math.isfinite(value):
        return str(value)
    if value == int(value):
        return str(int(value))
    return str(value.normalize()) if isinstance(value, Decimal) else repr(value)


def table_digest(entries: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of the entries (sorted by key): equal for equal tables, whatever file
    format or row order they came in."""
    text = json.dumps(sorted(entries.items()), ensure_ascii=False, default=str, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


_current: ContextVar[Mapping[str, ValueMap] | None] = ContextVar("ferry_value_maps", default=None)


@contextmanager
def value_maps(tables: Mapping[str, ValueMap] | None) -> Iterator[None]:
    """Make ``tables`` the ones ``_map`` values resolve against while the block compiles a
    scheme's values (the loader's checks, :func:`ferry.transform.plan.compile_scheme`)."""
    token = _current.set(tables or {})
    try:
        yield
    finally:
        _current.reset(token)


def current_maps() -> Mapping[str, ValueMap]:
    """The tables of the scheme being compiled (empty outside :func:`value_maps`)."""
    return _current.get() or {}


@dataclass(frozen=True, slots=True)
class MapCall:
    """A parsed ``_map`` value: the table name (and its 1-based column), the operand text and
    where it starts (0-based), and the field's own unmatched policy, if it gives one."""

    table: str
    column: int
    operand: str
    offset: int
    unmatched: Unmatched | None


_CALL = re.compile(
    r"_map\s+(?P<table>[^\s{}]+)\s+(?P<operand>\S.*?)"
    r"(?:\s+unmatched=(?P<policy>\S*))?(?:\s+default=(?P<default>.*))?\s*",
    re.DOTALL,
)
_USAGE = "write _map <table> {field}, optionally followed by unmatched=keep|quarantine or default=<text>"


def parse_map(text: str) -> MapCall:
    """Parse ``_map <table> <operand> [unmatched=keep|quarantine] [default=<text>]``.

    Raises:
        ExpressionError: the text is not of that form, or names an unknown policy.
    """
    found = _CALL.fullmatch(text)
    if found is None:
        return _malformed(text)
    policy, default = found["policy"], found["default"]
    unmatched: Unmatched | None = None
    if default is not None:
        if policy not in (None, "default"):
            raise ExpressionError(
                f"unmatched={policy} and default= contradict each other", text, found.start("policy") + 1
            )
        unmatched = Unmatched("default", default.strip())
    elif policy is not None:
        if policy not in ("keep", "quarantine"):
            raise ExpressionError(
                f"unknown unmatched policy {policy!r}; write unmatched=keep, unmatched=quarantine "
                "or default=<text>",
                text,
                found.start("policy") + 1,
            )
        unmatched = Unmatched(policy)  # type: ignore[arg-type]
    return MapCall(
        found["table"], found.start("table") + 1, found["operand"], found.start("operand"), unmatched
    )


def _malformed(text: str) -> MapCall:
    words = text.split()
    what = "_map needs a table name and a value" if len(words) < 3 else "_map value is malformed"
    raise ExpressionError(f"{what}; {_USAGE}", text, len(text) + 1 if len(words) < 3 else 1)


def resolve_table(call: MapCall, text: str) -> ValueMap:
    """The table ``call`` names among :func:`current_maps`.

    Raises:
        ExpressionError: no such table; the message names the nearest and the known tables.
    """
    tables = current_maps()
    table = tables.get(call.table)
    if table is not None:
        return table
    known = sorted(tables)
    near = difflib.get_close_matches(call.table, known, n=1)
    message = f"unknown value map {call.table!r}" + (f" (did you mean {near[0]!r}?)" if near else "")
    hint = (
        f"known value maps: {', '.join(known)}"
        if known
        else "the scheme has no value map: put maps/<name>.csv (.xlsx, .yaml) beside the scheme "
        "or declare one under `maps:`"
    )
    raise ExpressionError(f"{message}; {hint}", text, call.column)


def map_evaluator(
    table: ValueMap, unmatched: Unmatched, operand: Callable[[EvalContext], Any], path: str
) -> Callable[[EvalContext], Any]:
    """``evaluate(ctx)`` of a ``_map`` value: the operand's value looked up in ``table``."""
    entries = table.entries
    missing = object()
    on_miss = _on_miss(table, unmatched, path)

    def evaluate(ctx: EvalContext) -> Any:
        value = operand(ctx)
        key = key_text(value)
        if not key:
            return value
        found = entries.get(key, missing)
        if found is missing:
            table.note_miss(key)
            return on_miss(value)
        return copy.deepcopy(found) if isinstance(found, dict | list) else found

    return evaluate


def _on_miss(table: ValueMap, unmatched: Unmatched, path: str) -> Callable[[Any], Any]:
    if unmatched.kind == "keep":
        return lambda value: value
    if unmatched.kind == "default":
        default = unmatched.default
        return lambda value: copy.deepcopy(default)
    reason = f"no match in value map {table.name!r} ({len(table.entries):,} entries)"

    def hold(value: Any) -> Any:
        raise Quarantined(f"map:{table.name}", path, value, reason)

    return hold
