"""The date and time functions beyond the first set: names, argument counts and the calls
whose arguments are not plain expressions (a unit keyword, a clock precision)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlglot import exp

from ferry.expr.function import _dates_more, _time_fns  # noqa: F401 - they register their rules
from ferry.expr.function._dates_more import EXTRACT_UNITS
from ferry.expr.function._nodes import Node
from ferry.expr.function._temporal import DATE_UNITS, TIME_UNITS

if TYPE_CHECKING:
    from ferry.expr.function._compile import _Builder

__all__ = ["DATE_BUILDERS", "DATE_FUNCTIONS", "FSP_OPS"]

DATE_FUNCTIONS: dict[str, tuple[str, int, int | None]] = {
    "WEEKDAY": ("weekday", 1, 1),
    "DAYOFWEEK": ("dayofweek", 1, 1),
    "DAYOFYEAR": ("dayofyear", 1, 1),
    "QUARTER": ("quarter", 1, 1),
    "MONTHNAME": ("monthname", 1, 1),
    "DAYNAME": ("dayname", 1, 1),
    "TO_DAYS": ("to_days", 1, 1),
    "TO_SECONDS": ("to_seconds", 1, 1),
    "FROM_DAYS": ("from_days", 1, 1),
    "WEEK": ("week", 1, 2),
    "WEEKOFYEAR": ("weekofyear", 1, 1),
    "YEARWEEK": ("yearweek", 1, 2),
    "MAKEDATE": ("makedate", 2, 2),
    "PERIOD_ADD": ("period_add", 2, 2),
    "PERIOD_DIFF": ("period_diff", 2, 2),
    "TIMESTAMPDIFF": ("timestampdiff", 3, 3),
    "TIMESTAMPADD": ("timestampadd", 3, 3),
    "EXTRACT": ("extract", 2, 2),
    "UTC_TIMESTAMP": ("utc_timestamp", 0, 1),
    "UTC_DATE": ("utc_date", 0, 0),
    "UTC_TIME": ("utc_time", 0, 1),
    "CURTIME": ("curtime", 0, 1),
    "CURRENT_TIME": ("curtime", 0, 1),
    "TIME": ("time", 1, 1),
    "HOUR": ("hour", 1, 1),
    "MINUTE": ("minute", 1, 1),
    "SECOND": ("second", 1, 1),
    "MICROSECOND": ("microsecond", 1, 1),
    "TIME_TO_SEC": ("time_to_sec", 1, 1),
    "SEC_TO_TIME": ("sec_to_time", 1, 1),
    "MAKETIME": ("maketime", 3, 3),
    "ADDTIME": ("addtime", 2, 2),
    "SUBTIME": ("addtime", 2, 2),
    "TIMEDIFF": ("timediff", 2, 2),
    "TIMESTAMP": ("timestamp", 1, 2),
    "TIME_FORMAT": ("time_format", 2, 2),
    "CONVERT_TZ": ("convert_tz", 3, 3),
}
"""Function name → (node op, minimum and maximum argument count)."""

FSP_OPS = frozenset({"time", "time_to_sec", "timestamp", "addtime", "timediff", "convert_tz"})
"""Ops whose result precision follows the fractional digits of a text argument's value."""

_STEP_UNITS = sorted([*DATE_UNITS, *TIME_UNITS])
Builder = Callable[["_Builder", exp.Expression, str, list[exp.Expression]], Node]


def _unit(b: _Builder, arg: exp.Expression, name: str, units: list[str]) -> str:
    unit = arg.name.upper().removeprefix("SQL_TSI_") if isinstance(arg, (exp.Column, exp.Var)) else ""
    if unit not in units:
        raise b.error(f"{name} takes a unit keyword first, one of {', '.join(units)}", arg)
    return unit


def _fsp(b: _Builder, args: list[exp.Expression], name: str) -> int:
    if not args:
        return 0
    arg = args[0]
    if isinstance(arg, exp.Literal) and not arg.is_string and str(arg.this).isdigit() and int(arg.this) <= 6:
        return int(arg.this)
    raise b.error(f"{name} takes fractional-second precision 0..6 as a number", arg)


def _clock(b: _Builder, e: exp.Expression, name: str, args: list[exp.Expression]) -> Node:
    op = DATE_FUNCTIONS[name][0]
    now = b.node("now", [], _fsp(b, args, name), e)
    return b.node(op, [now], None, e)


def _timestampdiff(b: _Builder, e: exp.Expression, name: str, args: list[exp.Expression]) -> Node:
    unit = _unit(b, args[0], name, _STEP_UNITS)
    return b.node("timestampdiff", [b.build(args[1]), b.build(args[2])], unit, e)


def _timestampadd(b: _Builder, e: exp.Expression, name: str, args: list[exp.Expression]) -> Node:
    unit = _unit(b, args[0], name, _STEP_UNITS)
    return b.node("date_add", [b.build(args[2]), b.build(args[1])], (unit, 1), e)


def _extract(b: _Builder, e: exp.Expression, name: str, args: list[exp.Expression]) -> Node:
    unit = _unit(b, args[0], name, EXTRACT_UNITS)
    return b.node("extract", [b.build(args[1])], unit, e)


def _addtime(b: _Builder, e: exp.Expression, name: str, args: list[exp.Expression]) -> Node:
    return b.node("addtime", [b.build(a) for a in args], -1 if name == "SUBTIME" else 1, e)


DATE_BUILDERS: dict[str, Builder] = {
    "utc_timestamp": _clock,
    "utc_date": _clock,
    "utc_time": _clock,
    "curtime": _clock,
    "timestampdiff": _timestampdiff,
    "timestampadd": _timestampadd,
    "extract": _extract,
    "addtime": _addtime,
}
"""Node op → how its call becomes a Node (other ops build their arguments as expressions)."""
