"""``CAST(x AS SIGNED | UNSIGNED)``: MariaDB's integer casts, overflow included.

An integer operand wraps to 64 bits (``CAST(-1 AS UNSIGNED)`` is 18446744073709551615, with
MariaDB's warning); a string takes its integer prefix, saturated at 18446744073709551615 and
-9223372036854775808 before it wraps (``CAST('18446744073709551616' AS SIGNED)`` is -1); a
DECIMAL (rounded half up) or a double (rounded half to even) saturates at the limits of the
target (``CAST(1e20 AS SIGNED)`` is 9223372036854775807, ``CAST(-1.5 AS UNSIGNED)`` is 0).
"""

from __future__ import annotations

from typing import Any

from ferry.expr.function._convert import str_to_int, to_int
from ferry.expr.function._types import Kind, SqlType

__all__ = ["to_signed", "to_unsigned"]

_INT64_MIN, _INT64_MAX, _UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1
_WRAPPING = (Kind.INT, Kind.STR, Kind.DATE, Kind.DATETIME, Kind.TIME)


def _integer(value: Any, t: SqlType) -> int:
    if t.kind is Kind.STR:
        return max(_INT64_MIN, min(str_to_int(value), _UINT64_MAX))
    return to_int(value, t)


def to_signed(value: Any, t: SqlType) -> int:
    """``CAST(value AS SIGNED)`` of a non-NULL value of type ``t``."""
    number = _integer(value, t)
    if t.kind in _WRAPPING and number >= _INT64_MIN:  # ``-(9223372036854775809)`` saturates
        return (number - _INT64_MIN) % 2**64 + _INT64_MIN
    return max(_INT64_MIN, min(number, _INT64_MAX))


def to_unsigned(value: Any, t: SqlType) -> int:
    """``CAST(value AS UNSIGNED)`` of a non-NULL value of type ``t``."""
    number = _integer(value, t)
    if t.kind in _WRAPPING and number >= _INT64_MIN:
        return number % 2**64
    return max(0, min(number, _UINT64_MAX))
