"""Checks for MySQL-style targets: ``batchexecute`` and ``execute`` (docs/architecture.md §4).

* ``batchexecute``: ``otherRequest.main_sql`` is ``INSERT|REPLACE INTO t (c1, ...) VALUES`` and
  its columns are the ``request`` fields, same count, same order.
* ``execute``: ``otherRequest.main_sql`` uses ``:name`` parameters, each a child of the
  ``main_params`` object in ``request``; ``extend_sql_N`` may also use ``:lastInsertId`` and takes
  its parameters from ``extend_params_N`` (else ``main_params``).

:func:`written_tables` names the tables and columns those statements write (and the key
columns an ``UPDATE``/``DELETE`` matches on), for ``ferry check`` to look up in the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ferry.errors import Issue
from ferry.scheme.metadata import FieldSpec, TargetMetadata

__all__ = ["TableUse", "check_sql_target", "named_parameters", "split_insert", "written_tables"]

_INSERT = re.compile(
    r"^\s*(?P<verb>INSERT(?:\s+IGNORE)?|REPLACE)\s+INTO\s+(?P<table>[^\s(]+)\s*\((?P<cols>[^)]*)\)\s*VALUES\b",
    re.IGNORECASE | re.DOTALL,
)
_QUOTED = re.compile(r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\"")
_PARAM = re.compile(r"(?<![:\w]):(?P<name>[A-Za-z_]\w*)")
_EXTEND = re.compile(r"^extend_sql_(?P<n>\d+)$")


def split_insert(sql: str) -> tuple[str, list[str]] | None:
    """``("t", ["c1", "c2"])`` for ``INSERT INTO t (c1, `c2`) VALUES ...``; ``None`` if not that shape."""
    m = _INSERT.match(sql)
    if m is None:
        return None
    cols = [c.strip().strip('`"[] ') for c in m.group("cols").split(",")]
    table = ".".join(part.strip('`"[] ') for part in m.group("table").split("."))
    return table, [c for c in cols if c]


def named_parameters(sql: str) -> list[str]:
    """``:name`` parameters of ``sql`` in order of first use, ignoring quoted text and ``::`` casts."""
    seen: list[str] = []
    for m in _PARAM.finditer(_QUOTED.sub("''", sql)):
        if m.group("name") not in seen:
            seen.append(m.group("name"))
    return seen


def _other(meta: TargetMetadata, name: str) -> tuple[int, FieldSpec] | None:
    for i, f in enumerate(meta.otherRequest):
        if f.field == name:
            return i, f
    return None


def _missing_main_sql(p: str, example: str) -> Issue:
    return Issue(
        f"{p}.otherRequest",
        "main_sql is missing",
        None,
        f'add {{"field": "main_sql", "type": "string", "value": "{example}"}} to otherRequest',
    )


def _check_batchexecute(meta: TargetMetadata, p: str) -> list[Issue]:
    found = _other(meta, "main_sql")
    if found is None or not isinstance(found[1].value, str) or not found[1].value.strip():
        return [_missing_main_sql(p, "REPLACE INTO my_table (col_a, col_b) VALUES")]
    i, main = found
    path = f"{p}.otherRequest[{i}].value"
    parsed = split_insert(main.value)
    if parsed is None:
        return [
            Issue(
                path,
                "batchexecute main_sql must read INSERT|REPLACE INTO <table> (<columns>) VALUES",
                main.value,
                "write e.g. REPLACE INTO aftersale_list_query (id, tid, created) VALUES; "
                "the VALUES rows are generated from the request fields",
            )
        ]
    _, cols = parsed
    fields = [f.field for f in meta.request]
    if len(cols) != len(fields):
        return [
            Issue(
                path,
                f"main_sql lists {len(cols)} column{'s' if len(cols) != 1 else ''} "
                f"but request has {len(fields)} field{'s' if len(fields) != 1 else ''}",
                None,
                "batchexecute writes the request fields, in order, into the column list; "
                "add or remove columns or request fields so both match",
            )
        ]
    issues = [
        Issue(
            f"{p}.request[{k}].field",
            f"request[{k}] is {field!r} but column {k + 1} of main_sql is {col!r}",
            None,
            "batchexecute maps request fields to the columns by position; name each field after its column "
            "and keep the same order",
        )
        for k, (col, field) in enumerate(zip(cols, fields, strict=True))
        if col.lower() != field.lower()
    ]
    issues += _check_limit(meta, p)
    return issues


def _check_limit(meta: TargetMetadata, p: str) -> list[Issue]:
    found = _other(meta, "limit")
    if found is None or found[1].value in (None, ""):
        return []
    i, limit = found
    value = limit.value
    is_int = isinstance(value, int) and not isinstance(value, bool)
    ok = is_int or (isinstance(value, str) and value.strip().isdigit())
    if ok and 1 <= int(value) <= 10000:
        return []
    return [
        Issue(
            f"{p}.otherRequest[{i}].value",
            "limit must be a whole number of rows per statement between 1 and 10000",
            value,
            'write e.g. {"field": "limit", "value": "1000"}',
        )
    ]


def _children_names(meta: TargetMetadata, name: str) -> list[str] | None:
    for f in meta.request:
        if f.field == name:
            return [c.field for c in f.children]
    return None


def _check_params(
    sql: str, path: str, available: list[str] | None, source: str, extra: set[str]
) -> list[Issue]:
    issues = []
    for name in named_parameters(sql):
        if name in extra:
            continue
        if available is None:
            issues.append(
                Issue(
                    path,
                    f"uses :{name} but request has no {source} object",
                    None,
                    f'add {{"field": "{source}", "type": "object", "children": [{{"field": "{name}", '
                    f'"value": "{{{name}}}"}}]}} to request',
                )
            )
            break
        if name not in available:
            known = ", ".join(available) or "(none)"
            issues.append(
                Issue(
                    path,
                    f":{name} is not a child of {source}",
                    None,
                    f'add {{"field": "{name}", "value": ...}} to {source}.children (children now: {known})',
                )
            )
    return issues


def _check_execute(meta: TargetMetadata, p: str) -> list[Issue]:
    found = _other(meta, "main_sql")
    if found is None or not isinstance(found[1].value, str) or not found[1].value.strip():
        return [_missing_main_sql(p, "update t set status=:status where code=:code")]
    i, main = found
    issues = _check_params(
        main.value, f"{p}.otherRequest[{i}].value", _children_names(meta, "main_params"), "main_params", set()
    )
    for k, f in enumerate(meta.otherRequest):
        m = _EXTEND.match(f.field)
        if m is None or not isinstance(f.value, str):
            continue
        source = f"extend_params_{m.group('n')}"
        names = _children_names(meta, source)
        if names is None:
            source, names = "main_params", _children_names(meta, "main_params")
        issues += _check_params(f.value, f"{p}.otherRequest[{k}].value", names, source, {"lastInsertId"})
    return issues


def check_sql_target(meta: TargetMetadata, p: str) -> list[Issue]:
    """Checks for ``api: batchexecute`` / ``api: execute`` targets (no-op for other APIs)."""
    api = meta.api.strip().lower()
    if api == "batchexecute":
        return _check_batchexecute(meta, p)
    if api == "execute":
        return _check_execute(meta, p)
    return []


@dataclass(frozen=True)
class TableUse:
    """A table a SQL target's statement uses, and the columns it names there."""

    schema: str | None
    """The qualifier (``ty_mes`` of ``ty_mes.mt_so_head``); ``None``: the URL's database."""
    table: str
    columns: tuple[str, ...]
    statement: str
    """Where it is written: ``main_sql`` or ``extend_sql_N``."""

    @property
    def name(self) -> str:
        """``schema.table`` or ``table``, as the statement writes it."""
        return f"{self.schema}.{self.table}" if self.schema else self.table


