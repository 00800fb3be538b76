"""Calendar functions: week days and numbers, day numbers, periods, ``TIMESTAMPDIFF``,
``EXTRACT``, ``MAKEDATE`` and the UTC clock.

Each reads its date argument as ``DATE_FORMAT`` does (:func:`~ferry.expr.function._dates.to_moment`);
an invalid date fails the record where MariaDB returns NULL with a warning.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from ferry.expr.function._convert import to_int
from ferry.expr.function._datefmt import calc_week
from ferry.expr.function._dates import BadDate, Moment, to_moment
from ferry.expr.function._nodes import Env, Fn, Node, Spec, Specializer, bad_date, rule
from ferry.expr.function._times import time_of, time_or_date
from ferry.expr.function._types import DATE_T, INT_T, STR_T, SqlType

__all__ = [
    "DAY_NAMES",
    "EXTRACT_UNITS",
    "MONTH_NAMES",
    "moment_fn",
    "months_between",
    "on_date",
    "timestamp_diff",
    "week_mode",
]

DAY_NAMES = tuple(calendar.day_name)
"""Monday .. Sunday (``lc_time_names = en_US``)."""
MONTH_NAMES = tuple(calendar.month_name)[1:]
_MONDAY_FIRST, _WEEK_YEAR, _FIRST_WEEKDAY = 1, 2, 4
_MIN_DAYNR, _MAX_DAYNR = 366, 3652424
"""``TO_DAYS('0001-01-01')`` and ``TO_DAYS('9999-12-31')``."""
_UTC_SHIFT = timedelta(hours=8)


def moment_fn(node: Node, sx: Specializer, arg: Node) -> Callable[[list[Any], Env], Moment | None]:
    """A closure reading ``arg`` as a date/datetime (None for NULL; a bad date fails the record)."""
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


def on_date(node: Node, sx: Specializer, compute: Callable[[datetime], Any], t: SqlType) -> Spec:
    """``compute`` of the first argument read as a datetime, NULL for NULL."""
    read = moment_fn(node, sx, node.args[0])

    def on_moment(p: list[Any], e: Env) -> Any:
        moment = read(p, e)
        return None if moment is None else compute(moment.value)

    return on_moment, t


def _daynr(v: datetime | date) -> int:
    return v.toordinal() + 365


_PARTS: dict[str, tuple[Callable[[datetime], Any], SqlType]] = {
    "weekday": (lambda v: v.weekday(), INT_T),
    "dayofweek": (lambda v: (v.weekday() + 1) % 7 + 1, INT_T),
    "dayofyear": (lambda v: v.timetuple().tm_yday, INT_T),
    "quarter": (lambda v: (v.month - 1) // 3 + 1, INT_T),
    "monthname": (lambda v: MONTH_NAMES[v.month - 1], STR_T),
    "dayname": (lambda v: DAY_NAMES[v.weekday()], STR_T),
    "to_days": (_daynr, INT_T),
    "to_seconds": (lambda v: _daynr(v) * 86400 + v.hour * 3600 + v.minute * 60 + v.second, INT_T),
    "weekofyear": (lambda v: calc_week(v.date(), 3)[0], INT_T),
}


@rule(*_PARTS)
def _part(node: Node, sx: Specializer) -> Spec:
    compute, t = _PARTS[node.op]
    return on_date(node, sx, compute, t)


def week_mode(mode: int) -> int:
    """MySQL's ``week_mode``: the ``calc_week`` behaviour of ``WEEK(d, mode)``."""
    behaviour = mode & 7
    return behaviour if behaviour & _MONDAY_FIRST else behaviour ^ _FIRST_WEEKDAY


def _mode_fn(sx: Specializer, node: Node) -> Callable[[list[Any], Env], int]:
    if len(node.args) < 2:
        return lambda p, e: 0
    fn, t = sx.spec(node.args[1])

    def mode(p: list[Any], e: Env) -> int:
        value = fn(p, e)
        return 0 if value is None else to_int(value, t)

    return mode


