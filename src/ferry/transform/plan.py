"""The compiled plan of a scheme: everything a run builds from it, built once per process.

:func:`compile_scheme` turns a loaded :class:`~ferry.scheme.model.Scheme` into a frozen
:class:`Plan`: both resolved connections, both metadata documents (never ``None`` here), the
source ``condition`` filter, every ``request``/``otherRequest`` mapping compiled to closures
(the ``omissionRemedy`` request too), how the target packs its calls, and the ``quality``
rules of both sides. Validation, preview,
``ferry check``, the console, the collector and every deliverer (thread or forked worker) read
the same plan::

    plan = compile_scheme(scheme)            # compiles; the loader already did, when it checked
    plan.target.request.map(ctx)             # one record -> one payload
    compile_scheme(scheme) is plan           # True: one compilation per scheme and process

The plan is remembered for the scheme object, so a forked deliver worker inherits its
parent's. Replacing a part the plan is built from (``scheme.source_meta = ...``, a connection,
``scheme.value_maps``, or settings with another ``lookup_scheme`` or ``function_raw_text_on_error``) makes the next call
compile again; the parts themselves are never changed in place.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ferry.connectors.specs import ConnectionSpec
from ferry.errors import ConfigError
from ferry.expr import CompiledValue
from ferry.expr.valuemap import value_maps
from ferry.scheme._response import with_layout
from ferry.scheme.metadata import FieldSpec, OperationSpec, SourceMetadata, TargetMetadata
from ferry.scheme.model import Scheme
from ferry.transform.condition import compile_condition
from ferry.transform.mapping import Mapper
from ferry.transform.packing import BATCH_APIS
from ferry.transform.quality import QualityPlan, compile_quality

__all__ = ["Plan", "SourcePlan", "TargetPlan", "compile_scheme"]

Keep = Callable[[dict[str, Any]], dict[str, Any] | None]
"""The compiled ``condition``: a record in, the record (detail lines trimmed) or ``None`` out."""


@dataclass(frozen=True, slots=True)
class SourcePlan:
    """The compiled source side: what to call, and what to keep and split of what it returns."""

    connection: ConnectionSpec
    """The source connection, with what the metadata's ``otherResponse`` declares (an http
    connection's records path, status and page field) in place of its own."""
    meta: SourceMetadata
    api: str
    method: str
    keep: Keep
    """The ``condition`` filter (every record kept when there is none)."""
    request: Mapper
    """``source.request``, rendered per page with the window's and the page's variables."""
    other: Mapper
    """``source.otherRequest``."""
    remedy: Mapper | None
    """The omissionRemedy sweep's request: ``source.request`` with the ``takeOverRequest``
    fields in place of the same-named ones (and the others added); ``None`` without any."""
    id_field: str | None
    """Path of each record's id (``None``: every record is without an id)."""
    number_field: str | None
    beat_flat: tuple[str, ...]
    """The arrays each record is split by (``beatFlat``)."""
    id_check: bool


