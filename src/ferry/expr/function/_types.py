"""MySQL value types as the evaluator models them, and the rules that combine them.

A value's *type* is fixed when an expression is specialised for the types of its parameters,
exactly as MariaDB fixes an item's type before it computes anything. Values are plain Python
objects (``None`` is SQL NULL whatever the type):

========  =============================  =====================================================
kind      Python value                   ``scale``
========  =============================  =====================================================
NULL      ``None``                       —
INT       ``int``                        —
DEC       ``decimal.Decimal``            declared decimals; the value itself may carry more
                                         digits (MariaDB keeps 9-digit words internally and
                                         rounds only when the value leaves the expression)
DBL       ``float``                      decimals used to print it, ``NOT_FIXED`` = shortest
STR       ``str``                        —
DATE      ``datetime.date``              —
DATETIME  ``datetime.datetime`` (naive)  fractional-second digits (0-6)
TIME      ``datetime.timedelta``         fractional-second digits (0-6)
========  =============================  =====================================================
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from enum import IntEnum
from typing import Any, NamedTuple

__all__ = [
    "BIND_BY_TYPE",
    "DATETIME_T",
    "DATE_T",
    "DBL_T",
    "INT_T",
    "MAX_SCALE",
    "NOT_FIXED",
    "NULL_T",
    "STR_T",
    "TIME_T",
    "Kind",
    "ListSig",
    "SqlType",
    "bare_value",
    "dec_scale",
    "dec_t",
    "dt_t",
    "number_literal",
    "result_type",
    "scalar_value",
]

NOT_FIXED = 31
"""MariaDB's ``NOT_FIXED_DEC``: a double printed with as many digits as it needs."""
MAX_SCALE = 38
"""MariaDB's ``DECIMAL_MAX_SCALE``."""
_UINT64_MAX = 2**64 - 1
_SESSION_TZ = timezone(timedelta(hours=8))


class Kind(IntEnum):
    """The result class of a MySQL value."""

    NULL = 0
    INT = 1
    DEC = 2
    DBL = 3
    STR = 4
    DATE = 5
    DATETIME = 6
    TIME = 7


class SqlType(NamedTuple):
    """A MySQL type: its kind and, for DEC/DBL/DATETIME/TIME, its scale.

    A named tuple, so that the specialisation caches, which hash a tuple of these per
    record, hash and compare them without calling Python code."""

    kind: Kind
    scale: int = 0

    @property
    def numeric(self) -> bool:
        """INT, DEC or DBL."""
        return Kind.INT <= self.kind <= Kind.DBL

    @property
    def temporal(self) -> bool:
        """DATE, DATETIME or TIME."""
        return self.kind >= Kind.DATE

    def __repr__(self) -> str:
        return f"{self.kind.name}({self.scale})" if self.scale else self.kind.name


@dataclass(frozen=True, slots=True)
class ListSig:
    """The signature of a parameter bound to a list (an array path): its column type."""

    elem: SqlType


NULL_T = SqlType(Kind.NULL)
INT_T = SqlType(Kind.INT)
DBL_T = SqlType(Kind.DBL, NOT_FIXED)
STR_T = SqlType(Kind.STR)
DATE_T = SqlType(Kind.DATE)
DATETIME_T = SqlType(Kind.DATETIME, 0)
TIME_T = SqlType(Kind.TIME, 0)


_DEC_TYPES = tuple(SqlType(Kind.DEC, scale) for scale in range(MAX_SCALE + 1))


def dec_t(scale: int) -> SqlType:
    """DECIMAL with ``scale`` decimals (capped at MariaDB's maximum)."""
    return _DEC_TYPES[max(0, min(scale, MAX_SCALE))]


def dt_t(fsp: int) -> SqlType:
    """DATETIME with ``fsp`` fractional-second digits."""
    return SqlType(Kind.DATETIME, max(0, min(fsp, 6)))


