"""Arithmetic: ``+ - * / DIV % MOD`` and unary minus (rounding functions: :mod:`._rounding`).

Result types follow MariaDB: INT op INT is INT (``/`` gives DECIMAL(4)); any DECIMAL makes
a DECIMAL (scale: max for ``+ -``, sum for ``*``, dividend + 4 for ``/``); a string, NULL
or double operand makes a DOUBLE. DECIMAL division keeps MariaDB's internal 9-digit words
(``1/3*3`` is ``1.0000``, ``FLOOR(1/3*3)`` is 0). Division, ``DIV`` and ``MOD`` by zero
raise :class:`~ferry.errors.RecordError` where MariaDB returns NULL with a warning.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ferry.errors import RecordError
from ferry.expr.function._convert import (
    DEC,
    temporal_number,
    to_decimal,
    to_double,
)
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

__all__ = ["dec_div", "int_trunc_div", "num_view", "numeric"]

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


def num_view(t: SqlType) -> SqlType:
    """The numeric type arithmetic sees for ``t`` (a temporal value as its number)."""
    if t.kind is Kind.DATE or (t.temporal and not t.scale):
        return INT_T
    if t.temporal:
        return dec_t(t.scale)
    return t


def numeric(fn: Fn, t: SqlType) -> Fn:
    """``fn`` giving numbers: a temporal result becomes its number (``20240501``)."""
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


def int_trunc_div(a: int, b: int) -> int:
    """Integer division truncating toward zero (MySQL ``DIV``)."""
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


Operation = tuple[Callable[[Any, Any], Any], Callable[[Any], Any] | None, Callable[[Any], Any] | None]
"""An operator's computation and how each operand is converted first (``None``: as it is)."""


def _operation(op: str, t: SqlType, a_t: SqlType, b_t: SqlType, node: Node) -> Operation:
    kind = t.kind
    if op == "intdiv":
        if a_t.kind is Kind.INT and b_t.kind is Kind.INT:

            def int_div(a: int, b: int) -> int:
                if b == 0:
                    raise _zero(node)
                return _check_int(int_trunc_div(a, b), node)

            return int_div, None, None

        def dec_int_div(a: Any, b: Any) -> int:
            x, y = to_decimal(a, a_t), to_decimal(b, b_t)
            if y.is_zero():
                raise _zero(node)
            return _check_int(int(DEC.divide_int(x, y)), node)

        return dec_int_div, None, None
    if kind is Kind.DBL:
        return _dbl_op(op, a_t, b_t, node)
    if kind is Kind.DEC:
        return _dec_op(op, a_t, b_t, node)
    if op == "mod":

        def int_mod(a: int, b: int) -> int:
            if b == 0:
                raise _zero(node)
            return _int_mod(a, b)

        return int_mod, None, None
    fn = {"add": int.__add__, "sub": int.__sub__, "mul": int.__mul__}[op]
    return lambda a, b: _check_int(fn(a, b), node, unsigned=a > _INT_MAX or b > _INT_MAX), None, None


def _converter(target: Kind, t: SqlType) -> Callable[[Any], Any] | None:
    """How an operand of type ``t`` becomes a double/DECIMAL; ``None`` when it already is one."""
    kind = t.kind
    if kind is target:
        return None
    if target is Kind.DBL and kind in (Kind.INT, Kind.DEC):
        return float
    if target is Kind.DEC and kind is Kind.INT:
        return Decimal
    convert = to_double if target is Kind.DBL else to_decimal
    return lambda value: convert(value, t)


def _with_operands(
    compute: Callable[[Any, Any], Any],
    conv_a: Callable[[Any], Any] | None,
    conv_b: Callable[[Any], Any] | None,
) -> Callable[[Any, Any], Any]:
    if conv_a is None and conv_b is None:
        return compute
    if conv_a is None:
        return lambda a, b: compute(a, conv_b(b))  # type: ignore[misc]
    if conv_b is None:
        return lambda a, b: compute(conv_a(a), b)
    return lambda a, b: compute(conv_a(a), conv_b(b))


