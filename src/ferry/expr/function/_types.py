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
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from enum import IntEnum
from typing import Any

__all__ = [
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


@dataclass(frozen=True, slots=True)
class SqlType:
    """A MySQL type: its kind and, for DEC/DBL/DATETIME/TIME, its scale."""

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


def dec_t(scale: int) -> SqlType:
    """DECIMAL with ``scale`` decimals (capped at MariaDB's maximum)."""
    return SqlType(Kind.DEC, max(0, min(scale, MAX_SCALE)))


def dt_t(fsp: int) -> SqlType:
    """DATETIME with ``fsp`` fractional-second digits."""
    return SqlType(Kind.DATETIME, max(0, min(fsp, 6)))


def dec_scale(value: Decimal) -> int:
    """Digits after the point that ``value`` carries (0 for integral exponents)."""
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


_INT_RE = re.compile(r"[+-]?\d+")
_DEC_RE = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+)")
_EXP_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)[eE][+-]?\d+")


def number_literal(text: str) -> tuple[Any, SqlType]:
    """Value and type of a MySQL numeric literal (``12`` INT, ``1.50`` DEC(2), ``1e3`` DBL).

    Raises:
        ValueError: ``text`` is not a numeric literal.
    """
    if _INT_RE.fullmatch(text):
        number = int(text)
        if -(2**63) <= number <= _UINT64_MAX:
            return number, INT_T
        return Decimal(number), dec_t(0)
    if _DEC_RE.fullmatch(text):
        value = Decimal(text)
        return value, dec_t(dec_scale(value))
    if _EXP_RE.fullmatch(text):
        double = float(text)
        if math.isinf(double):
            raise ValueError(f"double out of range: {text!r}")
        return double, DBL_T
    raise ValueError(f"not a number: {text!r}")


def _scalar(value: Any) -> tuple[Any, SqlType]:
    if value is None:
        return None, NULL_T
    if isinstance(value, bool):
        return int(value), INT_T
    if isinstance(value, int):
        if -(2**63) <= value <= _UINT64_MAX:
            return value, INT_T
        return Decimal(value), dec_t(0)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot bind the non-finite number {value}")
        if value.as_tuple().exponent > 0:  # type: ignore[operator]
            value = value.quantize(Decimal(1))
        return value, dec_t(dec_scale(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot bind the non-finite number {value}")
        text = repr(value)
        if "e" in text:
            return value, DBL_T
        return number_literal(text)
    if isinstance(value, str):
        try:
            return number_literal(value.strip())
        except ValueError:
            return value, STR_T
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
            pairs.append(_scalar(item))
        column = result_type(t for _, t in pairs)
        if column.kind is Kind.NULL:  # empty or all NULL: read it as an integer column
            column = INT_T
        from ferry.expr.function._convert import coerce  # local: _convert imports this module

        return [coerce(v, t, column) for v, t in pairs], ListSig(column)
    return _scalar(value)
