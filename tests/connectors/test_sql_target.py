"""The sql connector as a target: execute and batchexecute on SQLite, MariaDB and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqltest_helpers import Db

from ferry.connectors import _sql_write as sql_write
from ferry.connectors.base import Delivery
from ferry.errors import ConfigError, RetriableError

COLUMNS = "id, name, qty, price, meta, updated"
ITEMS_DDL = (
    "CREATE TABLE items (id VARCHAR(20) PRIMARY KEY, name VARCHAR(10) NOT NULL, qty INT, "
    "price DECIMAL(10,2), meta TEXT, updated TIMESTAMP NULL)"
)
UPSERT = {
    "mysql": f"INSERT INTO items ({COLUMNS}) VALUES ON DUPLICATE KEY UPDATE name=VALUES(name), qty=VALUES(qty), "
    "price=VALUES(price), meta=VALUES(meta), updated=VALUES(updated)",
    "postgresql": f"INSERT INTO items ({COLUMNS}) VALUES ON CONFLICT (id) DO UPDATE SET name=excluded.name, "
    "qty=excluded.qty, price=excluded.price, meta=excluded.meta, updated=excluded.updated",
}
UPSERT["sqlite"] = UPSERT["postgresql"]


def record(i: int, name: str | None = None, **extra: Any) -> dict[str, Any]:
    """A mapped payload keyed by the scheme's request fields (names differ from the columns)."""
    row = {
        "code": f"A{i:03d}",
        "title": name if name is not None else f"item {i}",
        "count": i,
        "amount": Decimal(f"{i}.25"),
        "extra": None,
        "at": "2024-05-01 10:00:00",
    }
    row.update(extra)
    return row


def batch(rows: list[dict[str, Any]], main_sql: str, limit: Any = None) -> Delivery:
    options: dict[str, Any] = {"main_sql": main_sql}
    if limit is not None:
        options["limit"] = limit
    return Delivery(
        api="batchexecute",
        method="SQL",
        body=None,
        record_ids=[f"r{i}" for i in range(len(rows))],
        options=options,
        rows=rows,
    )


def test_batchexecute_upserts_in_limit_sized_statements_and_rewrites_existing_rows(db: Db) -> None:
    db.run(ITEMS_DDL)
    outcomes = db.connector.write(batch([record(i) for i in range(1, 6)], UPSERT[db.dialect], limit="2"))

    assert [o.ok for o in outcomes] == [True] * 5
    assert [o.record_id for o in outcomes] == ["r0", "r1", "r2", "r3", "r4"]
    assert [o.response["rows"] for o in outcomes] == [2, 2, 2, 2, 1]  # limit 2 -> statements of 2, 2, 1
    assert db.rows("SELECT id, name, qty, price FROM items ORDER BY id") == [
        (f"A{i:03d}", f"item {i}", i, Decimal(f"{i}.25")) for i in range(1, 6)
    ]

    again = db.connector.write(batch([record(2, "renamed"), record(6)], UPSERT[db.dialect]))
    assert [o.ok for o in again] == [True, True]
    assert db.rows("SELECT COUNT(*) FROM items") == [(6,)]
    assert db.rows("SELECT name FROM items WHERE id = 'A002'") == [("renamed",)]


def test_batchexecute_replace_into_overwrites_rows_on_mariadb(mariadb: Db) -> None:
    mariadb.run(ITEMS_DDL)
    sql = f"REPLACE INTO items ({COLUMNS}) VALUES"
    mariadb.connector.write(batch([record(1), record(2)], sql))
    outcomes = mariadb.connector.write(batch([record(2, "new two"), record(3)], sql))

    assert all(o.ok for o in outcomes)
    assert mariadb.rows("SELECT id, name FROM items ORDER BY id") == [
        ("A001", "item 1"),
        ("A002", "new two"),
        ("A003", "item 3"),
    ]


def test_batchexecute_accepts_seed_style_placeholder_tuple_after_values(sqlite: Db) -> None:
    sqlite.run(ITEMS_DDL)
    outcomes = sqlite.connector.write(batch([record(1)], f"INSERT INTO items ({COLUMNS}) VALUES (...)"))
    assert outcomes[0].ok
    assert sqlite.rows("SELECT id FROM items") == [("A001",)]


