"""Reading TIME values the way MariaDB reads them.

A TIME is a signed ``timedelta`` within ±838:59:59.999999. Text reads as
``[-][D ]H:M[:S[.frac]]`` or packed ``[-]HHMMSS[.frac]`` (``'1112'`` is 00:11:12); a text that
is a complete datetime (``'2024-05-01 10:00:00'``) gives its time of day. A number reads as
``HHMMSS``, or — beyond 838:59:59 — as a ``YYYYMMDD[HHMMSS]`` datetime. Hours past 838 clip to
838:59:59 (MariaDB keeps the clipped value with a warning); minutes or seconds past 59 are
not a time (:class:`~ferry.expr.function._dates.BadDate`, NULL in MariaDB).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ferry.expr.function._dates import BadDate, Moment, parse_datetime, to_moment
from ferry.expr.function._types import Kind, SqlType

__all__ = [
    "TIME_MAX",
    "clip_time",
    "looks_like_datetime",
    "parse_time",
    "text_fsp",
    "time_of",
    "time_or_date",
    "to_time",
    "to_time_or_moment",
    "value_fsp",
]

TIME_MAX = timedelta(hours=838, minutes=59, seconds=59)
"""The largest TIME (838:59:59); MariaDB clips beyond it."""
_MAX_PACKED = 8385959

_COLON = re.compile(r"(-?)(?:(\d+)[ \t]+)?(\d+):(\d+)(?::(\d+))?(?:\.(\d*))?")
_PACKED = re.compile(r"(-?)(\d+)(?:\.(\d*))?")
_TIME_FIRST = re.compile(r"[ \t\n\r]*-?(?:\d+[ \t]+)?\d+:")
_FULL_DATETIME = re.compile(r"\d{1,4}[^\d\s:]\d{1,2}[^\d\s:]\d{1,2}(?:[ \t]+|T)\d")


def clip_time(value: timedelta, fsp: int = 0) -> timedelta:
    """``value`` clipped to ±838:59:59 plus ``fsp`` nines of fraction, as MariaDB clips a
    TIME of ``fsp`` digits (a value inside the range is unchanged)."""
    if -TIME_MAX - timedelta(microseconds=999_999) <= value <= TIME_MAX + timedelta(microseconds=999_999):
        return value
    limit = TIME_MAX + timedelta(microseconds=(10**fsp - 1) * 10 ** (6 - fsp))
    return limit if value > timedelta() else -limit


def _fraction(digits: str | None) -> tuple[int, int]:
    """Microseconds and fsp of a fraction's digits (truncated to 6, as MariaDB does)."""
    kept = (digits or "")[:6]
    return (int(kept.ljust(6, "0")) if kept else 0), len(kept)


def _assemble(negative: bool, hours: int, minutes: int, seconds: int, micro: int) -> timedelta:
    if minutes > 59 or seconds > 59:
        raise BadDate(f"{hours:02d}:{minutes:02d}:{seconds:02d} is not a valid time")
    value = timedelta(hours=hours, minutes=minutes, seconds=seconds, microseconds=micro)
    return clip_time(-value if negative else value)


