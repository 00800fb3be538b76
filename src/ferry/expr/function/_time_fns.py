"""Time-of-day functions: ``TIME``, ``HOUR`` .. ``MICROSECOND``, ``TIME_TO_SEC``,
``SEC_TO_TIME``, ``MAKETIME``, ``ADDTIME``/``SUBTIME``, ``TIMEDIFF``, ``TIMESTAMP``,
``TIME_FORMAT``, ``CONVERT_TZ`` and the ``CURTIME``/``UTC_TIME`` clocks.

A TIME is a ``timedelta`` (see :mod:`ferry.expr.function._times`); its fractional digits
follow the argument's: a DATETIME(3) gives TIME(3), a constant text its own digits.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_DOWN, Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ferry.expr.function._convert import DEC, dt_str, to_decimal, to_int, to_str
from ferry.expr.function._dates import MAX_EPOCH, BadDate, Moment, to_moment
from ferry.expr.function._nodes import Env, Fn, Node, Spec, Specializer, bad_date, rule
from ferry.expr.function._times import (
    clip_time,
    looks_like_datetime,
    time_of,
    to_time,
    to_time_or_moment,
    value_fsp,
)
from ferry.expr.function._types import INT_T, STR_T, Kind, SqlType, dec_t, dt_t

__all__ = ["arg_fsp", "time_format"]

_ONE_MICRO = timedelta(microseconds=1)
_UTC_SHIFT = timedelta(hours=8)
_UNIX_EPOCH = datetime(1970, 1, 1)


def arg_fsp(sx: Specializer, node: Node, t: SqlType) -> int:
    """Fractional digits MariaDB gives argument ``node`` of type ``t``."""
    if node.op == "const":
        return value_fsp(t, node.data[0])
    if node.op == "param":
        return value_fsp(t, sx.consts.get(node.data))
    return value_fsp(t)


def time_t(fsp: int) -> SqlType:
    """TIME with ``fsp`` fractional digits."""
    return SqlType(Kind.TIME, max(0, min(fsp, 6)))


def _read(node: Node, sx: Specializer, arg: Node, read: Callable[[Any, SqlType], Any]) -> Fn:
    fn, t = sx.spec(arg)

    def reader(p: list[Any], e: Env) -> Any:
        value = fn(p, e)
        if value is None:
            return None
        try:
            return read(value, t)
        except BadDate as exc:
            raise bad_date(node, exc, value) from None

    return reader


def _micros(value: timedelta) -> int:
    return value // _ONE_MICRO


@rule("time")
def _time(node: Node, sx: Specializer) -> Spec:
    fsp = arg_fsp(sx, node.args[0], sx.spec(node.args[0])[1])
    return _read(node, sx, node.args[0], to_time), time_t(fsp)


_TIME_PARTS: dict[str, Callable[[int], int]] = {
    "hour": lambda micros: micros // 3_600_000_000,
    "minute": lambda micros: micros // 60_000_000 % 60,
    "second": lambda micros: micros // 1_000_000 % 60,
    "microsecond": lambda micros: micros % 1_000_000,
}


@rule(*_TIME_PARTS)
def _time_part(node: Node, sx: Specializer) -> Spec:
    read = _read(node, sx, node.args[0], to_time)
    compute = _TIME_PARTS[node.op]

    def part(p: list[Any], e: Env) -> int | None:
        value = read(p, e)
        return None if value is None else compute(abs(_micros(value)))

    return part, INT_T


@rule("time_to_sec")
def _time_to_sec(node: Node, sx: Specializer) -> Spec:
    fsp = arg_fsp(sx, node.args[0], sx.spec(node.args[0])[1])
    read = _read(node, sx, node.args[0], to_time)

    def time_to_sec(p: list[Any], e: Env) -> Any:
        value = read(p, e)
        if value is None:
            return None
        micros = _micros(value)
        if not fsp:
            return int(micros / 1_000_000)
        return Decimal(micros).scaleb(-6).quantize(Decimal(1).scaleb(-fsp), ROUND_DOWN, DEC)

    return time_to_sec, dec_t(fsp) if fsp else INT_T


def _seconds_fsp(t: SqlType) -> int:
    if t.kind is Kind.INT:
        return 0
    return min(t.scale, 6) if t.kind is Kind.DEC else 6


@rule("sec_to_time")
def _sec_to_time(node: Node, sx: Specializer) -> Spec:
    fn, t = sx.spec(node.args[0])
    fsp = _seconds_fsp(t)

    def sec_to_time(p: list[Any], e: Env) -> timedelta | None:
        value = fn(p, e)
        if value is None:
            return None
        micros = int(to_decimal(value, t).scaleb(6))
        return clip_time(timedelta(microseconds=micros), fsp)

    return sec_to_time, time_t(fsp)


@rule("maketime")
def _maketime(node: Node, sx: Specializer) -> Spec:
    fns, types = sx.specs(node.args)
    fsp = _seconds_fsp(types[2])

    def maketime(p: list[Any], e: Env) -> timedelta | None:
        values = [fn(p, e) for fn in fns]
        if None in values:
            return None
        hours, minutes = to_int(values[0], types[0]), to_int(values[1], types[1])
        seconds = to_decimal(values[2], types[2])
        if not 0 <= minutes <= 59:
            return None
        if not 0 <= seconds < 60:
            raise bad_date(node, BadDate("seconds must be 0 up to 60"), values[2])
        micros = int(seconds.scaleb(6)) + (abs(hours) * 3600 + minutes * 60) * 1_000_000
        return clip_time(timedelta(microseconds=-micros if hours < 0 else micros), fsp)

    return maketime, time_t(fsp)


@rule("curtime", "utc_time")
def _curtime(node: Node, sx: Specializer) -> Spec:
    now_fn, now_t = sx.spec(node.args[0])
    shift = _UTC_SHIFT if node.op == "utc_time" else timedelta()

    def curtime(p: list[Any], e: Env) -> timedelta:
        return time_of(now_fn(p, e) - shift)

    return curtime, time_t(now_t.scale)


def _interval(value: Any, t: SqlType) -> timedelta:
    """The second argument of ``ADDTIME``/``TIMESTAMP``: a time, never a datetime."""
    if t.kind in (Kind.DATE, Kind.DATETIME) or (t.kind is Kind.STR and looks_like_datetime(value)):
        raise BadDate("is not a time interval")
    return to_time(value, t)


def _shift(base: timedelta | Moment, delta: timedelta) -> timedelta | datetime | None:
    """``base`` plus ``delta``: a TIME (not yet clipped), a datetime, or None past 9999-12-31."""
    if isinstance(base, timedelta):
        return base + delta
    try:
        result = base.value + delta
    except OverflowError:
        return None
    return result if result.year <= 9999 else None


def _add_fn(node: Node, sx: Specializer, sign: int, first: Callable[[Any, SqlType], Any]) -> Fn:
    base_fn = _read(node, sx, node.args[0], first)
    delta_fn = _read(node, sx, node.args[1], _interval)

    def add(p: list[Any], e: Env) -> timedelta | datetime | None:
        base = base_fn(p, e)
        delta = delta_fn(p, e) if base is not None else None
        if base is None or delta is None:
            return None
        return _shift(base, delta if sign > 0 else -delta)

    return add


def _as_text(value: timedelta | datetime | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return dt_str(value, 6 if value.microsecond else 0)
    value = clip_time(value, 6)
    return to_str(value, time_t(6 if value.microseconds else 0))


def _fsps(sx: Specializer, node: Node) -> int:
    return max(arg_fsp(sx, arg, sx.spec(arg)[1]) for arg in node.args)


@rule("addtime")
def _addtime(node: Node, sx: Specializer) -> Spec:
    """``data``: +1 (``ADDTIME``) or -1 (``SUBTIME``)."""
    kind = sx.spec(node.args[0])[1].kind
    fsp = _fsps(sx, node)
    if kind in (Kind.DATE, Kind.DATETIME):
        return _add_fn(node, sx, node.data, to_moment), dt_t(fsp)
    add = _add_fn(node, sx, node.data, to_time_or_moment)
    if kind is Kind.TIME:
        return (lambda p, e: _clip_fsp(add(p, e), fsp)), time_t(fsp)
    return (lambda p, e: _as_text(add(p, e))), STR_T


def _clip_fsp(value: Any, fsp: int) -> Any:
    return None if value is None else clip_time(value, fsp)


@rule("timestamp")
def _timestamp(node: Node, sx: Specializer) -> Spec:
    fsp = _fsps(sx, node)
    if len(node.args) == 2:
        return _add_fn(node, sx, 1, to_moment), dt_t(fsp)
    read = _read(node, sx, node.args[0], to_moment)
    return (lambda p, e: _moment_value(read(p, e))), dt_t(fsp)


def _moment_value(moment: Moment | None) -> datetime | None:
    return None if moment is None else moment.value


def _timediff_class(t: SqlType) -> str | None:
    """What MariaDB compares in TIMEDIFF for a typed argument; None: decided by the value."""
    return {Kind.DATE: "date", Kind.DATETIME: "datetime", Kind.TIME: "time"}.get(t.kind)


def _difference(a: timedelta | Moment, b: timedelta | Moment) -> timedelta | None:
    if isinstance(a, Moment) and isinstance(b, Moment):
        return a.value - b.value
    if isinstance(a, timedelta) and isinstance(b, timedelta):
        return a - b
    return None


@rule("timediff")
def _timediff(node: Node, sx: Specializer) -> Spec:
    fsp = _fsps(sx, node)
    types = [sx.spec(arg)[1] for arg in node.args]
    classes = {_timediff_class(t) for t in types}
    if ("date" in classes and classes != {"date"}) or len(classes - {None}) > 1:
        return (lambda p, e: None), time_t(fsp)
    a_fn, b_fn = (_read(node, sx, arg, to_time_or_moment) for arg in node.args)

    def timediff(p: list[Any], e: Env) -> timedelta | None:
        a = a_fn(p, e)
        b = b_fn(p, e) if a is not None else None
        if a is None or b is None:
            return None
        result = _difference(a, b)
        return None if result is None else clip_time(result, fsp)

    return timediff, time_t(fsp)


_DATE_SPECS = frozenset("abcDdejMmUuVvWwXxYy")


def _hour12(hours: int) -> int:
    return (hours % 24 + 11) % 12 + 1


def _time_spec(ch: str, hours: int, minutes: int, seconds: int, micro: int) -> str:
    ampm = "AM" if hours % 24 < 12 else "PM"
    specs = {
        "H": f"{hours:02d}",
        "k": str(hours),
        "h": f"{_hour12(hours):02d}",
        "I": f"{_hour12(hours):02d}",
        "l": str(_hour12(hours)),
        "i": f"{minutes:02d}",
        "s": f"{seconds:02d}",
        "S": f"{seconds:02d}",
        "f": f"{micro:06d}",
        "p": ampm,
        "T": f"{hours:02d}:{minutes:02d}:{seconds:02d}",
        "r": f"{_hour12(hours):02d}:{minutes:02d}:{seconds:02d} {ampm}",
    }
    return specs.get(ch, ch)


def time_format(value: timedelta, fmt: str) -> str | None:
    """``TIME_FORMAT``: ``fmt`` with time specifiers only; a date specifier gives NULL."""
    micros = _micros(value)
    seconds, micro = divmod(abs(micros), 1_000_000)
    parts = (seconds // 3600, seconds // 60 % 60, seconds % 60, micro)
    out = ["-"] if micros < 0 else []
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch != "%" or i + 1 == len(fmt):
            out.append(ch)
            i += 1
            continue
        spec = fmt[i + 1]
        if spec in _DATE_SPECS:
            return None
        out.append(_time_spec(spec, *parts))
        i += 2
    return "".join(out)


@rule("time_format")
def _time_format(node: Node, sx: Specializer) -> Spec:
    read = _read(node, sx, node.args[0], to_time)
    fmt_fn, fmt_t = sx.spec(node.args[1])

    def formatted(p: list[Any], e: Env) -> str | None:
        value = read(p, e)
        fmt = fmt_fn(p, e) if value is not None else None
        return None if value is None or fmt is None else time_format(value, to_str(fmt, fmt_t))

    return formatted, STR_T


@lru_cache(maxsize=256)
def zone(name: str) -> timezone | ZoneInfo | None:
    """A ``CONVERT_TZ`` zone: an offset ``[+-]h:mm`` within -12:59 .. +13:00, or an IANA name
    (``Asia/Shanghai``); None for anything else."""
    if name[:1] in ("+", "-"):
        hours, _, minutes = name[1:].partition(":")
        if not (hours.isdigit() and len(minutes) == 2 and minutes.isdigit() and int(minutes) < 60):
            return None
        offset = timedelta(hours=int(hours), minutes=int(minutes)) * (-1 if name[0] == "-" else 1)
        inside = -timedelta(hours=12, minutes=59) <= offset <= timedelta(hours=13)
        return timezone(offset) if inside else None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def convert_tz(value: datetime, source: timezone | ZoneInfo, target: timezone | ZoneInfo) -> datetime:
    """``value`` (a wall time in ``source``) as a wall time in ``target``; unchanged outside the
    TIMESTAMP range, as MariaDB leaves it."""
    utc = value.replace(tzinfo=source).astimezone(UTC).replace(tzinfo=None)
    seconds = (utc - _UNIX_EPOCH) // timedelta(seconds=1)
    if not 1 <= seconds <= MAX_EPOCH:
        return value
    return utc.replace(tzinfo=UTC).astimezone(target).replace(tzinfo=None)


@rule("convert_tz")
def _convert_tz(node: Node, sx: Specializer) -> Spec:
    fsp = arg_fsp(sx, node.args[0], sx.spec(node.args[0])[1])
    read = _read(node, sx, node.args[0], to_moment)
    (from_fn, to_fn), (from_t, to_t) = sx.specs(node.args[1:])

    def converted(p: list[Any], e: Env) -> datetime | None:
        moment = read(p, e)
        names = (from_fn(p, e), to_fn(p, e)) if moment is not None else (None, None)
        if moment is None or None in names:
            return None
        source, target = zone(to_str(names[0], from_t)), zone(to_str(names[1], to_t))
        if source is None or target is None:
            return None
        return convert_tz(moment.value, source, target)

    return converted, dt_t(fsp)
