"""Placeholder formatters (``{{LAST_SYNC_TIME|datetime}}``) and the time parsing behind them.

Formatter names are case-insensitive (``dateTime`` is ``datetime``):

==============  ==============================================
``datetime``    ``'YYYY-MM-DD HH:MM:SS'`` in the run's time zone
``date``        ``'YYYY-MM-DD'`` in the run's time zone
``timestamp``   epoch seconds (int)
``unix``        epoch seconds (int), alias of ``timestamp``
``timestamp_ms`` epoch milliseconds (int)
==============  ==============================================

The value is parsed first (:func:`to_datetime`): aware/naive datetimes, dates, int/float epochs
(seconds when ``abs(v) < 1e11``, else milliseconds), digit strings as epochs, and strings such as
``2024-05-01 10:00:00``, ``2024-05-01T10:00:00``, ``2024-05-01``, ``2024/05/01 10:00`` or ISO 8601
with an offset or ``Z``. Naive values are wall-clock times in the run's time zone (Asia/Shanghai
unless configured). ``None`` and ``""`` format to ``None``; a list is formatted element-wise.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from ferry.expr.tzoffsets import constant_offset

__all__ = [
    "FORMATTERS",
    "TimeParseError",
    "apply_formatter",
    "epoch_seconds",
    "formatter_function",
    "normalize_formatter",
    "to_datetime",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS_THRESHOLD = 1e11


class TimeParseError(ValueError):
    """A value could not be read as a point in time."""


def to_datetime(value: Any, tz: tzinfo) -> datetime:
    """Read ``value`` as an aware datetime; naive inputs are taken to be in ``tz``.

    Raises:
        TimeParseError: the value is not a recognisable time (message names the value).
    """
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=tz)
    if isinstance(value, bool):
        raise TimeParseError(f"{value!r} is not a time")
    if isinstance(value, int | float | Decimal):
        return _from_epoch(float(value))
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise TimeParseError("empty string is not a time")
        if text.lstrip("-").replace(".", "", 1).isdigit():
            return _from_epoch(float(text))
        iso = text.replace("/", "-")
        if iso.endswith(("Z", "z")):
            iso = iso[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(iso)
        except ValueError:
            raise TimeParseError(f"{value!r} is not a recognised date/time") from None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)
    raise TimeParseError(f"{type(value).__name__} value {value!r} is not a time")


def _from_epoch(seconds: float) -> datetime:
    if abs(seconds) >= _MS_THRESHOLD:
        seconds /= 1000.0
    try:
        return _EPOCH + timedelta(seconds=seconds)
    except OverflowError:
        raise TimeParseError(f"epoch {seconds!r} is out of range") from None


def epoch_seconds(dt: datetime) -> int:
    """Whole epoch seconds of an aware datetime (floor)."""
    return (dt - _EPOCH) // timedelta(seconds=1)


def _epoch_ms(dt: datetime) -> int:
    return (dt - _EPOCH) // timedelta(milliseconds=1)


def _local(dt: datetime, tz: tzinfo) -> datetime:
    return dt if dt.tzinfo is tz else dt.astimezone(tz)


def _fmt_datetime(dt: datetime, tz: tzinfo) -> str:
    return _local(dt, tz).isoformat(" ", "seconds")[:19]


def _fmt_date(dt: datetime, tz: tzinfo) -> str:
    return _local(dt, tz).date().isoformat()


def _fmt_seconds(dt: datetime, tz: tzinfo) -> int:
    return epoch_seconds(dt)


def _fmt_ms(dt: datetime, tz: tzinfo) -> int:
    return _epoch_ms(dt)


Formatter = Callable[[datetime, tzinfo], Any]

FORMATTERS: dict[str, Formatter] = {
    "date": _fmt_date,
    "datetime": _fmt_datetime,
    "timestamp": _fmt_seconds,
    "timestamp_ms": _fmt_ms,
    "unix": _fmt_seconds,
}
"""Known formatters by lower-case name."""


def normalize_formatter(name: str) -> str | None:
    """Return the canonical (lower-case) formatter name, or ``None`` if unknown."""
    key = name.lower()
    return key if key in FORMATTERS else None


def apply_formatter(name: str, value: Any, tz: tzinfo) -> Any:
    """Format ``value`` with the canonical formatter ``name``.

    ``None``/``""`` give ``None``; lists are formatted element-wise.

    Raises:
        TimeParseError: the value (or a list element) is not a time.
    """
    if value is None or value == "":
        return None
    if isinstance(value, list):
        return [apply_formatter(name, v, tz) for v in value]
    return FORMATTERS[name](to_datetime(value, tz), tz)


_MAX_FAST_EPOCH = 100_000_000_000  # below 1e11 an int is epoch seconds (see to_datetime)
_HH_MM = tuple(f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60))
_SS = tuple(f"{sec:02d}" for sec in range(60))
_DAY_TEXT: dict[int, str] = {}
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _day_text(days: int) -> str:
    """``YYYY-MM-DD`` of a day number counted from 1970-01-01 (memoised)."""
    text = _DAY_TEXT.get(days)
    if text is None:
        if len(_DAY_TEXT) >= 8192:
            _DAY_TEXT.clear()
        text = _DAY_TEXT[days] = date.fromordinal(_EPOCH_ORDINAL + days).isoformat()
    return text


def _fast_local(value: Any, tz: tzinfo) -> int | None:
    """Local wall-clock seconds since 1970-01-01 of int epoch seconds, when the zone's offset is
    known to be constant there (:func:`~ferry.expr.tzoffsets.constant_offset`); else ``None``."""
    if type(value) is not int or not 0 <= value < _MAX_FAST_EPOCH:
        return None
    fixed = constant_offset(tz)
    if fixed is None or value < fixed[0]:
        return None
    return value + fixed[1]


_ZONE: list[tuple[Any, tuple[int, int] | None]] = [(None, None)]
"""The last zone :func:`_datetime_value` met with its :func:`constant_offset` (a run has one),
as one tuple: threads formatting in two zones never see one zone with the other's offset."""


