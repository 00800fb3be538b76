"""``compile_function`` and :class:`CompiledFunction`: the public face of the package."""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from ferry.errors import FerryError, RecordError
from ferry.expr.function import (  # noqa: F401 - modules register their rules
    _aggregates,
    _arith,
    _control,
    _logic,
    _rounding,
    _strings,
    _temporal,
)
from ferry.expr.function._compile import build_tree
from ferry.expr.function._convert import finalizer
from ferry.expr.function._dates import TZ, BadDate, parse_datetime
from ferry.expr.function._datetime_calls import FSP_OPS
from ferry.expr.function._nodes import Env, Fn, Node, Specializer, is_finished
from ferry.expr.function._source import LookupSpan, Slot, scan_source
from ferry.expr.function._times import text_fsp
from ferry.expr.function._types import BIND_BY_TYPE, STR_T, ListSig, SqlType, bare_value
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


def _time_fsp_feature(value: Any, t: SqlType | ListSig) -> Hashable:
    return ("fsp", text_fsp(value)) if t == STR_T else None


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
        for slot, feature in _fsp_slots(node):
            out.setdefault(slot, feature)
        stack.extend(node.args)
    return out


def _fsp_slots(node: Node) -> list[tuple[int, Callable[[Any, SqlType | ListSig], Hashable]]]:
    """Parameters of ``node`` whose text's fractional digits decide its result precision."""
    if node.op == "unix_timestamp" and node.args and node.args[0].op == "param":
        return [(node.args[0].data, _fsp_feature)]
    if node.op in FSP_OPS:
        return [(arg.data, _time_fsp_feature) for arg in node.args if arg.op == "param"]
    return []


_CLOCK_OPS = frozenset({"now", "curdate"})
_NO_CLOCK = Env(datetime(2000, 1, 1))
"""The environment of an expression that never reads the clock."""


def _uses_clock(tree: Node) -> bool:
    """Whether evaluating ``tree`` reads ``now`` (``NOW()``, ``CURDATE()``, ``UNIX_TIMESTAMP()``)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if node.op in _CLOCK_OPS or (node.op == "unix_timestamp" and not node.args):
            return True
        stack.extend(node.args)
    return False


def _wall_clock(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(TZ).replace(tzinfo=None)
    if now.tzinfo is not None:
        return now.astimezone(TZ).replace(tzinfo=None)
    return now


Getter = Callable[[Any], Any]
"""Returns the value of one placeholder (or lookup span) for the caller's context."""
Binder = Callable[[Any], tuple[Any, SqlType | ListSig]]


def _bare_binder(get: Getter, raw: str) -> Binder:
    def bind_bare(ctx: Any) -> tuple[Any, SqlType | ListSig]:
        value = get(ctx)
        try:
            return BIND_BY_TYPE.get(type(value), bare_value)(value)
        except (TypeError, ValueError) as exc:
            raise RecordError(f"{raw}: {exc} in _function") from None

    return bind_bare


def _literal_binder(pieces: tuple[str | int, ...], gets: list[Getter]) -> Binder:
    parts: list[str | Getter] = [piece if isinstance(piece, str) else gets[piece] for piece in pieces]

    def bind_literal(ctx: Any) -> tuple[Any, SqlType | ListSig]:
        text = "".join(part if isinstance(part, str) else render_text(part(ctx)) for part in parts)
        return text, STR_T

    return bind_literal