def _packed_time(negative: bool, whole: int, micro: int) -> timedelta:
    return _assemble(negative, whole // 10000, whole // 100 % 100, whole % 100, micro)


def parse_time(text: str) -> tuple[timedelta, int]:
    """A TIME and its fractional digits from ``text``.

    Raises:
        BadDate: ``text`` is not a time.
    """
    body = text.lstrip(" \t\n\r")
    if _FULL_DATETIME.match(body):
        moment = parse_datetime(body)
        return time_of(moment.value), moment.fsp
    match = _COLON.match(body)
    if match:
        sign, days, hours, minutes, seconds, frac = match.groups()
        micro, fsp = _fraction(frac)
        total_hours = int(days or 0) * 24 + int(hours)
        return _assemble(sign == "-", total_hours, int(minutes), int(seconds or 0), micro), fsp
    match = _PACKED.match(body)
    if match:
        sign, digits, frac = match.groups()
        micro, fsp = _fraction(frac)
        return _packed_time(sign == "-", int(digits), micro), fsp
    raise BadDate("is not a time")


def time_of(value: datetime) -> timedelta:
    """The time of day of ``value``."""
    return timedelta(
        hours=value.hour, minutes=value.minute, seconds=value.second, microseconds=value.microsecond
    )


def _number_time(number: Decimal) -> timedelta:
    negative = number < 0
    whole = int(abs(number))
    micro = int((abs(number) - whole).scaleb(6))
    if whole > _MAX_PACKED:
        try:
            moment = to_moment(whole, SqlType(Kind.INT))
        except BadDate:
            return -TIME_MAX if negative else TIME_MAX
        return time_of(moment.value)
    return _packed_time(negative, whole, micro)


def to_time(value: Any, t: SqlType) -> timedelta:
    """A non-NULL value of type ``t`` as a TIME (a date or datetime gives its time of day).

    Raises:
        BadDate: the value is not a time.
    """
    kind = t.kind
    if kind is Kind.TIME:
        return value
    if kind is Kind.DATETIME:
        return time_of(value)
    if kind is Kind.DATE:
        return timedelta()
    if kind is Kind.STR:
        return parse_time(value)[0]
    if kind is Kind.INT:
        return _number_time(Decimal(value))
    return _number_time(Decimal(repr(value)) if kind is Kind.DBL else value)


def time_or_date(value: Any, t: SqlType) -> timedelta | Moment:
    """A value read as ``EXTRACT`` reads it: a text shaped like a time (``'100:11:12'``) is a
    TIME, another text a date/datetime when it is one; numbers and temporals as
    :func:`to_time_or_moment`.

    Raises:
        BadDate: the value is neither a time nor a date.
    """
    if t.kind is Kind.STR and not _TIME_FIRST.match(value):
        try:
            return parse_datetime(value)
        except BadDate:
            pass
    return to_time_or_moment(value, t)


def to_time_or_moment(value: Any, t: SqlType) -> timedelta | Moment:
    """A value read as MariaDB reads the first argument of ``ADDTIME``/``TIMEDIFF``: a text that
    is a complete datetime (or a DATE/DATETIME) gives a :class:`Moment`, anything else a TIME.

    Raises:
        BadDate: the value is neither.
    """
    kind = t.kind
    if kind is Kind.DATETIME or kind is Kind.DATE:
        return to_moment(value, t)
    if kind is Kind.STR and _FULL_DATETIME.match(value.lstrip(" \t\n\r")):
        return parse_datetime(value)
    if kind is Kind.INT and abs(value) > _MAX_PACKED:
        return to_moment(value, t)
    return to_time(value, t)


def looks_like_datetime(text: str) -> bool:
    """Whether ``text`` starts with a date and a time (``'2024-05-01 10:00'``)."""
    return _FULL_DATETIME.match(text.lstrip(" \t\n\r")) is not None


def text_fsp(text: str) -> int:
    """Fractional digits MariaDB gives a constant text read as a time or datetime (6 when it is
    neither, as for a non-constant text)."""
    try:
        return parse_time(text)[1]
    except BadDate:
        pass
    try:
        return parse_datetime(text).fsp
    except BadDate:
        return 6


def value_fsp(t: SqlType, const: Any = None) -> int:
    """Fractional digits of a temporal argument of type ``t``; ``const`` is a constant text's
    ``("fsp", n)`` feature or value when known."""
    kind = t.kind
    if kind in (Kind.DATETIME, Kind.TIME):
        return t.scale
    if kind is Kind.DEC:
        return min(t.scale, 6)
    if kind is Kind.DBL:
        return 6
    if kind is Kind.STR:
        if isinstance(const, tuple) and const[:1] == ("fsp",):
            return int(const[1])
        return text_fsp(const) if isinstance(const, str) else 6
    return 0
