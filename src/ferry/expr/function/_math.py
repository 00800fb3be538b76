"""Numeric functions: ``GREATEST LEAST POW SQRT SIGN EXP LN LOG LOG2 LOG10 PI DEGREES RADIANS``,
trigonometry and ``CONV``, with MariaDB's result types and edge cases.

Every function here but ``GREATEST``/``LEAST``/``SIGN``/``CONV`` computes in DOUBLE: its
arguments are read as doubles (``SQRT('16')`` is 4, a date is its number) and the result
prints in its shortest form. Where MariaDB returns NULL *without* a warning (``SQRT(-1)``,
``ASIN(2)``) so does Ferry; where it returns NULL *with* a warning (``LN(0)``, ``LOG(1, 8)``:
"Division by 0") Ferry fails the record, as with division by zero; where MariaDB fails the
statement (``POW(10, 400)``, ``EXP(710)``, ``COT(0)``: "DOUBLE value is out of range") Ferry
fails the record too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ferry.errors import RecordError
from ferry.expr.function._compare import ci_key
from ferry.expr.function._convert import to_decimal, to_double, to_int, to_str
from ferry.expr.function._dates import BadDate, to_moment
from ferry.expr.function._nodes import Env, Fn, Node, Spec, Specializer, bad_date, rule
from ferry.expr.function._types import (
    DATE_T,
    DBL_T,
    INT_T,
    NULL_T,
    STR_T,
    Kind,
    SqlType,
    dec_t,
    dt_t,
)

__all__ = ["MATH_FUNCTIONS"]

MATH_FUNCTIONS: dict[str, tuple[str, int, int | None]] = {
    "GREATEST": ("greatest", 2, None),
    "LEAST": ("least", 2, None),
    "POW": ("pow", 2, 2),
    "POWER": ("pow", 2, 2),
    "SQRT": ("sqrt", 1, 1),
    "SIGN": ("sign", 1, 1),
    "EXP": ("exp", 1, 1),
    "LN": ("ln", 1, 1),
    "LOG": ("log", 1, 2),
    "LOG2": ("log2", 1, 1),
    "LOG10": ("log10", 1, 1),
    "PI": ("pi", 0, 0),
    "DEGREES": ("degrees", 1, 1),
    "RADIANS": ("radians", 1, 1),
    "SIN": ("sin", 1, 1),
    "COS": ("cos", 1, 1),
    "TAN": ("tan", 1, 1),
    "COT": ("cot", 1, 1),
    "ASIN": ("asin", 1, 1),
    "ACOS": ("acos", 1, 1),
    "ATAN": ("atan2", 1, 2),
    "ATAN2": ("atan2", 2, 2),
    "CONV": ("conv", 3, 3),
}
"""Function name → (node op, minimum and maximum argument count), merged into FUNCTIONS."""

_INT64_MIN, _INT64_MAX, _UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1
_LN2 = math.log(2.0)  # M_LN2: MariaDB's LOG2(x) is log(x) / M_LN2


class _Domain(Exception):
    """A logarithm of a number <= 0: MariaDB's NULL with the warning "Division by 0"."""


def _out_of_range(node: Node) -> RecordError:
    return RecordError(f"DOUBLE value is out of range in _function: {node.src}")


def _ln(x: float) -> float:
    if x <= 0:
        raise _Domain
    return math.log(x)


def _log2(x: float) -> float:
    return _ln(x) / _LN2


def _log10(x: float) -> float:
    if x <= 0:
        raise _Domain
    return math.log10(x)


def _sqrt(x: float) -> float | None:
    return None if x < 0 else math.sqrt(x)


def _asin(x: float) -> float | None:
    return None if not -1.0 <= x <= 1.0 else math.asin(x)


def _acos(x: float) -> float | None:
    return None if not -1.0 <= x <= 1.0 else math.acos(x)


def _cot(x: float) -> float:
    return 1.0 / math.tan(x)  # ZeroDivisionError at 0: out of range, as in MariaDB


_UNARY: dict[str, Callable[[float], float | None]] = {
    "sqrt": _sqrt,
    "exp": math.exp,
    "ln": _ln,
    "log": _ln,
    "log2": _log2,
    "log10": _log10,
    "degrees": math.degrees,
    "radians": math.radians,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "cot": _cot,
    "asin": _asin,
    "acos": _acos,
    "atan2": math.atan,
}


def _doubles(sx: Specializer, nodes: tuple[Node, ...]) -> list[Fn]:
    """Closures giving each argument as a double (None for NULL)."""
    out: list[Fn] = []
    for node in nodes:
        fn, t = sx.spec(node)
        out.append(_as_double(fn, t))
    return out