@rule("week", "yearweek")
def _week(node: Node, sx: Specializer) -> Spec:
    read = moment_fn(node, sx, node.args[0])
    mode_fn = _mode_fn(sx, node)
    year_week = node.op == "yearweek"

    def week(p: list[Any], e: Env) -> int | None:
        moment = read(p, e)
        if moment is None:
            return None
        behaviour = week_mode(mode_fn(p, e))
        if not year_week:
            return calc_week(moment.value.date(), behaviour)[0]
        number, year = calc_week(moment.value.date(), behaviour | _WEEK_YEAR)
        return year * 100 + number

    return week, INT_T


def _ints(sx: Specializer, nodes: tuple[Node, ...]) -> Callable[[list[Any], Env], list[int] | None]:
    fns, types = sx.specs(nodes)
    pairs = list(zip(fns, types, strict=True))

    def ints(p: list[Any], e: Env) -> list[int] | None:
        out = []
        for fn, t in pairs:
            value = fn(p, e)
            if value is None:
                return None
            out.append(to_int(value, t))
        return out

    return ints


@rule("from_days")
def _from_days(node: Node, sx: Specializer) -> Spec:
    ints = _ints(sx, node.args)

    def from_days(p: list[Any], e: Env) -> date | None:
        values = ints(p, e)
        if values is None:
            return None
        if not _MIN_DAYNR <= values[0] <= _MAX_DAYNR:
            raise bad_date(
                node, BadDate("the day number is before 0001-01-01 or after 9999-12-31"), values[0]
            )
        return date.fromordinal(values[0] - 365)

    return from_days, DATE_T


def _two_digit_year(year: int) -> int:
    if year < 100:
        return year + (2000 if year < 70 else 1900)
    return year


@rule("makedate")
def _makedate(node: Node, sx: Specializer) -> Spec:
    ints = _ints(sx, node.args)

    def makedate(p: list[Any], e: Env) -> date | None:
        values = ints(p, e)
        if values is None or not 0 <= values[0] <= 9999 or values[1] <= 0:
            return None
        daynr = _daynr(date(_two_digit_year(values[0]), 1, 1)) + values[1] - 1
        return date.fromordinal(daynr - 365) if daynr <= _MAX_DAYNR else None

    return makedate, DATE_T


