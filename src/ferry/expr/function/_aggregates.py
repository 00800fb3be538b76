"""``SUM AVG MAX MIN COUNT`` over array paths, and ``CAST``.

An aggregate's argument is evaluated once per *row*: every list-valued parameter inside it
supplies one element per row (lists used together must have the same length), scalars are
the same on every row — ``SUM({{items.qty}} * {{items.price}})`` multiplies element-wise.
The list is read as a column: its type is the aggregate of its elements' types, so
``SUM`` of integers is a DECIMAL(0) and ``AVG`` adds 4 decimals, exactly as over a table.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ferry.errors import RecordError
from ferry.expr.function._arith import dec_div
from ferry.expr.function._casts import to_signed, to_unsigned
from ferry.expr.function._compare import cmp_class, key_fn
from ferry.expr.function._convert import (
    DEC,
    dec_round,
    to_decimal,
    to_double,
    to_str,
)
from ferry.expr.function._dates import BadDate, to_moment
from ferry.expr.function._nodes import Env, Node, Spec, Specializer, bad_date, rule
from ferry.expr.function._types import (
    DATE_T,
    DBL_T,
    INT_T,
    NOT_FIXED,
    STR_T,
    Kind,
    ListSig,
    SqlType,
    dec_t,
    dt_t,
)

__all__ = ["column_values"]


def column_values(node: Node, sx: Specializer) -> tuple[Any, SqlType]:
    """The values of ``node``'s argument, one per row of its list parameters, and their type."""
    arg = node.args[0]
    list_slots = sorted(s for s in arg.slots if isinstance(sx.sig[s], ListSig))
    row_sig = list(sx.sig)
    for slot in list_slots:
        row_sig[slot] = sx.sig[slot].elem  # type: ignore[union-attr]
    inner, t = sx.for_rows(row_sig).spec(arg)
    if not list_slots:
        return (lambda p, e: [inner(p, e)]), t

    def values(p: list[Any], e: Env) -> list[Any]:
        lists = [p[s] for s in list_slots]
        size = len(lists[0])
        if any(len(items) != size for items in lists):
            sizes = ", ".join(str(len(items)) for items in lists)
            raise RecordError(f"lists of different lengths ({sizes}) used together in _function: {node.src}")
        row = list(p)
        out = []
        for k in range(size):
            for slot, items in zip(list_slots, lists, strict=True):
                row[slot] = items[k]
            out.append(inner(row, e))
        return out

    return values, t


def _distinct(values: list[Any], t: SqlType) -> list[Any]:
    key = key_fn(cmp_class([t]), t, rounded=False)
    seen: dict[Any, Any] = {}
    for value in values:
        seen.setdefault(key(value), value)
    return list(seen.values())


@rule("agg")
def _aggregate(node: Node, sx: Specializer) -> Spec:
    """``data``: (function name, distinct)."""
    func, distinct = node.data
    column, t = column_values(node, sx)
    kind = t.kind

    def present(p: list[Any], e: Env) -> list[Any]:
        values = [v for v in column(p, e) if v is not None]
        return _distinct(values, t) if distinct else values

    if func == "COUNT":
        return (lambda p, e: len(present(p, e))), INT_T
    if func in ("MAX", "MIN"):
        key = key_fn(cmp_class([t]), t, rounded=False)
        pick = max if func == "MAX" else min

        def extreme(p: list[Any], e: Env) -> Any:
            values = present(p, e)
            try:
                return pick(values, key=key) if values else None
            except BadDate as exc:
                raise bad_date(node, exc) from None

        return extreme, t
    exact = kind in (Kind.INT, Kind.DEC) or (kind is Kind.DATE) or (kind is Kind.DATETIME and not t.scale)
    if exact:
        scale = t.scale if kind is Kind.DEC else 0

        def dec_sum(values: list[Any]) -> Decimal:
            total = Decimal(0)
            for value in values:
                total = DEC.add(total, to_decimal(value, t))
            return total

        if func == "SUM":
            return (lambda p, e: dec_sum(v) if (v := present(p, e)) else None), dec_t(scale)

        def dec_avg(p: list[Any], e: Env) -> Decimal | None:
            values = present(p, e)
            return dec_div(dec_sum(values), Decimal(len(values))) if values else None

        return dec_avg, dec_t(scale + 4)

    def dbl_sum(values: list[Any]) -> float:
        return sum(to_double(v, t) for v in values)

    out_scale = t.scale if kind is Kind.DBL and t.scale < NOT_FIXED else NOT_FIXED
    if func == "SUM":
        return (lambda p, e: dbl_sum(v) if (v := present(p, e)) else None), SqlType(Kind.DBL, out_scale)

    def dbl_avg(p: list[Any], e: Env) -> float | None:
        values = present(p, e)
        return dbl_sum(values) / len(values) if values else None

    avg_scale = min(out_scale + 4, NOT_FIXED) if out_scale < NOT_FIXED else NOT_FIXED
    return dbl_avg, SqlType(Kind.DBL, avg_scale)


@rule("cast")
def _cast(node: Node, sx: Specializer) -> Spec:
    """``data``: (target, *params): signed | unsigned | double | char n | date | datetime fsp |
    decimal precision scale."""
    target, *params = node.data
    fn, t = sx.spec(node.args[0])

    def cast_with(convert: Any, out_t: SqlType) -> Spec:
        def cast(p: list[Any], e: Env) -> Any:
            value = fn(p, e)
            if value is None:
                return None
            try:
                return convert(value)
            except BadDate as exc:
                raise bad_date(node, exc, value) from None

        return cast, out_t

    if target in ("signed", "unsigned"):
        to_integer = to_signed if target == "signed" else to_unsigned
        return cast_with(lambda v: to_integer(v, t), INT_T)
    if target == "double":
        return cast_with(lambda v: to_double(v, t), DBL_T)
    if target == "char":
        (length,) = params
        if length is None:
            return cast_with(lambda v: to_str(v, t), STR_T)
        return cast_with(lambda v: to_str(v, t)[:length], STR_T)
    if target == "date":
        return cast_with(lambda v: to_moment(v, t).value.date(), DATE_T)
    if target == "datetime":
        (fsp,) = params
        return cast_with(lambda v: to_moment(v, t).value, dt_t(fsp))
    precision, scale = params
    limit = Decimal(10) ** (precision - scale) - Decimal(1).scaleb(-scale)

    def to_dec(value: Any) -> Decimal:
        number = dec_round(to_decimal(value, t), scale)
        return max(-limit, min(limit, number))

    return cast_with(to_dec, dec_t(scale))
