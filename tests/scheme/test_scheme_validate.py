"""Semantic checks: what passes, what fails, and how an issue reads."""

from __future__ import annotations

from typing import Any

import pytest

from ferry.errors import ExpressionError, Issue
from ferry.scheme import load_metadata, validate_metadata
from ferry.scheme._field_checks import expression_issue
from ferry.scheme._sql_checks import named_parameters, split_insert
from ferry.scheme.validate import check_crontab


def _target(request: list[dict[str, Any]], **extra: Any) -> list[Issue]:
    meta = load_metadata({"api": "/bills", "effect": "EXECUTE", "request": request, **extra})
    return validate_metadata(meta, "target")


def _source(**extra: Any) -> list[Issue]:
    meta = load_metadata({"api": "/orders", "effect": "QUERY", "id": "order_id", **extra})
    return validate_metadata(meta, "source")


def test_expression_error_reads_path_message_and_column_on_one_line() -> None:
    exc = ExpressionError(
        "unknown function FOO in _function expression",
        text="_function FOO(1)",
        column=12,
        path="target.request[3].children[1].value",
    )
    issue = expression_issue(exc, "ignored")
    first, *rest = str(issue).splitlines()
    assert (
        first == "target.request[3].children[1].value: unknown function FOO in _function expression (col 12)"
    )
    assert rest[-2:] == ["    _function FOO(1)", "               ^"]


def test_expression_error_tail_after_semicolon_becomes_the_hint() -> None:
    exc = ExpressionError("bad where condition; expected name=value separated by spaces", column=30)
    issue = expression_issue(exc, "target.request[0].value")
    assert issue.path == "target.request[0].value"
    assert issue.message == "bad where condition (col 30)"
    assert issue.hint == "expected name=value separated by spaces"


def test_valid_conditions_in_both_value_forms_pass() -> None:
    assert (
        _source(
            condition=[
                [
                    {"field": "amount", "logic": "between", "value": "100,500"},
                    {"field": "qty", "logic": "between", "value": [1, 9]},
                    {"field": "status", "logic": "in", "value": ["95", "105"]},
                    {"field": "shop_no", "logic": "notin", "value": "S1,S2"},
                    {"field": "invoice_title", "logic": "notnull"},
                    {"field": "remark", "logic": "eq", "value": ""},
                ]
            ],
            beatFlat=["items", "orders.lines"],
        )
        == []
    )


def test_flat_parent_layout_and_inferred_array_pass() -> None:
    assert (
        _target(
            [
                {"field": "FEntity", "type": "array", "value": "1"},
                {"field": "FQty", "value": "{{items.qty}}", "parent": "FEntity"},
                {
                    "field": "FSub",
                    "type": "array",
                    "children": [
                        {"field": "FSku", "value": "{{items.sku_id}}"},
                        {"field": "FNote", "value": "x"},
                    ],
                },
                {"field": "FOne", "type": "array", "children": [{"field": "FDate", "value": "{created}"}]},
            ]
        )
        == []
    )


def test_execute_extend_sql_may_use_last_insert_id_and_its_own_params() -> None:
    issues = _target(
        [
            {"field": "main_params", "type": "object", "children": [{"field": "no", "value": "{io_id}"}]},
            {"field": "extend_params_1", "type": "object", "children": [{"field": "sku", "value": "{sku}"}]},
        ],
        api="execute",
        otherRequest=[
            {"field": "main_sql", "value": "insert into h (no) values (:no)"},
            {"field": "extend_sql_1", "value": "insert into l (head_id, sku) values (:lastInsertId, :sku)"},
            {"field": "extend_sql_2", "value": "update h set x = :missing where id = :lastInsertId"},
        ],
    )
    assert [(i.path, i.message) for i in issues] == [
        ("target.otherRequest[2].value", ":missing is not a child of main_params")
    ]


def test_execute_without_main_params_or_main_sql_says_what_to_add() -> None:
    no_sql = _target([], api="execute")
    assert [(i.path, i.message) for i in no_sql] == [("target.otherRequest", "main_sql is missing")]
    no_params = _target(
        [], api="execute", otherRequest=[{"field": "main_sql", "value": "delete from t where a=:a"}]
    )
    assert no_params[0].message == "uses :a but request has no main_params object"
    assert '"field": "main_params"' in (no_params[0].hint or "")


def test_named_parameters_skip_quoted_text_casts_and_times() -> None:
    sql = "update t set a=:a, b=':notme', c=x::text, d='10:30' where e=:e and f=:a"
    assert named_parameters(sql) == ["a", "e"]


def test_split_insert_reads_table_and_quoted_columns() -> None:
    assert split_insert('INSERT IGNORE INTO `db`.`t` (`a`, b ,"c") VALUES') == ("db.t", ["a", "b", "c"])
    assert split_insert("replace into t(a) values (:a)") == ("t", ["a"])
    assert split_insert("UPDATE t SET a=1") is None


@pytest.mark.parametrize(
    ("expr", "ok"),
    [
        pytest.param("2 */2 * * *", True, id="every-two-hours"),
        pytest.param("@hourly", True, id="macro"),
        pytest.param("0 0 * * 1-5", True, id="weekdays"),
        pytest.param("0 0 * *", False, id="four-fields"),
        pytest.param("0 0 0 * * *", False, id="six-fields"),
        pytest.param("60 * * * *", False, id="minute-out-of-range"),
        pytest.param("", False, id="empty"),
    ],
)
def test_crontab_must_have_five_valid_fields(expr: str, ok: bool) -> None:
    assert (check_crontab(expr, "schedule.source") == []) is ok


def test_mongo_query_without_scheme_is_fine_once_a_lookup_scheme_is_given() -> None:
    meta = load_metadata(
        {
            "api": "/create",
            "effect": "EXECUTE",
            "request": [
                {"field": "FItemID", "value": '_mongoQuery findField=content.F where={"content.a":"{b}"}'}
            ],
        }
    )
    assert validate_metadata(meta, "target", lookup_scheme="products") == []
    (issue,) = validate_metadata(meta, "target")
    assert issue.path == "target.request[0].value"
    assert "lookup_scheme" in str(issue)


def test_operation_rows_without_batching_is_flagged() -> None:
    issues = _target([{"field": "a", "value": "1"}], operation={"method": "none", "rows": 5})
    assert [i.path for i in issues] == ["target.operation.rows"]
    assert "batchArraySave" in (issues[0].hint or "")


def test_omission_remedy_take_over_values_are_compiled() -> None:
    issues = _source(
        omissionRemedy={"crontab": "2 */2 * * *", "takeOverRequest": [{"field": "s", "value": "{{X|nope}}"}]}
    )
    assert [i.path for i in issues] == ["source.omissionRemedy.takeOverRequest[0].value"]


def test_source_pagination_page_size_must_be_positive() -> None:
    assert [i.path for i in _source(pagination={"pageSize": 0})] == ["source.pagination.pageSize"]
    assert _source(pagination={"pageSize": 50}) == []
