"""Arithmetic (``+ - * / DIV % MOD``, unary minus) and ``ROUND TRUNCATE FLOOR CEIL ABS``.

Result types follow MariaDB: INT op INT is INT (``/`` gives DECIMAL(4)); any DECIMAL makes
a DECIMAL (scale: max for ``+ -``, sum for ``*``, dividend + 4 for ``/``); a string, NULL
or double operand makes a DOUBLE. DECIMAL division keeps MariaDB's internal 9-digit words
(``1/3*3`` is ``1.0000``, ``FLOOR(1/3*3)`` is 0). Division, ``DIV`` and ``MOD`` by zero
raise :class:`~ferry.errors.RecordError` where MariaDB returns NULL with a warning.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from ferry.errors import RecordError
from ferry.expr.function._convert import DEC, dec_round, temporal_number, to_decimal, to_double, to_int
from ferry.expr.function._nodes import Env, Fn, Node, Spec, Specializer, rule
from ferry.expr.function._types import (
    DBL_T,
    INT_T,
    NOT_FIXED,
    Kind,
    SqlType,
    dec_scale,
    dec_t,
)

__all__ = ["dec_div"]

_INT_MIN, _INT_MAX, _UINT_MAX = -(2**63), 2**63 - 1, 2**64 - 1
_DIV_INCREMENT = 4
"""``div_precision_increment`` (MariaDB default)."""


def _ceil9(digits: int) -> int:
    return -(-digits // 9) * 9


def dec_div(a: Decimal, b: Decimal, increment: int = _DIV_INCREMENT) -> Decimal:
    """MariaDB's ``decimal_div``: the quotient truncated after its internal 9-digit words.

    Precondition: ``b`` is not zero.
    """
    if a.is_zero():
        return Decimal(0)
    f1, f2 = dec_scale(a), dec_scale(b)
    w1, w2 = _ceil9(f1), _ceil9(f2)
    extra = max(0, increment - (w1 - f1) - (w2 - f2))
    frac = _ceil9(w1 + w2 + extra)
    num = int(a.scaleb(f1)) * 10 ** (f2 + frac)
    den = int(b.scaleb(f2)) * 10**f1
    quotient = abs(num) // abs(den)
    return Decimal(-quotient if (num < 0) != (den < 0) else quotient).scaleb(-frac)


def _num_view(t: SqlType) -> SqlType:
    if t.kind is Kind.DATE or (t.temporal and not t.scale):
        return INT_T
    if t.temporal:
        return dec_t(t.scale)
    return t


def _numeric(fn: Fn, t: SqlType) -> Fn:
    if not t.temporal:
        return fn

    def as_number(p: list[Any], e: Env) -> Any:
        value = fn(p, e)
        return None if value is None else temporal_number(value, t)

    return as_number


def _dbl_scale(t: SqlType) -> int:
    if t.kind is Kind.INT:
        return 0
    if t.kind in (Kind.DEC, Kind.DBL):
        return t.scale
    return NOT_FIXED


def _check_int(value: int, node: Node, unsigned: bool = False) -> int:
    if not (0 if unsigned else _INT_MIN) <= value <= (_UINT_MAX if unsigned else _INT_MAX):
        raise RecordError(f"BIGINT value is out of range in _function: {node.src}")
    return value


def _check_dbl(value: float, node: Node) -> float:
    if math.isinf(value) or math.isnan(value):
        raise RecordError(f"DOUBLE value is out of range in _function: {node.src}")
    return value


def _zero(node: Node) -> RecordError:
    return RecordError(f"division by zero in _function: {node.src}")


def _int_trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return -q if (a < 0) != (b < 0) else q


def _int_mod(a: int, b: int) -> int:
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def _binary_type(op: str, a: SqlType, b: SqlType) -> SqlType:
    kinds = {a.kind, b.kind}
    if op == "intdiv":
        return INT_T
    if kinds & {Kind.NULL, Kind.STR, Kind.DBL}:
        sa, sb = _dbl_scale(a), _dbl_scale(b)
        scale = max(sa, sb) + (_DIV_INCREMENT if op == "div" else 0)
        return SqlType(Kind.DBL, NOT_FIXED if max(sa, sb) >= NOT_FIXED else min(scale, NOT_FIXED - 1))
    if Kind.DEC in kinds or op == "div":
        sa = a.scale if a.kind is Kind.DEC else 0
        sb = b.scale if b.kind is Kind.DEC else 0
        scales = {"add": max(sa, sb), "sub": max(sa, sb), "mul": sa + sb, "div": sa + _DIV_INCREMENT}
        return dec_t(scales.get(op, max(sa, sb)))
    return INT_T


def _operation(op: str, t: SqlType, a_t: SqlType, b_t: SqlType, node: Node) -> Callable[[Any, Any], Any]:
    kind = t.kind
    if op == "intdiv":
        if a_t.kind is Kind.INT and b_t.kind is Kind.INT:

            def int_div(a: int, b: int) -> int:
                if b == 0:
                    raise _zero(node)
                return _check_int(_int_trunc_div(a, b), node)

            return int_div

        def dec_int_div(a: Any, b: Any) -> int:
            x, y = to_decimal(a, a_t), to_decimal(b, b_t)
            if y.is_zero():
                raise _zero(node)
            return _check_int(int(DEC.divide_int(x, y)), node)

        return dec_int_div
    if kind is Kind.DBL:
        return _dbl_op(op, a_t, b_t, node)
    if kind is Kind.DEC:
        return _dec_op(op, a_t, b_t, node)
    if op == "mod":

        def int_mod(a: int, b: int) -> int:
            if b == 0:
                raise _zero(node)
            return _int_mod(a, b)

        return int_mod
    fn = {"add": int.__add__, "sub": int.__sub__, "mul": int.__mul__}[op]
    return lambda a, b: _check_int(fn(a, b), node, unsigned=a > _INT_MAX or b > _INT_MAX)


def _dbl_op(op: str, a_t: SqlType, b_t: SqlType, node: Node) -> Callable[[Any, Any], float]:
    def dbl(a: Any, b: Any) -> float:
        x, y = to_double(a, a_t), to_double(b, b_t)
        if op == "add":
            return _check_dbl(x + y, node)
        if op == "sub":
            return _check_dbl(x - y, node)
        if op == "mul":
            return _check_dbl(x * y, node)
        if y == 0:
            raise _zero(node)
        return _check_dbl(x / y if op == "div" else math.fmod(x, y), node)

    return dbl


def _dec_op(op: str, a_t: SqlType, b_t: SqlType, node: Node) -> Callable[[Any, Any], Decimal]:
    def dec(a: Any, b: Any) -> Decimal:
        x, y = to_decimal(a, a_t), to_decimal(b, b_t)
        if op == "add":
            return DEC.add(x, y)
        if op == "sub":
            return DEC.subtract(x, y)
        if op == "mul":
            return DEC.multiply(x, y)
        if y.is_zero():
            raise _zero(node)
        return dec_div(x, y) if op == "div" else DEC.remainder(x, y)

    return dec


@rule("add", "sub", "mul", "div", "intdiv", "mod")
def _binary(node: Node, sx: Specializer) -> Spec:
    (a_fn, b_fn), (a_raw, b_raw) = sx.specs(node.args)
    a_t, b_t = _num_view(a_raw), _num_view(b_raw)
    a_fn, b_fn = _numeric(a_fn, a_raw), _numeric(b_fn, b_raw)
    t = _binary_type(node.op, a_t, b_t)
    compute = _operation(node.op, t, a_t, b_t, node)

    def binary(p: list[Any], e: Env) -> Any:
        a = a_fn(p, e)
        if a is None:
            return None
        b = b_fn(p, e)
        return None if b is None else compute(a, b)

    return binary, t


@rule("neg")
def _neg(node: Node, sx: Specializer) -> Spec:
    fn, raw = sx.spec(node.args[0])
    t = _num_view(raw)
    fn = _numeric(fn, raw)
    if t.kind in (Kind.STR, Kind.NULL):

        def neg_str(p: list[Any], e: Env) -> float | None:
            value = fn(p, e)
            return None if value is None else -to_double(value, t)

        return neg_str, DBL_T

    def neg(p: list[Any], e: Env) -> Any:
        value = fn(p, e)
        return None if value is None else -value

    return neg, t


@rule("abs")
def _abs(node: Node, sx: Specializer) -> Spec:
    fn, raw = sx.spec(node.args[0])
    t = _num_view(raw)
    fn = _numeric(fn, raw)
    if t.kind in (Kind.STR, Kind.NULL):
        t = DBL_T
    conv = to_double if t.kind is Kind.DBL else (lambda v, _t: v)

    def abs_(p: list[Any], e: Env) -> Any:
        value = fn(p, e)
        return None if value is None else abs(conv(value, raw if raw.kind is Kind.STR else t))

    return abs_, t


@rule("floor", "ceil")
def _floor_ceil(node: Node, sx: Specializer) -> Spec:
    fn, raw = sx.spec(node.args[0])
    t = _num_view(raw)
    fn = _numeric(fn, raw)
    up = node.op == "ceil"
    if t.kind is Kind.INT:
        return fn, INT_T
    if t.kind is Kind.DEC:
        rounding = ROUND_CEILING if up else ROUND_FLOOR

        def dec(p: list[Any], e: Env) -> int | None:
            value = fn(p, e)
            return None if value is None else int(value.quantize(Decimal(1), rounding, DEC))

        return dec, INT_T
    src_t = raw if raw.kind is Kind.STR else t
    op = math.ceil if up else math.floor

    def dbl(p: list[Any], e: Env) -> float | None:
        value = fn(p, e)
        return None if value is None else float(op(to_double(value, src_t)))

    return dbl, SqlType(Kind.DBL, 0)


def _double_round(value: float, digits: int, truncate: bool) -> float:
    """MariaDB's ``my_double_round``: scale by 10^d, ``rint`` (half even) or truncate."""
    factor = math.inf if abs(digits) > 308 else 10.0 ** abs(digits)
    if digits >= 0 and math.isinf(factor):
        return value
    if digits < 0 and math.isinf(factor):
        return 0.0
    scaled = value / factor if digits < 0 else value * factor
    if digits >= 0 and math.isinf(scaled):
        return value
    if not truncate:
        whole = round(scaled)
    elif value >= 0:
        whole = math.floor(scaled)
    else:
        whole = math.ceil(scaled)
    return float(whole) * factor if digits < 0 else float(whole) / factor