def _period_months(period: int) -> int:
    if period == 0:
        return 0
    return _two_digit_year(period // 100) * 12 + period % 100 - 1


def _months_period(months: int) -> int:
    if months == 0:
        return 0
    return _two_digit_year(months // 12) * 100 + months % 12 + 1


@rule("period_add", "period_diff")
def _period(node: Node, sx: Specializer) -> Spec:
    ints = _ints(sx, node.args)
    adding = node.op == "period_add"

    def period(p: list[Any], e: Env) -> int | None:
        values = ints(p, e)
        if values is None:
            return None
        a, b = values
        if adding:
            return 0 if a == 0 else _months_period(_period_months(a) + b)
        return _period_months(a) - _period_months(b)

    return period, INT_T


_SECONDS_PER = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400, "WEEK": 604800}
_MONTHS_PER = {"MONTH": 1, "QUARTER": 3, "YEAR": 12}


def months_between(beg: datetime, end: datetime) -> int:
    """Whole months from ``beg`` to ``end`` (``end >= beg``), as MariaDB's TIMESTAMPDIFF counts."""
    months = (end.year - beg.year) * 12 + end.month - beg.month
    if end.day < beg.day or (end.day == beg.day and time_of(end) < time_of(beg)):
        months -= 1
    return months


def timestamp_diff(unit: str, a: datetime, b: datetime) -> int:
    """``TIMESTAMPDIFF(unit, a, b)``: whole units from ``a`` to ``b``, truncated toward zero."""
    sign = -1 if b < a else 1
    beg, end = (b, a) if sign < 0 else (a, b)
    if unit in _MONTHS_PER:
        return sign * (months_between(beg, end) // _MONTHS_PER[unit])
    micros = (end - beg) // timedelta(microseconds=1)
    if unit == "MICROSECOND":
        return sign * micros
    return sign * (micros // 1_000_000 // _SECONDS_PER[unit])


@rule("timestampdiff")
def _timestampdiff(node: Node, sx: Specializer) -> Spec:
    a_fn, b_fn = (moment_fn(node, sx, arg) for arg in node.args)
    unit = node.data

    def diff(p: list[Any], e: Env) -> int | None:
        a = a_fn(p, e)
        b = b_fn(p, e) if a is not None else None
        return None if a is None or b is None else timestamp_diff(unit, a.value, b.value)

    return diff, INT_T


_DATE_UNITS = {
    "YEAR": lambda v: v.year,
    "QUARTER": lambda v: (v.month - 1) // 3 + 1,
    "MONTH": lambda v: v.month,
    "WEEK": lambda v: calc_week(v.date(), week_mode(0))[0],
    "YEAR_MONTH": lambda v: v.year * 100 + v.month,
}
_CLOCK_UNITS: dict[str, Callable[[int, int, int, int, int], int]] = {
    "DAY": lambda d, h, m, s, u: d,
    "HOUR": lambda d, h, m, s, u: h,
    "MINUTE": lambda d, h, m, s, u: m,
    "SECOND": lambda d, h, m, s, u: s,
    "MICROSECOND": lambda d, h, m, s, u: u,
    "DAY_HOUR": lambda d, h, m, s, u: d * 100 + h,
    "DAY_MINUTE": lambda d, h, m, s, u: (d * 100 + h) * 100 + m,
    "DAY_SECOND": lambda d, h, m, s, u: ((d * 100 + h) * 100 + m) * 100 + s,
    "DAY_MICROSECOND": lambda d, h, m, s, u: (((d * 100 + h) * 100 + m) * 100 + s) * 1_000_000 + u,
    "HOUR_MINUTE": lambda d, h, m, s, u: h * 100 + m,
    "HOUR_SECOND": lambda d, h, m, s, u: (h * 100 + m) * 100 + s,
    "HOUR_MICROSECOND": lambda d, h, m, s, u: ((h * 100 + m) * 100 + s) * 1_000_000 + u,
    "MINUTE_SECOND": lambda d, h, m, s, u: m * 100 + s,
    "MINUTE_MICROSECOND": lambda d, h, m, s, u: (m * 100 + s) * 1_000_000 + u,
    "SECOND_MICROSECOND": lambda d, h, m, s, u: s * 1_000_000 + u,
}
EXTRACT_UNITS = sorted([*_DATE_UNITS, *_CLOCK_UNITS])
"""Every unit ``EXTRACT`` takes."""


def _clock_parts(value: timedelta | Moment) -> tuple[int, tuple[int, int, int, int, int]]:
    """Sign and (days, hours, minutes, seconds, microseconds) of a TIME or a datetime."""
    if isinstance(value, Moment):
        v = value.value
        return 1, (v.day, v.hour, v.minute, v.second, v.microsecond)
    sign = -1 if value < timedelta() else 1
    micros = abs(value) // timedelta(microseconds=1)
    seconds, micro = divmod(micros, 1_000_000)
    hours = seconds // 3600
    return sign, (hours // 24, hours % 24, seconds // 60 % 60, seconds % 60, micro)


def _extract_clock(node: Node, sx: Specializer) -> Fn:
    fn, t = sx.spec(node.args[0])
    compute = _CLOCK_UNITS[node.data]

    def extract(p: list[Any], e: Env) -> int | None:
        value = fn(p, e)
        if value is None:
            return None
        try:
            sign, parts = _clock_parts(time_or_date(value, t))
        except BadDate as exc:
            raise bad_date(node, exc, value) from None
        return sign * compute(*parts)

    return extract


@rule("extract")
def _extract(node: Node, sx: Specializer) -> Spec:
    if node.data in _DATE_UNITS:
        return on_date(node, sx, _DATE_UNITS[node.data], INT_T)
    return _extract_clock(node, sx), INT_T


@rule("utc_timestamp", "utc_date")
def _utc(node: Node, sx: Specializer) -> Spec:
    now_fn, now_t = sx.spec(node.args[0])
    as_date = node.op == "utc_date"

    def utc(p: list[Any], e: Env) -> Any:
        moment = now_fn(p, e) - _UTC_SHIFT
        return moment.date() if as_date else moment

    return utc, DATE_T if as_date else now_t
