"""``InMemoryLookups``: the reference :class:`~ferry.expr.lookup.LookupProvider` for one run.

Each scheme's stored rows are loaded once per run, lazily on first use, through ``load_rows``.
Equality lookups (every ``_findCollection``, and ``_mongoQuery`` filters that are a pure AND of
``$eq``/bare equalities) go through a hash index built once per (scheme, key paths), so each
lookup is O(1); other filters scan the rows in load order. Keys compare as *lookup keys*
(:func:`ferry.expr.mongo.lookup_key`): ``'1001'`` finds ``1001``. The first loaded row wins
when several match.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ferry.errors import ConfigError
from ferry.expr.mongo import equality_terms, lookup_key, matches
from ferry.expr.paths import resolve_path

__all__ = ["InMemoryLookups"]

_ROW_FIELDS = ("id", "number")
Row = Mapping[str, Any]


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
        self.default_scheme = default_scheme
        self._rows: dict[str, list[Row]] = {}
        self._indexes: dict[tuple[str, tuple[str, ...]], dict[tuple[Any, ...], Row]] = {}

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
