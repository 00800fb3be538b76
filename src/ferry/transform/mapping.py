"""Build target payloads from ledger records: the ``request`` template of the target side.

Fields nest either through ``children`` or through ``parent`` (by field name) /
``parent_id`` (by item id) in a flat list; both layouts compile to the same tree.

- A scalar field evaluates its value (constant, template, ``_function``, lookup), applies
  its ``parser`` and, for ``int``/``float``/``bool`` fields, converts numeric text.
- An ``object`` field yields a dict of its children.
- An ``array`` field yields one entry per element of a source array. The array is named by the
  field's ``value`` (``"items"``); when ``value`` is blank or not a path (QEasy pages show ``"1"``)
  the array is inferred from the children's paths (``{{details_list.qty}}`` -> ``details_list``).
  A flattened record (beatFlat) holds one element as a dict: that gives a one-entry array. An
  array whose children reference no source array yields exactly one entry.
- ``is_required`` fields that come out empty fail the record with the field's path, which is
  how "a required lookup that finds nothing" becomes a record error instead of a bad document.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from ferry.errors import ConfigError, RecordError
from ferry.expr import CompiledValue, EvalContext, compile_value, located_error
from ferry.expr.lookup import misses
from ferry.expr.parsers import get_parser
from ferry.expr.paths import resolve_path
from ferry.scheme.metadata import FieldSpec

__all__ = ["Mapper", "compile_fields"]

_PATH = re.compile(r"^[^\W\d][\w]*(?:\.[\w]+)*$")


@dataclass
class _Node:
    spec: FieldSpec
    path: str
    value: CompiledValue | None = None
    parser: Callable[[Any], Any] | None = None
    children: list[_Node] = field(default_factory=list)
    array_candidates: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return self.spec.type if self.spec.type in ("object", "array") else "scalar"


def _arrange(fields: Sequence[FieldSpec], base: str) -> list[tuple[FieldSpec, str, list[Any]]]:
    """Turn the flat ``parent`` layout into a tree of ``(spec, path, children)``."""
    entries: list[tuple[FieldSpec, str, list[Any]]] = []
    by_name: dict[str, list[Any]] = {}
    by_id: dict[str, list[Any]] = {}

    def visit(spec: FieldSpec, path: str) -> tuple[FieldSpec, str, list[Any]]:
        kids: list[Any] = []
        node = (spec, path, kids)
        by_name.setdefault(spec.field, kids)
        if spec.id:
            by_id.setdefault(spec.id, kids)
        for i, child in enumerate(spec.children):
            kids.append(visit(child, f"{path}.children[{i}]"))
        return node

    pending: list[tuple[FieldSpec, str, list[Any]]] = []
    for i, spec in enumerate(fields):
        node = visit(spec, f"{base}[{i}]")
        (pending if (spec.parent or spec.parent_id) else entries).append(node)
    for node in pending:
        spec = node[0]
        target = by_id.get(spec.parent_id or "") if spec.parent_id else by_name.get(spec.parent or "")
        if target is None or target is node[2]:
            raise ConfigError(
                f"{node[1]}.parent: no object/array field named {spec.parent or spec.parent_id!r} "
                "to nest this field under"
            )
        target.append(node)
    return entries


Compiled = Mapping[str, CompiledValue]
"""Values already compiled, by their scheme path (``target.request[3].value``)."""


def _value(value: Any, path: str, lookup_scheme: str | None, compiled: Compiled | None) -> CompiledValue:
    """``compiled[path]`` when it was compiled from this very value, else ``value`` compiled now."""
    done = compiled.get(path) if compiled else None
    if done is not None and done.source is value:
        return done
    return compile_value(value, path=path, default_lookup_scheme=lookup_scheme)


def _compile(
    entry: tuple[FieldSpec, str, list[Any]], lookup_scheme: str | None, compiled: Compiled | None
) -> _Node:
    spec, path, kids = entry
    node = _Node(spec=spec, path=path, children=[_compile(k, lookup_scheme, compiled) for k in kids])
    if node.kind == "scalar" or (node.kind == "array" and not node.children):
        node.value = _value(spec.value, f"{path}.value", lookup_scheme, compiled)
    if spec.parser is not None:
        params = spec.parser.model_dump(exclude={"name"})
        node.parser = get_parser(spec.parser.name, params)
    if node.kind == "array" and node.children:
        node.array_candidates = _array_candidates(node)
    return node


def _references(node: _Node) -> list[str]:
    refs: list[str] = []
    if node.value is not None:
        refs.extend(sorted(node.value.references))
    for child in node.children:
        refs.extend(_references(child))
    return refs


def _array_candidates(node: _Node) -> tuple[str, ...]:
    declared = node.spec.value
    out: list[str] = []
    if isinstance(declared, str) and _PATH.match(declared.strip()):
        out.append(declared.strip())
    for ref in _references(node):
        parts = ref.split(".")
        for i in range(1, len(parts)):
            prefix = ".".join(parts[:i])
            if prefix not in out:
                out.append(prefix)
    return tuple(out)


def compile_fields(
    fields: Sequence[FieldSpec],
    *,
    base: str,
    lookup_scheme: str | None = None,
    compiled: Compiled | None = None,
) -> list[_Node]:
    """Compile a metadata field list once; raises ConfigError/ExpressionError with the scheme path.

    ``compiled`` holds values compiled before (by validation), by path: a value found there,
    compiled from the same object with the same ``lookup_scheme``, is taken as it is.
    """
    return [_compile(entry, lookup_scheme, compiled) for entry in _arrange(fields, base)]


def _coerce(kind: str, value: Any) -> Any:
    if not isinstance(value, str) or kind not in ("int", "float", "bool"):
        return value
    text = value.strip()
    if kind == "bool":
        low = text.lower()
        return True if low in ("true", "1") else False if low in ("false", "0") else value
    try:
        number = Decimal(text)
    except InvalidOperation:
        return value
    if kind == "int" and number == number.to_integral_value():
        return int(number)
    return float(number) if kind == "float" else value


class Mapper:
    """A compiled target ``request``. ``map`` turns one record into one payload dict.

    Each field compiles once into a closure (value, then coercion, parser and the required
    check), so mapping a record is a handful of direct calls per field.
    """

    def __init__(
        self,
        fields: Sequence[FieldSpec],
        *,
        base: str = "target.request",
        lookup_scheme: str | None = None,
        raw_text_on_error: bool = False,
        compiled: Compiled | None = None,
    ) -> None:
        """Compile ``fields`` located at ``base``; ``compiled`` as :func:`compile_fields` takes it.

        Raises:
            ConfigError: A value, parser or ``parent`` link does not compile (an
                :class:`~ferry.errors.ExpressionError` for a value), named by its scheme path.
        """
        self.nodes = compile_fields(fields, base=base, lookup_scheme=lookup_scheme, compiled=compiled)
        self.raw_text_on_error = raw_text_on_error
        self._fields = [(node.spec.field, self._build(node)) for node in self.nodes]

    def values(self) -> Iterator[CompiledValue]:
        """Every compiled value of the mapping, nested fields included."""
        stack = list(self.nodes)
        while stack:
            node = stack.pop()
            if node.value is not None:
                yield node.value
            stack.extend(node.children)

    def field_names(self) -> dict[str, str]:
        """The target field each value fills, by the value's scheme path: ``outer_id`` for
        ``target.request[3].value``, ``FEntity[].FMaterialId`` for a field of array elements,
        ``FHead.FNumber`` for a field of an object (the names misses are reported under)."""
        names: dict[str, str] = {}
        stack = [(node, node.spec.field) for node in self.nodes]
        while stack:
            node, name = stack.pop()
            if node.value is not None:
                names[node.value.path] = name
            joint = "[]." if node.kind == "array" else "."
            stack.extend((child, f"{name}{joint}{child.spec.field}") for child in node.children)
        return names

    def map(self, ctx: EvalContext) -> dict[str, Any]:
        """Evaluate every field for ``ctx.row``. Raises RecordError naming the failing field's path."""
        payload = {}
        for name, fn in self._fields:
            payload[name] = fn(ctx)
        return payload

    def _build(self, node: _Node) -> Callable[[EvalContext], Any]:
        fn: Callable[[EvalContext], Any]
        if node.kind == "object":
            members = [(child.spec.field, self._build(child)) for child in node.children]

            def build_object(ctx: EvalContext) -> Any:
                return {name: f(ctx) for name, f in members}

            fn = build_object

        elif node.kind == "array" and node.children:
            members = [(child.spec.field, self._build(child)) for child in node.children]
            candidates = node.array_candidates

            def build_array(ctx: EvalContext) -> Any:
                return [{name: f(scoped) for name, f in members} for scoped in _elements(candidates, ctx)]

            fn = build_array

        elif node.parser is None and not (self.raw_text_on_error and _function(node)):
            return _checked(node)  # the common scalar: value, coercion, required check in one call
        else:
            fn = self._scalar(node)
        return _finish(node, fn)

    def _scalar(self, node: _Node) -> Callable[[EvalContext], Any]:
        assert node.value is not None
        evaluate = node.value.evaluate
        kind = node.spec.type
        coerce = kind in _COERCED
        fallback = self.raw_text_on_error and _function(node)
        raw = node.spec.value

        if not coerce and not fallback:
            return evaluate

        def fn(ctx: EvalContext) -> Any:
            try:
                value = evaluate(ctx)
            except RecordError:
                if fallback:
                    return raw
                raise
            return _coerce(kind, value) if coerce else value

        return fn


