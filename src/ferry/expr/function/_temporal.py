"""Date and time functions.

Types follow MariaDB: ``DATE_ADD`` on a DATE with a day-level unit is a DATE, on a DATETIME
a DATETIME, and on a *string* a string (``DATE_ADD('2024-01-31', INTERVAL 1 MONTH)`` is
``'2024-02-29'``, with a time part only when the input or the unit has one). An invalid date
— where MariaDB returns NULL with a warning — raises :class:`~ferry.errors.RecordError`.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ferry.errors import RecordError
from ferry.expr.function._convert import dt_str, to_decimal, to_int, to_str
from ferry.expr.function._datefmt import date_format, str_to_date, str_to_date_kind
from ferry.expr.function._dates import (
    BadDate,
    Moment,
    add_interval,
    from_epoch,
    parse_datetime,
    to_epoch,
    to_moment,
)
from ferry.expr.function._nodes import Env, Node, Spec, Specializer, bad_date, rule
from ferry.expr.function._types import (
    DATE_T,
    INT_T,
    STR_T,
    Kind,
    SqlType,
    dec_t,
    dt_t,
)

__all__ = ["DATE_UNITS", "TIME_UNITS"]

DATE_UNITS = {"DAY": 0, "WEEK": 0, "MONTH": 1, "QUARTER": 3, "YEAR": 12}
"""Day-level interval units (value: months per unit, 0 for day-based units)."""
TIME_UNITS = {"MICROSECOND", "SECOND", "MINUTE", "HOUR"}


def _now(fsp: int) -> Callable[[list[Any], Env], datetime]:
    keep = 10 ** (6 - fsp)

    def now(p: list[Any], e: Env) -> datetime:
        return e.now.replace(microsecond=e.now.microsecond // keep * keep)

    return now


@rule("now")
def _now_rule(node: Node, sx: Specializer) -> Spec:
    return _now(node.data), dt_t(node.data)


@rule("curdate")
def _curdate(node: Node, sx: Specializer) -> Spec:
    def curdate(p: list[Any], e: Env) -> Any:
        return e.now.date()

    return curdate, DATE_T


def _moment_fn(node: Node, sx: Specializer, arg: Node) -> Callable[[list[Any], Env], Moment | None]:
    fn, t = sx.spec(arg)

    def moment(p: list[Any], e: Env) -> Moment | None:
        value = fn(p, e)
        if value is None:
            return None
        try:
            return to_moment(value, t)
        except BadDate as exc:
            raise bad_date(node, exc, value) from None

    return moment


def _on_moment(node: Node, sx: Specializer, compute: Callable[[datetime], Any], t: SqlType) -> Spec:
    moment_fn = _moment_fn(node, sx, node.args[0])

    def on_moment(p: list[Any], e: Env) -> Any:
        moment = moment_fn(p, e)
        return None if moment is None else compute(moment.value)

    return on_moment, t


@rule("day", "month", "year", "date", "last_day")
def _parts(node: Node, sx: Specializer) -> Spec:
    if node.op == "day":
        return _on_moment(node, sx, lambda v: v.day, INT_T)
    if node.op == "month":
        return _on_moment(node, sx, lambda v: v.month, INT_T)
    if node.op == "year":
        return _on_moment(node, sx, lambda v: v.year, INT_T)
    if node.op == "date":
        return _on_moment(node, sx, lambda v: v.date(), DATE_T)
    return _on_moment(
        node, sx, lambda v: v.date().replace(day=calendar.monthrange(v.year, v.month)[1]), DATE_T
    )


@rule("datediff")
def _datediff(node: Node, sx: Specializer) -> Spec:
    a_fn, b_fn = (_moment_fn(node, sx, arg) for arg in node.args)

    def datediff(p: list[Any], e: Env) -> int | None:
        a = a_fn(p, e)
        b = b_fn(p, e) if a is not None else None
        return None if a is None or b is None else (a.value.date() - b.value.date()).days

    return datediff, INT_T


@rule("date_format")
def _date_format(node: Node, sx: Specializer) -> Spec:
    moment_fn = _moment_fn(node, sx, node.args[0])
    fmt_fn, fmt_t = sx.spec(node.args[1])

    def formatted(p: list[Any], e: Env) -> str | None:
        moment = moment_fn(p, e)
        fmt = fmt_fn(p, e) if moment is not None else None
        return None if fmt is None or moment is None else date_format(moment.value, to_str(fmt, fmt_t))

    return formatted, STR_T


def _interval(unit: str, value: Any, t: SqlType) -> tuple[int, timedelta]:
    try:
        return _interval_parts(unit, value, t)
    except OverflowError:
        raise BadDate("the interval is outside the supported date range") from None


def _interval_parts(unit: str, value: Any, t: SqlType) -> tuple[int, timedelta]:
    if unit == "SECOND":
        seconds = to_decimal(value, t)
        micro = int((seconds * 1_000_000).to_integral_value())
        return 0, timedelta(microseconds=micro)
    amount = to_int(value, t)
    if DATE_UNITS.get(unit):
        return amount * DATE_UNITS[unit], timedelta()
    scale = {"MICROSECOND": 1, "MINUTE": 60_000_000, "HOUR": 3_600_000_000, "DAY": 86_400_000_000}
    scale["WEEK"] = 7 * scale["DAY"]
    return 0, timedelta(microseconds=amount * scale[unit])


@rule("date_add")
def _date_add(node: Node, sx: Specializer) -> Spec:
    """``data``: (unit, sign); args: date, amount."""
    unit, sign = node.data
    (x_fn, n_fn), (x_t, n_t) = sx.specs(node.args)
    interval_fsp = 0
    if unit == "MICROSECOND":
        interval_fsp = 6
    elif unit == "SECOND" and n_t.kind is Kind.DEC:
        interval_fsp = min(n_t.scale, 6)
    time_unit = unit in TIME_UNITS
    kind = x_t.kind
    if kind is Kind.DATE:
        out_t = dt_t(interval_fsp) if time_unit else DATE_T
    elif kind is Kind.DATETIME:
        out_t = dt_t(max(x_t.scale, interval_fsp))
    else:
        out_t = STR_T

    def date_add(p: list[Any], e: Env) -> Any:
        value = x_fn(p, e)
        amount = n_fn(p, e) if value is not None else None
        if value is None or amount is None:
            return None
        try:
            moment = to_moment(value, x_t)
            months, delta = _interval(unit, amount, n_t)
            result = add_interval(moment.value, sign * months, delta if sign > 0 else -delta)
        except BadDate as exc:
            raise bad_date(node, exc, value) from None
        if out_t.kind is Kind.DATE:
            return result.date()
        if out_t.kind is Kind.DATETIME:
            return result
        if moment.has_time or time_unit:
            return dt_str(result, max(moment.fsp, interval_fsp))
        return f"{result.year:04d}-{result.month:02d}-{result.day:02d}"

    return date_add, out_t


@rule("from_unixtime")
def _from_unixtime(node: Node, sx: Specializer) -> Spec:
    ts_fn, ts_t = sx.spec(node.args[0])
    if ts_t.kind is Kind.INT:
        fsp = 0
    elif ts_t.kind is Kind.DEC:
        fsp = min(ts_t.scale, 6)
    else:
        fsp = 6

    def from_unixtime(p: list[Any], e: Env) -> datetime | None:
        value = ts_fn(p, e)
        if value is None:
            return None
        try:
            return from_epoch(to_decimal(value, ts_t))
        except BadDate as exc:
            raise RecordError(f"FROM_UNIXTIME: {exc} in _function: {node.src}") from None

    if len(node.args) == 1:
        return from_unixtime, dt_t(fsp)
    fmt_fn, fmt_t = sx.spec(node.args[1])

    def formatted(p: list[Any], e: Env) -> str | None:
        moment = from_unixtime(p, e)
        fmt = fmt_fn(p, e) if moment is not None else None
        return None if moment is None or fmt is None else date_format(moment, to_str(fmt, fmt_t))

    return formatted, STR_T


def _known_fsp(const: Any) -> int:
    """Fractional digits of a date string whose value is part of the signature."""
    if isinstance(const, tuple) and const[:1] == ("fsp",):
        return int(const[1])
    if isinstance(const, str):
        try:
            return parse_datetime(const).fsp
        except BadDate:
            return 0
    return 0


@rule("unix_timestamp")
def _unix_timestamp(node: Node, sx: Specializer) -> Spec:
    if not node.args:

        def unix_now(p: list[Any], e: Env) -> int:
            return int(to_epoch(e.now.replace(microsecond=0)))

        return unix_now, INT_T
    arg = node.args[0]
    arg_fn, arg_t = sx.spec(arg)
    if arg_t.kind is Kind.DATETIME:
        fsp = arg_t.scale
    elif arg_t.kind is Kind.DEC:
        fsp = min(arg_t.scale, 6)
    else:
        fsp = _known_fsp(sx.consts.get(arg.data)) if arg.op == "param" else 0
    moment_fn = _moment_fn(node, sx, arg)
    out_t = dec_t(fsp) if fsp else INT_T

    def unix_timestamp(p: list[Any], e: Env) -> Any:
        moment = moment_fn(p, e)
        if moment is None:
            return None
        try:
            seconds = to_epoch(moment.value)
        except BadDate as exc:
            raise bad_date(node, exc, arg_fn(p, e)) from None
        return int(seconds) if not fsp else seconds

    return unix_timestamp, out_t


@rule("str_to_date")
def _str_to_date(node: Node, sx: Specializer) -> Spec:
    text_fn, text_t = sx.spec(node.args[0])
    known, fmt = sx.fold(node.args[1])
    if not known:
        raise RecordError(f"STR_TO_DATE needs a constant format in _function: {node.src}")
    if fmt is None:
        return (lambda p, e: None), dt_t(0)
    fmt_text = to_str(fmt, sx.spec(node.args[1])[1])
    kind, fsp = str_to_date_kind(fmt_text)
    out_t = DATE_T if kind == "date" else dt_t(fsp) if kind == "datetime" else SqlType(Kind.TIME, fsp)

    def parse(p: list[Any], e: Env) -> Any:
        value = text_fn(p, e)
        if value is None:
            return None
        text = to_str(value, text_t)
        try:
            moment, clock = str_to_date(text, fmt_text)
        except BadDate as exc:
            raise RecordError(
                f"STR_TO_DATE cannot read {text!r} with format {fmt_text!r} ({exc}) in _function: {node.src}"
            ) from None
        if kind == "date":
            return moment.date()
        return clock if kind == "time" else moment

    return parse, out_t
