"""Reading dates the way MariaDB reads them, and calendar arithmetic.

MariaDB accepts ``'2024-05-01'``, ``'2024/5/1 3:4:5'``, ``'2024-05-01T10:00:00.5'``,
``'20240501'``, ``'240501103000'`` and numbers like ``20240501``; text after a complete date
is ignored (with a warning in MariaDB). What it rejects with NULL — ``'abc'``,
``'2024-02-30'``, ``'2024-05-01 25:00'``, the zero date — raises :class:`BadDate` here.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

from ferry.expr.function._types import Kind, SqlType

__all__ = [
    "EPOCH",
    "TZ",
    "BadDate",
    "Moment",
    "add_interval",
    "from_epoch",
    "parse_datetime",
    "to_epoch",
    "to_moment",
]

TZ = timezone(timedelta(hours=8))
"""The session time zone every expression runs in (``SET time_zone='+08:00'``)."""
EPOCH = datetime(1970, 1, 1, 8, 0, 0)
"""1970-01-01 00:00:00 UTC as a +08:00 wall-clock time."""
MAX_EPOCH = 2147483647
"""The largest TIMESTAMP MariaDB 10.11 converts (2038-01-19 03:14:07 UTC)."""


class BadDate(ValueError):
    """A value MariaDB would turn into NULL with an "Incorrect datetime value" warning."""


@dataclass(frozen=True, slots=True)
class Moment:
    """A parsed date/datetime: whether it had a time part and how many fractional digits."""

    value: datetime
    has_time: bool
    fsp: int = 0


_PACKED = re.compile(r"(\d+)(?:\.(\d*))?")
_DELIMITED = re.compile(
    r"(\d{1,4})[^\d\s](\d{1,2})[^\d\s](\d{1,2})"
    r"(?:(?:[ \t]+|T)(\d{1,2})(?::(\d{1,2})(?::(\d{1,2})(?:\.(\d*))?)?)?)?"
)


def _year(text: str) -> int:
    year = int(text)
    if len(text) <= 2:
        return year + (2000 if year < 70 else 1900)
    return year


def _build(parts: tuple[int, int, int, int, int, int], fraction: str | None, has_time: bool) -> Moment:
    year, month, day, hour, minute, second = parts
    if year == 0 and month == 0 and day == 0:
        raise BadDate("the zero date 0000-00-00 is not a date")
    if not (1 <= year <= 9999 and 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]):
        raise BadDate(f"{year:04d}-{month:02d}-{day:02d} is not a valid date")
    if hour > 23 or minute > 59 or second > 59:
        raise BadDate(f"{hour:02d}:{minute:02d}:{second:02d} is not a valid time")
    digits = (fraction or "")[:6]
    micro = int(digits.ljust(6, "0")) if digits else 0
    value = datetime(year, month, day, hour, minute, second, micro)
    return Moment(value, has_time, len(digits))


def _packed(digits: str, fraction: str | None) -> Moment:
    size = len(digits)
    if size in (6, 12):
        year, rest = _year(digits[:2]), digits[2:]
    elif size in (8, 14):
        year, rest = int(digits[:4]), digits[4:]
    else:
        raise BadDate("is not a date")
    numbers = [int(rest[i : i + 2]) for i in range(0, len(rest), 2)] + [0, 0, 0]
    has_time = size > 8
    parts = (year, numbers[0], numbers[1], numbers[2], numbers[3], numbers[4])
    return _build(parts, fraction if has_time else None, has_time)


def parse_datetime(text: str) -> Moment:
    """Read a date or datetime from ``text`` as MariaDB does.

    Raises:
        BadDate: ``text`` is not a valid date/datetime.
    """
    body = text.lstrip(" \t\n\r")
    match = _DELIMITED.match(body)
    if match:
        y, mo, d, h, mi, s, frac = match.groups()
        parts = (_year(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0))
        return _build(parts, frac, h is not None)
    match = _PACKED.match(body)
    if match and (match.end() == len(body) or not body[match.end()].isdigit()):
        return _packed(match.group(1), match.group(2))
    raise BadDate("is not a date")


def _number_moment(whole: int, fraction: str | None) -> Moment:
    if whole <= 0:
        raise BadDate("is not a date")
    digits = str(whole)
    if len(digits) <= 6:
        return _packed(digits.rjust(6, "0"), None)
    if len(digits) <= 8:
        return _packed(digits.rjust(8, "0"), None)
    if len(digits) <= 12:
        return _packed(digits.rjust(12, "0"), fraction)
    return _packed(digits.rjust(14, "0"), fraction)


def to_moment(value: Any, t: SqlType) -> Moment:
    """Read a non-NULL value of type ``t`` as a date/datetime.

    Raises:
        BadDate: the value is not a valid date (or is a TIME, which has no date).
    """
    kind = t.kind
    if kind is Kind.DATETIME:
        return Moment(value, True, t.scale)
    if kind is Kind.DATE:
        return Moment(datetime.combine(value, time()), False)
    if kind is Kind.STR:
        return parse_datetime(value)
    if kind is Kind.INT:
        return _number_moment(value, None)
    if kind in (Kind.DEC, Kind.DBL):
        number = Decimal(repr(value)) if kind is Kind.DBL else value
        whole = int(number)
        fraction = format(abs(number) - abs(whole), "f")[2:] if number != whole else None
        return _number_moment(whole, fraction)
    raise BadDate("is a time, not a date")


def add_interval(moment: datetime, months: int, delta: timedelta) -> datetime:
    """``moment`` plus ``months`` (day clamped to the month's end) plus ``delta``.

    Raises:
        BadDate: the result is outside 0001-01-01 .. 9999-12-31.
    """
    result = moment
    if months:
        total = moment.year * 12 + moment.month - 1 + months
        year, month = divmod(total, 12)
        month += 1
        if not 1 <= year <= 9999:
            raise BadDate("the result is outside the supported date range")
        day = min(moment.day, calendar.monthrange(year, month)[1])
        result = moment.replace(year=year, month=month, day=day)
    if delta:
        try:
            result = result + delta
        except OverflowError:
            raise BadDate("the result is outside the supported date range") from None
    return result


def from_epoch(seconds: Decimal) -> datetime:
    """A Unix timestamp as +08:00 wall-clock time (``FROM_UNIXTIME``).

    Raises:
        BadDate: outside 0 .. 2147483647, where MariaDB returns NULL.
    """
    if seconds < 0 or seconds >= MAX_EPOCH + 1:
        raise BadDate(f"timestamp {seconds} is outside 0..{MAX_EPOCH}")
    whole = int(seconds)
    micro = int((seconds - whole) * 1_000_000)
    return EPOCH + timedelta(seconds=whole, microseconds=micro)


def to_epoch(moment: datetime) -> Decimal:
    """A +08:00 wall-clock time as a Unix timestamp (``UNIX_TIMESTAMP``).

    Raises:
        BadDate: before 1970-01-01 08:00:00 or after 2038-01-19 11:14:07, where MariaDB
            returns NULL.
    """
    delta = moment - EPOCH
    seconds = Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds).scaleb(-6)
    if seconds < 0 or seconds >= MAX_EPOCH + 1:
        raise BadDate("is outside the TIMESTAMP range 1970-01-01 08:00:00 .. 2038-01-19 11:14:07")
    return seconds


def as_date(value: datetime | date) -> date:
    """The date part."""
    return value.date() if isinstance(value, datetime) else value