def test_batchexecute_isolates_a_bad_row_while_the_others_land(db: Db) -> None:
    db.run(ITEMS_DDL)
    rows = [record(1), record(2), record(3, extra={"k": 1}), record(4), record(5)]
    rows[1]["title"] = None  # NOT NULL violation

    outcomes = db.connector.write(batch(rows, UPSERT[db.dialect], limit=10))

    assert [o.ok for o in outcomes] == [True, False, True, True, True]
    bad = outcomes[1]
    expected_code = {
        "mysql": "MySQL 1048",
        "postgresql": "PostgreSQL 23502",
        "sqlite": "SQLITE_CONSTRAINT_NOTNULL",
    }
    assert expected_code[db.dialect] in bad.error
    assert "name" in bad.error
    assert db.rows("SELECT id FROM items ORDER BY id") == [("A001",), ("A003",), ("A004",), ("A005",)]


def test_batchexecute_data_too_long_names_the_mysql_error_code(mariadb: Db) -> None:
    mariadb.run(ITEMS_DDL)
    outcomes = mariadb.connector.write(batch([record(1, "x" * 11), record(2)], UPSERT["mysql"]))
    assert not outcomes[0].ok
    assert outcomes[0].error.startswith("MySQL 1406: Data too long for column 'name'")
    assert outcomes[1].ok


def test_batchexecute_encodes_dicts_and_lists_as_json_and_passes_scalars_through(db: Db) -> None:
    db.run(ITEMS_DDL)
    rows = [
        record(1, extra={"tags": ["a", "b"], "n": 1}, at=datetime(2024, 5, 1, 8, 30, 0)),
        record(2, extra=[1, 2]),
    ]
    outcomes = db.connector.write(batch(rows, UPSERT[db.dialect]))
    assert all(o.ok for o in outcomes), outcomes
    got = db.rows("SELECT id, meta, qty, price, updated FROM items ORDER BY id")
    assert got[0][1] == '{"tags":["a","b"],"n":1}'
    assert got[1][1] == "[1,2]"
    assert got[0][3] == Decimal("1.25")
    assert str(got[0][4]).startswith("2024-05-01 08:30:00")


def test_batchexecute_column_count_mismatch_names_both_lists(sqlite: Db) -> None:
    sqlite.run(ITEMS_DDL)
    rows = [{"code": "A1", "title": "x"}]
    with pytest.raises(ConfigError) as info:
        sqlite.connector.write(batch(rows, f"INSERT INTO items ({COLUMNS}) VALUES"))
    message = str(info.value)
    assert "6 columns ['id', 'name', 'qty', 'price', 'meta', 'updated']" in message
    assert "2 fields ['code', 'title']" in message


def test_batchexecute_record_missing_a_field_fails_alone(sqlite: Db) -> None:
    sqlite.run(ITEMS_DDL)
    broken = record(2)
    del broken["count"]
    outcomes = sqlite.connector.write(batch([record(1), broken, record(3)], UPSERT["sqlite"]))
    assert [o.ok for o in outcomes] == [True, False, True]
    assert "lacks field(s) ['count']" in outcomes[1].error


@pytest.mark.parametrize(
    ("main_sql", "fragment"),
    [
        pytest.param("UPDATE items SET name = 1", "batchexecute needs", id="not-an-insert"),
        pytest.param("INSERT INTO items VALUES", "batchexecute needs", id="no-column-list"),
        pytest.param("INSERT INTO items (id) VALUES ('x')", "literal values", id="literal-values"),
    ],
)
def test_batchexecute_rejects_a_main_sql_it_cannot_generate_values_for(
    sqlite: Db, main_sql: str, fragment: str
) -> None:
    with pytest.raises(ConfigError, match=fragment):
        sqlite.connector.write(batch([{"id": "x"}], main_sql))


def test_batchexecute_syntax_error_in_tail_is_a_config_error_quoting_the_server(mariadb: Db) -> None:
    mariadb.run(ITEMS_DDL)
    sql = f"INSERT INTO items ({COLUMNS}) VALUES ON DUPLICATE KEY UPDATES name=VALUES(name)"
    with pytest.raises(ConfigError) as info:
        mariadb.connector.write(batch([record(1)], sql))
    assert "MySQL 1064" in str(info.value)
    assert "sql connection 'testdb'" in str(info.value)


