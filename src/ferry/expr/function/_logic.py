"""Predicates: comparisons, ``IN``, ``BETWEEN``, ``LIKE``, ``AND/OR/XOR/NOT``, ``IS``.

Booleans are the integers 1 and 0; NULL propagates with SQL's three-valued logic
(``0 AND NULL`` is 0, ``1 AND NULL`` is NULL). ``AND``/``OR`` stop at the first operand
that decides them, like MariaDB, so ``0 AND 1/0`` is 0 without an error.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from ferry.expr.function._compare import ci, cmp_class, key_fn, like_regex
from ferry.expr.function._convert import str_to_double, to_str
from ferry.expr.function._dates import BadDate
from ferry.expr.function._nodes import Env, Fn, Node, Spec, Specializer, bad_date, rule
from ferry.expr.function._types import INT_T, Kind, SqlType

__all__ = ["truth_fn"]


def _truth(value: Any, t: SqlType) -> bool | None:
    if value is None:
        return None
    if t.kind is Kind.STR:
        return str_to_double(value) != 0
    if t.temporal:
        return True
    return bool(value != 0)


def truth_fn(fn: Fn, t: SqlType) -> Callable[[list[Any], Env], bool | None]:
    """A closure giving the SQL truth of ``fn``: True, False or None (NULL)."""
    if t.kind in (Kind.INT, Kind.DEC, Kind.DBL):

        def numeric(p: list[Any], e: Env) -> bool | None:
            value = fn(p, e)
            return None if value is None else value != 0

        return numeric

    def general(p: list[Any], e: Env) -> bool | None:
        return _truth(fn(p, e), t)

    return general


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


@rule("eq", "ne", "lt", "le", "gt", "ge", "nseq")
def _compare(node: Node, sx: Specializer) -> Spec:
    (a_fn, b_fn), (a_t, b_t) = sx.specs(node.args)
    cls = cmp_class([a_t, b_t])
    a_key, b_key = key_fn(cls, a_t, rounded=True), key_fn(cls, b_t, rounded=True)
    null_safe = node.op == "nseq"
    test = _OPS["eq" if null_safe else node.op]

    def compare(p: list[Any], e: Env) -> int | None:
        a, b = a_fn(p, e), b_fn(p, e)
        if a is None or b is None:
            return int(a is None and b is None) if null_safe else None
        try:
            return int(test(a_key(a), b_key(b)))
        except BadDate as exc:
            raise bad_date(node, exc) from None

    return compare, INT_T


@rule("in")
def _in(node: Node, sx: Specializer) -> Spec:
    fns, types = sx.specs(node.args)
    x_fn, x_t = fns[0], types[0]
    items = []
    for fn, t in zip(fns[1:], types[1:], strict=True):
        cls = cmp_class([x_t, t])
        items.append((fn, cls, key_fn(cls, x_t, rounded=True), key_fn(cls, t, rounded=True)))

    def in_(p: list[Any], e: Env) -> int | None:
        x = x_fn(p, e)
        if x is None:
            return None
        saw_null = False
        try:
            for fn, cls, x_key, key in items:
                value = fn(p, e)
                if value is None or cls == "null":
                    saw_null = True
                elif x_key(x) == key(value):
                    return 1
        except BadDate as exc:
            raise bad_date(node, exc) from None
        return None if saw_null else 0

    return in_, INT_T


@rule("between")
def _between(node: Node, sx: Specializer) -> Spec:
    fns, types = sx.specs(node.args)
    cls = cmp_class(types)
    keys = [key_fn(cls, t, rounded=False) for t in types]

    def between(p: list[Any], e: Env) -> int | None:
        x, low, high = (fn(p, e) for fn in fns)
        if x is None or cls == "null":
            return None
        try:
            xk = keys[0](x)
            above = None if low is None else xk >= keys[1](low)
            below = None if high is None else xk <= keys[2](high)
        except BadDate as exc:
            raise bad_date(node, exc) from None
        if above is False or below is False:
            return 0
        return None if above is None or below is None else 1

    return between, INT_T


@rule("like")
def _like(node: Node, sx: Specializer) -> Spec:
    (s_fn, p_fn, esc_fn), (s_t, p_t, esc_t) = sx.specs(node.args)

    def like(p: list[Any], e: Env) -> int | None:
        subject, pattern, escape = s_fn(p, e), p_fn(p, e), esc_fn(p, e)
        if subject is None or pattern is None:
            return None
        esc = to_str(escape, esc_t) if escape is not None else ""
        regex = like_regex(ci(to_str(pattern, p_t)), ci(esc[:1]) if esc else None)
        return int(regex.fullmatch(ci(to_str(subject, s_t))) is not None)

    return like, INT_T


@rule("and", "or")
def _and_or(node: Node, sx: Specializer) -> Spec:
    a, b = (truth_fn(*sx.spec(arg)) for arg in node.args)
    decisive = node.op == "or"

    def and_or(p: list[Any], e: Env) -> int | None:
        left = a(p, e)
        if left is decisive:
            return int(decisive)
        right = b(p, e)
        if right is decisive:
            return int(decisive)
        return None if left is None or right is None else int(not decisive)

    return and_or, INT_T


@rule("xor")
def _xor(node: Node, sx: Specializer) -> Spec:
    a, b = (truth_fn(*sx.spec(arg)) for arg in node.args)

    def xor(p: list[Any], e: Env) -> int | None:
        left, right = a(p, e), b(p, e)
        return None if left is None or right is None else int(left != right)

    return xor, INT_T


@rule("not")
def _not(node: Node, sx: Specializer) -> Spec:
    a = truth_fn(*sx.spec(node.args[0]))

    def not_(p: list[Any], e: Env) -> int | None:
        value = a(p, e)
        return None if value is None else int(not value)

    return not_, INT_T


@rule("is")
def _is(node: Node, sx: Specializer) -> Spec:
    """``data``: ``None`` for IS NULL, ``True``/``False`` for IS TRUE / IS FALSE."""
    fn, t = sx.spec(node.args[0])
    wanted = node.data
    if wanted is None:

        def is_null(p: list[Any], e: Env) -> int:
            return int(fn(p, e) is None)

        return is_null, INT_T
    test = truth_fn(fn, t)

    def is_bool(p: list[Any], e: Env) -> int:
        return int(test(p, e) is wanted)

    return is_bool, INT_T
