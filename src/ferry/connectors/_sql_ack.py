"""What a SQL database acknowledged for one statement: rows matched, rows changed, or nothing.

A driver's ``rowcount`` does not mean the same everywhere:

* PostgreSQL and SQLite count the rows an ``UPDATE`` or ``DELETE`` *matched*, whether or not
  their values changed; an ``INSERT ... ON CONFLICT DO NOTHING`` counts the rows it inserted.
* MySQL/MariaDB count the rows *changed* unless the client sets ``CLIENT_FOUND_ROWS``, which
  SQLAlchemy's MySQL dialects do. Ferry connects through PyMySQL **without** it
  (:func:`count_changed_rows`), so ``INSERT ... ON DUPLICATE KEY UPDATE`` says 1 per row inserted,
  2 per row updated and 0 per row already holding those values, and reads the server's
  ``Rows matched: m  Changed: c`` note after an ``UPDATE`` (:func:`matched_changed`): a row that
  exists with identical values is matched, not missing. Other MySQL drivers keep the flag (their
  ``rowcount`` is rows matched) and Ferry cannot tell an unchanged row from a changed one.

:func:`main_statement` parses the ``execute`` main statement once (sqlglot) to know its verb,
its table and the ``:parameters`` of its ``WHERE``, so a write that matched nothing is reported
as ``UPDATE ty_mes.mt_so_head matched no row (SO_NUMBER='SO00042')``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sqlglot
from sqlalchemy import Connection, Engine, event
from sqlglot import exp
from sqlglot.errors import SqlglotError

__all__ = [
    "Acknowledgement",
    "MainStatement",
    "acknowledge",
    "count_changed_rows",
    "main_statement",
    "matched_changed",
    "no_match_reason",
]

KEYED_VERBS = frozenset({"UPDATE", "DELETE"})
"""Statements that find their rows by a key: matching nothing means nothing was delivered."""
INSERT_VERBS = frozenset({"INSERT", "REPLACE"})
_SQLGLOT_DIALECTS = {"mysql": "mysql", "mariadb": "mysql", "postgresql": "postgres", "sqlite": "sqlite"}
_MATCHED = re.compile(rb"Rows matched:\s*(\d+)\s+Changed:\s*(\d+)")
_VERB = re.compile(r"^\s*(?:\(\s*)*([A-Za-z]+)")
_TABLE = re.compile(r"^\s*(?:UPDATE(?:\s+LOW_PRIORITY|\s+IGNORE)*|DELETE\s+FROM)\s+([^\s(]+)", re.IGNORECASE)
_WHERE_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_VALUE_LIMIT = 80
_FOUND_ROWS = 2  # pymysql.constants.CLIENT.FOUND_ROWS (and MySQL's CLIENT_FOUND_ROWS)


@dataclass(frozen=True)
class MainStatement:
    """What Ferry needs to know of an ``execute`` main statement to judge its ``rowcount``."""

    verb: str
    """``UPDATE``, ``DELETE``, ``INSERT``, ``REPLACE``, or another first keyword upper-cased."""
    table: str
    """The written table as written, e.g. ``ty_mes.mt_so_head`` ("" when unknown)."""
    keys: tuple[tuple[str, str], ...] = ()
    """``(column, parameter)`` for each ``:parameter`` of the ``WHERE``, in order."""

    @property
    def keyed(self) -> bool:
        """An ``UPDATE`` or ``DELETE``: it must match a row to deliver anything."""
        return self.verb in KEYED_VERBS


@dataclass(frozen=True)
class Acknowledgement:
    """The database's answer to one main statement, judged."""

    rowcount: int
    """The driver's count (see the module docstring for what it counts per database)."""
    matched: int | None = None
    """Rows the ``WHERE`` matched, when the database says so apart from ``rowcount``."""
    no_match: bool = False
    """An ``UPDATE``/``DELETE`` that found no row: nothing was delivered."""
    unchanged: bool = False
    """The database acknowledged the write and reported that nothing changed."""

    def response(self, last_insert_id: Any) -> dict[str, Any]:
        """What the ledger keeps as the record's target response."""
        response: dict[str, Any] = {"rowcount": self.rowcount, "lastInsertId": last_insert_id}
        if self.matched is not None:
            response["matched"] = self.matched
        return response


@lru_cache(maxsize=128)
def main_statement(sql: str, dialect: str) -> MainStatement:
    """Classify ``sql`` by its first keyword; parse an ``UPDATE``/``DELETE`` (or a ``WITH`` that
    leads to one) once per text, as ``dialect`` else as MySQL (QEasy schemes are written for it),
    for its table and ``WHERE`` keys.

    A statement sqlglot cannot parse is still read from the text: its table and the
    ``:parameters`` after its ``WHERE``.
    """
    found = _VERB.match(sql)
    verb = found.group(1).upper() if found else ""
    if verb not in KEYED_VERBS and verb != "WITH":
        return MainStatement(verb, "")
    tree = _parse(sql, dialect)
    if isinstance(tree, exp.Update | exp.Delete):
        return _from_tree("UPDATE" if isinstance(tree, exp.Update) else "DELETE", tree)
    if isinstance(tree, exp.Insert):  # WITH ... INSERT
        return MainStatement("INSERT", "")
    return _from_text(verb, sql) if verb in KEYED_VERBS else MainStatement(verb, "")