def test_batchexecute_invalid_limit_is_a_config_error(sqlite: Db) -> None:
    with pytest.raises(ConfigError, match=r"otherRequest.limit: must be a positive integer \(got 'lots'\)"):
        sqlite.connector.write(batch([record(1)], UPSERT["sqlite"], limit="lots"))


# -- execute ---------------------------------------------------------------------------------

ORDERS_DDL = {
    "sqlite": "CREATE TABLE so (id INTEGER PRIMARY KEY AUTOINCREMENT, so_number VARCHAR(20) NOT NULL, status VARCHAR(10))",
    "mysql": "CREATE TABLE so (id INT AUTO_INCREMENT PRIMARY KEY, so_number VARCHAR(20) NOT NULL, status VARCHAR(10))",
    "postgresql": "CREATE TABLE so (id SERIAL PRIMARY KEY, so_number VARCHAR(20) NOT NULL, status VARCHAR(10))",
}
LINES_DDL = "CREATE TABLE so_line (so_id INT NOT NULL, sku VARCHAR(20) NOT NULL, qty INT)"


def execute(rows: list[dict[str, Any]], **options: str) -> Delivery:
    return Delivery(
        api="execute",
        method="POST",
        body=None,
        record_ids=[f"r{i}" for i in range(len(rows))],
        options=options,
        rows=rows,
    )


def test_execute_runs_extend_sql_in_order_with_last_insert_id(db: Db) -> None:
    db.run(ORDERS_DDL[db.dialect], LINES_DDL)
    returning = " RETURNING id" if db.dialect == "postgresql" else ""
    rows = [
        {
            "main_params": {"no": f"SO{n}", "status": "NEW"},
            "extend_params_1": {"sku": f"SKU{n}a", "qty": 1},
            "extend_params_2": {"sku": f"SKU{n}b", "qty": 2},
        }
        for n in (1, 2)
    ]
    outcomes = db.connector.write(
        execute(
            rows,
            main_sql=f"insert into so (so_number, status) values (:no, :status){returning}",
            extend_sql_2="insert into so_line (so_id, sku, qty) values (:lastInsertId, :sku, :qty)",
            extend_sql_1="insert into so_line (so_id, sku, qty) values (:lastInsertId, :sku, :qty)",
        )
    )
    assert [o.ok for o in outcomes] == [True, True], outcomes
    ids = dict(db.rows("SELECT so_number, id FROM so"))
    assert [o.response["lastInsertId"] for o in outcomes] == [ids["SO1"], ids["SO2"]]
    assert db.rows("SELECT so_id, sku, qty FROM so_line ORDER BY sku") == [
        (ids["SO1"], "SKU1a", 1),
        (ids["SO1"], "SKU1b", 2),
        (ids["SO2"], "SKU2a", 1),
        (ids["SO2"], "SKU2b", 2),
    ]


def test_execute_failing_record_rolls_back_its_own_statements_only(db: Db) -> None:
    db.run(ORDERS_DDL[db.dialect], LINES_DDL)
    rows = [
        {"main_params": {"no": "SO1"}, "extend_params_1": {"sku": "S1"}},
        {"main_params": {"no": "SO2"}, "extend_params_1": {"sku": None}},  # the line insert fails
        {"main_params": {"no": "SO3"}, "extend_params_1": {"sku": "S3"}},
    ]
    returning = " RETURNING id" if db.dialect == "postgresql" else ""
    outcomes = db.connector.write(
        execute(
            rows,
            main_sql=f"insert into so (so_number) values (:no){returning}",
            extend_sql_1="insert into so_line (so_id, sku) values (:lastInsertId, :sku)",
        )
    )
    assert [o.ok for o in outcomes] == [True, False, True]
    assert "sku" in outcomes[1].error
    assert db.rows("SELECT so_number FROM so ORDER BY so_number") == [("SO1",), ("SO3",)]
    assert db.rows("SELECT sku FROM so_line ORDER BY sku") == [("S1",), ("S3",)]


def test_execute_missing_parameter_fails_the_record_with_its_name(sqlite: Db) -> None:
    sqlite.run(ORDERS_DDL["sqlite"])
    outcomes = sqlite.connector.write(
        execute([{"main_params": {"other": 1}}], main_sql="insert into so (so_number) values (:no)")
    )
    assert not outcomes[0].ok
    assert "'no'" in outcomes[0].error