def _as_double(fn: Fn, t: SqlType) -> Fn:
    if t.kind is Kind.DBL:
        return fn
    if t.kind is Kind.NULL:
        return lambda p, e: None

    def double(p: list[Any], e: Env) -> float | None:
        value = fn(p, e)
        return None if value is None else to_double(value, t)

    return double


def _guarded(node: Node, compute: Callable[..., float | None]) -> Callable[..., float | None]:
    """``compute`` with Python's math errors turned into MariaDB's outcomes."""

    def guarded(*xs: float) -> float | None:
        try:
            result = compute(*xs)
        except _Domain:
            raise RecordError(f"logarithm of a number <= 0 in _function: {node.src}") from None
        except (OverflowError, ValueError, ZeroDivisionError):
            raise _out_of_range(node) from None
        if result is not None and not math.isfinite(result):
            raise _out_of_range(node)
        return result

    return guarded


def _log_base(base: float, x: float) -> float:
    if base <= 0 or x <= 0 or base == 1.0:
        raise _Domain
    return math.log(x) / math.log(base)


_BINARY: dict[str, Callable[[float, float], float]] = {
    "pow": math.pow,
    "log": _log_base,
    "atan2": math.atan2,
}


@rule(*_UNARY, "pow")
def _double_function(node: Node, sx: Specializer) -> Spec:
    fns = _doubles(sx, node.args)
    if len(fns) == 1:
        (x_fn,) = fns
        unary = _guarded(node, _UNARY[node.op])

        def double_fn(p: list[Any], e: Env) -> float | None:
            x = x_fn(p, e)
            return None if x is None else unary(x)

        return double_fn, DBL_T
    a_fn, b_fn = fns
    binary = _guarded(node, _BINARY[node.op])

    def double_fn2(p: list[Any], e: Env) -> float | None:
        a, b = a_fn(p, e), b_fn(p, e)
        return None if a is None or b is None else binary(a, b)

    return double_fn2, DBL_T


@rule("pi")
def _pi(node: Node, sx: Specializer) -> Spec:
    """``PI()`` is a DOUBLE with 6 decimals: it prints ``3.141593`` and keeps them in arithmetic."""
    return (lambda p, e: math.pi), SqlType(Kind.DBL, 6)


@rule("sign")
def _sign(node: Node, sx: Specializer) -> Spec:
    (x_fn,) = _doubles(sx, node.args)

    def sign(p: list[Any], e: Env) -> int | None:
        x = x_fn(p, e)
        return None if x is None else (x > 0) - (x < 0)

    return sign, INT_T


# -- GREATEST / LEAST ------------------------------------------------------------------------


def _extreme_type(node: Node, types: list[SqlType], sx: Specializer) -> tuple[str, SqlType]:
    """How ``GREATEST``/``LEAST`` compare their arguments and the type of the result."""
    kinds = {t.kind for t in types}
    if Kind.NULL in kinds:
        return "null", NULL_T
    if kinds == {Kind.STR}:
        return "str", STR_T
    if any(t.temporal for t in types):
        return "dt", _temporal_extreme(node, types, kinds)
    return _numeric_extreme(node, types, kinds, sx)


def _numeric_extreme(
    node: Node, types: list[SqlType], kinds: set[Kind], sx: Specializer
) -> tuple[str, SqlType]:
    """DOUBLE with a string or a double, else DECIMAL with any DECIMAL (or a constant above
    BIGINT), else INT."""
    if Kind.STR in kinds:
        return "dbl", DBL_T
    if Kind.DBL in kinds:
        return "dbl", SqlType(Kind.DBL, max(t.scale for t in types if t.kind is Kind.DBL))
    if Kind.DEC in kinds or _has_unsigned_constant(node, sx):
        return "dec", dec_t(max((t.scale for t in types if t.kind is Kind.DEC), default=0))
    return "int", INT_T


def _temporal_extreme(node: Node, types: list[SqlType], kinds: set[Kind]) -> SqlType:
    """DATE when every date is a DATE, else DATETIME; date strings compare as dates."""
    if not kinds <= {Kind.DATE, Kind.DATETIME, Kind.STR}:
        raise RecordError(
            f"{node.op.upper()} of a TIME, or of a date mixed with a number, is not supported "
            f"in _function: {node.src}"
        )
    temporal = [t for t in types if t.temporal]
    if all(t.kind is Kind.DATE for t in temporal):
        return DATE_T
    return dt_t(max(t.scale for t in temporal))


def _has_unsigned_constant(node: Node, sx: Specializer) -> bool:
    """An argument above BIGINT's maximum makes MariaDB compare (and return) a DECIMAL."""
    for arg in node.args:
        known, value = sx.fold(arg)
        if known and isinstance(value, int) and value > _INT64_MAX:
            return True
    return False


