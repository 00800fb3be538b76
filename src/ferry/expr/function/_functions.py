"""The supported functions: names, argument counts and how each call becomes a Node."""

from __future__ import annotations

from collections.abc import Callable
from difflib import get_close_matches
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from ferry.expr.function._bits import BIT_FUNCTIONS
from ferry.expr.function._datetime_calls import DATE_BUILDERS, DATE_FUNCTIONS
from ferry.expr.function._library import LIBRARY_FUNCTIONS, SYNTAX_BUILDERS, check_call
from ferry.expr.function._math import MATH_FUNCTIONS
from ferry.expr.function._nodes import Node

if TYPE_CHECKING:
    from ferry.expr.function._compile import _Builder

__all__ = ["FUNCTIONS", "SUPPORTED", "build_call"]

FUNCTIONS: dict[str, tuple[str, int, int | None]] = {
    "CONCAT": ("concat", 1, None),
    "CONCAT_WS": ("concat_ws", 2, None),
    "REPLACE": ("replace", 3, 3),
    "SUBSTRING": ("substring", 2, 3),
    "SUBSTR": ("substring", 2, 3),
    "MID": ("substring", 2, 3),
    "LEFT": ("left", 2, 2),
    "RIGHT": ("right", 2, 2),
    "LOCATE": ("locate", 2, 3),
    "UPPER": ("upper", 1, 1),
    "UCASE": ("upper", 1, 1),
    "LOWER": ("lower", 1, 1),
    "LCASE": ("lower", 1, 1),
    "LENGTH": ("length", 1, 1),
    "OCTET_LENGTH": ("length", 1, 1),
    "CHAR_LENGTH": ("char_length", 1, 1),
    "CHARACTER_LENGTH": ("char_length", 1, 1),
    "LPAD": ("lpad", 3, 3),
    "RPAD": ("rpad", 3, 3),
    "ROUND": ("round", 1, 2),
    "TRUNCATE": ("truncate", 2, 2),
    "FLOOR": ("floor", 1, 1),
    "CEIL": ("ceil", 1, 1),
    "CEILING": ("ceil", 1, 1),
    "ABS": ("abs", 1, 1),
    "MOD": ("mod", 2, 2),
    "IF": ("if", 3, 3),
    "IFNULL": ("coalesce", 2, 2),
    "NULLIF": ("nullif", 2, 2),
    "COALESCE": ("coalesce", 1, None),
    "FROM_UNIXTIME": ("from_unixtime", 1, 2),
    "UNIX_TIMESTAMP": ("unix_timestamp", 0, 1),
    "DATE_FORMAT": ("date_format", 2, 2),
    "LAST_DAY": ("last_day", 1, 1),
    "DAY": ("day", 1, 1),
    "DAYOFMONTH": ("day", 1, 1),
    "MONTH": ("month", 1, 1),
    "YEAR": ("year", 1, 1),
    "DATE": ("date", 1, 1),
    "DATEDIFF": ("datediff", 2, 2),
    "STR_TO_DATE": ("str_to_date", 2, 2),
    "INSTR": ("locate", 2, 2),
    "TRIM": ("trim", 1, 1),
    "LTRIM": ("trim", 1, 1),
    "RTRIM": ("trim", 1, 1),
    "NOW": ("now", 0, 1),
    "CURRENT_TIMESTAMP": ("now", 0, 1),
    "SYSDATE": ("now", 0, 1),
    "LOCALTIME": ("now", 0, 1),
    "LOCALTIMESTAMP": ("now", 0, 1),
    "CURDATE": ("curdate", 0, 0),
    "CURRENT_DATE": ("curdate", 0, 0),
    "DATE_ADD": ("date_add", 2, 2),
    "DATE_SUB": ("date_add", 2, 2),
    "ADDDATE": ("date_add", 2, 2),
    "SUBDATE": ("date_add", 2, 2),
    "SUM": ("agg", 1, 1),
    "AVG": ("agg", 1, 1),
    "MAX": ("agg", 1, 1),
    "MIN": ("agg", 1, 1),
    "COUNT": ("agg", 1, 1),
}
"""Function name → (node op, minimum and maximum argument count; ``None`` = no maximum)."""
FUNCTIONS.update(DATE_FUNCTIONS)
FUNCTIONS.update(LIBRARY_FUNCTIONS)
FUNCTIONS.update(MATH_FUNCTIONS | BIT_FUNCTIONS)

