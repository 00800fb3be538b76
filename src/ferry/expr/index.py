"""``InMemoryLookups``: the reference :class:`~ferry.expr.lookup.LookupProvider` for one run.

Each scheme's stored rows are loaded once per run, lazily on first use, through ``load_rows``.
Equality lookups (every ``_findCollection``, and ``_mongoQuery`` filters that are a pure AND of
``$eq``/bare equalities) go through a hash index built once per (scheme, key paths), so each
lookup is O(1); other filters scan the rows in load order. Keys compare as *lookup keys*
(:func:`ferry.expr.mongo.lookup_key`): ``'1001'`` finds ``1001``. The first loaded row wins
when several match.

Compiled ``_findCollection`` values use :meth:`InMemoryLookups.equality_finder`, which also
precomputes the found field per key, so a lookup is one key normalisation and one dict get.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ferry.errors import ConfigError
from ferry.expr.mongo import equality_terms, lookup_key, matches
from ferry.expr.paths import resolve_path

__all__ = ["InMemoryLookups"]

_ROW_FIELDS = ("id", "number")
Row = Mapping[str, Any]
Finder = Callable[[Sequence[Any]], Any]


def _content_path(field: str) -> str:
    return f"content.{field}"


def _get(row: Row, path: str) -> Any:
    """Resolve ``path``; ``content.id``/``content.number`` fall back to the row's own id/number."""
    value = resolve_path(row, path)
    if value is None and path.startswith("content.") and path[8:] in _ROW_FIELDS:
        return row.get(path[8:])
    return value


