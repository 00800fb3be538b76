"""``compile_value``: turn one scheme ``value`` into a :class:`CompiledValue`, once per scheme.

Dispatch on the value:

* ``None``, numbers, bools, dicts, lists → ``constant`` (returned as-is; containers are copied).
* ``"_function <mysql expr>"`` → ``function`` (parsed by :mod:`ferry.expr.function`).
* ``"_findCollection find F from S where a={{x}} ..."`` → ``find``.
* ``"_mongoQuery [S] findField=content.F where={...}"`` → ``mongo``.
* ``"_map <table> <operand> [unmatched=...|default=...]"`` → ``map`` (:mod:`ferry.expr.valuemap`;
  the table is one of the scheme's value maps, resolved here, never per record).
* a string with placeholders → ``template``; without → ``constant``.

Per-record failures raise :class:`~ferry.errors.RecordError` whose reason starts with the value's
scheme path (when one was given); compile-time problems raise
:class:`~ferry.errors.ExpressionError` located at that path with a 1-based column.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
from collections.abc import Callable
from datetime import datetime
from math import copysign
from typing import Any

from ferry.errors import ExpressionError, RecordError
from ferry.expr.context import EvalContext
from ferry.expr.lookup import FIND_PREFIX, MONGO_PREFIX, CompiledLookup, compile_lookup
from ferry.expr.placeholders import Placeholder
from ferry.expr.template import Resolver, compile_placeholder, compile_template
from ferry.expr.valuemap import MAP_PREFIX, map_evaluator, parse_map, resolve_table
from ferry.expr.variables import current_time, parse_variable

__all__ = ["FUNCTION_PREFIX", "CompiledValue", "EvalContext", "compile_value", "located_error"]

FUNCTION_PREFIX = "_function"


class CompiledValue:
    """A value compiled once per scheme and evaluated per record.

    Attributes:
        evaluate: ``evaluate(ctx) -> Any``; raises ``RecordError`` for per-record failures.
        kind: ``"constant" | "template" | "function" | "find" | "mongo" | "map"``.
        is_constant: True when the result never depends on the context.
        references: dotted row paths read (variables excluded), e.g. ``{"items.sku_id", "shop_no"}``.
        lookup_schemes: scheme ids the value looks up (``None`` = the provider's default scheme).
        lookups: the lookups in the value (the whole value, or spans of a ``_function``), to tell
            what they looked for when a record fails (:func:`ferry.expr.lookup.misses`).
        source: the original value.
        path: the scheme path given at compile time.
        unlocated: ``evaluate`` without the prefixing of ``path`` to its ``RecordError`` reasons
            (the same function when nothing is prefixed), for a caller that wraps ``evaluate``
            anyway and prefixes the path itself: one call less per record.

    ``can_fail=False`` promises that ``evaluate`` never raises ``RecordError`` (a template of
    plain row paths), so it is not wrapped to prefix the path to such errors.
    """

    __slots__ = (
        "evaluate",
        "is_constant",
        "kind",
        "lookup_schemes",
        "lookups",
        "path",
        "references",
        "source",
        "unlocated",
    )

    def __init__(
        self,
        kind: str,
        evaluate: Callable[[EvalContext], Any],
        *,
        source: Any,
        path: str = "",
        references: frozenset[str] = frozenset(),
        lookup_schemes: frozenset[str | None] = frozenset(),
        lookups: tuple[CompiledLookup, ...] = (),
        can_fail: bool = True,
    ) -> None:
        self.kind = kind
        self.is_constant = kind == "constant"
        located = path and can_fail and kind != "constant"
        self.evaluate = _located(evaluate, path) if located else evaluate
        self.unlocated = evaluate
        self.source = source
        self.path = path
        self.references = references
        self.lookup_schemes = lookup_schemes
        self.lookups = lookups

    def __repr__(self) -> str:
        return f"CompiledValue(kind={self.kind!r}, source={self.source!r})"


def _located(fn: Callable[[EvalContext], Any], path: str) -> Callable[[EvalContext], Any]:
    def evaluate(ctx: EvalContext) -> Any:
        try:
            return fn(ctx)
        except RecordError as exc:
            raise located_error(exc, path) from exc

    return evaluate


def located_error(exc: RecordError, path: str) -> RecordError:
    """``exc`` with ``path`` in front of its reason: what ``evaluate`` raises (``from exc``)
    where ``unlocated`` raised ``exc``."""
    return RecordError(f"{path}: {exc.reason}", exc.record_id, exc.retriable)


def _constant(value: Any, path: str) -> CompiledValue:
    if isinstance(value, dict | list):
        frozen = copy.deepcopy(value)
        return CompiledValue("constant", lambda ctx: copy.deepcopy(frozen), source=value, path=path)
    return CompiledValue("constant", lambda ctx: value, source=value, path=path)


def _has_prefix(text: str, prefix: str) -> bool:
    return text.startswith(prefix) and (len(text) == len(prefix) or text[len(prefix)].isspace())


def compile_value(value: Any, *, path: str = "", default_lookup_scheme: str | None = None) -> CompiledValue:
    """Compile a scheme ``value`` (see module doc for the dispatch rules).

    Args:
        value: the raw ``value`` from the scheme (any JSON type).
        path: scheme path of the value, used in every error message.
        default_lookup_scheme: scheme id for ``_mongoQuery`` without an explicit scheme.

    Raises:
        ExpressionError: the value cannot be compiled; ``str(e)`` starts with ``path``.
    """
    try:
        return _compile(value, path, default_lookup_scheme)
    except ExpressionError as exc:
        raise exc.at(path) from None


def _compile(value: Any, path: str, default_scheme: str | None) -> CompiledValue:
    if not isinstance(value, str):
        return _constant(value, path)
    if _has_prefix(value, FUNCTION_PREFIX):
        return _compile_function(value, path, default_scheme)
    if _has_prefix(value, MAP_PREFIX):
        return _compile_map(value, path, default_scheme)
    if _has_prefix(value, FIND_PREFIX) or _has_prefix(value, MONGO_PREFIX):
        lookup = compile_lookup(value, 0, default_scheme)
        return CompiledValue(
            lookup.kind,
            lookup.evaluate,
            source=value,
            path=path,
            references=lookup.references,
            lookup_schemes=frozenset({lookup.scheme}),
            lookups=(lookup,),
        )
    tpl = compile_template(value, miss_key=path)
    if tpl.is_constant:
        return _constant(value, path)
    return CompiledValue(
        "template", tpl.evaluate, source=value, path=path, references=tpl.references, can_fail=tpl.can_fail
    )


_HOLDS_RECORDS = "target.request"
"""Where a value maps a record: the only place ``unmatched: quarantine`` can hold one."""


def _compile_map(text: str, path: str, default_scheme: str | None) -> CompiledValue:
    """``_map <table> <operand>``: the operand compiled as a value of its own, looked up in the
    table per record (see :mod:`ferry.expr.valuemap`)."""
    call = parse_map(text)
    table = resolve_table(call, text)
    unmatched = call.unmatched or table.unmatched
    if unmatched.kind == "quarantine" and path and not path.startswith(_HOLDS_RECORDS):
        raise ExpressionError(
            f"unmatched quarantine holds a record, and only target.request maps records; "
            f"write unmatched=keep or default=<text> here (value map {table.name!r})",
            text,
            call.column,
        )
    try:
        operand = _compile(call.operand, path, default_scheme)
    except ExpressionError as exc:  # located in the whole _map text
        column = exc.column + call.offset if exc.column else None
        raise ExpressionError(exc.message, text, column) from None
    return CompiledValue(
        "map",
        map_evaluator(table, unmatched, operand.unlocated, path),
        source=text,
        path=path,
        references=operand.references,
        lookup_schemes=operand.lookup_schemes,
        lookups=operand.lookups,
    )


def clock(ctx: EvalContext) -> datetime:
    """The clock for ``NOW()``/``CURDATE()``: ``ctx.now``, else ``CURRENT_TIME``, else the wall clock."""
    if ctx.now is not None:
        return ctx.now if ctx.now.tzinfo is not None else ctx.now.replace(tzinfo=ctx.tz)
    return current_time(ctx)


def _function_module() -> Any:
    if importlib.util.find_spec("ferry.expr.function") is None:
        raise ExpressionError("_function is not available: module ferry.expr.function is not installed")
    return importlib.import_module("ferry.expr.function")


def _compile_function(text: str, path: str, default_scheme: str | None) -> CompiledValue:
    compiled = _function_module().compile_function(text)
    getters: list[Resolver] = []
    refs: set[str] = set()
    schemes: set[str | None] = set()
    lookups: list[CompiledLookup] = []
    for item in compiled.placeholders:
        if isinstance(item, Placeholder):
            getters.append(compile_placeholder(item, text, miss_key=path))
            if parse_variable(item.name) is None:
                refs.add(item.name)
        else:
            span_text = str(item.text)
            offset = _span_offset(item, text)
            lookup: CompiledLookup = compile_lookup(span_text, offset, default_scheme, full_text=text)
            getters.append(lookup.evaluate)
            lookups.append(lookup)
            refs |= lookup.references
            schemes.add(lookup.scheme)
    make_evaluator = getattr(compiled, "evaluator", None)
    if make_evaluator is not None:
        evaluate = make_evaluator(getters, clock)
    else:  # a function module with only the minimal contract: evaluate(resolve, now)
        evaluate = _generic_evaluate(compiled, getters)
    return CompiledValue(
        "function",
        _as_mariadb_prints(evaluate),
        source=text,
        path=path,
        references=frozenset(refs),
        lookup_schemes=frozenset(schemes),
        lookups=tuple(lookups),
    )


_WHOLE_DOUBLE_LIMIT = 1e15
"""MariaDB prints a DOUBLE below 10^15 with no fraction as an integer (``7+'3'`` is ``10``), and
from 10^15 in exponent form (``1e15``)."""


def _as_mariadb_prints(evaluate: Callable[[EvalContext], Any]) -> Callable[[EvalContext], Any]:
    """A DOUBLE result with no fraction becomes the integer MariaDB prints (``{qty}+'3'`` is
    ``10``, not ``10.0``): QEasy reads the result as MySQL's text, so a JSON body, a VARCHAR
    column or a text parser gets ``10``. ``-0.0`` and values from 10^15 stay doubles."""

    def printed(ctx: EvalContext) -> Any:
        result = evaluate(ctx)
        if (
            type(result) is float
            and result.is_integer()
            and -_WHOLE_DOUBLE_LIMIT < result < _WHOLE_DOUBLE_LIMIT
            and (result or copysign(1.0, result) > 0)  # MariaDB prints -0.0 as -0
        ):
            return int(result)
        return result

    return printed


def _generic_evaluate(compiled: Any, getters: list[Resolver]) -> Callable[[EvalContext], Any]:
    by_id: dict[int, Resolver] = {}
    by_key: dict[Any, Resolver] = {}
    for item, getter in zip(compiled.placeholders, getters, strict=True):
        by_id[id(item)] = getter
        by_key[item if isinstance(item, Placeholder) else ("lookup", str(item.text))] = getter

    def resolver_for(item: Any) -> Resolver:
        found = by_id.get(id(item))
        if found is not None:
            return found
        if isinstance(item, Placeholder):
            return by_key[item]
        return by_key[("lookup", str(item.text))]

    evaluate_fn = compiled.evaluate

    def evaluate(ctx: EvalContext) -> Any:
        return evaluate_fn(lambda item: resolver_for(item)(ctx), clock(ctx))

    return evaluate


def _span_offset(item: Any, text: str) -> int:
    start = getattr(item, "start", None)
    if isinstance(start, int):
        return start
    found = text.find(str(item.text))
    return max(found, 0)