@dataclass(frozen=True, slots=True)
class TargetPlan:
    """The compiled target side: how a ledger record becomes a payload, and payloads calls."""

    connection: ConnectionSpec
    meta: TargetMetadata
    api: str
    method: str
    operation: OperationSpec | None
    """How payloads are packed into calls (``None``: one record per call)."""
    request: Mapper
    """``target.request``: one ledger record -> one payload."""
    other: Mapper
    """``target.otherRequest``: the connector options."""
    whole_batch: bool
    """The API takes a whole claimed batch in one call (SQL ``execute``/``batchexecute``)."""


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything a run of one scheme builds from the scheme, compiled."""

    scheme_id: str
    source: SourcePlan
    target: TargetPlan
    lookup_scheme: str | None
    """The default scheme of ``_mongoQuery`` without a scheme id (``settings.lookup_scheme``)."""
    lookups: frozenset[str]
    """Ids of the schemes whose ledgers the values look up in (``lookup_scheme`` included, the
    scheme's own id never): they must be filled first."""
    values: Mapping[str, CompiledValue]
    """The compiled values of ``request`` and ``otherRequest`` of both sides, by scheme path
    (``target.request[3].value``; read-only): validation takes them instead of compiling the
    values again (:func:`ferry.scheme.validate.validate_scheme`)."""
    quality: QualityPlan = field(default_factory=QualityPlan)
    """The ``quality`` rules of both sides, compiled (:mod:`ferry.transform.quality`)."""


_plans: dict[int, tuple[weakref.ref[Scheme], tuple[Any, ...], Plan]] = {}
"""id(scheme) -> (the scheme, the basis its plan was compiled from, the plan)."""


def _basis(scheme: Scheme) -> tuple[Any, ...]:
    """What a plan is compiled from: the parts by identity (the plan keeps them alive, so an
    id is never reused while it is remembered), the settings it reads by value."""
    settings = scheme.settings
    parts = (
        scheme.source_meta,
        scheme.target_meta,
        scheme.source_connection,
        scheme.target_connection,
        scheme.quality,
    )
    return (
        scheme.id,
        *map(id, parts),
        id(scheme.value_maps),
        settings.lookup_scheme,
        settings.function_raw_text_on_error,
    )


def compile_scheme(scheme: Scheme, *, compiled: Mapping[str, CompiledValue] | None = None) -> Plan:
    """The plan of ``scheme``: compiled on the first call, the same object on every later call
    for the same scheme object in this process (and in a child forked after it).

    Args:
        scheme: A loaded scheme (its metadata and connections resolved by the loader).
        compiled: Values validation compiled already, by scheme path
            (``target.request[3].value``, with ``settings.lookup_scheme`` as the default of
            ``_mongoQuery``); each is used as it is instead of being compiled again. Ignored when
            the plan is remembered.

    Raises:
        ConfigError: A side's metadata or connection is not resolved, or a value, parser or
            ``parent`` link does not compile (an :class:`~ferry.errors.ExpressionError` for a
            value); the message starts with the scheme path, as validation reports it.
    """
    key, basis = id(scheme), _basis(scheme)
    entry = _plans.get(key)
    if entry is not None and entry[0]() is scheme and entry[1] == basis:
        return entry[2]
    plan = _compile(scheme, compiled or {})
    if entry is None or entry[0]() is not scheme:
        weakref.finalize(scheme, _plans.pop, key, None).atexit = False
    _plans[key] = (weakref.ref(scheme), basis, plan)
    return plan


def _compile(scheme: Scheme, compiled: Mapping[str, CompiledValue]) -> Plan:
    with value_maps(scheme.value_maps):  # `_map` values take their tables now, not per record
        source = _source(scheme, compiled)
        target = _target(scheme, compiled)
    values = {
        value.path: value
        for mapper in (source.request, source.other, target.request, target.other)
        for value in mapper.values()
    }
    every = [*values.values(), *(source.remedy.values() if source.remedy is not None else ())]
    found = {s for value in every for s in value.lookup_schemes if s}
    default = scheme.settings.lookup_scheme
    quality = compile_quality(scheme.quality, default)
    found |= quality.lookup_schemes
    if default:
        found.add(default)
    found.discard(scheme.id)
    return Plan(scheme.id, source, target, default, frozenset(found), MappingProxyType(values), quality)


def _connection(scheme: Scheme, side: str) -> ConnectionSpec:
    connection = scheme.source_connection if side == "source" else scheme.target_connection
    if connection is None:
        raise _unresolved(scheme, f"{side}.connection")
    return connection


def _unresolved(scheme: Scheme, what: str) -> ConfigError:
    return ConfigError(
        f"scheme {scheme.id}: {what} is not resolved\n  hint: load the scheme with load_scheme"
    )


def _source(scheme: Scheme, compiled: Mapping[str, CompiledValue]) -> SourcePlan:
    meta = scheme.source_meta
    if meta is None:
        raise _unresolved(scheme, "source.metadata")
    connection = with_layout(_connection(scheme, "source"), meta)
    default = scheme.settings.lookup_scheme
    return SourcePlan(
        connection=connection,
        meta=meta,
        api=meta.api,
        method=meta.method,
        keep=compile_condition(meta.condition),
        request=Mapper(meta.request, base="source.request", lookup_scheme=default, compiled=compiled),
        other=Mapper(meta.otherRequest, base="source.otherRequest", lookup_scheme=default, compiled=compiled),
        remedy=_remedy(meta, default, compiled),
        id_field=meta.id,
        number_field=meta.number,
        beat_flat=tuple(meta.beatFlat or ()),
        id_check=meta.idCheck,
    )


def _remedy(
    meta: SourceMetadata, default: str | None, compiled: Mapping[str, CompiledValue]
) -> Mapper | None:
    remedy = meta.omissionRemedy
    if remedy is None or not remedy.takeOverRequest:
        return None
    override = {f.field: f for f in remedy.takeOverRequest}
    fields: list[FieldSpec] = [override.pop(f.field, f) for f in meta.request] + list(override.values())
    return Mapper(
        fields, base="source.omissionRemedy.takeOverRequest", lookup_scheme=default, compiled=compiled
    )


def _target(scheme: Scheme, compiled: Mapping[str, CompiledValue]) -> TargetPlan:
    meta = scheme.target_meta
    if meta is None:
        raise _unresolved(scheme, "target.metadata")
    connection = _connection(scheme, "target")
    settings = scheme.settings
    default = settings.lookup_scheme
    return TargetPlan(
        connection=connection,
        meta=meta,
        api=meta.api,
        method=meta.method,
        operation=meta.operation,
        request=Mapper(
            meta.request,
            base="target.request",
            lookup_scheme=default,
            raw_text_on_error=settings.function_raw_text_on_error,
            compiled=compiled,
        ),
        other=Mapper(meta.otherRequest, base="target.otherRequest", lookup_scheme=default, compiled=compiled),
        whole_batch=meta.api in BATCH_APIS,
    )