class CompiledFunction:
    """A compiled ``_function`` value; evaluate it once per record.

    Attributes:
        text: the full value, ``_function`` prefix included.
        placeholders: every :class:`~ferry.expr.placeholders.Placeholder` and
            :class:`LookupSpan` the caller resolves, in order of appearance.
        sql: the expression with ``%s`` for each bound parameter (and ``%%`` for ``%``), for
            ``cursor.execute("SELECT " + cf.sql, cf.bind(resolve))`` on MariaDB/MySQL.
        uses_clock: whether the expression reads the clock (``NOW()``, ``CURDATE()``,
            ``UNIX_TIMESTAMP()`` ...); when False, ``now`` is never looked at.
    """

    __slots__ = ("_cache", "_features", "_slots", "_tree", "placeholders", "sql", "text", "uses_clock")

    def __init__(self, text: str) -> None:
        source = scan_source(text)
        self.text = text
        self.sql = source.sql
        self.placeholders: tuple[Placeholder | LookupSpan, ...] = source.placeholders
        self._slots: tuple[Slot, ...] = tuple(source.slots)
        self._tree = build_tree(source)
        self._features = tuple(_features(self._tree).items())
        self._cache: dict[Hashable, tuple[Fn, Callable[[Any], Any] | None]] = {}
        """Specialisations by signature: the closure and its finaliser (None: none needed)."""
        self.uses_clock = _uses_clock(self._tree)

    def __repr__(self) -> str:
        return f"CompiledFunction({self.text!r})"

    def _binders(self, getters: Sequence[Getter]) -> list[Binder]:
        """One binder per ``%s`` parameter; ``getters`` is aligned with :attr:`placeholders`."""
        index = {id(item): i for i, item in enumerate(self.placeholders)}
        binders: list[Binder] = []
        for slot in self._slots:
            gets = [getters[index[id(item)]] for item in slot.items]
            if slot.kind == "literal":
                binders.append(_literal_binder(slot.pieces, gets))
            else:
                binders.append(_bare_binder(gets[0], slot.raw))
        return binders

    def bind(self, resolve: Resolve) -> list[Any]:
        """Parameter values in ``%s`` order, normalised by the binding rules (package doc).

        A literal with placeholders gives its text; a bare placeholder or lookup gives its
        typed value (numbers, numeric strings as numbers, NULL, a list for an array path).

        Raises:
            RecordError: a value that cannot be bound (a dict, NaN), or whatever ``resolve``
                raises.
        """
        getters = [_fixed(resolve, item) for item in self.placeholders]
        return [binder(None)[0] for binder in self._binders(getters)]

    def _specialize(
        self, values: list[Any], types: tuple[SqlType | ListSig, ...]
    ) -> tuple[Fn, Callable[[Any], Any] | None]:
        if self._features:
            consts = {slot: feature(values[slot], types[slot]) for slot, feature in self._features}
            key: Hashable = (types, tuple(consts.values()))
        else:
            consts, key = {}, types
        entry = self._cache.get(key)
        if entry is None:
            fn, t = Specializer(types, consts).spec(self._tree)
            entry = (fn, None if is_finished(fn, t) else finalizer(t))
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = entry
        return entry

    def evaluator(
        self, getters: Sequence[Getter], clock: Callable[[Any], datetime | None]
    ) -> Callable[[Any], Any]:
        """A per-record evaluation function over the caller's own context objects.

        Everything that depends only on the expression is prepared here, once: the binder of
        each parameter, whether the clock is read, the specialisation cache.

        Args:
            getters: ``getters[i](ctx)`` returns the value of ``placeholders[i]`` (the typed
                value of a placeholder, the result of a lookup span).
            clock: ``clock(ctx)`` returns ``now`` as :meth:`evaluate` takes it; called only
                when :attr:`uses_clock` is True.

        Returns:
            ``run(ctx)``, equivalent to ``evaluate(lambda item: getters[i](ctx), clock(ctx))``.
        """
        if len(getters) != len(self.placeholders):
            raise ValueError(f"expected {len(self.placeholders)} getters, got {len(getters)}")
        cache = self._cache
        features = self._features
        specialize = self._specialize
        text = self.text
        uses_clock = self.uses_clock

        def compute(ctx: Any, values: list[Any], types: tuple[SqlType | ListSig, ...]) -> Any:
            env = Env(_wall_clock(clock(ctx))) if uses_clock else _NO_CLOCK
            try:
                entry = None if features else cache.get(types)
                fn, fin = entry if entry is not None else specialize(values, types)
                result = fn(values, env)
                return result if fin is None else fin(result)
            except FerryError:
                raise
            except (ArithmeticError, ValueError, TypeError, IndexError, KeyError, OverflowError) as exc:
                raise RecordError(f"cannot evaluate _function ({exc}): {text}") from exc

        if any(slot.kind == "literal" for slot in self._slots):
            binders = self._binders(getters)

            def run(ctx: Any) -> Any:
                values: list[Any] = []
                sig: list[SqlType | ListSig] = []
                for binder in binders:
                    value, t = binder(ctx)
                    values.append(value)
                    sig.append(t)
                return compute(ctx, values, tuple(sig))

            return run

        # Only bare placeholders and lookups: bind inline, the common case.
        index = {id(item): i for i, item in enumerate(self.placeholders)}
        bare = [(getters[index[id(slot.items[0])]], slot.raw) for slot in self._slots]

        def run_bare(ctx: Any) -> Any:
            values: list[Any] = []
            sig: list[SqlType | ListSig] = []
            for get, raw in bare:
                value = get(ctx)
                try:
                    value, t = BIND_BY_TYPE.get(type(value), bare_value)(value)
                except (TypeError, ValueError) as exc:
                    raise RecordError(f"{raw}: {exc} in _function") from None
                values.append(value)
                sig.append(t)
            types = tuple(sig)
            env = Env(_wall_clock(clock(ctx))) if uses_clock else _NO_CLOCK
            try:  # as in compute(), inlined: this is the per-record hot path
                entry = None if features else cache.get(types)
                fn, fin = entry if entry is not None else specialize(values, types)
                result = fn(values, env)
                return result if fin is None else fin(result)
            except FerryError:
                raise
            except (ArithmeticError, ValueError, TypeError, IndexError, KeyError, OverflowError) as exc:
                raise RecordError(f"cannot evaluate _function ({exc}): {text}") from exc

        return run_bare

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
        getters = [_fixed(resolve, item) for item in self.placeholders]
        return self.evaluator(getters, lambda _ctx: now)(None)


def _fixed(resolve: Resolve, item: Placeholder | LookupSpan) -> Getter:
    return lambda _ctx: resolve(item)


@lru_cache(maxsize=4096)
def compile_function(text: str) -> CompiledFunction:
    """Compile a full ``_function`` value (cached by text).

    Raises:
        ExpressionError: a syntax error, unknown function or name, wrong argument count,
            unterminated literal or unclosed lookup; ``column`` is 1-based in ``text``.
    """
    return CompiledFunction(text)
