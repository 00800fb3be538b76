"""Leaves and control flow: constants, parameters, ``CASE``, ``IF``, ``IFNULL``, ``NULLIF``,
``COALESCE``.

A branching expression has one result type for all its branches (MariaDB's type
aggregation): ``CASE ... THEN 12.5*3 ELSE 'x' END`` returns the *string* ``'37.5'``, and
``IF(c, 1, 2.50)`` returns ``Decimal('1.00')``.
"""

from __future__ import annotations

from typing import Any

from ferry.errors import RecordError
from ferry.expr.function._compare import cmp_class, key_fn
from ferry.expr.function._convert import coerce
from ferry.expr.function._dates import BadDate
from ferry.expr.function._logic import truth_fn
from ferry.expr.function._nodes import Env, Fn, Node, Spec, Specializer, bad_date, rule
from ferry.expr.function._types import ListSig, SqlType, result_type


@rule("const")
def _const(node: Node, sx: Specializer) -> Spec:
    value, t = node.data

    def const(p: list[Any], e: Env) -> Any:
        return value

    return const, t


@rule("param")
def _param(node: Node, sx: Specializer) -> Spec:
    slot = node.data
    sig = sx.sig[slot]
    if isinstance(sig, ListSig):
        raise RecordError(
            f"{node.src} is a list (array path); in _function a list can only be the argument of "
            "SUM/AVG/MAX/MIN/COUNT, e.g. SUM({{items.qty}})"
        )

    def param(p: list[Any], e: Env) -> Any:
        return p[slot]

    return param, sig


def _coercer(fn: Fn, source: SqlType, target: SqlType) -> Fn:
    if source == target:
        return fn

    def coerced(p: list[Any], e: Env) -> Any:
        return coerce(fn(p, e), source, target)

    return coerced


def _branches(sx: Specializer, nodes: list[Node]) -> tuple[list[Fn], SqlType]:
    fns, types = sx.specs(nodes)
    target = result_type(types)
    return [_coercer(f, t, target) for f, t in zip(fns, types, strict=True)], target


@rule("case")
def _case(node: Node, sx: Specializer) -> Spec:
    """``data``: (has_operand, has_else); args: [operand], when1, then1, ..., [else]."""
    has_operand, has_else = node.data
    args = list(node.args)
    operand = args.pop(0) if has_operand else None
    default = args.pop() if has_else else None
    whens, thens = args[0::2], args[1::2]
    values, target = _branches(sx, thens + ([default] if default is not None else []))
    default_fn = values.pop() if default is not None else None
    then_fns = values
    if operand is None:
        conds = [truth_fn(*sx.spec(w)) for w in whens]

        def searched(p: list[Any], e: Env) -> Any:
            for cond, then in zip(conds, then_fns, strict=True):
                if cond(p, e):
                    return then(p, e)
            return default_fn(p, e) if default_fn is not None else None

        return searched, target
    op_fn, op_t = sx.spec(operand)
    when_fns, when_ts = sx.specs(whens)
    cls = cmp_class([op_t, *when_ts])
    op_key = key_fn(cls, op_t, rounded=False)
    when_keys = [key_fn(cls, t, rounded=False) for t in when_ts]
    pairs = list(zip(when_fns, when_keys, then_fns, strict=True))

    def simple(p: list[Any], e: Env) -> Any:
        value = op_fn(p, e)
        if value is not None and cls != "null":
            try:
                key = op_key(value)
                for when, when_key, then in pairs:
                    candidate = when(p, e)
                    if candidate is not None and when_key(candidate) == key:
                        return then(p, e)
            except BadDate as exc:
                raise bad_date(node, exc) from None
        return default_fn(p, e) if default_fn is not None else None

    return simple, target


@rule("if")
def _if(node: Node, sx: Specializer) -> Spec:
    cond = truth_fn(*sx.spec(node.args[0]))
    (yes, no), target = _branches(sx, list(node.args[1:]))

    def if_(p: list[Any], e: Env) -> Any:
        return yes(p, e) if cond(p, e) else no(p, e)

    return if_, target


@rule("coalesce")
def _coalesce(node: Node, sx: Specializer) -> Spec:
    fns, target = _branches(sx, list(node.args))

    def coalesce_(p: list[Any], e: Env) -> Any:
        for fn in fns:
            value = fn(p, e)
            if value is not None:
                return value
        return None

    return coalesce_, target


@rule("nullif")
def _nullif(node: Node, sx: Specializer) -> Spec:
    (a_fn, b_fn), (a_t, b_t) = sx.specs(node.args)
    cls = cmp_class([a_t, b_t])
    a_key, b_key = key_fn(cls, a_t, rounded=True), key_fn(cls, b_t, rounded=True)

    def nullif(p: list[Any], e: Env) -> Any:
        a = a_fn(p, e)
        if a is None:
            return None
        b = b_fn(p, e)
        try:
            if b is not None and cls != "null" and a_key(a) == b_key(b):
                return None
        except BadDate as exc:
            raise bad_date(node, exc) from None
        return a

    return nullif, a_t