SUPPORTED = sorted({*FUNCTIONS, "CAST", "CONVERT", "POSITION"})
_CAST_TYPES = "SIGNED, UNSIGNED, DECIMAL(p,s), CHAR[(n)], DATE, DATETIME[(fsp)], DOUBLE"


def _name_and_args(e: exp.Expression) -> tuple[str, list[exp.Expression | None]]:
    if isinstance(e, exp.Anonymous):
        return str(e.this).upper(), list(e.expressions)
    if isinstance(e, exp.If):
        return "IF", [e.this, e.args.get("true"), e.args.get("false")]
    if isinstance(e, exp.Substring):
        return "SUBSTRING", [e.this, e.args.get("start"), e.args.get("length")]
    if isinstance(e, exp.StrPosition):
        return "POSITION", [e.args.get("substr"), e.this]
    if isinstance(e, (exp.CurrentDate,)):
        return "CURRENT_DATE", []
    if isinstance(e, (exp.CurrentTimestamp, exp.Localtime, exp.Localtimestamp)):
        return "CURRENT_TIMESTAMP", [e.this] if e.this is not None else []
    if isinstance(e, exp.Func):  # FLOOR, CEIL and other calls sqlglot parses itself
        args: list[exp.Expression | None] = []
        for key in e.arg_types:
            value = e.args.get(key)
            args.extend(
                value if isinstance(value, list) else [value] if isinstance(value, exp.Expression) else []
            )
        return e.sql_name().upper(), args
    return type(e).__name__.upper(), []


def build_call(b: _Builder, e: exp.Expression) -> Node:
    """The Node for a function call or CAST.

    Raises:
        ExpressionError: unknown function, wrong argument count or unsupported argument form.
    """
    syntax = _SYNTAX.get(type(e)) or SYNTAX_BUILDERS.get(type(e))
    if syntax is not None:
        return syntax(b, e)
    name, raw_args = _name_and_args(e)
    if name == "POSITION":
        return b.node("locate", [b.build(a) for a in raw_args if a is not None], None, e)
    op, args = _checked_call(b, e, name, [a for a in raw_args if a is not None])
    special = _OP_BUILDERS.get(op) or DATE_BUILDERS.get(op)
    if special is not None:
        return special(b, e, name, args)
    nodes = [b.build(a) for a in args]
    if name == "INSTR":
        nodes.reverse()
    return check_call(b, b.node(op, nodes, None, e), e)


def _checked_call(
    b: _Builder, e: exp.Expression, name: str, args: list[exp.Expression]
) -> tuple[str, list[exp.Expression]]:
    """``(op, args)`` of a known function called with an accepted number of arguments."""
    if name not in FUNCTIONS:
        nearest = get_close_matches(name, SUPPORTED, n=3, cutoff=0.0)
        raise b.error(
            f"unknown function {name} in _function expression; nearest supported: {', '.join(nearest)} "
            f"(all {len(SUPPORTED)} are listed in docs/functions.md)",
            e,
        )
    op, low, high = FUNCTIONS[name]
    if len(args) < low or (high is not None and len(args) > high):
        expected = str(low) if low == high else f"{low} to {high}" if high is not None else f"at least {low}"
        raise b.error(f"{name} expects {expected} argument(s), got {len(args)}", e)
    return op, args


def _now(b: _Builder, e: exp.Expression, name: str, args: list[exp.Expression]) -> Node:
    return b.node("now", [], _fsp(b, args[0], name) if args else 0, e)


def _trim_call(b: _Builder, e: exp.Expression, name: str, args: list[exp.Expression]) -> Node:
    where = {"LTRIM": "leading", "RTRIM": "trailing"}.get(name, "both")
    return b.node("trim", [b.build(args[0])], where, e)


def _fsp(b: _Builder, arg: exp.Expression, name: str) -> int:
    if isinstance(arg, exp.Literal) and not arg.is_string and str(arg.this).isdigit() and int(arg.this) <= 6:
        return int(arg.this)
    raise b.error(f"{name} takes fractional-second precision 0..6 as a number", arg)