def _dbl_op(op: str, a_t: SqlType, b_t: SqlType, node: Node) -> Operation:
    def add(x: float, y: float) -> float:
        return _check_dbl(x + y, node)

    def sub(x: float, y: float) -> float:
        return _check_dbl(x - y, node)

    def mul(x: float, y: float) -> float:
        return _check_dbl(x * y, node)

    def div(x: float, y: float) -> float:
        if y == 0:
            raise _zero(node)
        return _check_dbl(x / y if op == "div" else math.fmod(x, y), node)

    compute = {"add": add, "sub": sub, "mul": mul}.get(op, div)
    return compute, _converter(Kind.DBL, a_t), _converter(Kind.DBL, b_t)


def _dec_op(op: str, a_t: SqlType, b_t: SqlType, node: Node) -> Operation:
    def div(x: Decimal, y: Decimal) -> Decimal:
        if y.is_zero():
            raise _zero(node)
        return dec_div(x, y) if op == "div" else DEC.remainder(x, y)

    compute = {"add": DEC.add, "sub": DEC.subtract, "mul": DEC.multiply}.get(op, div)
    return compute, _converter(Kind.DEC, a_t), _converter(Kind.DEC, b_t)


@rule("add", "sub", "mul", "div", "intdiv", "mod")
def _binary(node: Node, sx: Specializer) -> Spec:
    (a_fn, b_fn), (a_raw, b_raw) = sx.specs(node.args)
    a_t, b_t = num_view(a_raw), num_view(b_raw)
    a_fn, b_fn = numeric(a_fn, a_raw), numeric(b_fn, b_raw)
    t = _binary_type(node.op, a_t, b_t)
    operation = _operation(node.op, t, a_t, b_t, node)
    a_slot, b_slot = _param_slot(node.args[0], a_raw), _param_slot(node.args[1], b_raw)
    # Operands that are parameters are read directly (``{{qty}} * {{price}}``).
    if a_slot is not None and b_slot is not None:
        return _of_params(operation, a_slot, b_slot), t
    compute = _with_operands(*operation)
    if b_slot is not None:

        def binary_param_right(p: list[Any], e: Env) -> Any:
            a = a_fn(p, e)
            if a is None:
                return None
            b = p[b_slot]
            return None if b is None else compute(a, b)

        return binary_param_right, t

    def binary(p: list[Any], e: Env) -> Any:
        a = a_fn(p, e)
        if a is None:
            return None
        b = b_fn(p, e)
        return None if b is None else compute(a, b)

    return binary, t


def _of_params(operation: Operation, a_slot: int, b_slot: int) -> Fn:
    """The operation on two parameters, each converted in the same call (no call per operand)."""
    compute, conv_a, conv_b = operation
    if conv_a is None and conv_b is None:

        def binary_params(p: list[Any], e: Env) -> Any:
            a = p[a_slot]
            if a is None:
                return None
            b = p[b_slot]
            return None if b is None else compute(a, b)

        return binary_params
    if conv_a is not None and conv_b is None:
        convert_a = conv_a

        def binary_params_a(p: list[Any], e: Env) -> Any:  # ``{{qty}} * {{price}}``: INT x DECIMAL
            a = p[a_slot]
            if a is None:
                return None
            b = p[b_slot]
            return None if b is None else compute(convert_a(a), b)

        return binary_params_a
    converting = _with_operands(*operation)

    def binary_params_converted(p: list[Any], e: Env) -> Any:
        a = p[a_slot]
        if a is None:
            return None
        b = p[b_slot]
        return None if b is None else converting(a, b)

    return binary_params_converted


def _param_slot(node: Node, t: SqlType) -> int | None:
    """The parameter index when ``node`` is a parameter read as it is (not a temporal one)."""
    return node.data if node.op == "param" and not t.temporal else None


@rule("neg")
def _neg(node: Node, sx: Specializer) -> Spec:
    fn, raw = sx.spec(node.args[0])
    t = num_view(raw)
    fn = numeric(fn, raw)
    if t.kind in (Kind.STR, Kind.NULL):

        def neg_str(p: list[Any], e: Env) -> float | None:
            value = fn(p, e)
            return None if value is None else -to_double(value, t)

        return neg_str, DBL_T

    def neg(p: list[Any], e: Env) -> Any:
        value = fn(p, e)
        return None if value is None else -value

    return neg, t
