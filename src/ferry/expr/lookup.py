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
missing key never matches anything). :meth:`CompiledLookup.missed` tells what a lookup looked
for, next to its expression, for the message of a record it failed::

    _mongoQuery findField=content.FID found nothing for F_Cash_Collection_Id = 0 (where={"content.F_Cash_Collection_Id":{"$eq":"{order_id}"}})
    _findCollection find FItemID from goods found nothing for a = 'X1', b = 7 (where a={{x}} b={{y}})
"""

from __future__ import annotations

import contextlib
import json
import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ferry._text import CLIP, printable, shown
from ferry.errors import ExpressionError, FerryError, RecordError
from ferry.expr.context import EvalContext
from ferry.expr.mongo import VALUE_CLIP, MissingKey, compile_filter, describe_filter, shown_value
from ferry.expr.template import Resolver, compile_template

__all__ = ["FIND_PREFIX", "MONGO_PREFIX", "CompiledLookup", "LookupProvider", "compile_lookup", "misses"]

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
    """A compiled lookup: kind (``find``/``mongo``), scheme, evaluator and row paths read.

    ``head`` is the lookup before its conditions (``_findCollection find F from S``), ``where``
    its conditions as written (``where a={{x}}``), and ``looked_for(ctx)`` the values they
    resolve to for one record (``a = 'X1'``).
    """

    kind: str
    scheme: str | None
    field: str
    evaluate: Resolver
    references: frozenset[str]
    head: str = ""
    where: str = ""
    looked_for: Callable[[EvalContext], str] | None = None

    def missed(self, ctx: EvalContext) -> str:
        """``<head> found nothing for <values> (<where>)`` for the record of ``ctx``."""
        values = self.looked_for(ctx) if self.looked_for is not None else ""
        text = f"{printable(self.head)} found nothing"
        if values:
            text += f" for {values}"
        return f"{text} ({printable(self.where, CLIP)})" if self.where else text


def misses(lookups: Sequence[CompiledLookup], ctx: EvalContext) -> list[str]:
    """:meth:`CompiledLookup.missed` of each of ``lookups`` that finds nothing for ``ctx``.

    Evaluates the lookups again (only on a record's failure path); one that fails is left out.
    """
    found: list[str] = []
    for lookup in lookups:
        try:
            if lookup.evaluate(ctx) is None:
                found.append(lookup.missed(ctx))
        except FerryError:
            continue
    return found


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
    written: list[str] = []
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
        written.append(f"{cm.group('name')}={raw}")
        refs |= tpl.references
        pos = cm.end()
    if not conditions:
        raise ExpressionError("_findCollection needs 'where name={{value}}'", "", len(text.rstrip()) + 1)
    scheme, field = m.group("scheme"), m.group("field")
    return CompiledLookup(
        "find",
        scheme,
        field,
        _find_evaluator(scheme, field, conditions),
        frozenset(refs),
        head=f"{FIND_PREFIX} find {field} from {scheme}",
        where="where " + " ".join(written),
        looked_for=lambda ctx: _find_values(conditions, ctx),
    )


def _find_values(conditions: list[tuple[str, Resolver]], ctx: EvalContext) -> str:
    return ", ".join(f"{printable(name, VALUE_CLIP)} = {shown_value(get(ctx))}" for name, get in conditions)


def _not_single(name: str, got: Any) -> RecordError:
    return RecordError(
        f"_findCollection key {printable(name, VALUE_CLIP)} resolved to a {type(got).__name__} "
        f"({shown(got, VALUE_CLIP)}), not a single value; "
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

    written = m.group("scheme")
    return CompiledLookup(
        "mongo",
        scheme,
        field,
        evaluate,
        refs,
        head=f"{MONGO_PREFIX} {written + ' ' if written else ''}findField={field}",
        where=f"where={json_text}",
        looked_for=_mongo_values(parsed, locate),
    )


def _mongo_values(parsed: Any, locate: Callable[[str], int]) -> Callable[[EvalContext], str]:
    """``looked_for`` of a ``_mongoQuery``: the filter rendered with missing keys as ``null``
    (compiled on first use: only a failing record asks)."""
    compiled: list[Callable[[Any], Any]] = []

    def looked_for(ctx: EvalContext) -> str:
        if not compiled:
            compiled.append(compile_filter(parsed, locate, keep_missing=True)[0])
        return describe_filter(compiled[0](ctx))

    return looked_for


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
