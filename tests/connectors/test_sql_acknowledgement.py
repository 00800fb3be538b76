"""What a SQL target write acknowledges: an UPDATE/DELETE that matches no row is not delivered,
a write that changes nothing is delivered and unchanged, on SQLite, MariaDB and PostgreSQL."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from sqltest_helpers import Db

from ferry.connectors._sql_ack import MainStatement, main_statement, no_match_reason
from ferry.connectors.base import Delivery

SO_DDL = "CREATE TABLE so (so_number VARCHAR(20) PRIMARY KEY, status VARCHAR(10))"
LOG_DDL = "CREATE TABLE so_log (so_number VARCHAR(20), note VARCHAR(20))"
CLOSE = "update so set status=:SO_STATUS where so_number=:SO_NUMBER"
UPSERT = {
    "mysql": "insert into so (so_number, status) values (:no, :status) "
    "on duplicate key update status=values(status)",
    "postgresql": "insert into so (so_number, status) values (:no, :status) on conflict (so_number) do nothing",
}
UPSERT["sqlite"] = UPSERT["postgresql"]
BATCH_UPSERT = {
    "mysql": "INSERT INTO so (so_number, status) VALUES ON DUPLICATE KEY UPDATE status=VALUES(status)",
    "postgresql": "INSERT INTO so (so_number, status) VALUES ON CONFLICT (so_number) DO NOTHING",
}
BATCH_UPSERT["sqlite"] = BATCH_UPSERT["postgresql"]


def execute(
    rows: list[dict[str, Any]], on_no_match: Literal["error", "ok"] = "error", **options: str
) -> Delivery:
    return Delivery(
        api="execute",
        method="POST",
        body=None,
        record_ids=[f"r{i}" for i in range(len(rows))],
        options=options,
        rows=rows,
        on_no_match=on_no_match,
    )


def close(number: str, status: str = "CLOSED") -> dict[str, Any]:
    return {"main_params": {"SO_NUMBER": number, "SO_STATUS": status}}


def test_an_update_that_matches_no_row_is_an_error_naming_the_table_and_key(db: Db) -> None:
    db.run(SO_DDL, "INSERT INTO so VALUES ('SO1', 'OPEN')")

    found, missing = db.connector.write(execute([close("SO1"), close("SO00042")], main_sql=CLOSE))

    assert found.ok and not found.unchanged
    assert not missing.ok and missing.retriable
    assert missing.error is not None
    assert missing.error.startswith("UPDATE so matched no row (so_number='SO00042'); ")
    assert "settings.on_no_match: ok" in missing.error
    assert missing.response["rowcount"] == 0
    assert db.rows("SELECT so_number, status FROM so") == [("SO1", "CLOSED")]


UNCHANGED_IS_KNOWN = {"mysql": True, "postgresql": False, "sqlite": False}
"""MariaDB tells rows matched from rows changed; PostgreSQL and SQLite count matched rows only."""


def test_an_update_of_identical_values_is_delivered_never_a_no_match(db: Db) -> None:
    db.run(SO_DDL, "INSERT INTO so VALUES ('SO1', 'CLOSED')")

    [outcome] = db.connector.write(execute([close("SO1")], main_sql=CLOSE))

    assert outcome.ok and outcome.error is None
    assert outcome.unchanged is UNCHANGED_IS_KNOWN[db.dialect]
    if db.dialect == "mysql":
        assert outcome.response == {"rowcount": 0, "lastInsertId": 0, "matched": 1}
    else:
        assert outcome.response["rowcount"] == 1


def test_an_update_that_changes_the_row_is_delivered_and_changed(mariadb: Db) -> None:
    mariadb.run(SO_DDL, "INSERT INTO so VALUES ('SO1', 'OPEN')")
    [outcome] = mariadb.connector.write(execute([close("SO1")], main_sql=CLOSE))
    assert outcome.ok and not outcome.unchanged
    assert outcome.response["matched"] == 1 and outcome.response["rowcount"] == 1


def test_a_delete_that_matches_no_row_is_an_error(db: Db) -> None:
    db.run(SO_DDL, "INSERT INTO so VALUES ('SO1', 'OPEN')")
    rows = [{"main_params": {"no": "SO1"}}, {"main_params": {"no": "SO2"}}]

    deleted, missing = db.connector.write(execute(rows, main_sql="delete from so where so_number = :no"))

    assert deleted.ok and not deleted.unchanged
    assert not missing.ok
    assert missing.error is not None and missing.error.startswith(
        "DELETE so matched no row (so_number='SO2')"
    )
    assert db.rows("SELECT COUNT(*) FROM so") == [(0,)]


def test_a_no_match_rolls_back_the_record_and_skips_its_extend_statements(db: Db) -> None:
    db.run(SO_DDL, LOG_DDL)
    log = "insert into so_log (so_number, note) values (:SO_NUMBER, 'closed')"

    [outcome] = db.connector.write(execute([close("SO9")], main_sql=CLOSE, extend_sql_1=log))

    assert not outcome.ok
    assert db.rows("SELECT COUNT(*) FROM so_log") == [(0,)]


def test_on_no_match_ok_delivers_the_record_as_unchanged_and_runs_its_extends(db: Db) -> None:
    db.run(SO_DDL, LOG_DDL)
    log = "insert into so_log (so_number, note) values (:SO_NUMBER, 'closed')"

    [outcome] = db.connector.write(execute([close("SO9")], "ok", main_sql=CLOSE, extend_sql_1=log))

    assert outcome.ok and outcome.unchanged and outcome.error is None
    assert outcome.response["rowcount"] == 0
    assert db.rows("SELECT so_number, note FROM so_log") == [("SO9", "closed")]


def test_an_insert_the_database_reports_as_unchanged_is_delivered_and_unchanged(db: Db) -> None:
    db.run(SO_DDL)
    sql = UPSERT[db.dialect]
    new = {"main_params": {"no": "SO1", "status": "OPEN"}}

    [first] = db.connector.write(execute([new], main_sql=sql))
    [again] = db.connector.write(execute([new], main_sql=sql))

    assert first.ok and not first.unchanged and first.response["rowcount"] == 1
    assert again.ok and again.unchanged and again.error is None
    assert again.response["rowcount"] == 0  # MariaDB: read without CLIENT_FOUND_ROWS
    assert db.rows("SELECT so_number, status FROM so") == [("SO1", "OPEN")]


def test_on_duplicate_key_update_with_new_values_is_changed_on_mariadb(mariadb: Db) -> None:
    mariadb.run(SO_DDL, "INSERT INTO so VALUES ('SO1', 'OPEN')")
    row = {"main_params": {"no": "SO1", "status": "CLOSED"}}
    [outcome] = mariadb.connector.write(execute([row], main_sql=UPSERT["mysql"]))
    assert outcome.ok and not outcome.unchanged and outcome.response["rowcount"] == 2


# -- batchexecute: one count per statement -----------------------------------------------------


def batch(numbers: list[str], main_sql: str, limit: int = 1000) -> Delivery:
    return Delivery(
        api="batchexecute",
        method="SQL",
        body=None,
        record_ids=numbers,
        options={"main_sql": main_sql, "limit": str(limit)},
        rows=[{"so_number": n, "status": "OPEN"} for n in numbers],
    )


def test_a_batch_statement_that_changes_nothing_marks_each_of_its_rows_unchanged(db: Db) -> None:
    db.run(SO_DDL)
    sql = BATCH_UPSERT[db.dialect]
    first = db.connector.write(batch(["A", "B"], sql))
    again = db.connector.write(batch(["A", "B"], sql))

    assert [(o.ok, o.unchanged) for o in first] == [(True, False), (True, False)]
    assert [(o.ok, o.unchanged) for o in again] == [(True, True), (True, True)]
    assert again[0].response == {"rows": 2, "rowcount": 0}


def test_a_batch_statement_with_some_rows_new_counts_every_row_as_changed(db: Db) -> None:
    db.run(SO_DDL)
    sql = BATCH_UPSERT[db.dialect]
    db.connector.write(batch(["A"], sql))

    mixed = db.connector.write(batch(["A", "C"], sql))

    assert [(o.ok, o.unchanged) for o in mixed] == [(True, False), (True, False)]
    assert mixed[0].response == {"rows": 2, "rowcount": 1}  # which row was unchanged is unknown


def test_batch_rows_written_one_per_statement_are_judged_each(db: Db) -> None:
    db.run(SO_DDL)
    sql = BATCH_UPSERT[db.dialect]
    db.connector.write(batch(["A"], sql))

    alone = db.connector.write(batch(["A", "C"], sql, limit=1))

    assert [(o.record_id, o.unchanged) for o in alone] == [("A", True), ("C", False)]


# -- the statement and the reason, without a database -------------------------------------------


@pytest.mark.parametrize(
    ("sql", "verb", "table", "keys"),
    [
        pytest.param(
            "update ty_mes.mt_so_head set SO_STATUS=:SO_STATUS where SO_NUMBER=:SO_NUMBER",
            "UPDATE",
            "ty_mes.mt_so_head",
            (("SO_NUMBER", "SO_NUMBER"),),
            id="seed-000",
        ),
        pytest.param(
            "UPDATE `erp`.`so` SET s=:s WHERE org=:org AND :no = so_no AND kind IN (:k1, :k2)",
            "UPDATE",
            "erp.so",
            (("org", "org"), ("so_no", "no"), ("kind", "k1"), ("kind", "k2")),
            id="quoted-names-several-keys",
        ),
        pytest.param("delete from t where id = :id", "DELETE", "t", (("id", "id"),), id="delete"),
        pytest.param("update t set a = 1", "UPDATE", "t", (), id="no-where"),
        pytest.param(
            "update t set a=:a where weird $$ syntax :k",
            "UPDATE",
            "t",
            ((":k", "k"),),
            id="unparsed-read-from-text",
        ),
        pytest.param("replace into t (a) values (:a)", "REPLACE", "", (), id="replace"),
        pytest.param("insert ignore into t values (:a)", "INSERT", "", (), id="insert"),
        pytest.param(
            "with q as (select 1 as k) delete from t where k = :k", "DELETE", "t", (("k", "k"),), id="cte"
        ),
    ],
)
def test_main_statement_knows_its_verb_table_and_where_keys(
    sql: str, verb: str, table: str, keys: tuple[tuple[str, str], ...]
) -> None:
    for dialect in ("mysql", "postgresql", "sqlite"):
        assert main_statement(sql, dialect) == MainStatement(verb, table, keys)


@pytest.mark.parametrize(
    ("params", "shown"),
    [
        pytest.param({"no": "SO00042"}, "(no='SO00042')", id="text"),
        pytest.param({"no": "O'Brien"}, "(no='O''Brien')", id="quote-doubled"),
        pytest.param({"no": 42}, "(no=42)", id="number"),
        pytest.param({"no": None}, "(no=NULL)", id="null"),
        pytest.param({"no": "x" * 200}, "(no='" + "x" * 80 + "...')", id="long-value-cut"),
    ],
)
def test_no_match_reason_shows_the_key_values_it_looked_for(params: dict[str, Any], shown: str) -> None:
    statement = main_statement("update t set a=1 where no = :no", "mysql")
    assert no_match_reason(statement, params).startswith(f"UPDATE t matched no row {shown}; ")
