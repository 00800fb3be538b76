"""Lookups into another scheme's ledger: ``_findCollection`` and ``_mongoQuery``.

::

    _findCollection find <field> from <schemeId> where a={{x}} b='A' c=B [_endFind]
    _mongoQuery [<schemeId>] findField=content.F where={"content.F_103":{"$eq":"{sku_id}"}}

``_findCollection`` ANDs equalities on *content* fields of the other scheme's stored rows and
returns ``content.<field>`` of the first match (``id``/``number`` fall back to the stored row's own
``id``/``number``). Separators are whitespace (QEasy demands exactly one space; more is accepted).
A condition value is a placeholder, a quoted literal (``'A'``, ``"A"``, may hold placeholders)
or a bare literal. ``_endFind`` is accepted and ignored.

``_mongoQuery`` parses the JSON filter at compile time and renders only its string leaves per
record, so a value holding quotes or braces can never change the filter's shape. Without a scheme
id it uses the scheme's ``lookup_scheme`` setting (``default_lookup_scheme``).

Both return ``None`` when nothing matches, and when a key placeholder resolves to ``None`` (a
missing key never matches anything).
"""

from __future__ import annotations

import contextlib
import json
import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ferry.errors import ExpressionError, RecordError
from ferry.expr.context import EvalContext
from ferry.expr.mongo import MissingKey, compile_filter
from ferry.expr.template import Resolver, compile_template

__all__ = ["FIND_PREFIX", "MONGO_PREFIX", "CompiledLookup", "LookupProvider", "compile_lookup"]

FIND_PREFIX = "_findCollection"
MONGO_PREFIX = "_mongoQuery"
END_FIND = "_endFind"


@runtime_checkable
class LookupProvider(Protocol):
    """Reads other schemes' stored rows (``{"id", "number", "content": {...}}``)."""

    def find(self, scheme: str | None, field: str, where: Mapping[str, Any]) -> Any:
        """Return ``content.<field>`` of the first row whose content fields equal ``where``, else None."""
        ...

    def query(self, scheme: str | None, find_field: str, filter: Mapping[str, Any]) -> Any:
        """Return ``<find_field>`` (a path such as ``content.FID``) of the first row matching the
        Mongo ``filter``, else None."""
        ...


@dataclass(frozen=True)
class CompiledLookup:
    """A compiled lookup: kind (``find``/``mongo``), scheme, evaluator and row paths read."""

    kind: str
    scheme: str | None
    field: str
    evaluate: Resolver
    references: frozenset[str]


_FIND_RE = re.compile(
    r"_findCollection\s+find\s+(?P<field>\S+)\s+from\s+(?P<scheme>\S+)(?:\s+where(?P<where>\s.*?)?)?\s*"
    r"(?:_endFind\s*)?\Z",
    re.DOTALL,
)
_COND_RE = re.compile(
    r"\s*(?P<name>[^\s=]+)=(?P<value>'[^']*'|\"[^\"]*\"|(?:\{\{[^}]*\}\}|\{[^}]*\}|\S)+?)(?=\s|\Z)",
    re.DOTALL,
)
_MONGO_RE = re.compile(
    r"_mongoQuery(?:\s+(?!findField=)(?P<scheme>\S+))?\s+findField=(?P<field>\S+)\s+where=(?P<json>.*?)\s*"
    r"(?:_endFind\s*)?\Z",
    re.DOTALL,
)


def compile_lookup(
    text: str, offset: int = 0, default_scheme: str | None = None, *, full_text: str | None = None
) -> CompiledLookup:
    """Compile a ``_findCollection`` or ``_mongoQuery`` text.

    Args:
        text: the lookup text, starting with its keyword.
        offset: 0-based position of ``text`` inside the whole value (for error columns).
        default_scheme: used by ``_mongoQuery`` without a scheme id.
        full_text: the whole value, shown in error messages (defaults to ``text``).

    Raises:
        ExpressionError: bad syntax, malformed JSON, unknown operator or missing scheme id.
    """
    shown = full_text if full_text is not None else text
    try:
        if text.startswith(MONGO_PREFIX):
            return _compile_mongo(text, default_scheme)
        return _compile_find(text)
    except ExpressionError as exc:
        column = offset + exc.column if exc.column else None
        raise ExpressionError(exc.message, shown, column) from None


def _need_provider(ctx: EvalContext) -> Any:
    provider = ctx.lookups
    if provider is None:
        raise RecordError("a lookup needs a lookup provider, and none was configured for this evaluation")
    return provider


