"""Conversions between MySQL value kinds, following MariaDB 10.11.

Strings become numbers by their longest numeric prefix (``'12abc'`` → 12, ``'abc'`` → 0, as
MariaDB does with a warning); numbers print as MariaDB prints them (a DECIMAL with its
declared decimals, a double in its shortest form or with fixed decimals); dates print as
``YYYY-MM-DD[ HH:MM:SS[.ffffff]]``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Context, Decimal
from typing import Any

from ferry.expr.function._types import Kind, SqlType

__all__ = [
    "DEC",
    "coerce",
    "dbl_str",
    "dec_round",
    "dt_str",
    "finalize",
    "finalizer",
    "gcvt",
    "quantum",
    "str_to_decimal",
    "str_to_double",
    "str_to_int",
    "temporal_number",
    "to_decimal",
    "to_double",
    "to_int",
    "to_str",
]

DEC = Context(prec=200, rounding=ROUND_HALF_UP, Emax=999999, Emin=-999999)
"""Decimal context for every DECIMAL operation: exact for MySQL's 65 digits, HALF_UP rounding."""

_MAX_DBL = 1.7976931348623157e308
_NUM_PREFIX = re.compile(r"[ \t\n\r\f\v]*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)?")
_INT_PREFIX = re.compile(r"[ \t\n\r\f\v]*([+-]?\d+)?")


_QUANTA = {scale: Decimal(1).scaleb(-scale) for scale in range(-40, 81)}


def quantum(scale: int) -> Decimal:
    """``10 ** -scale`` as a Decimal (the ``exp`` argument of ``quantize``)."""
    found = _QUANTA.get(scale)
    return found if found is not None else Decimal(1).scaleb(-scale)


def dec_round(value: Decimal, scale: int, *, truncate: bool = False) -> Decimal:
    """``value`` rounded HALF_UP (or truncated) to ``scale`` decimals; negative zero becomes 0."""
    result = value.quantize(quantum(scale), ROUND_DOWN if truncate else ROUND_HALF_UP, DEC)
    return result.copy_abs() if result.is_zero() else result


def gcvt(x: float) -> str:
    """A double as MariaDB prints it when its decimals are not fixed (``my_gcvt``).

    The shortest round-trip digits, in plain notation when the decimal exponent is within
    MariaDB's limits (``1e15`` → ``'1e15'``, ``1.5e-7`` → ``'0.00000015'``), else ``d.ddde±N``.
    """
    text = repr(x)  # shortest round-trip digits; plain for 1e-4 <= |x| < 1e16
    if "e" not in text:
        if not text.endswith(".0"):
            return text  # a fraction: MariaDB prints it plain too
        if -1e15 < x < 1e15:
            return text[:-2] if x else "0"  # 10.0 -> '10'; -0.0 -> '0'
    return _gcvt_digits(x)


def _gcvt_digits(x: float) -> str:
    """:func:`gcvt` of a non-zero double, from its digits and decimal exponent."""
    sign = "-" if x < 0 else ""
    _, digits_t, exponent = Decimal(repr(abs(x))).as_tuple()
    digits = "".join(map(str, digits_t)).rstrip("0") or "0"
    assert isinstance(exponent, int)
    decpt = len(digits_t) + exponent
    length = len(digits)
    if decpt >= -14 and (decpt <= 15 or length > decpt):
        if decpt <= 0:
            return f"{sign}0.{'0' * -decpt}{digits}"
        if decpt >= length:
            return sign + digits + "0" * (decpt - length)
        return f"{sign}{digits[:decpt]}.{digits[decpt:]}"
    mantissa = digits[0] + ("." + digits[1:] if length > 1 else "")
    return f"{sign}{mantissa}e{decpt - 1}"


def dbl_str(x: float, scale: int) -> str:
    """A double printed with ``scale`` fixed decimals, or :func:`gcvt` when not fixed."""
    if scale >= 31:
        return gcvt(x)
    text = f"{x:.{scale}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def dt_str(value: datetime, fsp: int) -> str:
    """``YYYY-MM-DD HH:MM:SS`` plus ``fsp`` fractional digits."""
    text = (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    )
    return text + "." + f"{value.microsecond:06d}"[:fsp] if fsp else text


def _time_str(value: timedelta, fsp: int) -> str:
    micros = value // timedelta(microseconds=1)
    sign = "-" if micros < 0 else ""
    seconds, micro = divmod(abs(micros), 1_000_000)
    text = f"{sign}{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return text + "." + f"{micro:06d}"[:fsp] if fsp else text


def to_str(value: Any, t: SqlType) -> str:
    """The string MariaDB makes of a non-NULL ``value`` of type ``t``."""
    kind = t.kind
    if kind is Kind.STR:
        return value
    if kind is Kind.INT:
        return str(value)
    if kind is Kind.DEC:
        return format(dec_round(value, t.scale), "f")
    if kind is Kind.DBL:
        return dbl_str(value, t.scale)
    if kind is Kind.DATETIME:
        return dt_str(value, t.scale)
    if kind is Kind.DATE:
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    if kind is Kind.TIME:
        return _time_str(value, t.scale)
    raise AssertionError(f"no string for {t!r}")


def str_to_double(text: str) -> float:
    """MariaDB's string-to-double: the longest numeric prefix, 0.0 when there is none."""
    match = _NUM_PREFIX.match(text)
    number = match.group(1) if match else None
    if not number:
        return 0.0
    value = float(number)
    return math.copysign(_MAX_DBL, value) if math.isinf(value) else value


