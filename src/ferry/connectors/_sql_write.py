"""SQL target writes: ``execute`` (one statement chain per record, an UPDATE/DELETE that matches
no row is not delivered) and ``batchexecute`` (multi-row INSERT/REPLACE, ``limit`` rows per
statement, bad rows isolated). What each write acknowledges: :mod:`ferry.connectors._sql_ack`."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DataError, DBAPIError, StatementError

from ferry.connectors._sql_ack import (
    MainStatement,
    acknowledge,
    main_statement,
    matched_changed,
    no_match_reason,
)
from ferry.connectors._sql_batch import InsertTemplate, adapt_params, parse_insert, row_tuples
from ferry.connectors._sql_literal import MAX_STATEMENT_CHARS, rows_renderer
from ferry.connectors.base import Delivery, Outcome
from ferry.errors import ConfigError

__all__ = ["BatchStrategy", "connect_translated", "write_batchexecute", "write_execute"]

Translate = Callable[[BaseException], str]
"""Raises for config/retriable errors, returns the message of a data error."""

_EXTEND_SQL = re.compile(r"^extend_sql_(\d+)$")
_SQL_ERRORS = (DBAPIError, StatementError)
DEFAULT_LIMIT = 1000
_PG_MAX_PARAMS = 65535


def _require_sql(options: Mapping[str, Any], api: str) -> str:
    sql = options.get("main_sql")
    if not isinstance(sql, str) or not sql.strip():
        raise ConfigError(
            f"otherRequest.main_sql: required for api {api!r} (got {sql!r})\n"
            "  hint: add an otherRequest field main_sql with the SQL statement"
        )
    return sql


def _extend_statements(options: Mapping[str, Any]) -> list[tuple[int, Any]]:
    found = []
    for key, sql in options.items():
        match = _EXTEND_SQL.match(str(key))
        if match and isinstance(sql, str) and sql.strip():
            found.append((int(match.group(1)), text(sql)))
    return sorted(found, key=lambda item: item[0])


def _main_params(row: Mapping[str, Any]) -> Any:
    if "main_params" in row:
        return row["main_params"]
    return {k: v for k, v in row.items() if not str(k).startswith("extend_params_")}


def _last_insert_id(result: Any) -> Any:
    if result.returns_rows:  # INSERT ... RETURNING id (PostgreSQL, SQLite, MariaDB)
        first = result.first()
        return first[0] if first is not None else None
    try:
        return result.lastrowid
    except Exception:  # drivers without lastrowid
        return None


def write_execute(
    engine: Engine, delivery: Delivery, rows: Sequence[Any], translate: Translate
) -> list[Outcome]:
    """Run ``main_sql`` then ``extend_sql_1..N`` for each record, one transaction per record.

    Parameters come from ``row["main_params"]`` (or the row itself when absent); extend
    statement *N* also sees ``row["extend_params_N"]`` and ``lastInsertId`` (the main
    statement's ``lastrowid``, or the first column it RETURNs). A failing record is rolled back
    and reported ``ok=False`` with the database message; the others commit.

    An ``UPDATE``/``DELETE`` main statement that matches no row delivered nothing: with
    ``delivery.on_no_match`` ``error`` the record's transaction is rolled back (its extend
    statements never run) and it is ``ok=False`` with a reason naming the table and the key
    values, so it climbs the retry ladder; with ``ok`` it commits as before and is ``ok=True,
    unchanged=True``. A write the database reports as changing nothing (an ``UPDATE`` of
    identical values on MySQL/MariaDB, an insert whose row was already there) is ``ok=True,
    unchanged=True``. See :mod:`ferry.connectors._sql_ack`.
    """
    main_sql = _require_sql(delivery.options, delivery.api)
    step = _RecordWrite(
        main=text(main_sql),
        statement=main_statement(main_sql, engine.dialect.name),
        extends=_extend_statements(delivery.options),
        sqlite=engine.dialect.name == "sqlite",
        accept_no_match=delivery.on_no_match == "ok",
    )
    outcomes: list[Outcome] = []
    with connect_translated(engine, translate) as conn:
        for record_id, row in zip(delivery.record_ids, rows, strict=True):
            if not isinstance(row, Mapping) or not isinstance(params := _main_params(row), Mapping):
                outcomes.append(
                    Outcome(
                        record_id,
                        ok=False,
                        error=f"execute: main_params must be an object (got {row!r:.120})",
                    )
                )
                continue
            try:
                outcomes.append(step.run(conn, record_id, row, params))
            except _SQL_ERRORS as exc:
                outcomes.append(Outcome(record_id, ok=False, error=translate(exc)))
    return outcomes


@dataclass(frozen=True)
class _RecordWrite:
    """One record's ``execute`` transaction: the main statement, judged, then the extends."""

    main: Any
    statement: MainStatement
    extends: list[tuple[int, Any]]
    sqlite: bool
    accept_no_match: bool

    def run(
        self, conn: Connection, record_id: str, row: Mapping[str, Any], params: Mapping[str, Any]
    ) -> Outcome:
        """Write one record in its own transaction; database errors propagate (rolled back)."""
        with conn.begin() as transaction:
            result = conn.execute(self.main, adapt_params(params, sqlite=self.sqlite))
            ack = acknowledge(self.statement, result.rowcount, matched_changed(conn))
            last_id = _last_insert_id(result)
            if ack.no_match and not self.accept_no_match:
                transaction.rollback()
                reason = no_match_reason(self.statement, params)
                return Outcome(record_id, ok=False, response=ack.response(None), error=reason, retriable=True)
            for number, statement in self.extends:
                extra = row.get(f"extend_params_{number}") or {}
                merged = {**params, **extra, "lastInsertId": last_id}
                conn.execute(statement, adapt_params(merged, sqlite=self.sqlite))
        unchanged = ack.unchanged or ack.no_match
        return Outcome(record_id, ok=True, response=ack.response(last_id), unchanged=unchanged)