_COERCED = ("int", "float", "bool")


def _function(node: _Node) -> bool:
    return node.value is not None and node.value.kind == "function"


def _checked(node: _Node) -> Callable[[EvalContext], Any]:
    """A scalar field without parser or raw-text fallback as one function: its value (with the
    value's path put in front of a failure's reason, as ``evaluate`` does), its coercion and its
    required check -- what ``_finish(node, _scalar(node))`` computes, in one call per record."""
    assert node.value is not None
    evaluate, unlocated, at = node.value.evaluate, node.value.unlocated, node.value.path
    kind = node.spec.type if node.spec.type in _COERCED else None
    required = node.spec.is_required
    if kind is None and not required:
        return evaluate
    if unlocated is evaluate:  # nothing to put in front of a failure
        at = ""

    def field(ctx: EvalContext) -> Any:
        try:
            value = unlocated(ctx)
        except RecordError as exc:
            if at:
                raise located_error(exc, at) from exc
            raise
        if kind is not None and isinstance(value, str):
            value = _coerce(kind, value)
        if required and (value is None or value == "" or value == []):
            raise RecordError(f"{node.path}: required field {node.spec.field!r} is empty{_why(node, ctx)}")
        return value

    return field


def _finish(node: _Node, fn: Callable[[EvalContext], Any]) -> Callable[[EvalContext], Any]:
    """Add the parser and the required check around ``fn`` when the field has them."""
    parser = node.parser
    required = node.spec.is_required
    if parser is None and not required:
        return fn
    path, parser_name = node.path, node.spec.parser.name if node.spec.parser else ""

    def finished(ctx: EvalContext) -> Any:
        value = fn(ctx)
        if parser is not None:
            try:
                value = parser(value)
            except RecordError:
                raise
            except Exception as exc:
                raise RecordError(f"{path}.parser: {parser_name} failed: {exc}") from exc
        if required and (value is None or value == "" or value == []):
            raise RecordError(f"{path}: required field {node.spec.field!r} is empty{_why(node, ctx)}")
        return value

    return finished


def _elements(candidates: tuple[str, ...], ctx: EvalContext) -> list[EvalContext]:
    scope = dict(ctx.scope or {})
    for candidate in candidates:
        found = (
            resolve_path(scope, candidate)
            if candidate.split(".")[0] in scope
            else resolve_path(ctx.row, candidate)
        )
        if isinstance(found, dict):
            found = [found]
        if isinstance(found, list):
            return [_with_scope(ctx, {**scope, candidate: element}) for element in found]
    return [ctx]


def _with_scope(ctx: EvalContext, scope: dict[str, Any]) -> EvalContext:
    return EvalContext(
        row=ctx.row,
        variables=ctx.variables,
        scope=scope,
        lookups=ctx.lookups,
        tz=ctx.tz,
        now=ctx.now,
        missed=ctx.missed,
    )


def _why(node: _Node, ctx: EvalContext) -> str:
    missed = misses(node.value.lookups, ctx) if node.value is not None else []
    if missed:
        return ": " + "; ".join(missed)
    if node.value is not None and node.value.kind in ("find", "mongo"):
        return f" (the lookup {node.spec.value!r} found nothing)"
    if node.value is not None and node.value.references:
        return f" (source field {', '.join(sorted(node.value.references))} is empty)"
    return ""