def str_to_decimal(text: str) -> Decimal:
    """MariaDB's string-to-decimal: the longest numeric prefix, 0 when there is none."""
    match = _NUM_PREFIX.match(text)
    number = match.group(1) if match else None
    return Decimal(number) if number else Decimal(0)


def str_to_int(text: str) -> int:
    """MariaDB's string-to-integer: the longest integer prefix (``'1.9'`` → 1), 0 if none."""
    match = _INT_PREFIX.match(text)
    number = match.group(1) if match else None
    return int(number) if number else 0


def temporal_number(value: Any, t: SqlType) -> int | Decimal:
    """A DATE/DATETIME/TIME as the number MySQL uses in arithmetic (``20240501`` ...)."""
    if t.kind is Kind.DATE:
        return value.year * 10000 + value.month * 100 + value.day
    if t.kind is Kind.TIME:
        seconds = int(value.total_seconds())
        sign = -1 if seconds < 0 else 1
        seconds = abs(seconds)
        whole = sign * (seconds // 3600 * 10000 + seconds // 60 % 60 * 100 + seconds % 60)
        micro = abs(value.microseconds) if t.scale else 0
    else:
        whole = (
            value.year * 10**10
            + value.month * 10**8
            + value.day * 10**6
            + value.hour * 10**4
            + value.minute * 100
            + value.second
        )
        micro = value.microsecond
    if not t.scale:
        return whole
    return dec_round(Decimal(whole) + Decimal(micro).scaleb(-6), t.scale, truncate=True)


def to_double(value: Any, t: SqlType) -> float:
    """``value`` as a double (``val_real``)."""
    kind = t.kind
    if kind is Kind.DBL:
        return value
    if kind is Kind.STR:
        return str_to_double(value)
    if kind in (Kind.INT, Kind.DEC):
        return float(value)
    return float(temporal_number(value, t))


def to_decimal(value: Any, t: SqlType) -> Decimal:
    """``value`` as a DECIMAL (``val_decimal``); a double converts through its shortest text."""
    kind = t.kind
    if kind is Kind.DEC:
        return value
    if kind is Kind.INT:
        return Decimal(value)
    if kind is Kind.DBL:
        return Decimal(repr(value)) if math.isfinite(value) else Decimal(0)
    if kind is Kind.STR:
        return str_to_decimal(value)
    return Decimal(temporal_number(value, t))


def to_int(value: Any, t: SqlType) -> int:
    """``value`` as an integer (``val_int``): DECIMAL rounds half up, double rounds half even,
    a string takes its integer prefix."""
    kind = t.kind
    if kind is Kind.INT:
        return value
    if kind is Kind.DEC:
        return int(value.quantize(Decimal(1), ROUND_HALF_UP, DEC))
    if kind is Kind.DBL:
        return round(value)
    if kind is Kind.STR:
        return str_to_int(value)
    number = temporal_number(value, t)
    return number if isinstance(number, int) else int(number.quantize(Decimal(1), ROUND_HALF_UP, DEC))


def coerce(value: Any, source: SqlType, target: SqlType) -> Any:
    """Convert a value of type ``source`` to ``target`` (a result type of IF/CASE/a column)."""
    if value is None or source == target or target.kind is Kind.NULL:
        return value
    kind = target.kind
    if kind is Kind.STR:
        return to_str(value, source)
    if kind is Kind.DEC:
        return to_decimal(value, source)
    if kind is Kind.DBL:
        return to_double(value, source)
    if kind is Kind.INT:
        return to_int(value, source)
    if kind is Kind.DATETIME and source.kind is Kind.DATE:
        return datetime.combine(value, time())
    if kind is Kind.DATETIME:
        return value
    if kind is Kind.DATE and isinstance(value, datetime):
        return value.date()
    return value


def finalize(value: Any, t: SqlType) -> Any:
    """The Python value a client receives for ``value`` of type ``t`` (as PyMySQL decodes it).

    DECIMAL is rounded to its declared decimals, a double goes through its printed text
    (``ROUND(x, 2)/7`` arrives as ``0.214286``), a DATETIME keeps ``scale`` fractional digits.
    """
    if value is None:
        return None
    kind = t.kind
    if kind is Kind.DEC:
        return dec_round(value, t.scale)
    if kind is Kind.DBL:
        return float(dbl_str(value, t.scale))
    if kind is Kind.DATETIME:
        keep = 10 ** (6 - t.scale)
        return value.replace(microsecond=value.microsecond // keep * keep)
    if kind is Kind.DATE and isinstance(value, datetime):
        return value.date()
    if kind is Kind.INT:
        return int(value)
    assert not isinstance(value, date) or kind in (Kind.DATE, Kind.DATETIME)
    return value


def finalizer(t: SqlType) -> Callable[[Any], Any]:
    """:func:`finalize` specialised for one result type: ``finalizer(t)(v) == finalize(v, t)``."""
    kind = t.kind
    if kind is Kind.DEC:
        exp = quantum(t.scale)

        def final_dec(value: Any) -> Any:
            if value is None:
                return None
            result = value.quantize(exp, ROUND_HALF_UP, DEC)
            return result.copy_abs() if result.is_zero() else result

        return final_dec
    if kind is Kind.STR or kind is Kind.NULL or kind is Kind.TIME:
        return _final_plain
    if kind is Kind.INT:
        return _final_int
    return lambda value: finalize(value, t)


def _final_plain(value: Any) -> Any:
    assert not isinstance(value, date)
    return value


def _final_int(value: Any) -> Any:
    return None if value is None else int(value)