@rule("round", "truncate")
def _round(node: Node, sx: Specializer) -> Spec:
    truncate = node.op == "truncate"
    fn, raw = sx.spec(node.args[0])
    t = _num_view(raw)
    fn = _numeric(fn, raw)
    d_node = node.args[1] if len(node.args) > 1 else None
    if d_node is None:
        known, digits, d_fn, d_t = True, 0, None, INT_T
    else:
        d_fn, d_t = sx.spec(d_node)
        known, digits = sx.fold(d_node)
        if known and digits is not None:
            digits = to_int(digits, d_t)
    if known and digits is None:
        return (lambda p, e: None), (t if t.kind in (Kind.INT, Kind.DEC) else DBL_T)
    if t.kind is Kind.INT:
        out_t = INT_T
    elif t.kind is Kind.DEC:
        out_t = dec_t(max(0, digits)) if known else t
    else:
        out_t = SqlType(Kind.DBL, max(0, min(digits, NOT_FIXED))) if known else DBL_T
    src_t = raw if raw.kind is Kind.STR else t

    def digits_of(p: list[Any], e: Env) -> int | None:
        if known or d_fn is None:
            return digits
        value = d_fn(p, e)
        return None if value is None else to_int(value, d_t)

    def round_(p: list[Any], e: Env) -> Any:
        value = fn(p, e)
        d = digits_of(p, e)
        if value is None or d is None:
            return None
        kind = out_t.kind
        d = max(-100, min(d, 400))  # beyond these every value rounds to 0 or stays itself
        if kind is Kind.INT:
            if d >= 0:
                return value
            if d <= -20:  # MariaDB: 10^20 exceeds BIGINT, the result is 0
                return 0
            unit = 10**-d
            if truncate:
                return _int_trunc_div(value, unit) * unit
            magnitude = (abs(value) + unit // 2) // unit * unit
            return magnitude if value >= 0 else -magnitude
        if kind is Kind.DEC:
            if d >= 0:
                return dec_round(value, min(d, out_t.scale), truncate=truncate)
            result = dec_round(value.scaleb(d), 0, truncate=truncate).scaleb(-d)
            return dec_round(result, 0)
        return _double_round(to_double(value, src_t), d, truncate)

    return round_, out_t
