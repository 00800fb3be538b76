"""Bits and small predicates: ``& | ^ ~ << >>``, ``BIT_COUNT``, ``BIT_AND BIT_OR BIT_XOR`` over
array paths, ``ISNULL``, ``INTERVAL(N, N1, ...)``.

Bitwise operators work on unsigned 64-bit integers, as MariaDB's do: an integer operand is
taken modulo 2**64 (``-1 | 0`` is 18446744073709551615); any other operand is first read as a
DECIMAL and rounded half away from zero (``2.5 | 0`` and ``'2.5' | 0`` are 3), saturating at
the BIGINT limits. A shift by 64 or more (or by a negative count) gives 0.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from ferry.expr.function._aggregates import column_values
from ferry.expr.function._casts import to_signed
from ferry.expr.function._convert import DEC, temporal_number, to_decimal, to_double
from ferry.expr.function._nodes import Env, Fn, Node, Spec, Specializer, rule
from ferry.expr.function._types import INT_T, Kind, SqlType

if TYPE_CHECKING:
    from ferry.expr.function._compile import _Builder

__all__ = ["BIT_FUNCTIONS", "SYNTAX", "to_uint64"]

BIT_FUNCTIONS: dict[str, tuple[str, int, int | None]] = {
    "BIT_COUNT": ("bit_count", 1, 1),
    "ISNULL": ("isnull", 1, 1),
    "INTERVAL": ("interval", 2, None),
    "BIT_AND": ("bit_and_agg", 1, 1),
    "BIT_OR": ("bit_or_agg", 1, 1),
    "BIT_XOR": ("bit_xor_agg", 1, 1),
}
"""Function name → (node op, minimum and maximum argument count), merged into FUNCTIONS.
``INTERVAL(...)`` itself is parsed as syntax (see :data:`SYNTAX`)."""

_MASK = 2**64 - 1
_INT64_MIN = -(2**63)
_LIMITS = (Decimal(_INT64_MIN), Decimal(_MASK))


def _decimal_to_uint64(number: Decimal) -> int:
    if number >= _LIMITS[1]:
        return _MASK
    if number <= _LIMITS[0]:
        return 2**63  # -2**63 as unsigned
    return int(number.quantize(Decimal(1), ROUND_HALF_UP, DEC)) & _MASK


def _int_to_uint64(value: int) -> int:
    if _INT64_MIN <= value <= _MASK:
        return value & _MASK
    return _MASK if value > 0 else 2**63  # beyond BIGINT (``-9223372036854775809``): saturated


def to_uint64(value: Any, t: SqlType) -> int:
    """A non-NULL value as the unsigned 64-bit integer MariaDB's bit functions see."""
    kind = t.kind
    if kind is Kind.INT:
        return _int_to_uint64(value)
    if t.temporal:
        number = temporal_number(value, t)
        return _int_to_uint64(number) if isinstance(number, int) else _decimal_to_uint64(number)
    return _decimal_to_uint64(to_decimal(value, t))


def _uint_fn(fn: Fn, t: SqlType) -> Fn:
    if t.kind is Kind.NULL:
        return lambda p, e: None
    if t.kind is Kind.INT:

        def masked(p: list[Any], e: Env) -> int | None:
            value = fn(p, e)
            return None if value is None else _int_to_uint64(value)

        return masked

    def converted(p: list[Any], e: Env) -> int | None:
        value = fn(p, e)
        return None if value is None else to_uint64(value, t)

    return converted


def _shl(a: int, b: int) -> int:
    return (a << b) & _MASK if b < 64 else 0


def _shr(a: int, b: int) -> int:
    return a >> b if b < 64 else 0


_OPERATIONS: dict[str, Callable[[int, int], int]] = {
    "bitand": int.__and__,
    "bitor": int.__or__,
    "bitxor": int.__xor__,
    "shl": _shl,
    "shr": _shr,
}


@rule(*_OPERATIONS)
def _bitwise(node: Node, sx: Specializer) -> Spec:
    a_fn, b_fn = (_uint_fn(*sx.spec(arg)) for arg in node.args)
    operation = _OPERATIONS[node.op]

    def bitwise(p: list[Any], e: Env) -> int | None:
        a = a_fn(p, e)
        if a is None:
            return None
        b = b_fn(p, e)
        return None if b is None else operation(a, b)

    return bitwise, INT_T


@rule("bitnot")
def _bitnot(node: Node, sx: Specializer) -> Spec:
    fn = _uint_fn(*sx.spec(node.args[0]))

    def bitnot(p: list[Any], e: Env) -> int | None:
        value = fn(p, e)
        return None if value is None else value ^ _MASK

    return bitnot, INT_T