def _extreme_key(cls: str, t: SqlType) -> Callable[[Any], Any]:
    if cls == "str":
        return ci_key
    if cls == "dt":
        return lambda v: to_moment(v, t).value
    if cls == "dbl":
        return lambda v: to_double(v, t)
    if cls == "dec":
        return lambda v: to_decimal(v, t)
    return lambda v: v


def _extreme_value(cls: str, out: SqlType) -> Callable[[Any, Any], Any]:
    """The result from (original value, its key): the string itself, or the converted key."""
    if cls == "str":
        return lambda value, key: value
    if cls == "dt" and out.kind is Kind.DATE:
        return lambda value, key: key.date()
    return lambda value, key: key


@rule("greatest", "least")
def _greatest_least(node: Node, sx: Specializer) -> Spec:
    """MariaDB's type rules: integers give an integer, any DECIMAL a DECIMAL, any double or a
    number mixed with a string a DOUBLE; strings alone compare by the collation; dates (with
    date strings) compare as dates. Any NULL argument makes the result NULL."""
    fns, types = sx.specs(node.args)
    cls, out = _extreme_type(node, types, sx)
    if cls == "null":
        return (lambda p, e: None), out
    keys = [_extreme_key(cls, t) for t in types]
    pairs = list(zip(fns, keys, strict=True))
    result = _extreme_value(cls, out)
    greater = node.op == "greatest"

    def extreme(p: list[Any], e: Env) -> Any:
        best = best_key = None
        try:
            for fn, key in pairs:
                value = fn(p, e)
                if value is None:
                    return None
                k = key(value)
                if best_key is None or (k > best_key if greater else k < best_key):
                    best, best_key = value, k
        except BadDate as exc:
            raise bad_date(node, exc) from None
        return result(best, best_key)

    return extreme, out


# -- CONV ----------------------------------------------------------------------------------

_DIGIT_VALUES = {ch: i for i, ch in enumerate("0123456789abcdefghijklmnopqrstuvwxyz")}
_DIGIT_VALUES.update({ch.upper(): i for ch, i in _DIGIT_VALUES.items()})
_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _parse_base(text: str, base: int) -> tuple[bool, int]:
    """Sign and magnitude of the longest prefix of ``text`` in ``base`` (``my_strntoull``)."""
    body = text.lstrip(" \t\n\r\f\v")
    negative = body[:1] == "-"
    if body[:1] in ("-", "+"):
        body = body[1:]
    number = 0
    for ch in body:
        digit = _DIGIT_VALUES.get(ch, base)
        if digit >= base:
            break
        number = number * base + digit
    return negative, number


def _conv_number(text: str, from_base: int) -> int:
    """The 64-bit value MariaDB reads: unsigned for a positive base, signed for a negative one,
    saturated on overflow."""
    negative, number = _parse_base(text, abs(from_base))
    if from_base > 0:
        if number > _UINT64_MAX:
            return _UINT64_MAX
        return -number % 2**64 if negative else number
    if negative:
        return _INT64_MIN if number > 2**63 else -number
    return min(number, _INT64_MAX)


def _in_base(number: int, base: int) -> str:
    """``number`` in ``abs(base)``: as signed 64-bit for a negative base, else unsigned."""
    number %= 2**64
    if base < 0 and number > _INT64_MAX:
        return "-" + _in_base(2**64 - number, -base)
    base = abs(base)
    digits = []
    while True:
        number, digit = divmod(number, base)
        digits.append(_DIGITS[digit])
        if not number:
            return "".join(reversed(digits))


def conv(text: str, from_base: int, to_base: int) -> str | None:
    """MariaDB's ``CONV(N, from_base, to_base)`` on the text of N; None for a base outside
    2..36 (either sign) or an empty N."""
    if not (2 <= abs(from_base) <= 36 and 2 <= abs(to_base) <= 36) or not text:
        return None
    return _in_base(_conv_number(text, from_base), to_base)


def _int_arg(fn: Fn, t: SqlType) -> Fn:
    if t.kind is Kind.INT:
        return fn
    return lambda p, e: None if (value := fn(p, e)) is None else to_int(value, t)


@rule("conv")
def _conv(node: Node, sx: Specializer) -> Spec:
    (n_fn, from_fn, to_fn), (n_t, from_t, to_t) = sx.specs(node.args)
    from_fn, to_fn = _int_arg(from_fn, from_t), _int_arg(to_fn, to_t)

    def conv_(p: list[Any], e: Env) -> str | None:
        n, from_base, to_base = n_fn(p, e), from_fn(p, e), to_fn(p, e)
        if n is None or from_base is None or to_base is None:
            return None
        return conv(to_str(n, n_t), from_base, to_base)

    return conv_, STR_T
