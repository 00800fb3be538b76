"""One table of database errors: the store and the SQL targets read a code the same way.

Each case is a real driver exception (SQLite's made by SQLite itself where it can be), wrapped
by SQLAlchemy as both callers receive it. The store turns ``retry``/``reconnect`` into
RetriableError, a missing schema into FatalError with the migrate hint and the rest into
FatalError; the target turns them into RetriableError, ConfigError, or a record's dead letter.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg.errors
import pymysql
import pytest
import sqlalchemy as sa

from ferry import dberrors
from ferry.connectors._sql_errors import translate as target_translate
from ferry.errors import ConfigError, FatalError, RetriableError
from ferry.store._errors import MIGRATE_HINT
from ferry.store._errors import translate as store_translate


def _pg(sqlstate: str) -> BaseException:
    return psycopg.errors.lookup(sqlstate)("server says no")


def _sqlite(message: str, name: str) -> sqlite3.Error:
    """A SQLite error SQLite cannot be made to raise on demand (an I/O failure), with its name."""
    error = sqlite3.OperationalError(message)
    error.sqlite_errorname = name
    return error


@pytest.fixture(scope="module")
def sqlite_errors(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, sqlite3.Error]]:
    """Errors SQLite itself raised: a locked file, a NULL into NOT NULL, a missing table."""
    db = Path(tmp_path_factory.mktemp("db")) / "x.db"
    holder = sqlite3.connect(db, isolation_level=None)
    other = sqlite3.connect(db, isolation_level=None, timeout=0)
    holder.execute("CREATE TABLE t (x NOT NULL)")
    found: dict[str, sqlite3.Error] = {}
    holder.execute("BEGIN IMMEDIATE")
    for key, conn, sql in [
        ("busy", other, "BEGIN IMMEDIATE"),
        ("notnull", holder, "INSERT INTO t VALUES (NULL)"),
        ("no-table", other, "SELECT * FROM ledger"),
    ]:
        with pytest.raises(sqlite3.Error) as info:
            conn.execute(sql)
        found[key] = info.value
    holder.execute("ROLLBACK")
    yield found
    holder.close()
    other.close()


CASES = [
    pytest.param(lambda _: pymysql.err.OperationalError(1053, "Server shutdown in progress"), "reconnect",
                 id="mysql-1053-shutdown"),
    pytest.param(lambda _: pymysql.err.OperationalError(1205, "Lock wait timeout exceeded"), "retry",
                 id="mysql-1205-lock-wait"),
    pytest.param(lambda _: pymysql.err.OperationalError(1213, "Deadlock found"), "retry", id="mysql-1213-deadlock"),
    pytest.param(lambda _: pymysql.err.OperationalError(2006, "MySQL server has gone away"), "reconnect",
                 id="mysql-2006-gone"),
    pytest.param(lambda _: pymysql.err.OperationalError(2013, "Lost connection"), "reconnect", id="mysql-2013-lost"),
    pytest.param(lambda _: pymysql.err.IntegrityError(1062, "Duplicate entry '7'"), "data", id="mysql-1062-duplicate"),
    pytest.param(lambda _: pymysql.err.DataError(1406, "Data too long for column 'x'"), "data", id="mysql-1406-long"),
    pytest.param(lambda _: pymysql.err.ProgrammingError(1146, "Table 'erp.ledger' doesn't exist"), "schema",
                 id="mysql-1146-no-table"),
    pytest.param(lambda _: _pg("40001"), "retry", id="pg-40001-serialization"),
    pytest.param(lambda _: _pg("57P01"), "reconnect", id="pg-57P01-admin-shutdown"),
    pytest.param(lambda _: _pg("23505"), "data", id="pg-23505-unique"),
    pytest.param(lambda _: _pg("42P01"), "schema", id="pg-42P01-no-table"),
    pytest.param(lambda made: made["busy"], "retry", id="sqlite-busy"),
    pytest.param(lambda _: _sqlite("disk I/O error", "SQLITE_IOERR_WRITE"), "retry", id="sqlite-ioerr"),
    pytest.param(lambda made: made["notnull"], "data", id="sqlite-constraint-notnull"),
    pytest.param(lambda made: made["no-table"], "schema", id="sqlite-no-such-table"),
]  # fmt: skip


@pytest.mark.parametrize(("make", "meaning"), CASES)
def test_the_store_and_the_target_read_a_code_the_same_way(
    make: object, meaning: str, sqlite_errors: dict[str, sqlite3.Error]
) -> None:
    driver_error = make(sqlite_errors)  # type: ignore[operator]
    wrapped = sa.exc.OperationalError("SELECT 1", {}, driver_error)
    found = dberrors.classify(wrapped)
    assert found == dberrors.classify(driver_error)
    assert found.meaning == ("configuration" if meaning == "schema" else meaning)
    assert found.missing_schema is (meaning == "schema")

    stored = store_translate(wrapped, "claiming records")
    if meaning in ("retry", "reconnect"):
        assert type(stored) is RetriableError
        with pytest.raises(RetriableError):
            target_translate(wrapped, label="sql connection 'erp'")
    elif meaning == "schema":
        assert type(stored) is FatalError and MIGRATE_HINT in str(stored)
        with pytest.raises(ConfigError, match="sql connection 'erp'"):
            target_translate(wrapped, label="sql connection 'erp'")
    else:  # data: the run stops on a bad store row; the target dead-letters that record
        assert type(stored) is FatalError and MIGRATE_HINT not in str(stored)
        assert target_translate(wrapped, label="sql connection 'erp'") == dberrors.describe(driver_error)


def test_the_code_found_is_named_for_the_message() -> None:
    assert dberrors.classify(pymysql.err.OperationalError(1213, "Deadlock")).code == "MySQL 1213"
    assert dberrors.classify(_pg("57P01")).code == "PostgreSQL 57P01"
    assert (
        dberrors.classify(_sqlite("disk I/O error", "SQLITE_IOERR_WRITE")).code == "SQLite SQLITE_IOERR_WRITE"
    )


def _example(family: str, code: int | str) -> BaseException:
    """A driver exception carrying ``code`` as its driver would."""
    if family == "mysql":
        return pymysql.err.OperationalError(code, "server says no")
    if family == "postgresql":
        assert isinstance(code, str)
        return _pg(code if len(code) == 5 else code + "000")
    assert isinstance(code, str)
    return _sqlite("server says no", code) if code.startswith("SQLITE_") else sqlite3.OperationalError(code)


@pytest.mark.parametrize("row", dberrors.CODES, ids=lambda row: f"{row.family}-{row.meaning}-{row.codes[0]}")
def test_every_row_of_the_table_is_what_both_callers_act_on(row: dberrors.Code) -> None:
    for code in row.codes:
        wrapped = sa.exc.OperationalError("SELECT 1", {}, _example(row.family, code))
        found = dberrors.classify(wrapped)
        assert (found.meaning, found.missing_schema) == (row.meaning, row.missing_schema), code
        store_error = type(store_translate(wrapped, "reading"))
        assert store_error is (RetriableError if row.meaning in ("retry", "reconnect") else FatalError), code


@pytest.mark.parametrize(
    ("error", "meaning"),
    [
        pytest.param(pymysql.err.OperationalError(1999, "new server error"), "data", id="mysql-unknown-server"),
        pytest.param(pymysql.err.OperationalError(2099, "new client error"), "reconnect", id="mysql-unknown-client"),
        pytest.param(pymysql.err.InterfaceError(0, ""), "reconnect", id="mysql-closed-socket"),
        pytest.param(psycopg.OperationalError("connection failed: Connection refused"), "reconnect", id="pg-refused"),
        pytest.param(psycopg.OperationalError('FATAL:  password authentication failed for user "x"'),
                     "configuration", id="pg-bad-password"),
        pytest.param(_pg("42601"), "configuration", id="pg-42-class-syntax"),
        pytest.param(sa.exc.ArgumentError("unknown dialect"), "configuration", id="sqlalchemy-argument"),
    ],
)  # fmt: skip
def test_codes_the_table_does_not_list_fall_back_on_their_family_then_their_class(
    error: BaseException, meaning: str
) -> None:
    assert dberrors.classify(error).meaning == meaning
