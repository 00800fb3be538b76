"""The Mongo filter subset used by ``_mongoQuery``: compile with placeholders, match stored rows.

Operators: ``$eq $ne $in $nin $gt $gte $lt $lte $exists $and $or``; a bare value means ``$eq``.
Paths are dotted (``content.F_103``) and resolved like row paths; a path that reaches an array
matches when any element matches (``$ne``/``$nin``: when no element does), as in MongoDB.

Comparison rule (documented contract, shared with the hash index):

* Equality compares *lookup keys*: numbers and numeric strings by their text (``1001``,
  ``1001.0`` and ``"1001"`` are equal; ``"1001.0"`` and ``"01001"`` are not), bools as
  ``true``/``false``, strings as-is. ``None`` equals only ``None``/missing.
* Ordering (``$gt`` ...): if one side is a number and the other a number or numeric string, both
  compare as numbers; two strings compare as strings (so ``'2024-05-01'`` dates order correctly,
  but ``"10" < "9"``); two datetimes compare as datetimes; anything else never matches.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ferry._text import clip, printable, shown
from ferry.errors import ExpressionError
from ferry.expr.paths import resolve_path
from ferry.expr.template import compile_template

__all__ = [
    "KNOWN_OPERATORS",
    "MissingKey",
    "compile_filter",
    "describe_filter",
    "equality_terms",
    "lookup_key",
    "matches",
]

KNOWN_OPERATORS = ("$and", "$eq", "$exists", "$gt", "$gte", "$in", "$lt", "$lte", "$ne", "$nin", "$or")
_FIELD_OPS = frozenset(KNOWN_OPERATORS) - {"$and", "$or"}


class MissingKey(Exception):
    """A placeholder inside a filter resolved to ``None``: the lookup matches nothing."""


def lookup_key(value: Any) -> Any:
    """Normalise a value for equality and hashing (see module doc); ``None`` stays ``None``."""
    if value is None:
        return None
    kind = type(value)
    if kind is str:
        return value
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, Decimal):
        return str(int(value)) if value == value.to_integral_value() else str(value.normalize())
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        try:
            return Decimal(value)
        except InvalidOperation:
            return None
    if isinstance(value, str):
        try:
            return Decimal(value.strip()) if value.strip() else None
        except InvalidOperation:
            return None
    return None


def _compare(a: Any, b: Any) -> int | None:
    a_num = not isinstance(a, bool) and isinstance(a, int | float | Decimal)
    b_num = not isinstance(b, bool) and isinstance(b, int | float | Decimal)
    if a_num or b_num:
        x, y = _number(a), _number(b)
        if x is None or y is None:
            return None
        return (x > y) - (x < y)
    if isinstance(a, str) and isinstance(b, str):
        return (a > b) - (a < b)
    if isinstance(a, datetime) and isinstance(b, datetime):
        try:
            return (a > b) - (a < b)
        except TypeError:
            return None
    return None


def _eq(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return bool(lookup_key(a) == lookup_key(b))


def _any(value: Any, test: Callable[[Any], bool]) -> bool:
    if isinstance(value, list):
        return test(value) or any(test(v) for v in value)
    return test(value)


def _op(op: str, value: Any, arg: Any) -> bool:
    if op == "$eq":
        return _any(value, lambda v: _eq(v, arg))
    if op == "$ne":
        return not _any(value, lambda v: _eq(v, arg))
    if op in ("$in", "$nin"):
        options = arg if isinstance(arg, list) else [arg]
        found = _any(value, lambda v: any(_eq(v, a) for a in options))
        return found if op == "$in" else not found
    if op == "$exists":
        return (value is not None) == bool(arg)
    wanted = {"$gt": (1,), "$gte": (0, 1), "$lt": (-1,), "$lte": (-1, 0)}[op]
    return _any(value, lambda v: _compare(v, arg) in wanted)


def matches(row: Mapping[str, Any], flt: Mapping[str, Any]) -> bool:
    """True when the rendered filter ``flt`` matches ``row`` (see module doc)."""
    for key, cond in flt.items():
        if key == "$and":
            if not all(matches(row, sub) for sub in cond):
                return False
        elif key == "$or":
            if not any(matches(row, sub) for sub in cond):
                return False
        else:
            value = resolve_path(row, key)
            if isinstance(cond, Mapping) and cond and all(str(k).startswith("$") for k in cond):
                if not all(_op(op, value, arg) for op, arg in cond.items()):
                    return False
            elif not _op("$eq", value, cond):
                return False
    return True


def equality_terms(flt: Mapping[str, Any]) -> dict[str, Any] | None:
    """If ``flt`` is a pure AND of scalar equalities, return ``{path: value}``; else ``None``."""
    out: dict[str, Any] = {}
    for key, cond in flt.items():
        if key == "$and":
            for sub in cond:
                terms = equality_terms(sub) if isinstance(sub, Mapping) else None
                if terms is None or any(k in out and not _eq(out[k], v) for k, v in terms.items()):
                    return None
                out.update(terms)
            continue
        if key.startswith("$"):
            return None
        if isinstance(cond, Mapping):
            if list(cond) != ["$eq"]:
                return None
            cond = cond["$eq"]
        if cond is None or isinstance(cond, list | dict) or (key in out and not _eq(out[key], cond)):
            return None
        out[key] = cond
    return out or None


Render = Callable[[Any], Any]


def compile_filter(
    node: Any, locate: Callable[[str], int], *, keep_missing: bool = False
) -> tuple[Render, frozenset[str], bool]:
    """Compile a parsed filter: string leaves become templates rendered per evaluation.

    Args:
        node: the parsed JSON filter (must be an object at the top).
        locate: maps a key or leaf string to its 1-based column in the value text (for errors).
        keep_missing: render a placeholder leaf that resolves to ``None`` as ``None`` instead of
            raising :class:`MissingKey` (to tell what a lookup looked for).

    Returns:
        ``(render, references, constant)`` where ``render(ctx)`` builds the concrete filter and
        raises :class:`MissingKey` when a placeholder leaf resolves to ``None``.

    Raises:
        ExpressionError: unknown or misplaced operator, or a malformed operator argument.
    """
    refs: set[str] = set()
    dynamic = [False]

    def value(n: Any) -> Render:
        if isinstance(n, dict):
            items = [(k, value(v)) for k, v in n.items()]
            return lambda ctx: {k: r(ctx) for k, r in items}
        if isinstance(n, list):
            parts = [value(v) for v in n]
            return lambda ctx: [r(ctx) for r in parts]
        if isinstance(n, str):
            return leaf(n)
        return lambda ctx: n

    def leaf(text: str) -> Render:
        try:
            tpl = compile_template(text)
        except ExpressionError as exc:
            raise ExpressionError(exc.message, "", locate(text) + (exc.column or 1) - 1) from None
        if tpl.is_constant:
            return lambda ctx: text
        dynamic[0] = True
        refs.update(tpl.references)
        return tpl.evaluate if keep_missing else _present(tpl.evaluate)

    def field(name: str, n: Any) -> Render:
        if isinstance(n, dict) and any(str(k).startswith("$") for k in n):
            items = []
            for op, arg in n.items():
                if op not in _FIELD_OPS:
                    known = ", ".join(sorted(_FIELD_OPS))
                    hint = f"; {op} combines whole filters" if op in ("$and", "$or") else ""
                    raise ExpressionError(
                        f"unknown operator {op!r} on {name}{hint}; known: {known}", "", locate(str(op))
                    )
                if op in ("$in", "$nin") and not isinstance(arg, list | str):
                    raise ExpressionError(f"{op} takes a list of values", "", locate(op))
                items.append((op, value(arg)))
            return lambda ctx: {k: r(ctx) for k, r in items}
        return value(n)

    def filter_(n: Any) -> Render:
        if not isinstance(n, dict):
            raise ExpressionError(f"a filter must be a JSON object, got {type(n).__name__}", "", locate(""))
        items = []
        for key, sub in n.items():
            if key in ("$and", "$or"):
                if not isinstance(sub, list) or not sub:
                    raise ExpressionError(f"{key} takes a non-empty list of filter objects", "", locate(key))
                parts = [filter_(s) for s in sub]
                items.append((key, _list_render(parts)))
            elif key.startswith("$"):
                raise ExpressionError(
                    f"unknown operator {key!r}; known: {', '.join(KNOWN_OPERATORS)}", "", locate(key)
                )
            else:
                items.append((key, field(key, sub)))
        return lambda ctx: {k: r(ctx) for k, r in items}

    render = filter_(node)
    return render, frozenset(refs), not dynamic[0]


def _present(evaluate: Render) -> Render:
    """``evaluate``, raising :class:`MissingKey` where it gives ``None``."""

    def render_leaf(ctx: Any) -> Any:
        got = evaluate(ctx)
        if got is None:
            raise MissingKey
        return got

    return render_leaf


def _list_render(parts: list[Render]) -> Render:
    return lambda ctx: [r(ctx) for r in parts]


VALUE_CLIP = 60
"""Characters of one looked-for value kept in a message."""
_LIST_SHOWN = 5
_SIGNS = {
    "$eq": "=",
    "$ne": "!=",
    "$gt": ">",
    "$gte": ">=",
    "$lt": "<",
    "$lte": "<=",
    "$in": "in",
    "$nin": "not in",
}


def shown_value(value: Any) -> str:
    """A looked-for value as a message shows it: numbers bare, text quoted and escaped, each
    cut to :data:`VALUE_CLIP` characters, ``null``/``true``/``false``, lists by their first items."""
    if value is None or isinstance(value, bool):
        return _WORDS[value]
    if isinstance(value, list):
        items = [shown_value(v) for v in value[:_LIST_SHOWN]]
        more = f", … ({len(value):,} values)" if len(value) > _LIST_SHOWN else ""
        return f"[{', '.join(items)}{more}]"
    if isinstance(value, str | int | dict):
        return shown(value, VALUE_CLIP)
    if isinstance(value, float | Decimal):
        return clip(str(value), VALUE_CLIP)
    return shown(str(value), VALUE_CLIP)


_WORDS = {None: "null", True: "true", False: "false"}


def _field_name(path: str) -> str:
    return printable(path[8:] if path.startswith("content.") else path, VALUE_CLIP)


def _describe_op(name: str, op: str, arg: Any) -> str:
    if op == "$exists":
        return f"{name} {'exists' if arg else 'does not exist'}"
    return f"{name} {_SIGNS.get(op, op)} {shown_value(arg)}"


def _describe_term(key: str, cond: Any) -> str:
    if key in ("$and", "$or"):
        subs = cond if isinstance(cond, list) else [cond]
        word = " and " if key == "$and" else " or "
        return "(" + word.join(_describe_part(s) for s in subs) + ")"
    name = _field_name(key)
    if isinstance(cond, Mapping) and cond and all(str(k).startswith("$") for k in cond):
        return ", ".join(_describe_op(name, str(op), arg) for op, arg in cond.items())
    return f"{name} = {shown_value(cond)}"


def _describe_part(flt: Any) -> str:
    if not isinstance(flt, Mapping):
        return shown_value(flt)
    terms = [_describe_term(str(k), v) for k, v in flt.items()]
    return terms[0] if len(terms) == 1 else "(" + " and ".join(terms) + ")"


def describe_filter(flt: Mapping[str, Any]) -> str:
    """A rendered filter as the values it looks for, for messages.

    ``{"content.F_Id": {"$eq": 0}, "content.S": {"$in": ["a", "b"]}}`` gives
    ``F_Id = 0, S in ['a', 'b']`` (``content.`` left out; ``$and``/``$or`` in parentheses).
    """
    terms = [_describe_term(str(k), v) for k, v in flt.items()]
    if len(terms) == 1 and next(iter(flt)) in ("$and", "$or"):
        return terms[0][1:-1]
    return ", ".join(terms)
