"""The ``sql`` connector: MySQL/MariaDB, PostgreSQL and SQLite through SQLAlchemy.

As a **target**, ``write`` understands two APIs (QEasy's MySQL adapters):

``execute``
    For each record, ``otherRequest.main_sql`` with ``:named`` parameters from the record's
    ``main_params``, then ``extend_sql_1``, ``extend_sql_2``, ... with ``extend_params_N`` merged
    over ``main_params`` plus ``:lastInsertId``. One transaction per record::

        {"api": "execute",
         "request": [{"field": "main_params", "type": "object", "children": [
             {"field": "SO_NUMBER", "value": "{Fbillno}"}, {"field": "SO_STATUS", "value": "CLOSED"}]}],
         "otherRequest": [{"field": "main_sql",
             "value": "update mt_so_head set SO_STATUS=:SO_STATUS where SO_NUMBER=:SO_NUMBER"}]}

    The response recorded per record is ``{"rowcount": n, "lastInsertId": id}`` (plus
    ``"matched": m`` after an UPDATE on MySQL/MariaDB). On PostgreSQL write
    ``INSERT ... RETURNING id`` to get ``lastInsertId``.

    An UPDATE or DELETE that matches no row delivered nothing: the record is ``ok=False`` with
    ``UPDATE ty_mes.mt_so_head matched no row (SO_NUMBER='SO00042')``, its transaction rolled
    back, and it climbs the retry ladder (the row often appears later in the target); the
    scheme's ``settings.on_no_match: ok`` accepts it instead. A row that exists with identical
    values is matched, not missing: delivered and ``unchanged`` where the database tells
    (MySQL/MariaDB through PyMySQL, connected without ``CLIENT_FOUND_ROWS``); PostgreSQL and
    SQLite count it as matched. An insert the database reports as writing nothing (``ON
    DUPLICATE KEY UPDATE`` with identical values, ``INSERT IGNORE``, ``ON CONFLICT DO
    NOTHING``) is delivered and ``unchanged``.

``batchexecute``
    ``main_sql`` is ``INSERT|REPLACE INTO t (c1, c2, ...) VALUES`` plus an optional tail
    (``ON DUPLICATE KEY UPDATE ...``; ``ON CONFLICT (k) DO UPDATE SET ...`` on PostgreSQL and
    SQLite). The record payloads' fields (the scheme's ``request``, in order) map to the
    columns by position; ``limit`` rows (default 1000) per statement and transaction. A
    statement failing on bad data is retried row by row so only the bad rows fail. A statement
    reports one count for all its rows: when it commits, each of its rows is delivered with the
    statement's ``{"rows": n, "rowcount": r}``; when ``r`` is 0 (every row already there as
    written) each is also ``unchanged`` (:func:`~ferry.connectors._sql_write.write_batchexecute`).

Values: dicts and lists are written as JSON text; everything else is passed to the driver.

As a **source**, ``fetch`` runs the SELECT in ``request["main_sql"]`` (or ``api``) with the
other request keys as ``:named`` parameters, paged by LIMIT/OFFSET; the query needs a stable
``ORDER BY`` ending in a unique key (see :mod:`ferry.connectors._sql_read`).

Errors: bad credentials, unknown database, SQL syntax, unknown table/column ->
``ConfigError`` naming the connection (password masked); connection refused or lost, timeouts,
deadlocks, lock waits -> ``RetriableError``; bad row data -> ``Outcome(ok=False)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, StatementError

from ferry._redact import redact
from ferry.connectors._sql_ack import count_changed_rows
from ferry.connectors._sql_batch import adapt_params
from ferry.connectors._sql_errors import translate
from ferry.connectors._sql_inspect import CREATE_HINT, missing_objects
from ferry.connectors._sql_read import paged_sql, row_record
from ferry.connectors._sql_write import connect_translated, write_batchexecute, write_execute
from ferry.connectors.base import Delivery, Limits, Outcome, Page, PageState
from ferry.connectors.paging import OffsetPaginator, short_page
from ferry.connectors.specs import SqlConnection
from ferry.errors import ConfigError, FatalError, Issue
from ferry.scheme._sql_checks import written_tables
from ferry.scheme.metadata import TargetMetadata

__all__ = ["SqlConnector"]

_WRITERS = {"execute": write_execute, "batchexecute": write_batchexecute}
_CONNECT_ARGS = {
    "mysql": {"connect_timeout": 10},
    "mariadb": {"connect_timeout": 10},
    "postgresql": {"connect_timeout": 10},
    "sqlite": {"timeout": 30},
}


class SqlConnector:
    """Source and target for one :class:`SqlConnection` (one pooled SQLAlchemy engine)."""

    limits = Limits(default_page_size=1000, page_base=1)
    pager = OffsetPaginator(offset_param="_ferry_offset", size_param="_ferry_limit", last=short_page)
    """``LIMIT :_ferry_limit OFFSET :_ferry_offset``; a page with fewer rows than the limit is the last.
    No cap and no total: a row that leaves the result set while it is paged shifts the rows after it
    one place back, so the next page starts one row late and skips one (see :mod:`ferry.connectors.paging`)."""

    def __init__(self, spec: SqlConnection, *, transport: Any = None) -> None:
        """Create the engine (no connection is opened yet). ``transport`` is ignored.

        Raises:
            ConfigError: The URL is malformed or names an unknown dialect or driver.
        """
        self.spec = spec
        self.name = spec.name
        self._label = spec.label()
        self._secrets = spec.secret_values()
        url = spec.url.get_secret_value()
        dialect = url.split(":", 1)[0].split("+", 1)[0]
        try:
            self.engine: Engine = create_engine(
                url,
                pool_pre_ping=True,
                echo=spec.echo,
                hide_parameters=True,
                connect_args=dict(_CONNECT_ARGS.get(dialect, {})),
            )
        except (ArgumentError, NoSuchModuleError, ImportError, ValueError) as exc:
            message = redact(str(exc), self._secrets)
            raise ConfigError(f"{self._label}: invalid database URL: {message}") from None
        count_changed_rows(self.engine)
        if spec.sqlite_attach:
            attach = dict(spec.sqlite_attach)

            @event.listens_for(self.engine, "connect")
            def _attach(dbapi_connection: Any, _record: Any) -> None:
                for schema, path in attach.items():
                    dbapi_connection.execute(f"ATTACH DATABASE ? AS {schema}", (path,))

    def _translate(self, exc: BaseException) -> str:
        return translate(exc, label=self._label, secrets=self._secrets)

    # -- target ---------------------------------------------------------------------------

    def write(self, delivery: Delivery) -> Sequence[Outcome]:
        """Write one delivery with ``api`` ``execute`` or ``batchexecute`` (see module doc)."""
        writer = _WRITERS.get(delivery.api.strip().lower())
        if writer is None:
            raise ConfigError(
                f"{self._label}: unknown api {delivery.api!r} for a SQL target; known: {', '.join(sorted(_WRITERS))}"
            )
        rows = delivery.rows
        if not rows and isinstance(delivery.body, list):
            rows = delivery.body
        if len(rows) != len(delivery.record_ids):
            raise FatalError(
                f"{self._label}: delivery has {len(delivery.record_ids)} record ids but {len(rows)} rows"
            )
        if not rows:
            return []
        return writer(self.engine, delivery, rows, self._translate)

    # -- source ---------------------------------------------------------------------------

    def fetch(self, api: str, method: str, request: Mapping[str, Any], state: PageState) -> Page:
        """Fetch one LIMIT/OFFSET page of the SELECT; the last page has fewer than page_size rows.

        Raises:
            ConfigError: Not a SELECT, a syntax error, an unknown table/column, a missing
                ``:parameter``, or bad credentials.
            RetriableError: The database is unreachable, the connection dropped, a timeout.
        """
        sql = request.get("main_sql") or api
        if not isinstance(sql, str) or not sql.strip():
            raise ConfigError(f"{self._label}: source needs a SELECT in api or otherRequest.main_sql")
        sqlite = self.engine.dialect.name == "sqlite"
        params = adapt_params({k: v for k, v in request.items() if k != "main_sql"}, sqlite=sqlite)
        params.update(self.pager.request_fields(state))
        statement = text(paged_sql(sql))
        with connect_translated(self.engine, self._translate) as conn:
            try:
                result = conn.execute(statement, params)
                keys = list(result.keys())
                records = [row_record(keys, row, i) for i, row in enumerate(result)]
            except StatementError as exc:
                if not isinstance(exc, DBAPIError):  # e.g. a :parameter with no value
                    raise ConfigError(f"{self._label}: {str(exc).splitlines()[0]}") from exc
                message = self._translate(exc)  # raises for config and retriable errors
                raise ConfigError(f"{self._label}: query failed on its parameters: {message}") from exc
        return Page(records=records, next=self.pager.after(state, records))

    # -- check ----------------------------------------------------------------------------

    def check(self, meta: TargetMetadata | None = None) -> list[Issue]:
        """Connect for real and look up the tables and columns ``meta``'s statements write
        (``main_sql``, ``extend_sql_N``; an ``UPDATE``'s key columns too).

        Returns one issue per missing table or column (``[]`` when everything exists). The
        engine's pool is emptied afterwards: a deliverer forked later must not share a socket.

        Raises:
            ConfigError: The database refuses the connection (unknown database, bad
                credentials), naming the connection, with a hint to create the database.
            RetriableError: The database cannot be reached now.
        """
        uses = written_tables(meta, self.engine.dialect.name) if meta is not None else []
        try:
            with connect_translated(self.engine, self._translate) as conn:
                return missing_objects(conn, uses)
        except ConfigError as exc:
            raise ConfigError(
                f"{exc}\n  hint: check the URL (host, user, password, database); {CREATE_HINT}"
            ) from exc
        except DBAPIError as exc:
            self._translate(exc)  # raises for config and retriable errors
            raise
        finally:
            self.engine.dispose()

    def close(self) -> None:
        """Dispose of the engine's connection pool."""
        self.engine.dispose()

    def __enter__(self) -> SqlConnector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def vendor_time(self) -> datetime | None:
        """``None``: a database sends no ``Date`` header to tell its clock, so the collector
        holds no window's cursor back."""
        return None