@rule("bit_count")
def _bit_count(node: Node, sx: Specializer) -> Spec:
    fn = _uint_fn(*sx.spec(node.args[0]))

    def bit_count(p: list[Any], e: Env) -> int | None:
        value = fn(p, e)
        return None if value is None else bin(value).count("1")

    return bit_count, INT_T


@rule("isnull")
def _isnull(node: Node, sx: Specializer) -> Spec:
    fn, _ = sx.spec(node.args[0])
    return (lambda p, e: int(fn(p, e) is None)), INT_T


_BIT_AGGREGATES: dict[str, tuple[Callable[[int, int], int], int]] = {
    "bit_and_agg": (int.__and__, _MASK),
    "bit_or_agg": (int.__or__, 0),
    "bit_xor_agg": (int.__xor__, 0),
}


@rule(*_BIT_AGGREGATES)
def _bit_aggregate(node: Node, sx: Specializer) -> Spec:
    """``BIT_AND/BIT_OR/BIT_XOR({{list.x}})``: over the elements as over a column (each read as
    an integer, NULLs skipped); no element gives 18446744073709551615 for BIT_AND, else 0."""
    column, t = column_values(node, sx)
    combine, start = _BIT_AGGREGATES[node.op]

    def bit_aggregate(p: list[Any], e: Env) -> int:
        result = start
        for value in column(p, e):
            if value is not None:
                result = combine(result, to_signed(value, t) & _MASK)
        return result

    return bit_aggregate, INT_T


def _interval_key(exact: bool, t: SqlType) -> Callable[[Any], Any]:
    """Decimals when N and the bound are both integers or decimals, else doubles."""
    if exact and t.kind in (Kind.INT, Kind.DEC):
        return lambda v: to_decimal(v, t)
    return lambda v: to_double(v, t)


@rule("interval")
def _interval(node: Node, sx: Specializer) -> Spec:
    """``INTERVAL(N, N1, N2, ...)``: 0 if N < N1, 1 if N < N2 ..., -1 if N is NULL; NULL
    bounds are skipped. The bounds must be ascending (MariaDB binary-searches constant ones)."""
    fns, types = sx.specs(node.args)
    exact = types[0].kind in (Kind.INT, Kind.DEC)
    n_fn, n_key = fns[0], _interval_key(exact, types[0])
    bounds = [
        (fn, _interval_key(exact, t), exact and t.kind in (Kind.INT, Kind.DEC))
        for fn, t in zip(fns[1:], types[1:], strict=True)
    ]

    def interval(p: list[Any], e: Env) -> int:
        n = n_fn(p, e)
        if n is None:
            return -1
        n_exact = n_key(n)
        n_double = float(n_exact)
        for i, (fn, key, bound_exact) in enumerate(bounds):
            value = fn(p, e)
            if value is not None and key(value) > (n_exact if bound_exact else n_double):
                return i
        return len(bounds)

    return interval, INT_T


# -- syntax: sqlglot expressions that are not function calls ---------------------------------

_BIT_OPERATORS: dict[type[exp.Expression], str] = {
    exp.BitwiseAnd: "bitand",
    exp.BitwiseOr: "bitor",
    exp.BitwiseXor: "bitxor",
    exp.BitwiseLeftShift: "shl",
    exp.BitwiseRightShift: "shr",
}


def _build_binary(b: _Builder, e: exp.Expression) -> Node:
    return b.node(_BIT_OPERATORS[type(e)], [b.build(e.this), b.build(e.expression)], None, e)


def _build_not(b: _Builder, e: exp.Expression) -> Node:
    return b.node("bitnot", [b.build(e.this)], None, e)


def _build_interval(b: _Builder, e: exp.Expression) -> Node:
    """``INTERVAL(N, N1, ...)``, which sqlglot reads as an INTERVAL of a tuple; an
    ``INTERVAL n unit`` here is outside the places it belongs."""
    if e.args.get("unit") is not None or not isinstance(e.this, (exp.Tuple, exp.Paren)):
        raise b.error(
            "INTERVAL is only allowed in DATE_ADD/DATE_SUB/ADDDATE/SUBDATE or as x + INTERVAL n unit", e
        )
    args = e.this.expressions if isinstance(e.this, exp.Tuple) else [e.this.this]
    if len(args) < 2:
        raise b.error(f"INTERVAL(N, N1, ...) expects at least 2 argument(s), got {len(args)}", e)
    return b.node("interval", [b.build(a) for a in args], None, e)


SYNTAX: dict[type[exp.Expression], Callable[[_Builder, exp.Expression], Node]] = {
    **dict.fromkeys(_BIT_OPERATORS, _build_binary),
    exp.BitwiseNot: _build_not,
    exp.Interval: _build_interval,
}
"""Builders for syntax the parser gives as its own expression types (not function calls)."""