class InMemoryLookups:
    """Lookups over rows loaded per scheme, with hash indexes built on demand.

    Args:
        load_rows: ``load_rows(scheme_id)`` yields the scheme's stored rows
            (``{"id": ..., "number": ..., "content": {...}}``); called at most once per scheme.
        default_scheme: scheme used when a lookup names none.
    """

    def __init__(self, load_rows: Callable[[str], Iterable[Row]], default_scheme: str | None = None) -> None:
        self._load_rows = load_rows
        self._default_scheme = default_scheme
        self._rows: dict[str, list[Row]] = {}
        self._indexes: dict[tuple[str, tuple[str, ...]], dict[tuple[Any, ...], Row]] = {}
        self._generation_cell = [0]
        """Bumped whenever loaded data or the default scheme changes; finders rebuild on a change."""
        self._finders: dict[tuple[str | None, str, tuple[str, ...]], Finder] = {}

    @property
    def default_scheme(self) -> str | None:
        """Scheme used when a lookup names none."""
        return self._default_scheme

    @default_scheme.setter
    def default_scheme(self, scheme: str | None) -> None:
        self._default_scheme = scheme
        self._generation_cell[0] += 1

    def _scheme(self, scheme: str | None) -> str:
        chosen = scheme if scheme is not None else self.default_scheme
        if chosen is None:
            raise ConfigError(
                "lookup names no scheme and no default lookup scheme is configured; "
                "set lookup_scheme in the scheme's settings"
            )
        return chosen

    def rows(self, scheme: str | None) -> list[Row]:
        """The scheme's rows, loaded on first use."""
        key = self._scheme(scheme)
        rows = self._rows.get(key)
        if rows is None:
            rows = self._rows[key] = list(self._load_rows(key))
        return rows

    def invalidate(self, scheme: str | None = None) -> None:
        """Forget loaded rows and indexes (of one scheme, or all) so the next lookup reloads."""
        self._generation_cell[0] += 1
        if scheme is None:
            self._rows.clear()
            self._indexes.clear()
            return
        self._rows.pop(scheme, None)
        for key in [k for k in self._indexes if k[0] == scheme]:
            del self._indexes[key]

    def _index(self, scheme: str, paths: tuple[str, ...]) -> dict[tuple[Any, ...], Row]:
        index = self._indexes.get((scheme, paths))
        if index is not None:
            return index
        index = {}
        for row in self.rows(scheme):
            parts: list[list[Any]] = []
            for path in paths:
                value = _get(row, path)
                values = value if isinstance(value, list) else [value]
                keys = [lookup_key(v) for v in values if v is not None]
                if not keys:
                    break
                parts.append(keys)
            else:
                for combo in itertools.product(*parts):
                    index.setdefault(combo, row)
        self._indexes[(scheme, paths)] = index
        return index

    def _by_equality(self, scheme: str | None, terms: Mapping[str, Any]) -> Row | None:
        chosen = self._scheme(scheme)
        paths = tuple(sorted(terms))
        probe = tuple(lookup_key(terms[p]) for p in paths)
        if any(k is None for k in probe):
            return None
        return self._index(chosen, paths).get(probe)

    def equality_finder(self, scheme: str | None, field: str, names: Sequence[str]) -> Finder:
        """A compiled :meth:`find` for fixed condition names (one per arguments, kept by this object).

        ``finder(values)`` returns ``find(scheme, field, dict(zip(names, values)))``. The index
        and the found field of every key are built on the first call (and again after
        :meth:`invalidate` or a new :attr:`default_scheme`); each call after that normalises
        the key values and does one dict get. The finder refers to this object weakly, so a
        caller may cache it (weakly too) without keeping a finished run's rows alive.

        Raises:
            ConfigError: (on call) no scheme is named and there is no default scheme.
        """
        key = (scheme, field, tuple(names))
        finder = self._finders.get(key)
        if finder is None:
            finder = self._finders[key] = _make_finder(weakref.ref(self), self._generation_cell, *key)
        return finder

    def find(self, scheme: str | None, field: str, where: Mapping[str, Any]) -> Any:
        """Return ``content.<field>`` of the first row whose content fields equal ``where``."""
        terms = {_content_path(name): value for name, value in where.items()}
        row = self._by_equality(scheme, terms)
        return None if row is None else _get(row, _content_path(field))

    def query(self, scheme: str | None, find_field: str, filter: Mapping[str, Any]) -> Any:
        """Return ``find_field`` (a row path such as ``content.FID``) of the first row matching ``filter``."""
        terms = equality_terms(filter)
        if terms is not None:
            row = self._by_equality(scheme, terms)
        else:
            row = next((r for r in self.rows(scheme) if matches(r, filter)), None)
        return None if row is None else _get(row, find_field)


def _make_finder(
    owner: weakref.ref[InMemoryLookups],
    generation: list[int],
    scheme: str | None,
    field: str,
    names: tuple[str, ...],
) -> Finder:
    last = {name: i for i, name in enumerate(names)}  # a repeated name: the last value wins
    order = sorted(last, key=_content_path)
    positions = tuple(last[name] for name in order)
    paths = tuple(_content_path(name) for name in order)
    field_path = _content_path(field)
    state: list[tuple[int, dict[tuple[Any, ...], Any]] | None] = [None]

    def table() -> dict[tuple[Any, ...], Any]:
        built = state[0]
        if built is not None and built[0] == generation[0]:
            return built[1]
        lookups = owner()
        if lookups is None:
            raise ReferenceError("the InMemoryLookups of this finder no longer exists")
        current = generation[0]
        index = lookups._index(lookups._scheme(scheme), paths)
        found = {key: _get(row, field_path) for key, row in index.items()}
        state[0] = (current, found)
        return found

    if len(positions) == 1:
        (at,) = positions

        def find_one(values: Sequence[Any]) -> Any:
            value = values[at]
            if type(value) is not str:
                value = lookup_key(value)
                if value is None:
                    return None
            built = state[0]
            got = built[1] if built is not None and built[0] == generation[0] else table()
            return got.get((value,))

        return find_one

    def find_many(values: Sequence[Any]) -> Any:
        probe = tuple(lookup_key(values[at]) for at in positions)
        if None in probe:
            return None
        return table().get(probe)

    return find_many