@contextmanager
def connect_translated(engine: Engine, translate: Translate) -> Iterator[Connection]:
    """``engine.connect()`` with connection errors translated to Ferry errors."""
    try:
        conn = engine.connect()
    except _SQL_ERRORS as exc:
        translate(exc)
        raise
    with conn:
        yield conn


@dataclass(frozen=True)
class BatchStrategy:
    """How one dialect executes many rows of an :class:`InsertTemplate`.

    ``literal``: multi-row statements rendered as text by :mod:`ferry.connectors._sql_literal`
    (PyMySQL). ``executemany``: one driver ``executemany`` (mysqlclient rewrites it into
    multi-row INSERTs; sqlite3 loops in C). Otherwise one explicit multi-row ``VALUES``
    statement with placeholders per chunk.
    """

    placeholder: str
    executemany: bool
    escape_percent: bool
    max_params: int | None = None
    literal: bool = False

    @classmethod
    def for_engine(cls, engine: Engine, template: InsertTemplate) -> BatchStrategy:
        """Pick the fastest correct strategy for the engine's driver."""
        driver = engine.dialect.driver
        if engine.dialect.name in ("mysql", "mariadb") and driver == "pymysql":
            return cls("%s", executemany=False, escape_percent=True, literal=True)
        if engine.dialect.name in ("mysql", "mariadb") and driver == "mysqldb":
            # mysqlclient only rewrites executemany for an empty or ON DUPLICATE ... tail.
            rewritable = not template.tail or template.tail.upper().startswith("ON DUPLICATE")
            return cls("%s", executemany=rewritable, escape_percent=True)
        if engine.dialect.name == "sqlite":
            return cls("?", executemany=True, escape_percent=False)
        paramstyle = engine.dialect.paramstyle
        if paramstyle in ("format", "pyformat"):
            return cls("%s", executemany=False, escape_percent=True, max_params=_PG_MAX_PARAMS)
        if paramstyle == "qmark":
            return cls("?", executemany=False, escape_percent=False, max_params=_PG_MAX_PARAMS)
        raise ConfigError(f"batchexecute: driver {driver!r} (paramstyle {paramstyle}) is not supported")

    def run(self, conn: Connection, template: InsertTemplate, rows: list[tuple[Any, ...]]) -> int:
        """Execute ``rows`` (inside the caller's transaction); return the driver's rowcount."""
        if self.literal:
            return _run_literal(conn, template, rows)
        if self.executemany or len(rows) == 1:
            sql = _cached_sql(template, self.placeholder, self.escape_percent, 1)
            params: Any = rows if len(rows) > 1 else rows[0]
            return conn.exec_driver_sql(sql, params).rowcount
        per_statement = len(rows)
        if self.max_params:
            per_statement = max(1, min(per_statement, self.max_params // len(template.columns)))
        total = 0
        for start in range(0, len(rows), per_statement):
            part = rows[start : start + per_statement]
            sql = _cached_sql(template, self.placeholder, self.escape_percent, len(part))
            flat = tuple(value for row in part for value in row)
            total += conn.exec_driver_sql(sql, flat).rowcount
        return total


def _run_literal(conn: Connection, template: InsertTemplate, rows: list[tuple[Any, ...]]) -> int:
    """Multi-row statements with the values rendered as literals, split so none exceeds
    :data:`~ferry.connectors._sql_literal.MAX_STATEMENT_CHARS`; returns the summed rowcount.
    A value SQL cannot hold fails the statement as a data error (its rows are then retried
    one by one, so only the bad row fails)."""
    head = f"{template.head} VALUES "
    tail = f" {template.tail}" if template.tail else ""
    try:
        rendered_rows = rows_renderer(conn.connection.dbapi_connection)(rows)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{head}...", None, exc) from exc
    total = 0
    tuples: list[str] = []
    size = 0
    for rendered in rendered_rows:
        if tuples and size + len(rendered) > MAX_STATEMENT_CHARS:
            total += _execute_text(conn, head + ",".join(tuples) + tail)
            tuples, size = [], 0
        tuples.append(rendered)
        size += len(rendered) + 1
    if tuples:
        total += _execute_text(conn, head + ",".join(tuples) + tail)
    return total


def _execute_text(conn: Connection, sql: str) -> int:
    # no_parameters: the driver gets no parameter collection, so it never %-formats the text
    return conn.exec_driver_sql(sql, execution_options={"no_parameters": True}).rowcount


@lru_cache(maxsize=64)
def _cached_sql(template: InsertTemplate, placeholder: str, escape_percent: bool, rows: int) -> str:
    if escape_percent:
        template = InsertTemplate(
            head=template.head.replace("%", "%%"),
            columns=template.columns,
            tail=template.tail.replace("%", "%%"),
        )
    return template.statement(placeholder, rows)


def _limit(options: Mapping[str, Any]) -> int:
    raw = options.get("limit")
    if raw in (None, ""):
        return DEFAULT_LIMIT
    try:
        limit = int(str(raw).strip())
    except ValueError:
        limit = 0
    if limit < 1:
        raise ConfigError(f"otherRequest.limit: must be a positive integer (got {raw!r})\n  hint: e.g. 1000")
    return limit


@lru_cache(maxsize=64)
def _parse(main_sql: str) -> InsertTemplate:
    return parse_insert(main_sql)


def write_batchexecute(
    engine: Engine, delivery: Delivery, rows: Sequence[Any], translate: Translate
) -> list[Outcome]:
    """Write rows as multi-row ``INSERT|REPLACE``, ``limit`` rows per statement and transaction.

    A statement failing with a data error is rolled back and its rows retried one by one, so
    only the bad rows fail (their outcome quotes the database error). Config errors raise
    ``ConfigError``; connection-level errors raise ``RetriableError`` (chunks already
    committed stay committed -- the statement is an upsert, so the retry is harmless).

    What Ferry can know per row: a multi-row statement reports one ``rowcount`` for all its rows,
    so a committed statement acknowledges each of its rows, and each gets the statement's
    ``{"rows": n, "rowcount": r}`` as its response. The count reads: a plain ``INSERT`` counts the
    rows inserted; ``REPLACE`` 1 per row inserted and 2 per row replaced (MariaDB: 1 when the old
    row was identical); ``ON DUPLICATE KEY UPDATE`` (MySQL/MariaDB, which Ferry reads without
    ``CLIENT_FOUND_ROWS``) 1 per insert, 2 per update, 0 per row already identical;
    ``ON CONFLICT DO UPDATE`` 1 per row; ``INSERT IGNORE`` / ``ON CONFLICT DO NOTHING`` the rows
    inserted. When a statement reports 0, every one of its rows was already there as written:
    each is delivered and ``unchanged``. When it reports more, Ferry cannot tell which of its
    rows were unchanged, and counts each as delivered. A row written alone (after a data error
    in its statement, or with ``limit`` 1) is judged exactly. An insert never "matches no row",
    so ``on_no_match`` does not apply.
    """
    template = _parse(_require_sql(delivery.options, delivery.api))
    limit = _limit(delivery.options)
    fields = delivery.options.get("fields")
    sqlite = engine.dialect.name == "sqlite"
    tuples, problems = row_tuples(rows, template, fields if isinstance(fields, list) else None, sqlite=sqlite)
    ids = delivery.record_ids
    outcomes: list[Outcome | None] = [None] * len(ids)
    for index, problem in problems.items():
        outcomes[index] = Outcome(ids[index], ok=False, error=problem)
    if problems:
        positions: Sequence[int] = [index for index, values in enumerate(tuples) if values is not None]
        good: list[Any] = [tuples[index] for index in positions]
    else:  # the common case: no copying
        positions, good = range(len(tuples)), tuples
    strategy = BatchStrategy.for_engine(engine, template)
    with connect_translated(engine, translate) as conn:
        for start in range(0, len(good), limit):
            values, where = good[start : start + limit], positions[start : start + limit]
            try:
                with conn.begin():
                    rowcount = strategy.run(conn, template, values)
            except _SQL_ERRORS as exc:
                translate(exc)  # raises unless the statement failed on data
                _row_by_row(
                    conn, strategy, template, zip(where, values, strict=True), ids, outcomes, translate
                )
                continue
            response = {"rows": len(values), "rowcount": rowcount}
            for index in where:
                outcomes[index] = Outcome(ids[index], True, response, unchanged=rowcount == 0)
    return cast(list[Outcome], outcomes)  # every slot is filled: mapped, written or failed


def _row_by_row(
    conn: Connection,
    strategy: BatchStrategy,
    template: InsertTemplate,
    chunk: Iterable[tuple[int, tuple[Any, ...]]],
    ids: list[str],
    outcomes: list[Outcome | None],
    translate: Translate,
) -> None:
    for index, values in chunk:
        try:
            with conn.begin():
                rowcount = strategy.run(conn, template, [values])
        except _SQL_ERRORS as exc:
            outcomes[index] = Outcome(ids[index], ok=False, error=translate(exc))
            continue
        response = {"rows": 1, "rowcount": rowcount}
        outcomes[index] = Outcome(ids[index], ok=True, response=response, unchanged=rowcount == 0)