def test_execute_syntax_error_is_a_config_error_quoting_the_server(db: Db) -> None:
    db.run(ORDERS_DDL[db.dialect])
    with pytest.raises(ConfigError) as info:
        db.connector.write(execute([{"main_params": {"no": "1"}}], main_sql="updat so set status=:no"))
    message = str(info.value)
    assert "sql connection 'testdb'" in message
    assert {"mysql": "MySQL 1064", "postgresql": "PostgreSQL 42601", "sqlite": "syntax error"}[
        db.dialect
    ] in message


def test_execute_without_main_sql_is_a_config_error(sqlite: Db) -> None:
    with pytest.raises(ConfigError, match=r"otherRequest\.main_sql: required for api 'execute'"):
        sqlite.connector.write(execute([{"main_params": {}}]))


def test_unknown_api_lists_the_known_ones(sqlite: Db) -> None:
    delivery = Delivery(api="bulkload", method="SQL", body=None, record_ids=["r0"], rows=[{}])
    with pytest.raises(
        ConfigError, match="unknown api 'bulkload' for a SQL target; known: batchexecute, execute"
    ):
        sqlite.connector.write(delivery)


# -- statements, limits and connection-level failures ----------------------------------------


def count_statements(db: Db) -> list[str]:
    """Record every statement the connector's engine sends (executemany counts once)."""
    seen: list[str] = []
    sa.event.listen(
        db.connector.engine, "before_cursor_execute", lambda conn, cursor, sql, *args: seen.append(sql)
    )
    return seen


def test_limit_sets_the_rows_per_statement(db: Db) -> None:
    db.run(ITEMS_DDL)
    statements = count_statements(db)
    db.connector.write(batch([record(i) for i in range(1, 8)], UPSERT[db.dialect], limit=3))
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    assert len(inserts) == 3  # 3 + 3 + 1 rows
    assert db.rows("SELECT COUNT(*) FROM items") == [(7,)]


def test_postgres_statements_stay_under_the_bind_parameter_cap(
    postgres: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql_write, "_PG_MAX_PARAMS", 13)  # 6 columns -> 2 rows per statement
    postgres.run(ITEMS_DDL)
    statements = count_statements(postgres)
    outcomes = postgres.connector.write(batch([record(i) for i in range(1, 6)], UPSERT["postgresql"]))
    assert all(o.ok for o in outcomes)
    assert [s.count("(%s") for s in statements if s.startswith("INSERT")] == [2, 2, 1]
    assert postgres.rows("SELECT COUNT(*) FROM items") == [(5,)]


def test_lock_wait_timeout_is_retriable(mariadb: Db, mariadb_raw) -> None:
    mariadb.run(ITEMS_DDL)
    mariadb.connector.write(batch([record(1)], UPSERT["mysql"]))
    impatient = Db(mariadb.url + "&init_command=SET innodb_lock_wait_timeout=1")
    holder = mariadb_raw(mariadb.url.rsplit("/", 1)[1].split("?")[0])
    try:
        holder.autocommit(False)
        holder.cursor().execute("SELECT * FROM items WHERE id = 'A001' FOR UPDATE")
        with pytest.raises(RetriableError, match="MySQL 1205: Lock wait timeout exceeded"):
            impatient.connector.write(batch([record(1, "locked")], UPSERT["mysql"]))
    finally:
        holder.rollback()
        holder.close()
        impatient.close()


def test_a_killed_connection_is_replaced_by_the_pre_ping(mariadb: Db, mariadb_raw) -> None:
    mariadb.run(ITEMS_DDL)
    mariadb.connector.write(batch([record(1)], UPSERT["mysql"]))
    with mariadb.connector.engine.connect() as conn:  # the pooled connection the next write reuses
        thread_id = conn.exec_driver_sql("SELECT CONNECTION_ID()").scalar()
    admin = mariadb_raw()
    admin.cursor().execute(f"KILL {thread_id}")
    admin.close()
    outcomes = mariadb.connector.write(batch([record(2)], UPSERT["mysql"]))
    assert outcomes[0].ok
    assert mariadb.rows("SELECT COUNT(*) FROM items") == [(2,)]


