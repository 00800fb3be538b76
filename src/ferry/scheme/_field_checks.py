"""Checks on field lists (``request``, ``otherRequest``, ``children``, ``takeOverRequest``).

Every ``value`` is compiled with :func:`ferry.expr.compile_value` (so a bad ``_function``,
formatter or lookup is found before any run), every ``parser`` is built with
:func:`ferry.expr.parsers.get_parser`, and the structure is checked: duplicate names at one
level, ``parent`` links, ``children`` on scalar fields, and target arrays whose source array can be
neither read from ``value`` nor inferred from the children's paths.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ferry.errors import ConfigError, ExpressionError, Issue
from ferry.expr.placeholders import scan
from ferry.expr.variables import parse_variable
from ferry.scheme.metadata import FieldSpec

__all__ = ["FieldContext", "check_fields", "expression_issue"]

_CONTAINERS = ("object", "array")
_NUMERIC = re.compile(r"^\s*\d*\s*$")


@dataclass
class FieldContext:
    """What the field checks need to know about the side being checked."""

    side: str
    lookup_scheme: str | None = None
    references: dict[str, frozenset[str]] = field(default_factory=dict)
    """Row paths read by each compiled value, by value path (filled while checking)."""
    compiled: dict[str, Any] = field(default_factory=dict)
    """Compiled values by value path: one found here, compiled from the very value checked, is
    not compiled again; each value compiled while checking is added (the plan takes them)."""


def _expr_api() -> tuple[Callable[..., Any] | None, Callable[..., Any] | None]:
    try:
        expr = importlib.import_module("ferry.expr")
    except ImportError:
        return None, None
    compile_value = getattr(expr, "compile_value", None)
    try:
        get_parser = importlib.import_module("ferry.expr.parsers").get_parser
    except (ImportError, AttributeError):
        get_parser = None
    return compile_value, get_parser


def expression_issue(exc: ExpressionError, path: str) -> Issue:
    """One Issue for a compile error: ``path: <message> (col N)`` with a hint and a caret."""
    message, _, tail = exc.message.partition("; ")
    if exc.column:
        message += f" (col {exc.column})"
    hint = getattr(exc, "hint", None) or tail or _default_hint(exc.message)
    if exc.text and exc.column:
        hint += f"\n    {exc.text}\n    {' ' * (exc.column - 1)}^"
    return Issue(exc.path or path, message, None, hint)


def _default_hint(message: str) -> str:
    low = message.lower()
    if "formatter" in low:
        return "formatters: datetime, date, timestamp, timestamp_ms, unix, e.g. {{LAST_SYNC_TIME|datetime}}"
    if "function" in low:
        return (
            "_function takes a MySQL expression; supported functions include CONCAT, REPLACE, IF, IFNULL, CASE, "
            "DATE_FORMAT, ROUND, SUM (see docs)"
        )
    return "fix the expression at the marked column"


def _placeholder_refs(value: Any) -> frozenset[str]:
    if not isinstance(value, str):
        return frozenset()
    return frozenset(p.name for p in scan(value) if parse_variable(p.name) is None)


def _compile(value: Any, path: str, ctx: FieldContext) -> list[Issue]:
    compile_value, _ = _expr_api()
    if compile_value is None:
        ctx.references[path] = _placeholder_refs(value)
        return []
    compiled = ctx.compiled.get(path)
    if getattr(compiled, "source", None) is not value:
        try:
            compiled = compile_value(value, path=path, default_lookup_scheme=ctx.lookup_scheme)
        except ExpressionError as exc:
            return [expression_issue(exc, path)]
        ctx.compiled[path] = compiled
    ctx.references[path] = frozenset(getattr(compiled, "references", frozenset()))
    return []


def _check_parser(f: FieldSpec, path: str) -> list[Issue]:
    if f.parser is None:
        return []
    _, get_parser = _expr_api()
    if get_parser is None:
        return []
    params = {k: v for k, v in f.parser.model_dump().items() if k != "name"}
    try:
        get_parser(f.parser.name, params)
    except ConfigError as exc:
        text = str(exc)
        message, _, tail = text.partition("; ")
        where = f"{path}.parser.name" if message.startswith("unknown parser") else f"{path}.parser"
        return [
            Issue(where, message, None, tail or 'e.g. {"name": "ConvertObjectParser", "params": "FNumber"}')
        ]
    return []


def _duplicates(fields: list[FieldSpec], base: str) -> list[Issue]:
    seen: dict[str, int] = {}
    issues = []
    for i, f in enumerate(fields):
        if f.field in seen:
            issues.append(
                Issue(
                    f"{base}[{i}].field",
                    f"duplicate field {f.field!r} (also {base}[{seen[f.field]}])",
                    None,
                    "each field name may appear once per level; remove or rename one of them",
                )
            )
        else:
            seen[f.field] = i
    return issues


def _array_key_is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and bool(_NUMERIC.match(value))) or isinstance(value, int)


def _inferred_arrays(f: FieldSpec, path: str, ctx: FieldContext) -> set[str]:
    heads: set[str] = set()
    for j in range(len(f.children)):
        for ref in ctx.references.get(f"{path}.children[{j}].value", frozenset()):
            if "." in ref:
                heads.add(ref.split(".", 1)[0])
    return heads


def _check_array(f: FieldSpec, path: str, ctx: FieldContext) -> list[Issue]:
    """A target array without a source key is iterated over the one array its children read.

    Children that read no array path give one entry built from the record (a header-only
    source into a Kingdee entry, seed 004); children that read several arrays are ambiguous.
    """
    if ctx.side != "target" or f.type != "array" or not f.children or not _array_key_is_blank(f.value):
        return []
    heads = sorted(_inferred_arrays(f, path, ctx))
    if len(heads) < 2:
        return []
    return [
        Issue(
            f"{path}.value",
            f"array {f.field!r} has no source array and its children read several: {', '.join(heads)}",
            None,
            f"set value to the source array to iterate, without braces, e.g. value: {heads[-1]}; "
            f"the children then read its elements as {{{{{heads[-1]}.<field>}}}}",
        )
    ]


def _check_one(f: FieldSpec, path: str, ctx: FieldContext, enclosing: FieldSpec | None) -> list[Issue]:
    issues: list[Issue] = []
    is_key = ctx.side == "target" and f.type == "array"
    if isinstance(f.value, str) and not is_key:
        issues += _compile(f.value, f"{path}.value", ctx)
    issues += _check_parser(f, path)
    if enclosing is not None and f.parent not in (None, "") and f.parent != enclosing.field:
        issues.append(
            Issue(
                f"{path}.parent",
                f"parent {f.parent!r} is not the enclosing field {enclosing.field!r}",
                None,
                f"set parent: {enclosing.field} or remove parent (children are nested already)",
            )
        )
    if f.children and f.type not in _CONTAINERS:
        issues.append(
            Issue(
                f"{path}.type",
                f"field {f.field!r} has children but type {f.type!r}",
                None,
                "set type: object (one nested object) or type: array (one entry per source element)",
            )
        )
    if f.children:
        issues += check_fields(f.children, f"{path}.children", ctx, enclosing=f)
        issues += _check_array(f, path, ctx)
    return issues


def _all_fields(fields: list[FieldSpec]) -> list[FieldSpec]:
    out: list[FieldSpec] = []
    for f in fields:
        out.append(f)
        out += _all_fields(f.children)
    return out


def _flat_parents(fields: list[FieldSpec], base: str) -> list[Issue]:
    """Top-level fields with ``parent``/``parent_id`` must name an object/array field of this list."""
    every = _all_fields(fields)
    containers = {f.field for f in every if f.type in _CONTAINERS}
    ids = {f.id for f in every if f.type in _CONTAINERS and f.id}
    issues = []
    for i, f in enumerate(fields):
        if f.parent not in (None, "") and f.parent not in containers:
            known = ", ".join(sorted(containers)) or "(none)"
            issues.append(
                Issue(
                    f"{base}[{i}].parent",
                    f"parent {f.parent!r} is not an object or array field of {base.rsplit('.', 1)[-1]}",
                    None,
                    f"name an existing object/array field (here: {known}) or nest the field in its children",
                )
            )
        if f.parent_id not in (None, "") and f.parent_id not in ids:
            issues.append(
                Issue(
                    f"{base}[{i}].parent_id",
                    f"parent_id {f.parent_id!r} is not the id of an object or array field of {base.rsplit('.', 1)[-1]}",
                    None,
                    "use the id of an existing object/array item, or drop parent_id and use parent",
                )
            )
    return issues


def check_fields(
    fields: list[FieldSpec], base: str, ctx: FieldContext, *, enclosing: FieldSpec | None = None
) -> list[Issue]:
    """Check one level of fields (and, recursively, their children) located at ``base``."""
    issues = _duplicates(fields, base)
    if enclosing is None:
        issues += _flat_parents(fields, base)
    for i, f in enumerate(fields):
        issues += _check_one(f, f"{base}[{i}]", ctx, enclosing)
    return issues