def _datetime_value(value: Any, tz: tzinfo) -> Any:
    if type(value) is int and 0 <= value < _MAX_FAST_EPOCH:  # _fast_local, inlined: per record
        zone = _ZONE[0]
        if zone[0] is not tz:
            zone = _ZONE[0] = (tz, constant_offset(tz))
        fixed = zone[1]
        if fixed is not None and value >= fixed[0]:
            days, rest = divmod(value + fixed[1], 86400)
            day = _DAY_TEXT.get(days) or _day_text(days)
            return day + " " + _HH_MM[rest // 60] + _SS[rest % 60]
    return apply_formatter("datetime", value, tz)


def _date_value(value: Any, tz: tzinfo) -> Any:
    local = _fast_local(value, tz)
    if local is None:
        return apply_formatter("date", value, tz)
    return _day_text(local // 86400)


def _seconds_value(value: Any, tz: tzinfo) -> Any:
    if type(value) is int and 0 <= value < _MAX_FAST_EPOCH:
        return value  # whole epoch seconds already
    return apply_formatter("timestamp", value, tz)


_FAST: dict[str, Callable[[Any, tzinfo], Any]] = {
    "date": _date_value,
    "datetime": _datetime_value,
    "timestamp": _seconds_value,
    "unix": _seconds_value,
}


def formatter_function(name: str) -> Callable[[Any, tzinfo], Any]:
    """``apply_formatter`` bound to the canonical formatter ``name``: ``f(value, tz)``.

    The result is always ``apply_formatter(name, value, tz)``; int epoch seconds take a path
    that needs no datetime arithmetic when the zone's offset is constant at that instant.
    """
    fast = _FAST.get(name)
    if fast is not None:
        return fast
    return lambda value, tz: apply_formatter(name, value, tz)