def dec_scale(value: Decimal) -> int:
    """Digits after the point that ``value`` carries (0 for integral exponents)."""
    text = str(value)
    if "E" not in text and value.is_finite():  # plain notation: the scale is the digits after "."
        point = text.find(".")
        return 0 if point < 0 else len(text) - point - 1
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def result_type(types: Iterable[SqlType]) -> SqlType:
    """The type of ``IF``/``CASE``/``COALESCE``/``IFNULL`` over branches of ``types``.

    NULL branches are ignored; a string, or a temporal branch mixed with a non-temporal one,
    makes the result a string; DATE with DATETIME gives DATETIME; otherwise the widest
    numeric type wins (INT < DEC < DBL) with the largest scale.
    """
    present = [t for t in types if t.kind is not Kind.NULL]
    if not present:
        return NULL_T
    kinds = {t.kind for t in present}
    if Kind.STR in kinds:
        return STR_T
    if any(t.temporal for t in present):
        if not all(t.temporal for t in present):
            return STR_T
        if kinds == {Kind.DATE}:
            return DATE_T
        if Kind.TIME in kinds:
            return STR_T if len(kinds) > 1 else SqlType(Kind.TIME, max(t.scale for t in present))
        return dt_t(max(t.scale for t in present))
    if Kind.DBL in kinds:
        scales = [t.scale if t.kind is not Kind.INT else 0 for t in present]
        return SqlType(Kind.DBL, min(max(scales), NOT_FIXED))
    if Kind.DEC in kinds:
        return dec_t(max(t.scale for t in present))
    return INT_T


_EXP_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)[eE][+-]?\d+")
_INT_MIN = -(2**63)
_SIGNS = ("+", "-")


def number_literal(text: str) -> tuple[Any, SqlType]:
    """Value and type of a MySQL numeric literal (``12`` INT, ``1.50`` DEC(2), ``1e3`` DBL).

    Digits are Unicode decimal digits (what ``\\d`` matches); no regex runs unless the text
    has an exponent.

    Raises:
        ValueError: ``text`` is not a numeric literal.
    """
    body = text[1:] if text.startswith(_SIGNS) else text
    if body.isdecimal():
        number = int(text)
        if _INT_MIN <= number <= _UINT64_MAX:
            return number, INT_T
        return Decimal(number), _DEC_TYPES[0]
    point = body.find(".")
    if point >= 0:
        whole, frac = body[:point], body[point + 1 :]
        if (whole or frac) and (not whole or whole.isdecimal()) and (not frac or frac.isdecimal()):
            return Decimal(text), dec_t(len(frac))
    if _EXP_RE.fullmatch(text):
        double = float(text)
        if math.isinf(double):
            raise ValueError(f"double out of range: {text!r}")
        return double, DBL_T
    raise ValueError(f"not a number: {text!r}")


def _bind_none(value: None) -> tuple[Any, SqlType]:
    return None, NULL_T


def _bind_bool(value: bool) -> tuple[Any, SqlType]:
    return int(value), INT_T


def _bind_int(value: int) -> tuple[Any, SqlType]:
    if _INT_MIN <= value <= _UINT64_MAX:
        return value, INT_T
    return Decimal(value), _DEC_TYPES[0]


def _bind_float(value: float) -> tuple[Any, SqlType]:
    text = repr(value)
    if "e" in text or "n" in text:  # exponent notation, inf or nan
        if not math.isfinite(value):
            raise ValueError(f"cannot bind the non-finite number {value}")
        return value, DBL_T
    # The shortest round-trip text of a finite float without exponent always has a point.
    return Decimal(text), _DEC_TYPES[len(text) - text.index(".") - 1]  # at most 20 digits


_FLOATS: dict[float, tuple[Any, SqlType]] = {}
"""Bindings of plain floats seen before (prices and rates repeat across records)."""
_FLOATS_KEPT = 4096
_ZEROS = {1.0: _bind_float(0.0), -1.0: _bind_float(-0.0)}
"""``0.0`` and ``-0.0`` are one key of :data:`_FLOATS` but two texts: by sign apart."""