def test_sqlite_attach_runs_mysql_schema_qualified_sql_unchanged(tmp_path: Path) -> None:
    import sqlite3

    from ferry.connectors.registry import parse_connection
    from ferry.connectors.sql import SqlConnector

    mes = tmp_path / "ty_mes.db"
    con = sqlite3.connect(mes)
    con.execute("create table mt_so_head (SO_NUMBER text primary key, SO_STATUS text)")
    con.execute("insert into mt_so_head values ('XS1', 'OPEN'), ('XS2', 'OPEN')")
    con.commit()
    con.close()
    spec = parse_connection(
        {
            "type": "sql",
            "name": "mom",
            "url": f"sqlite:///{tmp_path / 'main.db'}",
            "sqlite_attach": {"ty_mes": str(mes)},
        },
        path="connections.yaml:mom",
    )
    connector = SqlConnector(spec)  # type: ignore[arg-type]
    sql = "update ty_mes.mt_so_head set SO_STATUS=:SO_STATUS where SO_NUMBER=:SO_NUMBER"
    outcomes = connector.write(
        Delivery(
            api="execute",
            method="POST",
            body=None,
            record_ids=["1"],
            options={"main_sql": sql},
            rows=[{"main_params": {"SO_NUMBER": "XS2", "SO_STATUS": "CLOSED"}}],
        )
    )
    connector.close()
    assert [o.ok for o in outcomes] == [True], outcomes
    con = sqlite3.connect(mes)
    assert dict(con.execute("select SO_NUMBER, SO_STATUS from mt_so_head")) == {
        "XS1": "OPEN",
        "XS2": "CLOSED",
    }


def test_sqlite_attach_is_rejected_for_other_databases() -> None:
    from ferry.connectors.registry import parse_connection

    with pytest.raises(ConfigError, match="sqlite_attach applies to sqlite:// URLs only"):
        parse_connection(
            {
                "type": "sql",
                "name": "mom",
                "url": "mysql+pymysql://u@h/db",
                "sqlite_attach": {"ty_mes": "x.db"},
            },
            path="connections.yaml:mom",
        )


# -- PyMySQL: VALUES rendered as literals (ferry.connectors._sql_literal) ---------------------

TRICKY = [
    "it's",
    'say "hi"',
    "back\\slash",
    "line\nbreak\r\n",
    "nul\0byte",
    "ctrl-z\x1a",
    "100% sure %s %(x)s",
    "') or 1=1 --",
    "订单 🚚",
    "",
]


@pytest.mark.parametrize("sql_mode", ["", "NO_BACKSLASH_ESCAPES"])
def test_pymysql_literals_equal_what_pymysql_itself_would_send(mariadb: Db, sql_mode: str) -> None:
    from ferry.connectors._sql_literal import row_renderer

    values = [*TRICKY, 0, -7, 2**63, 1.5, 1e-7, -0.0, Decimal("12.50"), Decimal("-1E+3"), None, True]
    values += [datetime(2024, 5, 1, 8, 30, 0, 123456), b"\x00\xff'"]
    with mariadb.engine.connect() as conn:
        conn.exec_driver_sql(f"SET SESSION sql_mode = '{sql_mode}'")
        raw = conn.connection.dbapi_connection
        ours = row_renderer(raw)(values)
        assert ours == "(" + ",".join(raw.escape(v) for v in values) + ")"  # type: ignore[union-attr]
        # and the server reads every value back unchanged
        got = conn.exec_driver_sql("SELECT " + ours[1:-1].replace("%", "%%")).one()
    assert list(got[: len(TRICKY)]) == TRICKY
    assert got[len(TRICKY) + 6] == Decimal("12.50") and got[len(TRICKY) + 8] is None