def _compile_find(text: str) -> CompiledLookup:
    m = _FIND_RE.match(text)
    if m is None:
        raise ExpressionError(
            "bad _findCollection syntax; expected '_findCollection find <field> from <schemeId> "
            "where a={{x}} b={{y}}'",
            "",
            1,
        )
    where_text = m.group("where") or ""
    where_start = m.start("where") if m.group("where") else m.end("scheme")
    conditions: list[tuple[str, Resolver]] = []
    refs: set[str] = set()
    pos = 0
    while pos < len(where_text) and where_text[pos:].strip():
        cm = _COND_RE.match(where_text, pos)
        if cm is None:
            col = where_start + pos + (len(where_text[pos:]) - len(where_text[pos:].lstrip())) + 1
            raise ExpressionError("bad where condition; expected name=value separated by spaces", "", col)
        raw = cm.group("value")
        literal = raw[1:-1] if raw[:1] in "'\"" and len(raw) >= 2 and raw[-1] == raw[0] else raw
        try:
            tpl = compile_template(literal)
        except ExpressionError as exc:
            base = where_start + cm.start("value") + (1 if literal is not raw else 0)
            raise ExpressionError(exc.message, "", base + (exc.column or 1)) from None
        conditions.append((cm.group("name"), tpl.evaluate))
        refs |= tpl.references
        pos = cm.end()
    if not conditions:
        raise ExpressionError("_findCollection needs 'where name={{value}}'", "", len(text.rstrip()) + 1)
    scheme, field = m.group("scheme"), m.group("field")
    return CompiledLookup("find", scheme, field, _find_evaluator(scheme, field, conditions), frozenset(refs))


def _not_single(name: str, got: Any) -> RecordError:
    return RecordError(
        f"_findCollection key {name} resolved to a {type(got).__name__}, not a single value; "
        "map it inside the array's children or beatFlat the array"
    )


def _find_evaluator(scheme: str, field: str, conditions: list[tuple[str, Resolver]]) -> Resolver:
    """The per-record ``_findCollection``: read the keys, then ask the provider.

    A provider with ``equality_finder(scheme, field, names)`` (see
    :meth:`~ferry.expr.index.InMemoryLookups.equality_finder`) is asked once for a compiled
    finder, remembered for the last provider seen, weakly (the provider keeps its finders, so
    a finished run's rows are not kept alive by compiled values); any other provider gets
    ``find(scheme, field, where)``.
    """
    names = tuple(name for name, _ in conditions)
    cache: list[tuple[weakref.ref[Any], weakref.ref[Callable[[Sequence[Any]], Any]]] | None] = [None]

    def finder_for(provider: Any) -> Callable[[Sequence[Any]], Any]:
        entry = cache[0]
        if entry is not None and entry[0]() is provider:
            known = entry[1]()
            if known is not None:
                return known
        make = getattr(provider, "equality_finder", None)
        if make is None:
            return lambda values: provider.find(scheme, field, dict(zip(names, values, strict=True)))
        finder: Callable[[Sequence[Any]], Any] = make(scheme, field, names)
        with contextlib.suppress(TypeError):  # not weakly referenceable: do not remember it
            cache[0] = (weakref.ref(provider), weakref.ref(finder))
        return finder

    if len(conditions) == 1:
        ((name, get),) = conditions

        def evaluate_one(ctx: EvalContext) -> Any:
            provider = ctx.lookups
            if provider is None:
                _need_provider(ctx)
            got = get(ctx)
            if got is None:
                return None
            if type(got) is not str and isinstance(got, list | dict):
                raise _not_single(name, got)
            entry = cache[0]  # finder_for's remembered finder, inlined: this runs per record
            finder = entry[1]() if entry is not None and entry[0]() is provider else None
            return (finder or finder_for(provider))((got,))

        return evaluate_one

    def evaluate(ctx: EvalContext) -> Any:
        provider = _need_provider(ctx)
        values: list[Any] = []
        for name, get in conditions:
            got = get(ctx)
            if got is None:
                return None
            if isinstance(got, list | dict):
                raise _not_single(name, got)
            values.append(got)
        return finder_for(provider)(values)

    return evaluate


def _compile_mongo(text: str, default_scheme: str | None) -> CompiledLookup:
    m = _MONGO_RE.match(text)
    if m is None:
        raise ExpressionError(
            "bad _mongoQuery syntax; expected '_mongoQuery [<schemeId>] findField=content.F where={...}'",
            "",
            1,
        )
    scheme = m.group("scheme") or default_scheme
    if scheme is None:
        raise ExpressionError(
            "_mongoQuery names no scheme id and this scheme has no default; "
            "set lookup_scheme in the scheme's settings or write '_mongoQuery <schemeId> findField=...'",
            "",
            1,
        )
    field = m.group("field")
    json_text = m.group("json")
    json_start = m.start("json")
    parsed = _parse_json(json_text, json_start)

    def locate(fragment: str) -> int:
        found = json_text.find(fragment) if fragment else -1
        return json_start + (found if found >= 0 else 0) + 1

    render, refs, _constant = compile_filter(parsed, locate)

    def evaluate(ctx: EvalContext) -> Any:
        provider = _need_provider(ctx)
        try:
            flt = render(ctx)
        except MissingKey:
            return None
        return provider.query(scheme, field, flt)

    return CompiledLookup("mongo", scheme, field, evaluate, refs)


def _parse_json(json_text: str, start: int) -> Any:
    try:
        return json.loads(json_text)
    except json.JSONDecodeError as exc:
        if '\\"' in json_text:
            try:
                return json.loads(json_text.replace('\\"', '"'))
            except json.JSONDecodeError:
                pass
        raise ExpressionError(f"malformed where= JSON: {exc.msg}", "", start + exc.pos + 1) from None
