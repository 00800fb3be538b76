"""Templates: text with ``{field}``, ``{{field}}`` and ``{{NAME|formatter}}`` placeholders.

A template that is exactly one placeholder evaluates to the referenced value with its type kept
(a list stays a list, an int an int); any other template renders to ``str`` with ``None`` as ``""``
(docs/style.md, rule 12). Substituted values are never re-scanned, so a value holding braces, quotes or
``) or 1=1 --`` passes through unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ferry.errors import ExpressionError, RecordError
from ferry.expr.context import EvalContext
from ferry.expr.formatters import (
    FORMATTERS,
    TimeParseError,
    epoch_seconds,
    formatter_function,
    normalize_formatter,
)
from ferry.expr.paths import compile_walk, has_path, split_path
from ferry.expr.placeholders import Placeholder, scan
from ferry.expr.variables import parse_variable

__all__ = [
    "CompiledTemplate",
    "Resolver",
    "compile_placeholder",
    "compile_row_getter",
    "compile_template",
    "to_text",
]

Resolver = Callable[[EvalContext], Any]
_MISSING = object()


def compile_row_getter(path: str, miss_key: str = "") -> Resolver:
    """Return a resolver for a dotted row path, honouring :attr:`EvalContext.scope` (see ``paths``).

    With a ``miss_key`` (the scheme path of the value the placeholder is in), a read that finds
    the path absent from the record, not merely null, appends ``miss_key`` to
    :attr:`EvalContext.missed` when the context collects misses. Only a read that gave ``None``
    looks further, so reads that find a value cost nothing more.
    """
    segs = split_path(path)
    first = segs[0]
    if len(segs) == 1:
        return _simple_getter(first, miss_key)

    walk = compile_walk(segs[1:])
    rest = tuple(segs[1:])
    flat_key = "_".join(segs)

    def missed_in_scope(ctx: EvalContext, element: Any) -> None:
        sink = ctx.missed
        if sink is not None and not has_path(element, rest):
            sink.append(miss_key)

    def missed_in_row(ctx: EvalContext, row: Mapping[str, Any]) -> None:
        sink = ctx.missed
        if sink is not None and flat_key not in row and not has_path(row, segs):
            sink.append(miss_key)

    if len(segs) == 2:
        second = segs[1]

        def get_pair(ctx: EvalContext) -> Any:
            scope = ctx.scope
            if scope is not None and first in scope:
                got = walk(scope[first])
                if got is None and miss_key:
                    missed_in_scope(ctx, scope[first])
                return got
            row = ctx.row
            got = row.get(path, _MISSING)
            if got is not _MISSING:
                return got
            head = row.get(first)
            # A plain dict head is the common case: read it without the generic walk.
            got = head.get(second) if type(head) is dict else None if head is None else walk(head)
            if got is None:
                got = row.get(flat_key)
                # a null read from a plain dict head is a value (one lookup), else look closer
                if got is None and miss_key and not (type(head) is dict and second in head):
                    missed_in_row(ctx, row)
            return got

        return get_pair

    def get_dotted(ctx: EvalContext) -> Any:
        scope = ctx.scope
        if scope is not None and first in scope:
            got = walk(scope[first])
            if got is None and miss_key:
                missed_in_scope(ctx, scope[first])
            return got
        row = ctx.row
        got = row.get(path, _MISSING)
        if got is not _MISSING:
            return got
        head = row.get(first)
        got = None if head is None else walk(head)
        if got is None:
            got = row.get(flat_key)
            if got is None and miss_key:
                missed_in_row(ctx, row)
        return got

    return get_dotted


def _simple_getter(first: str, miss_key: str) -> Resolver:
    """The resolver of a one-segment path (``{sku_id}``); see :func:`compile_row_getter`."""

    def get_simple(ctx: EvalContext) -> Any:
        scope = ctx.scope
        if scope is not None:
            if first in scope:
                return scope[first]
            # Inside array children a bare name means the current element's field
            # (QEasy users write {sku_id} for {{items.sku_id}}); innermost array first.
            for element in reversed(list(scope.values())):
                if isinstance(element, Mapping) and first in element:
                    return element[first]
        row = ctx.row
        got = row.get(first, _MISSING)
        if got is not _MISSING:
            return got
        # A flattened row (beatFlat) holds the element once, under its array's key:
        # `items_sku_id` reads row["items"]["sku_id"].
        for head, tail in splits:
            element = row.get(head)
            if type(element) is dict and tail in element:
                return element[tail]
        if miss_key and ctx.missed is not None:  # found nowhere: absent, not null
            ctx.missed.append(miss_key)
        return None

    splits = [
        (first[:i], first[i + 1 :]) for i, ch in enumerate(first) if ch == "_" and 0 < i < len(first) - 1
    ]
    return get_simple


def _formatter_column(ph: Placeholder) -> int:
    bar = ph.raw.index("|")
    return ph.start + ph.raw.index(ph.formatter or "", bar) + 1


def compile_placeholder(ph: Placeholder, text: str = "", *, miss_key: str = "") -> Resolver:
    """Compile one placeholder to a resolver returning its typed value.

    Variables come from :attr:`EvalContext.variables` (time variables as epoch seconds unless a
    formatter says otherwise); other names are row paths, whose absence from a record is noted
    under ``miss_key`` (see :func:`compile_row_getter`).

    Raises:
        ExpressionError: unknown formatter (no path; column within ``text``).
    """
    fmt: str | None = None
    if ph.formatter is not None:
        fmt = normalize_formatter(ph.formatter)
        if fmt is None:
            raise ExpressionError(
                f"unknown formatter {ph.formatter!r} in {ph.raw}; known: {', '.join(sorted(FORMATTERS))}",
                text,
                _formatter_column(ph),
            )
    spec = parse_variable(ph.name)
    if spec is not None:
        get_var = spec.getter
        if spec.is_time:
            time_fmt = FORMATTERS[fmt] if fmt else None
            if time_fmt is None:
                return lambda ctx: epoch_seconds(get_var(ctx))
            return lambda ctx: time_fmt(get_var(ctx), ctx.tz)
        if fmt is None:
            return get_var
        return _with_formatter(get_var, fmt, f"variable {ph.name}")
    getter = compile_row_getter(ph.name, miss_key)
    if fmt is None:
        return getter
    return _with_formatter(getter, fmt, f"field {ph.name}")


def _with_formatter(get: Resolver, fmt: str, what: str) -> Resolver:
    format_value = formatter_function(fmt)

    def formatted(ctx: EvalContext) -> Any:
        value = get(ctx)
        try:
            return format_value(value, ctx.tz)
        except TimeParseError as exc:
            raise RecordError(f"{what}: cannot apply |{fmt} to {_short(value)}: {exc}") from None

    return formatted


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def to_text(value: Any) -> str:
    """Render a value inside mixed text: ``None`` -> ``""``, bools -> ``true``/``false``,
    datetimes -> ``YYYY-MM-DD HH:MM:SS``, lists/dicts -> compact JSON, others -> ``str``."""
    if value is None:
        return ""
    kind = type(value)
    if kind is str:
        return value
    if kind is int or kind is float:
        return str(value)
    if kind is bool:
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, list | dict | tuple):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return str(value)


@dataclass(frozen=True)
class CompiledTemplate:
    """A compiled template: ``evaluate(ctx)``, whether it is constant, and the row paths it reads.

    ``can_fail`` is False when ``evaluate`` cannot raise :class:`~ferry.errors.RecordError`
    (every placeholder is a plain row path: no formatter, no variable).
    """

    evaluate: Resolver
    is_constant: bool
    references: frozenset[str]
    placeholders: tuple[Placeholder, ...]
    can_fail: bool = True


def compile_template(text: str, *, miss_key: str = "") -> CompiledTemplate:
    """Compile ``text`` once; see the module doc for typing rules. A row placeholder that finds
    nothing notes ``miss_key`` (see :func:`compile_row_getter`).

    Raises:
        ExpressionError: unknown formatter (no path; 1-based column within ``text``).
    """
    phs = tuple(scan(text))
    if not phs:
        return CompiledTemplate(lambda ctx: text, True, frozenset(), ())
    refs = frozenset(ph.name for ph in phs if parse_variable(ph.name) is None)
    resolvers = [compile_placeholder(ph, text, miss_key=miss_key) for ph in phs]
    can_fail = any(ph.formatter is not None or ph.name not in refs for ph in phs)
    if len(phs) == 1 and phs[0].start == 0 and phs[0].end == len(text):
        return CompiledTemplate(resolvers[0], False, refs, phs, can_fail)
    head = text[: phs[0].start]
    pairs: list[tuple[Resolver, str]] = []
    for i, (ph, res) in enumerate(zip(phs, resolvers, strict=True)):
        tail_end = phs[i + 1].start if i + 1 < len(phs) else len(text)
        pairs.append((res, text[ph.end : tail_end]))
    return CompiledTemplate(_renderer(head, tuple(pairs)), False, refs, phs, can_fail)


def _renderer(head: str, pairs: tuple[tuple[Resolver, str], ...]) -> Resolver:
    if len(pairs) == 1:
        ((res, tail),) = pairs

        def render_one(ctx: EvalContext) -> str:
            value = res(ctx)
            return head + (value if type(value) is str else to_text(value)) + tail

        return render_one
    if len(pairs) == 2:  # "{{order_no}}-{{items.sku_id}}": unrolled, a str taken as it is
        (first, middle), (second, tail) = pairs

        def render_two(ctx: EvalContext) -> str:
            a = first(ctx)
            b = second(ctx)
            return (
                head
                + (a if type(a) is str else to_text(a))
                + middle
                + (b if type(b) is str else to_text(b))
                + tail
            )

        return render_two

    def render(ctx: EvalContext) -> str:
        out = [head]
        for res, tail in pairs:
            out.append(to_text(res(ctx)))
            out.append(tail)
        return "".join(out)

    return render
