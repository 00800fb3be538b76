"""Database errors are classified by what the caller should do, and never leak the password."""

from __future__ import annotations

import sqlite3

import psycopg
import psycopg.errors
import pymysql
import pytest
from sqlalchemy.exc import OperationalError

from ferry.connectors._sql_errors import classify, describe
from ferry.connectors.base import Delivery, PageState
from ferry.connectors.registry import build_source, build_target, parse_connection
from ferry.errors import ConfigError, RetriableError

PASSWORD = "s3cret-Pa55"


def sql_target(url: str, name: str = "erp"):
    return build_target(parse_connection({"type": "sql", "name": name, "url": url}, path="test"))


def probe() -> Delivery:
    return Delivery(
        api="execute", method="SQL", body=None, record_ids=["r1"], options={"main_sql": "select 1"}, rows=[{}]
    )


def test_bad_mariadb_password_is_a_config_error_naming_the_connection_with_password_masked(
    mariadb_url: str,
) -> None:
    url = mariadb_url.replace("root@", f"root:{PASSWORD}@")
    with pytest.raises(ConfigError) as info:
        sql_target(url).write(probe())
    message = str(info.value)
    assert "sql connection 'erp'" in message
    assert "MySQL 1045: Access denied" in message
    assert "root:***@127.0.0.1" in message
    assert PASSWORD not in message


def test_unknown_mariadb_database_is_a_config_error(mariadb_url: str) -> None:
    url = mariadb_url.rsplit("/", 1)[0] + "/no_such_db_ferry"
    with pytest.raises(ConfigError, match="MySQL 1049: Unknown database 'no_such_db_ferry'"):
        build_source(parse_connection({"type": "sql", "name": "erp", "url": url}, path="t")).fetch(
            "select 1", "GET", {}, PageState()
        )


def test_unknown_postgres_database_is_a_config_error(postgres_url: str) -> None:
    url = postgres_url.rsplit("/", 1)[0] + "/no_such_db_ferry"
    with pytest.raises(ConfigError, match='database "no_such_db_ferry" does not exist'):
        sql_target(url).write(probe())


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(f"mysql+pymysql://root:{PASSWORD}@127.0.0.1:1/x", id="mysql"),
        pytest.param(f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:1/x", id="postgres"),
    ],
)
def test_refused_connection_is_retriable_and_masks_the_password(url: str) -> None:
    with pytest.raises(RetriableError) as info:
        sql_target(url).write(probe())
    assert "sql connection 'erp'" in str(info.value)
    assert PASSWORD not in str(info.value)


def test_unopenable_sqlite_file_is_a_config_error(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/missing-dir/x.db"
    with pytest.raises(ConfigError, match="SQLite SQLITE_CANTOPEN"):
        sql_target(url).write(probe())


def test_malformed_url_is_a_config_error_at_build_time() -> None:
    with pytest.raises(ConfigError, match="invalid database URL"):
        sql_target("nosuchdialect://u:pw@h/db")


def _pg(cls: type[psycopg.Error]) -> psycopg.Error:
    return cls("server says no")


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        pytest.param(
            pymysql.err.OperationalError(1045, "Access denied"), "config", id="mysql-1045-bad-password"
        ),
        pytest.param(
            pymysql.err.OperationalError(1049, "Unknown database"), "config", id="mysql-1049-unknown-db"
        ),
        pytest.param(pymysql.err.ProgrammingError(1064, "syntax"), "config", id="mysql-1064-syntax"),
        pytest.param(pymysql.err.ProgrammingError(1146, "no table"), "config", id="mysql-1146-no-table"),
        pytest.param(pymysql.err.OperationalError(2003, "refused"), "retriable", id="mysql-2003-refused"),
        pytest.param(pymysql.err.OperationalError(2006, "gone away"), "retriable", id="mysql-2006-gone"),
        pytest.param(pymysql.err.OperationalError(2013, "lost"), "retriable", id="mysql-2013-lost"),
        pytest.param(
            pymysql.err.OperationalError(1213, "Deadlock found"), "retriable", id="mysql-1213-deadlock"
        ),
        pytest.param(
            pymysql.err.OperationalError(1205, "Lock wait timeout"), "retriable", id="mysql-1205-lockwait"
        ),
        pytest.param(pymysql.err.InterfaceError(0, ""), "retriable", id="mysql-closed-socket"),
        pytest.param(pymysql.err.DataError(1406, "Data too long"), "data", id="mysql-1406-too-long"),
        pytest.param(pymysql.err.IntegrityError(1062, "Duplicate entry"), "data", id="mysql-1062-duplicate"),
        pytest.param(
            pymysql.err.OperationalError(1292, "Incorrect datetime"), "data", id="mysql-1292-bad-date"
        ),
        pytest.param(_pg(psycopg.errors.InvalidPassword), "config", id="pg-28P01-password"),
        pytest.param(_pg(psycopg.errors.InvalidCatalogName), "config", id="pg-3D000-unknown-db"),
        pytest.param(_pg(psycopg.errors.SyntaxError), "config", id="pg-42601-syntax"),
        pytest.param(_pg(psycopg.errors.UndefinedTable), "config", id="pg-42P01-no-table"),
        pytest.param(_pg(psycopg.errors.DeadlockDetected), "retriable", id="pg-40P01-deadlock"),
        pytest.param(_pg(psycopg.errors.LockNotAvailable), "retriable", id="pg-55P03-lock"),
        pytest.param(_pg(psycopg.errors.AdminShutdown), "retriable", id="pg-57P01-shutdown"),
        pytest.param(_pg(psycopg.errors.QueryCanceled), "retriable", id="pg-57014-timeout"),
        pytest.param(
            psycopg.OperationalError("connection failed: Connection refused"), "retriable", id="pg-refused"
        ),
        pytest.param(
            psycopg.OperationalError(
                'connection failed: FATAL:  password authentication failed for user "x"'
            ),
            "config",
            id="pg-connect-bad-password",
        ),
        pytest.param(_pg(psycopg.errors.NotNullViolation), "data", id="pg-23502-not-null"),
        pytest.param(_pg(psycopg.errors.StringDataRightTruncation), "data", id="pg-22001-too-long"),
        pytest.param(
            sqlite3.OperationalError("database is locked"), "retriable", id="sqlite-locked-by-class"
        ),
    ],
)
def test_errors_are_classified_by_recovery(error: BaseException, kind: str) -> None:
    wrapped = OperationalError("stmt", {}, error)  # SQLAlchemy wraps the DB-API error
    assert classify(error) == kind
    assert classify(wrapped) == kind


def test_describe_names_the_sql_error_code() -> None:
    assert describe(pymysql.err.DataError(1406, "Data too long for column 'x'")) == (
        "MySQL 1406: Data too long for column 'x'"
    )
    assert describe(_pg(psycopg.errors.NotNullViolation)) == "PostgreSQL 23502: server says no"