def _bind_plain_float(value: float) -> tuple[Any, SqlType]:
    """:func:`_bind_float` of an exact ``float``, remembered: a repeated value costs one dict
    lookup instead of ``repr`` and ``Decimal``."""
    bound = _FLOATS.get(value)
    if bound is None:
        if not value:
            return _ZEROS[math.copysign(1.0, value)]
        bound = _bind_float(value)
        if len(_FLOATS) >= _FLOATS_KEPT:
            _FLOATS.clear()
        _FLOATS[value] = bound
    return bound


def _bind_decimal(value: Decimal) -> tuple[Any, SqlType]:
    if not value.is_finite():
        raise ValueError(f"cannot bind the non-finite number {value}")
    text = str(value)
    if "E" in text:  # scientific notation: a positive exponent or a tiny value
        if value.as_tuple().exponent > 0:  # type: ignore[operator]
            value = value.quantize(Decimal(1))
        return value, dec_t(dec_scale(value))
    point = text.find(".")
    return value, dec_t(0 if point < 0 else len(text) - point - 1)


def _bind_str(value: str) -> tuple[Any, SqlType]:
    text = value.strip()
    if not text:
        return value, STR_T
    first = text[0]
    if not (first.isdecimal() or first in "+-."):
        return value, STR_T
    try:
        return number_literal(text)
    except ValueError:
        return value, STR_T


def _scalar_other(value: Any) -> tuple[Any, SqlType]:
    if isinstance(value, bool):
        return _bind_bool(value)
    if isinstance(value, int):
        return _bind_int(value)
    if isinstance(value, Decimal):
        return _bind_decimal(value)
    if isinstance(value, float):
        return _bind_float(value)
    if isinstance(value, str):
        return _bind_str(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:  # the session runs at +08:00
            value = value.astimezone(_SESSION_TZ).replace(tzinfo=None)
        text = value.strftime("%Y-%m-%d %H:%M:%S")
        if value.microsecond:
            text += f".{value.microsecond:06d}"
        return text, STR_T
    if isinstance(value, date):
        return value.isoformat(), STR_T
    raise TypeError(f"cannot bind a {type(value).__name__} value")


BIND_BY_TYPE: dict[type, Callable[[Any], tuple[Any, SqlType]]] = {
    type(None): _bind_none,
    bool: _bind_bool,
    int: _bind_int,
    float: _bind_plain_float,
    str: _bind_str,
    Decimal: _bind_decimal,
}
"""Binding of a scalar by its exact Python type (the common case); anything else goes
through :func:`scalar_value`."""


def scalar_value(value: Any) -> tuple[Any, SqlType]:
    """Normalise one non-list value bound to a bare placeholder (see :func:`bare_value`).

    Raises:
        TypeError: a value of a type that cannot be bound (a dict, a list).
        ValueError: NaN or infinity.
    """
    return BIND_BY_TYPE.get(type(value), _scalar_other)(value)


def bare_value(value: Any) -> tuple[Any, SqlType | ListSig]:
    """Normalise a value bound to a bare placeholder and return it with its type.

    Numbers stay numbers (a float becomes the DECIMAL its shortest text spells, as the same
    digits written into the expression would); a numeric string becomes the number its text
    is as a MySQL literal; other strings stay strings; ``None`` is NULL; ``bool`` is 1/0;
    date/datetime become their ``YYYY-MM-DD[ HH:MM:SS]`` text (an aware datetime first moves
    to +08:00, the session time zone). A list becomes a column: every
    element normalised the same way, then converted to the type of the whole column (an
    empty or all-NULL list is an integer column).

    Raises:
        TypeError: a dict, or a list nested in a list.
        ValueError: NaN or infinity.
    """
    if isinstance(value, (list, tuple)):
        pairs = []
        for item in value:
            if isinstance(item, (list, tuple, dict)):
                raise TypeError("cannot bind a list nested in a list")
            pairs.append(scalar_value(item))
        column = result_type(t for _, t in pairs)
        if column.kind is Kind.NULL:  # empty or all NULL: read it as an integer column
            column = INT_T
        from ferry.expr.function._convert import coerce  # local: _convert imports this module

        return [coerce(v, t, column) for v, t in pairs], ListSig(column)
    return scalar_value(value)
