"""The sql connector as a source: LIMIT/OFFSET paging of a user's SELECT on all three databases."""

from __future__ import annotations

from typing import Any

import pytest
from sqltest_helpers import Db

from ferry.connectors._sql_read import paged_sql
from ferry.connectors.base import Page, PageState, Rejected
from ferry.errors import ConfigError

DDL = (
    "CREATE TABLE goods (id INT PRIMARY KEY, sku VARCHAR(20) NOT NULL, grp INT NOT NULL, "
    "price DECIMAL(10,2), changed TIMESTAMP NULL, note VARCHAR(20))"
)


def seed(db: Db, n: int = 25) -> None:
    values = ", ".join(
        f"({i}, 'SKU{i:03d}', {i % 3}, {i}.50, '2024-05-{1 + i % 28:02d} 10:00:00', NULL)"
        for i in range(1, n + 1)
    )
    db.run(DDL, f"INSERT INTO goods (id, sku, grp, price, changed, note) VALUES {values}")


def read_all(db: Db, api: str, request: dict[str, Any], page_size: int) -> list[Page]:
    pages, state = [], PageState(page_size=page_size)
    while state is not None:
        page = db.connector.fetch(api, "GET", request, state)
        pages.append(page)
        state = page.next
        assert len(pages) < 50, "paging did not end"
    return pages


def test_select_is_paged_in_the_order_written_until_a_short_page(db: Db) -> None:
    seed(db)
    sql = "SELECT id, sku, price, changed FROM goods WHERE grp <> :skip_grp ORDER BY sku DESC, id"
    pages = read_all(db, sql, {"skip_grp": 0}, page_size=5)

    expected = [i for i in range(25, 0, -1) if i % 3 != 0]  # 17 rows, sku descending
    assert [len(p.records) for p in pages] == [5, 5, 5, 2]
    assert [r["id"] for p in pages for r in p.records] == expected
    assert pages[1].next == PageState(index=2, page_size=5, offset=10)
    first = pages[0].records[0]
    price = 25.5 if db.dialect == "sqlite" else "25.50"  # SQLite has no DECIMAL; others give exact text
    assert first == {"id": 25, "sku": "SKU025", "price": price, "changed": "2024-05-26 10:00:00"}


def test_exact_multiple_of_page_size_ends_with_an_empty_page(db: Db) -> None:
    seed(db, n=10)
    pages = read_all(db, "SELECT id FROM goods ORDER BY id", {}, page_size=5)
    assert [len(p.records) for p in pages] == [5, 5, 0]
    assert pages[-1].next is None


def test_main_sql_in_request_wins_and_other_keys_bind(db: Db) -> None:
    seed(db, n=6)
    request = {"main_sql": "SELECT id FROM goods WHERE id >= :min_id ORDER BY id;", "min_id": 4}
    page = db.connector.fetch("ignored", "GET", request, PageState(page_size=10))
    assert [r["id"] for r in page.records] == [4, 5, 6]
    assert page.next is None


def test_select_with_its_own_limit_is_wrapped_and_paged_inside_it(db: Db) -> None:
    seed(db, n=12)
    pages = read_all(db, "SELECT id FROM goods ORDER BY id LIMIT 7", {}, page_size=3)
    assert sorted(r["id"] for p in pages for r in p.records) == list(range(1, 8))


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        pytest.param("SELECT a FROM t ORDER BY a", "SELECT a FROM t ORDER BY a\nLIMIT", id="append"),
        pytest.param(
            "SELECT a FROM (SELECT a FROM t LIMIT 5) x", "SELECT a FROM (SELECT", id="inner-limit-only"
        ),
        pytest.param(
            "SELECT 'LIMIT' AS a FROM t -- LIMIT\n",
            "SELECT 'LIMIT' AS a FROM t -- LIMIT\nLIMIT :_ferry_limit",
            id="quoted",
        ),
        pytest.param(
            "SELECT a FROM t LIMIT 10", "SELECT * FROM (SELECT a FROM t LIMIT 10) AS ferry_page", id="wrap"
        ),
    ],
)
def test_paging_is_appended_unless_the_query_has_a_top_level_limit(sql: str, expected: str) -> None:
    assert paged_sql(sql).startswith(expected)


def test_non_select_is_rejected_before_running(sqlite: Db) -> None:
    with pytest.raises(ConfigError, match="source SQL must be a SELECT"):
        sqlite.connector.fetch("DELETE FROM goods", "GET", {}, PageState())


def test_missing_parameter_is_a_config_error_naming_it(sqlite: Db) -> None:
    seed(sqlite, n=1)
    with pytest.raises(ConfigError, match="bind parameter 'since'"):
        sqlite.connector.fetch(
            "SELECT id FROM goods WHERE changed > :since ORDER BY id", "GET", {}, PageState()
        )


def test_unknown_table_is_a_config_error_quoting_the_server(db: Db) -> None:
    with pytest.raises(ConfigError) as info:
        db.connector.fetch("SELECT id FROM no_such_table ORDER BY id", "GET", {}, PageState())
    assert "no_such_table" in str(info.value)
    assert "sql connection 'testdb'" in str(info.value)


def test_a_row_with_nan_or_infinity_stands_as_a_rejected_record_not_a_silent_null(postgres: Db) -> None:
    postgres.run(
        "CREATE TABLE readings (id INT PRIMARY KEY, value DOUBLE PRECISION)",
        "INSERT INTO readings VALUES (1, 1.5), (2, 'NaN'), (3, 'Infinity'), (4, '-Infinity'), (5, 2.5)",
    )
    (page,) = read_all(postgres, "SELECT id, value FROM readings ORDER BY id", {}, page_size=10)

    good = [r for r in page.records if not isinstance(r, Rejected)]
    bad = [r for r in page.records if isinstance(r, Rejected)]
    assert good == [{"id": 1, "value": 1.5}, {"id": 5, "value": 2.5}]
    assert [r.position for r in bad] == [1, 2, 3], "each in its place, none dropped"
    assert "column value=nan is not a finite number" in bad[0].reason
    assert "column value=inf is not a finite number" in bad[1].reason
    assert b"'id': 3" in bad[1].raw
