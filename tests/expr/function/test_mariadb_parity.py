"""MariaDB is the oracle: every case that is valid MySQL runs as ``SELECT <sql>`` with the same
bound values, and must give the case's typed ``expected`` value.

Strict-mode cases (``error`` with a RecordError) document the one deliberate difference:
MariaDB returns NULL with a warning where Ferry fails the record. Compile-error cases
(``error_type: ExpressionError``) must be rejected by MariaDB too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pymysql
import pytest
from fn_cases import case_now, load_cases, make_resolve, params, same

from ferry.expr.function import compile_function

CASES = [c for c in load_cases() if c.get("mysql", True) is not False]
_OUT_OF_RANGE = 1690  # ER_DATA_OUT_OF_RANGE: "BIGINT value is out of range"


_SHARED: list[Any] = []
"""One connection for the module's 1,400 cases (a connection each cost a third of the run)."""


@pytest.fixture(scope="module", autouse=True)
def _close_shared_connection() -> Iterator[None]:
    yield
    while _SHARED:
        _SHARED.pop().close()


def _session(mariadb_raw: Callable[[str | None], Any], case: dict[str, Any]) -> Any:
    if not _SHARED or not _SHARED[0].open:
        _SHARED[:] = [mariadb_raw(None)]
    conn = _SHARED[0]
    cursor = conn.cursor()
    cursor.execute("SET time_zone='+08:00'")
    now = case_now(case)
    if now is not None:
        cursor.execute("SET timestamp=%s", (now.timestamp(),))
    else:
        cursor.execute("SET timestamp=DEFAULT")
    return conn


@pytest.mark.parametrize("case", params(CASES))
def test_mariadb_returns_the_expected_value(case: dict[str, Any], mariadb_raw: Any) -> None:
    conn = _session(mariadb_raw, case)
    cursor = conn.cursor()
    if case.get("error_type") == "ExpressionError":
        text = case["expression"].removeprefix("_function")
        assert "{" not in text, "a compile-error case with placeholders must be marked mysql: false"
        with pytest.raises(pymysql.MySQLError):
            cursor.execute("SELECT " + text)
        return
    cf = compile_function(case["expression"])
    args = cf.bind(make_resolve(case))
    if "error" in case:
        _assert_mariadb_gives_no_value(cursor, cf.sql, args)
        return
    cursor.execute("SELECT " + cf.sql, args)
    (result,) = cursor.fetchone()
    assert same(result, case["expected"]), f"MariaDB returned {result!r}, case expects {case['expected']}"


def _assert_mariadb_gives_no_value(cursor: Any, sql: str, args: list[Any]) -> None:
    """Where Ferry fails the record, MariaDB fails the statement or returns NULL with a warning."""
    try:
        cursor.execute("SELECT " + sql, args)
    except pymysql.MySQLError as exc:
        assert exc.args[0] == _OUT_OF_RANGE, f"MariaDB failed for another reason: {exc}"
        return  # MariaDB rejects it outright: no value either
    (result,) = cursor.fetchone()
    cursor.execute("SHOW WARNINGS")
    warnings = cursor.fetchall()
    assert result is None, f"MariaDB returned {result!r} where Ferry fails the record"
    assert warnings, "MariaDB returned NULL without a warning"
