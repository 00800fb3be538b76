"""Database errors leave the store as Ferry errors, classified by what the caller should do."""

from __future__ import annotations

import pymysql
import pytest
import sqlalchemy as sa

from ferry.errors import FatalError, RetriableError
from ferry.store._errors import translate


class _PgError(Exception):
    def __init__(self, sqlstate: str, message: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("orig", "expected", "text"),
    [
        pytest.param(
            pymysql.err.OperationalError(1213, "Deadlock found"),
            RetriableError,
            "Deadlock",
            id="mysql-deadlock",
        ),
        pytest.param(
            pymysql.err.OperationalError(1205, "Lock wait timeout"),
            RetriableError,
            "Lock wait",
            id="mysql-lock-wait",
        ),
        pytest.param(
            pymysql.err.OperationalError(2013, "Lost connection"), RetriableError, "Lost", id="mysql-lost"
        ),
        pytest.param(
            pymysql.err.ProgrammingError(1146, "Table 'x.ledger' doesn't exist"),
            FatalError,
            "ferry store migrate",
            id="mysql-no-table",
        ),
        pytest.param(_PgError("40P01", "deadlock detected"), RetriableError, "deadlock", id="pg-deadlock"),
        pytest.param(
            _PgError("08006", "connection failure"), RetriableError, "connection", id="pg-connection"
        ),
        pytest.param(
            _PgError("42P01", 'relation "ledger" does not exist'), FatalError, "migrate", id="pg-no-table"
        ),
        pytest.param(Exception("database is locked"), RetriableError, "locked", id="sqlite-locked"),
        pytest.param(Exception("no such table: ledger"), FatalError, "migrate", id="sqlite-no-table"),
        pytest.param(Exception("CHECK constraint failed: ck_ledger_status"), FatalError, "CHECK", id="other"),
    ],
)
def test_driver_errors_are_classified(orig: Exception, expected: type[Exception], text: str) -> None:
    error = translate(sa.exc.OperationalError("SELECT 1", {}, orig), "claiming records")
    assert type(error) is expected
    assert str(error).startswith("store: claiming records failed: ")
    assert text in str(error)