@pytest.mark.parametrize("sql_mode", ["", "NO_BACKSLASH_ESCAPES"])
def test_pymysql_fast_path_rows_fall_back_whenever_a_value_needs_escaping(mariadb: Db, sql_mode: str) -> None:
    """Rows of str/int/Decimal/None are rendered by a cached template; every tricky string
    and a NaN/Infinity Decimal must still come out exactly as PyMySQL escapes them."""
    from ferry.connectors._sql_literal import row_renderer

    rows = [("plain", 1, Decimal("2.50"), None), *((text, -3, Decimal("0.1"), None) for text in TRICKY)]
    rows += [("plain", 2, Decimal("NaN"), None), ("Infinity", 2, Decimal("1E+3"), None), (None, 0, None, "x")]
    rows += [
        ("E+1 E-2", 5, Decimal("1E-7"), None),
        ("-", 2**70, Decimal("-0.00"), None),
        ("NULL", 0, None, None),
    ]
    with mariadb.engine.connect() as conn:
        conn.exec_driver_sql(f"SET SESSION sql_mode = '{sql_mode}'")
        raw = conn.connection.dbapi_connection
        render = row_renderer(raw)
        for row in rows:
            if row[2] is not None and not row[2].is_finite():
                with pytest.raises(ValueError, match="decimal nan cannot be written"):
                    render(row)
                continue
            assert render(row) == "(" + ",".join(raw.escape(v) for v in row) + ")"  # type: ignore[union-attr]


@pytest.mark.parametrize("sql_mode", ["", "NO_BACKSLASH_ESCAPES"])
def test_pymysql_rows_rendered_together_equal_rows_rendered_one_by_one(mariadb: Db, sql_mode: str) -> None:
    """``rows_renderer`` checks the template-rendered text of a whole batch at once; a batch
    with one value to escape anywhere still renders every row as ``row_renderer`` does."""
    from ferry.connectors._sql_literal import row_renderer, rows_renderer

    plain = [(f"line {i}", i, Decimal(f"{i}.25"), None) for i in range(5)]
    tricky = [(text, -3, Decimal("0.1"), None) for text in TRICKY]
    mixed = [
        ("E+1", 1, None, "x"),
        (None, 2**70, Decimal("1E+3"), "y"),
        ("f", 1, 2.5, None),
        ("b", 1, b"\x00'", None),
    ]
    with mariadb.engine.connect() as conn:
        conn.exec_driver_sql(f"SET SESSION sql_mode = '{sql_mode}'")
        raw = conn.connection.dbapi_connection
        one = row_renderer(raw)
        for rows in (plain, plain + tricky[3:4] + plain, tricky, mixed + plain, []):
            assert rows_renderer(raw)(rows) == [one(row) for row in rows]
        bad = [*plain, ("nan", 1, Decimal("NaN"), None), ("inf", 1, float("inf"), None)]
        with pytest.raises(ValueError, match="decimal nan cannot be written"):  # the first bad row, as before
            rows_renderer(raw)(bad)


def test_pymysql_batchexecute_round_trips_tricky_strings_and_percent_signs(mariadb: Db) -> None:
    mariadb.run(ITEMS_DDL.replace("name VARCHAR(10)", "name VARCHAR(40)"))
    rows = [record(i, name) for i, name in enumerate(TRICKY, start=1)]
    outcomes = mariadb.connector.write(batch(rows, UPSERT["mysql"]))
    assert all(o.ok for o in outcomes), outcomes
    assert [r[0] for r in mariadb.rows("SELECT name FROM items ORDER BY id")] == TRICKY


def test_pymysql_batchexecute_fails_only_the_row_holding_an_infinite_number(mariadb: Db) -> None:
    mariadb.run(ITEMS_DDL)
    rows = [record(1), record(2, count=float("inf")), record(3, amount=Decimal("NaN")), record(4)]
    outcomes = mariadb.connector.write(batch(rows, UPSERT["mysql"]))
    assert [o.ok for o in outcomes] == [True, False, False, True]
    assert "float inf cannot be written to MySQL" in outcomes[1].error
    assert "decimal nan cannot be written to MySQL" in outcomes[2].error
    assert mariadb.rows("SELECT id FROM items ORDER BY id") == [("A001",), ("A004",)]


def test_pymysql_statements_are_split_under_the_size_cap(
    mariadb: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql_write, "MAX_STATEMENT_CHARS", 200)  # about two rendered rows
    mariadb.run(ITEMS_DDL)
    statements = count_statements(mariadb)
    outcomes = mariadb.connector.write(batch([record(i) for i in range(1, 8)], UPSERT["mysql"]))
    assert all(o.ok for o in outcomes)
    inserts = [s for s in statements if s.startswith("INSERT")]
    assert len(inserts) >= 3 and all(s.count("),(") <= 2 for s in inserts)
    assert sum(s.count("('A0") for s in inserts) == 7
    assert mariadb.rows("SELECT COUNT(*) FROM items") == [(7,)]