def _trim(b: _Builder, e: exp.Trim) -> Node:
    where = str(e.args.get("position") or "BOTH").lower()
    args = [b.build(e.this)]
    if e.expression is not None:
        args.append(b.build(e.expression))
    return b.node("trim", args, where, e)


def _aggregate(b: _Builder, e: exp.Expression, name: str, arg: exp.Expression) -> Node:
    if b.in_aggregate:
        raise b.error(f"aggregate {name} cannot be nested inside another aggregate", e)
    distinct = isinstance(arg, exp.Distinct)
    if distinct:
        if len(arg.expressions) != 1:
            raise b.error(f"{name}(DISTINCT ...) takes exactly one expression", e)
        arg = arg.expressions[0]
    if isinstance(arg, exp.Star):
        raise b.error(f"{name}(*) has no array to count in _function; use {name}({{{{list.field}}}})", e)
    b.in_aggregate = True
    try:
        inner = b.build(arg)
    finally:
        b.in_aggregate = False
    return b.node("agg", [inner], (name, distinct), e)


def _date_add(b: _Builder, e: exp.Expression, name: str, args: list[exp.Expression]) -> Node:
    sign = -1 if name in ("DATE_SUB", "SUBDATE") else 1
    amount_expr = args[1]
    if isinstance(amount_expr, exp.Interval):
        amount, unit = b.interval(amount_expr)
    elif name in ("ADDDATE", "SUBDATE"):
        amount, unit = b.build(amount_expr), "DAY"
    else:
        raise b.error(f"{name} needs INTERVAL n unit as its second argument", amount_expr)
    return b.node("date_add", [b.build(args[0]), amount], (unit, sign), e)


def _type_param(b: _Builder, dtype: exp.DataType, index: int, default: int | None) -> int | None:
    params = dtype.expressions
    if index >= len(params):
        return default
    value = params[index].this
    if not (isinstance(value, exp.Literal) and str(value.this).isdigit()):
        raise b.error(f"type parameters must be numbers in CAST(... AS {dtype.sql(dialect='mysql')})", dtype)
    return int(value.this)


def _cast(b: _Builder, e: exp.Cast) -> Node:
    dtype = e.to
    kind = dtype.this
    T = exp.DataType.Type
    data: tuple[Any, ...]
    if kind in (T.BIGINT, T.INT):
        data = ("signed",)
    elif kind in (T.UBIGINT, T.UINT):
        data = ("unsigned",)
    elif kind is T.DOUBLE:
        data = ("double",)
    elif kind in (T.CHAR, T.NCHAR, T.VARCHAR, T.NVARCHAR):
        data = ("char", _type_param(b, dtype, 0, None))
    elif kind is T.DATE:
        data = ("date",)
    elif kind in (T.DATETIME, T.TIMESTAMP):
        fsp = _type_param(b, dtype, 0, 0)
        if fsp is None or fsp > 6:
            raise b.error("DATETIME precision must be 0..6", dtype)
        data = ("datetime", fsp)
    elif kind is T.DECIMAL:
        precision = _type_param(b, dtype, 0, 10)
        scale = _type_param(b, dtype, 1, 0)
        assert precision is not None and scale is not None
        if not (1 <= precision <= 65 and scale <= 38 and scale <= precision):
            raise b.error("DECIMAL(p,s) needs 1 <= p <= 65, s <= 38 and s <= p", dtype)
        data = ("decimal", precision, scale)
    else:
        raise b.error(f"unsupported CAST type {dtype.sql(dialect='mysql')}; supported: {_CAST_TYPES}", e)
    return b.node("cast", [b.build(e.this)], data, e)


_SYNTAX: dict[type[exp.Expression], Callable[[_Builder, Any], Node]] = {exp.Cast: _cast, exp.Trim: _trim}
"""Calls sqlglot parses into their own syntax nodes."""

_OP_BUILDERS: dict[str, Callable[[_Builder, exp.Expression, str, list[exp.Expression]], Node]] = {
    "agg": lambda b, e, name, args: _aggregate(b, e, name, args[0]),
    "date_add": _date_add,
    "now": _now,
    "trim": _trim_call,
}
"""Ops whose node is not simply the op over its built arguments."""