def _parse(sql: str, dialect: str) -> exp.Expr | None:
    """The first statement of ``sql`` that parses as an UPDATE, DELETE or INSERT, as the
    database's dialect, else as MySQL; ``None`` when neither parses it so."""
    for read in dict.fromkeys((_SQLGLOT_DIALECTS.get(dialect), "mysql")):
        try:
            tree = next((t for t in sqlglot.parse(sql, read=read) if t is not None), None)
        except SqlglotError:
            continue
        if isinstance(tree, exp.Update | exp.Delete | exp.Insert):
            return tree
    return None


def _from_tree(verb: str, tree: exp.Update | exp.Delete) -> MainStatement:
    table = tree.this if isinstance(tree.this, exp.Table) else tree.find(exp.Table)
    name = ".".join(part.name for part in table.parts) if table is not None else ""
    where = tree.args.get("where")
    keys: list[tuple[str, str]] = []
    if isinstance(where, exp.Where):
        for placeholder in where.find_all(exp.Placeholder, bfs=False):
            param = placeholder.name
            if param and all(param != known for _, known in keys):
                keys.append((_column_of(placeholder) or f":{param}", param))
    return MainStatement(verb, name, tuple(keys))


def _column_of(placeholder: exp.Placeholder) -> str | None:
    """The column compared with ``placeholder`` (``SO_NUMBER`` in ``SO_NUMBER = :SO_NUMBER``)."""
    node: exp.Expr | None = placeholder.parent
    while node is not None and not isinstance(node, exp.Where | exp.Connector):
        if isinstance(node, exp.Predicate):
            column = node.find(exp.Column)
            return column.name if column is not None else None
        node = node.parent
    return None


def _from_text(verb: str, sql: str) -> MainStatement:
    table = _TABLE.match(sql)
    where = re.split(r"\bwhere\b", sql, maxsplit=1, flags=re.IGNORECASE)
    params = dict.fromkeys(_WHERE_PARAM.findall(where[1])) if len(where) == 2 else {}
    return MainStatement(
        verb, table.group(1).replace("`", "") if table else "", tuple((f":{p}", p) for p in params)
    )


def acknowledge(statement: MainStatement, rowcount: int, counts: tuple[int, int] | None) -> Acknowledgement:
    """Judge one main statement's result.

    Args:
        rowcount: The driver's ``rowcount`` (negative: the driver does not know).
        counts: ``(matched, changed)`` from the server's note (:func:`matched_changed`), if any.

    An ``UPDATE``/``DELETE`` that matched no row is ``no_match``; one whose rows all kept their
    values (MySQL/MariaDB tell) is ``unchanged``. An ``INSERT``/``REPLACE`` with ``rowcount`` 0
    wrote nothing because the row was already there (``ON DUPLICATE KEY UPDATE`` with identical
    values, ``INSERT IGNORE``, ``ON CONFLICT DO NOTHING``): acknowledged, ``unchanged``.
    """
    if statement.keyed:
        matched = counts[0] if counts is not None else rowcount
        shown = counts[0] if counts is not None else None
        if matched == 0:
            return Acknowledgement(rowcount, shown, no_match=True)
        return Acknowledgement(rowcount, shown, unchanged=counts is not None and counts[1] == 0)
    if statement.verb in INSERT_VERBS:
        return Acknowledgement(rowcount, unchanged=rowcount == 0)
    return Acknowledgement(rowcount)


def no_match_reason(statement: MainStatement, params: Mapping[str, Any]) -> str:
    """``UPDATE ty_mes.mt_so_head matched no row (SO_NUMBER='SO00042')``, and what happens next."""
    keys = ", ".join(
        f"{column}={_literal(params[param]) if param in params else ':' + param}"
        for column, param in statement.keys
    )
    where = f" ({keys})" if keys else ""
    table = f" {statement.table}" if statement.table else ""
    return (
        f"{statement.verb}{table} matched no row{where}; the row may not exist yet, so the record "
        "is retried on the retry ladder (settings.on_no_match: ok accepts a write that matches nothing)"
    )


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    if len(text) > _VALUE_LIMIT:
        text = text[:_VALUE_LIMIT] + "..."
    return "'" + text.replace("'", "''") + "'"


def count_changed_rows(engine: Engine) -> None:
    """Connect ``engine`` without ``CLIENT_FOUND_ROWS`` when it is MySQL/MariaDB through PyMySQL,
    the driver :func:`matched_changed` can read the server's matched/changed note from."""
    if engine.dialect.name not in ("mysql", "mariadb") or engine.dialect.driver != "pymysql":
        return

    @event.listens_for(engine, "do_connect")
    def _without_found_rows(_dialect: Any, _record: Any, _args: Any, params: dict[str, Any]) -> None:
        params["client_flag"] = int(params.get("client_flag", 0)) & ~_FOUND_ROWS


def matched_changed(conn: Connection) -> tuple[int, int] | None:
    """``(matched, changed)`` of the last ``UPDATE`` on ``conn``, from the ``Rows matched: m
    Changed: c`` note MySQL/MariaDB send with it; ``None`` elsewhere (other databases, other
    statements, drivers that do not expose the note)."""
    if conn.dialect.name not in ("mysql", "mariadb") or conn.dialect.driver != "pymysql":
        return None
    dbapi = conn.connection.dbapi_connection
    message = getattr(getattr(dbapi, "_result", None), "message", None)  # PyMySQL keeps no public one
    if not isinstance(message, bytes | bytearray):
        return None
    found = _MATCHED.search(message)
    return (int(found.group(1)), int(found.group(2))) if found else None
