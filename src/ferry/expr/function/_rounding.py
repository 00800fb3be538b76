"""``ROUND TRUNCATE FLOOR CEIL ABS``, with MariaDB's result types.

``ROUND(x, d)`` on a DECIMAL is a DECIMAL with ``d`` decimals (``d`` known when the expression is
specialised), rounding half up; on a double it rounds half even like ``rint``; on an integer
with negative ``d`` it rounds to tens, hundreds ... ``TRUNCATE`` cuts instead of rounding.
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from ferry.expr.function._arith import int_trunc_div, num_view, numeric
from ferry.expr.function._convert import DEC, dec_round, quantum, to_double, to_int
from ferry.expr.function._nodes import Env, Node, Spec, Specializer, finished, rule
from ferry.expr.function._types import DBL_T, INT_T, NOT_FIXED, Kind, SqlType, dec_t

__all__: list[str] = []


@rule("abs")
def _abs(node: Node, sx: Specializer) -> Spec:
    fn, raw = sx.spec(node.args[0])
    t = num_view(raw)
    fn = numeric(fn, raw)
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
    t = num_view(raw)
    fn = numeric(fn, raw)
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
    t = num_view(raw)
    fn = numeric(fn, raw)
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

    def round_value(value: Any, d: int) -> Any:
        kind = out_t.kind
        d = max(-100, min(d, 400))  # beyond these every value rounds to 0 or stays itself
        if kind is Kind.INT:
            if d >= 0:
                return value
            if d <= -20:  # MariaDB: 10^20 exceeds BIGINT, the result is 0
                return 0
            unit = 10**-d
            if truncate:
                return int_trunc_div(value, unit) * unit
            magnitude = (abs(value) + unit // 2) // unit * unit
            return magnitude if value >= 0 else -magnitude
        if kind is Kind.DEC:
            if d >= 0:
                return dec_round(value, min(d, out_t.scale), truncate=truncate)
            result = dec_round(value.scaleb(d), 0, truncate=truncate).scaleb(-d)
            return dec_round(result, 0)
        return _double_round(to_double(value, src_t), d, truncate)

    if known:
        if out_t.kind is Kind.DEC and digits >= 0:  # the common ROUND(x, 2) on a DECIMAL
            exp = quantum(min(digits, 400, out_t.scale))
            rounding = ROUND_DOWN if truncate else ROUND_HALF_UP

            def round_dec(p: list[Any], e: Env) -> Any:
                value = fn(p, e)
                if value is None:
                    return None
                result = value.quantize(exp, rounding, DEC)
                return result.copy_abs() if result.is_zero() else result

            # The result has exactly out_t's decimals (and no negative zero): final as it is.
            return finished(round_dec, out_t), out_t

        def round_known(p: list[Any], e: Env) -> Any:
            value = fn(p, e)
            return None if value is None else round_value(value, digits)

        return round_known, out_t

    assert d_fn is not None  # digits come from an expression known only per record
    digits_fn = d_fn

    def round_(p: list[Any], e: Env) -> Any:
        value = fn(p, e)
        d = digits_fn(p, e)
        if value is None or d is None:
            return None
        return round_value(value, to_int(d, d_t))

    return round_, out_t
