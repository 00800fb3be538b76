"""How MariaDB compares two values: the comparison class, the collation, ``LIKE``.

The class is decided by the operand *types*: two strings compare as strings under the
connection collation (``utf8mb4_general_ci``: case- and accent-insensitive, trailing spaces
ignored); a string with a date compares as datetimes; a string with an integer or decimal
as DECIMAL, with a double as DOUBLE; INT with INT as integers.

``utf8mb4_general_ci`` is modelled per character: the upper case of the base letter
(``'ä'`` = ``'A'``, ``'ß'`` = ``'s'``), every character outside the BMP equal to every other.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from ferry.expr.function._convert import dec_round, temporal_number, to_decimal, to_double
from ferry.expr.function._dates import to_moment
from ferry.expr.function._types import Kind, SqlType

__all__ = ["ci", "ci_key", "cmp_class", "key_fn", "like_regex"]


class _Weights(dict[int, str]):
    def __missing__(self, code: int) -> str:
        if code > 0xFFFF:
            weight = "\ufffd"
        elif code == 0xDF:  # ß sorts as s in general_ci
            weight = "S"
        else:
            base = unicodedata.normalize("NFD", chr(code))[0]
            upper = base.upper()
            weight = upper if len(upper) == 1 else base
        self[code] = weight
        return weight


_WEIGHTS = _Weights()


def ci(text: str) -> str:
    """``text`` mapped character by character to its general_ci weight (same length)."""
    return text.translate(_WEIGHTS)


def ci_key(text: str) -> str:
    """The general_ci sort key: weights, trailing spaces ignored (PAD SPACE)."""
    return text.rstrip(" ").translate(_WEIGHTS)


def cmp_class(types: Iterable[SqlType]) -> str:
    """How values of ``types`` compare: ``str``, ``dt``, ``int``, ``dec``, ``dbl`` or ``null``."""
    present = [t for t in types if t.kind is not Kind.NULL]
    if not present:
        return "null"
    kinds = {t.kind for t in present}
    if kinds == {Kind.STR}:
        return "str"
    if any(t.temporal for t in present) and all(t.temporal or t.kind is Kind.STR for t in present):
        return "time" if kinds == {Kind.TIME} else "dt"
    numeric = set()
    for t in present:
        if (t.kind is Kind.DATETIME and t.scale) or (t.kind is Kind.TIME and t.scale):
            numeric.add(Kind.DEC)
        elif t.temporal:
            numeric.add(Kind.INT)
        else:
            numeric.add(t.kind)
    if Kind.DBL in numeric:
        return "dbl"
    if Kind.DEC in numeric or Kind.STR in numeric:
        return "dec"
    return "int"


def key_fn(cls: str, t: SqlType, rounded: bool) -> Callable[[Any], Any]:
    """A function turning a non-NULL value of type ``t`` into a key comparable within ``cls``.

    ``rounded``: round a DECIMAL to its declared decimals first. MariaDB does so for
    ``= <> < <= > >= <=> IN NULLIF`` over constants (``1/3 = 0.3333`` is 1) but not for
    ``BETWEEN`` or ``CASE x WHEN``.

    Raises (from the returned function):
        BadDate: a string that is not a date compared in the ``dt`` class.
    """
    kind = t.kind
    if cls == "str":
        return ci_key
    if cls == "dt":
        return lambda v: to_moment(v, t).value
    if cls == "time":
        return lambda v: v
    if rounded and kind is Kind.DEC:
        scale = t.scale
        if cls == "dbl":
            return lambda v: float(dec_round(v, scale))
        return lambda v: dec_round(v, scale)
    if cls == "dbl":
        return lambda v: to_double(v, t)
    if cls == "dec":
        return lambda v: to_decimal(v, t)
    if t.temporal:
        return lambda v: temporal_number(v, t)
    return lambda v: v


@lru_cache(maxsize=512)
def like_regex(pattern: str, escape: str | None) -> re.Pattern[str]:
    """The regex for a LIKE ``pattern`` already mapped through :func:`ci`."""
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if escape is not None and ch == escape and i + 1 < len(pattern):
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if ch == "%":
            parts.append(".*")
        elif ch == "_":
            parts.append(".")
        else:
            parts.append(re.escape(ch))
        i += 1
    return re.compile("".join(parts), re.DOTALL)
