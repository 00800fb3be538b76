"""``compile_function`` and :class:`CompiledFunction`: the public face of the package."""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from ferry.errors import FerryError, RecordError
from ferry.expr.function import _aggregates, _arith, _control, _logic, _strings, _temporal  # noqa: F401
from ferry.expr.function._compile import build_tree
from ferry.expr.function._convert import finalize
from ferry.expr.function._dates import TZ, BadDate, parse_datetime
from ferry.expr.function._nodes import Env, Fn, Node, Specializer
from ferry.expr.function._source import LookupSpan, Slot, scan_source
from ferry.expr.function._types import STR_T, ListSig, SqlType, bare_value
from ferry.expr.placeholders import Placeholder

__all__ = ["CompiledFunction", "compile_function", "render_text"]

Resolve = Callable[[Placeholder | LookupSpan], Any]
_CACHE_LIMIT = 256


def render_text(value: Any) -> str:
    """A value as text inside a quoted literal: ``None`` → ``''``, ``True`` → ``'true'``,
    datetimes → ``YYYY-MM-DD HH:MM:SS`` (aware ones at +08:00), Decimal without exponent, lists/dicts → compact JSON,
    anything else → ``str`` (the same rendering as plain templates)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(TZ)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (list, dict, tuple)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return str(value)


def _value_feature(value: Any, t: SqlType | ListSig) -> Hashable:
    return None if isinstance(value, list) else value


def _fsp_feature(value: Any, t: SqlType | ListSig) -> Hashable:
    if t != STR_T:
        return None
    try:
        return ("fsp", parse_datetime(value).fsp)
    except BadDate:
        return ("fsp", 0)


def _features(tree: Node) -> dict[int, Callable[[Any, SqlType | ListSig], Hashable]]:
    """Parameters whose *value* decides a result type, as MariaDB decides it from constants."""
    out: dict[int, Callable[[Any, SqlType | ListSig], Hashable]] = {}
    stack = [tree]
    while stack:
        node = stack.pop()
        if node.op in ("round", "truncate", "str_to_date") and len(node.args) > 1:
            out.update(dict.fromkeys(node.args[1].slots, _value_feature))
        stack.extend(node.args)
    stack = [tree]
    while stack:
        node = stack.pop()
        if node.op == "unix_timestamp" and node.args and node.args[0].op == "param":
            out.setdefault(node.args[0].data, _fsp_feature)
        stack.extend(node.args)
    return out


def _wall_clock(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(TZ).replace(tzinfo=None)
    if now.tzinfo is not None:
        return now.astimezone(TZ).replace(tzinfo=None)
    return now


class CompiledFunction:
    """A compiled ``_function`` value; evaluate it once per record.

    Attributes:
        text: the full value, ``_function`` prefix included.
        placeholders: every :class:`~ferry.expr.placeholders.Placeholder` and
            :class:`LookupSpan` the caller resolves, in order of appearance.
        sql: the expression with ``%s`` for each bound parameter (and ``%%`` for ``%``), for
            ``cursor.execute("SELECT " + cf.sql, cf.bind(resolve))`` on MariaDB/MySQL.
    """

    __slots__ = ("_cache", "_features", "_slots", "_tree", "placeholders", "sql", "text")

    def __init__(self, text: str) -> None:
        source = scan_source(text)
        self.text = text
        self.sql = source.sql
        self.placeholders: tuple[Placeholder | LookupSpan, ...] = source.placeholders
        self._slots: tuple[Slot, ...] = tuple(source.slots)
        self._tree = build_tree(source)
        self._features = tuple(_features(self._tree).items())
        self._cache: dict[Hashable, tuple[Fn, SqlType]] = {}

    def __repr__(self) -> str:
        return f"CompiledFunction({self.text!r})"

    def bind(self, resolve: Resolve) -> list[Any]:
        """Parameter values in ``%s`` order, normalised by the binding rules (package doc).

        A literal with placeholders gives its text; a bare placeholder or lookup gives its
        typed value (numbers, numeric strings as numbers, NULL, a list for an array path).

        Raises:
            RecordError: a value that cannot be bound (a dict, NaN), or whatever ``resolve``
                raises.
        """
        return self._bind(resolve)[0]

    def _bind(self, resolve: Resolve) -> tuple[list[Any], list[SqlType | ListSig]]:
        values: list[Any] = []
        types: list[SqlType | ListSig] = []
        for slot in self._slots:
            if slot.kind == "literal":
                items = slot.items
                text = "".join(
                    piece if isinstance(piece, str) else render_text(resolve(items[piece]))
                    for piece in slot.pieces
                )
                values.append(text)
                types.append(STR_T)
                continue
            raw = resolve(slot.items[0])
            try:
                value, t = bare_value(raw)
            except (TypeError, ValueError) as exc:
                raise RecordError(f"{slot.raw}: {exc} in _function") from None
            values.append(value)
            types.append(t)
        return values, types

    def _specialized(self, values: list[Any], types: list[SqlType | ListSig]) -> tuple[Fn, SqlType]:
        if self._features:
            consts = {slot: feature(values[slot], types[slot]) for slot, feature in self._features}
            key: Hashable = (tuple(types), tuple(consts.values()))
        else:
            consts, key = {}, tuple(types)
        entry = self._cache.get(key)
        if entry is None:
            entry = Specializer(types, consts).spec(self._tree)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = entry
        return entry

    def evaluate(self, resolve: Resolve, now: datetime | None = None) -> Any:
        """Evaluate for one record.

        Args:
            resolve: returns the typed value of a placeholder or the result of a lookup span.
            now: the clock for ``NOW()``/``CURDATE()``/``UNIX_TIMESTAMP()``; tz-aware values
                are converted to +08:00, naive ones are taken as +08:00; default: wall clock.

        Returns:
            What MariaDB returns for ``SELECT <expr>`` (int, Decimal, float, str, date,
            datetime, timedelta or None).

        Raises:
            RecordError: division by zero, an invalid date, a value that cannot be bound, or
                any other failure on this record; the reason names the sub-expression.
        """
        values, types = self._bind(resolve)
        try:
            fn, t = self._specialized(values, types)
            return finalize(fn(values, Env(_wall_clock(now))), t)
        except FerryError:
            raise
        except (ArithmeticError, ValueError, TypeError, IndexError, KeyError, OverflowError) as exc:
            raise RecordError(f"cannot evaluate _function ({exc}): {self.text}") from exc


@lru_cache(maxsize=4096)
def compile_function(text: str) -> CompiledFunction:
    """Compile a full ``_function`` value (cached by text).

    Raises:
        ExpressionError: a syntax error, unknown function or name, wrong argument count,
            unterminated literal or unclosed lookup; ``column`` is 1-based in ``text``.
    """
    return CompiledFunction(text)
