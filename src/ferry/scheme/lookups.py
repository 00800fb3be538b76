"""Which schemes look up in which: the order lookup schemes run in, and cycles between them.

A scheme *depends on* every scheme whose ledger its values read -- ``_findCollection find F
from <scheme> ...``, ``_mongoQuery <scheme> ...`` (also inside ``_function``) -- and on its
``settings.lookup_scheme`` (the default of ``_mongoQuery`` without a scheme id). A scheme that
others look up in must be filled first, so ``ferry serve`` runs schemes at start in
:func:`lookup_order`; two schemes that look up in each other can never both be current, so
that is a validation error naming them (:func:`lookup_cycle_issues`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ferry.errors import ConfigError, Issue, SchemeError
from ferry.expr.lookup import FIND_PREFIX, MONGO_PREFIX
from ferry.expr.value import compile_value
from ferry.scheme.metadata import FieldSpec
from ferry.scheme.model import Scheme

__all__ = ["lookup_cycle_issues", "lookup_dependencies", "lookup_order"]


def _fields(fields: Sequence[FieldSpec]) -> Iterator[FieldSpec]:
    for spec in fields:
        yield spec
        yield from _fields(spec.children)


def _lookup_values(scheme: Scheme) -> Iterator[str]:
    """The values of both metadata documents that name a lookup."""
    for meta in (scheme.source_meta, scheme.target_meta):
        for spec in _fields([*meta.request, *meta.otherRequest] if meta is not None else []):
            value = spec.value
            if isinstance(value, str) and (FIND_PREFIX in value or MONGO_PREFIX in value):
                yield value


def lookup_dependencies(scheme: Scheme) -> frozenset[str]:
    """Ids of the schemes whose ledgers ``scheme`` looks up in (never its own id): those of its
    plan (:attr:`ferry.transform.plan.Plan.lookups`), or, for a scheme that does not compile,
    those its compiling values name."""
    from ferry.transform.plan import compile_scheme

    try:
        return compile_scheme(scheme).lookups
    except ConfigError:
        return _named_dependencies(scheme)


def _named_dependencies(scheme: Scheme) -> frozenset[str]:
    default = scheme.settings.lookup_scheme
    found: set[str] = {default} if default else set()
    for value in _lookup_values(scheme):
        try:
            compiled = compile_value(value, default_lookup_scheme=default)
        except ConfigError:  # validation reports it; an invalid value orders nothing
            continue
        found.update(s for s in compiled.lookup_schemes if s)
    found.discard(scheme.id)
    return frozenset(found)


def _cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """One cycle of ``graph`` as ``[a, b, ..., a]``, or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        state[node] = 2
        path.pop()
        return None

    for node in graph:
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def _graph(schemes: Sequence[Scheme]) -> dict[str, list[str]]:
    """scheme id -> the ids among ``schemes`` it looks up in (others are not ours to order)."""
    ids = {s.id for s in schemes}
    return {s.id: sorted(lookup_dependencies(s) & ids) for s in schemes}


def lookup_cycle_issues(schemes: Sequence[Scheme]) -> list[Issue]:
    """An issue naming the schemes of a lookup cycle among ``schemes`` (``[]`` when there is none)."""
    cycle = _cycle(_graph(schemes))
    if cycle is None:
        return []
    return [
        Issue(
            "lookups",
            "lookup cycle: " + " -> ".join(cycle) + " (each looks up in the ledger of the next, so "
            "none can be filled first)",
            None,
            "a reference-data scheme must not look up in the schemes that read it: remove one "
            "_mongoQuery/_findCollection or settings.lookup_scheme of the cycle",
        )
    ]


def lookup_order(schemes: Sequence[Scheme]) -> list[Scheme]:
    """``schemes`` with every scheme after the schemes it looks up in: the schemes others look
    up in first (as soon as their own lookups are placed), then the rest, each group in the
    given order.

    Raises:
        SchemeError: The schemes look up in each other in a cycle (the issue names them).
    """
    issues = lookup_cycle_issues(schemes)
    if issues:
        raise SchemeError(issues)
    graph = _graph(schemes)
    looked_up = {dep for deps in graph.values() for dep in deps}
    placed: set[str] = set()
    ordered: list[Scheme] = []
    waiting = list(schemes)
    while waiting:
        candidates = [s for s in waiting if all(d in placed for d in graph[s.id])]
        ready = min(candidates, key=lambda s: s.id not in looked_up)  # the first lookup scheme ready
        waiting.remove(ready)
        placed.add(ready.id)
        ordered.append(ready)
    return ordered