_DML = re.compile(r"^\s*(?:UPDATE|DELETE|INSERT)\b", re.IGNORECASE)
_SQLGLOT_DIALECTS = {"mysql": "mysql", "mariadb": "mysql", "postgresql": "postgres", "sqlite": "sqlite"}


def _statement_tables(sql: str, dialect: str) -> dict[tuple[str | None, str], list[str]]:
    """(schema, table) -> columns named for it in one statement; ``{}`` when it does not parse.

    ``INSERT|REPLACE INTO t (c, ...)`` gives its column list. An ``UPDATE``, ``DELETE`` or other
    ``INSERT`` is parsed with sqlglot (:func:`_parsed_tables`).
    """
    insert = split_insert(sql)
    if insert is not None:
        table, cols = insert
        schema, _, name = table.rpartition(".")
        return {(schema or None, name): cols}
    return _parsed_tables(sql, dialect) if _DML.match(sql) else {}


def _parsed_tables(sql: str, dialect: str) -> dict[tuple[str | None, str], list[str]]:
    """An ``UPDATE``'s SET and WHERE columns, a ``DELETE``'s WHERE columns, by table. A column
    qualified by an alias belongs to that table, an unqualified one to the only table (columns
    of a statement over several tables that name none are left out)."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        tree = sqlglot.parse_one(sql, read=_SQLGLOT_DIALECTS.get(dialect, "mysql"))
    except SqlglotError:
        return {}
    alias, used = _tables_of(tree)
    only = next(iter(used)) if len(used) == 1 else None
    for column in tree.find_all(exp.Column):
        owner = alias.get(column.table.lower()) if column.table else only
        if owner is not None and column.name not in used[owner]:
            used[owner].append(column.name)
    return used


def _tables_of(
    tree: Any,
) -> tuple[dict[str, tuple[str | None, str]], dict[tuple[str | None, str], list[str]]]:
    """``(alias or name -> (schema, table), (schema, table) -> [])`` of a parsed statement."""
    from sqlglot import exp

    tables = list(tree.find_all(exp.Table))
    alias = {t.alias_or_name.lower(): (t.db or None, t.name) for t in tables}
    return alias, {(t.db or None, t.name): [] for t in tables}


def written_tables(meta: TargetMetadata, dialect: str) -> list[TableUse]:
    """The tables and columns the ``main_sql`` / ``extend_sql_N`` of an ``execute`` or
    ``batchexecute`` target name, in statement order (``[]`` for any other API).

    ``dialect`` is SQLAlchemy's dialect name (``mysql``, ``postgresql``, ``sqlite``).
    """
    if meta.api.strip().lower() not in ("execute", "batchexecute"):
        return []
    uses: list[TableUse] = []
    for field in meta.otherRequest:
        if not isinstance(field.value, str) or not (
            field.field == "main_sql" or _EXTEND.match(field.field) is not None
        ):
            continue
        for (schema, table), cols in _statement_tables(field.value, dialect).items():
            uses.append(TableUse(schema, table, tuple(cols), field.field))
    return uses
