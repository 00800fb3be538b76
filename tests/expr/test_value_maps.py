"""``_map <table> <operand>``: compiled once against the scheme's tables, evaluated per record,
with each unmatched policy and every compile error located at its column."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from ferry.errors import ExpressionError, Quarantined
from ferry.expr import EvalContext, compile_value
from ferry.expr.valuemap import Unmatched, ValueMap, key_text, value_maps

PATH = "target.request[2].value"
KEEP = Unmatched()


def tables(unmatched: Unmatched = KEEP) -> dict[str, ValueMap]:
    return {
        "shops": ValueMap("shops", {"101": "Shop A", "102": {"name": "Shop B"}}, unmatched),
        "regions": ValueMap("regions", {"Shop A": "East"}),
    }


def evaluate(text: str, row: dict[str, Any], unmatched: Unmatched = KEEP) -> Any:
    with value_maps(tables(unmatched)):
        compiled = compile_value(text, path=PATH)
    return compiled.evaluate(EvalContext(row=row))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(101, "101", id="int"),
        pytest.param(101.0, "101", id="whole-float"),
        pytest.param(Decimal("101.00"), "101", id="whole-decimal"),
        pytest.param(1.25, "1.25", id="float"),
        pytest.param("  A1 ", "A1", id="trimmed"),
        pytest.param(True, "true", id="bool"),
        pytest.param(None, "", id="null"),
        pytest.param(datetime(2024, 5, 1, 8), "2024-05-01 08:00:00", id="datetime"),
    ],
)
def test_keys_are_compared_as_text(value: Any, text: str) -> None:
    assert key_text(value) == text


@pytest.mark.parametrize(
    ("text", "row", "expected"),
    [
        pytest.param("_map shops {shop}", {"shop": 101}, "Shop A", id="placeholder"),
        pytest.param("_map shops {{order.shop}}", {"order": {"shop": "101"}}, "Shop A", id="path"),
        pytest.param("_map shops {a}{b}", {"a": 10, "b": 1}, "Shop A", id="template"),
        pytest.param("_map shops _function CONCAT({a}, '01')", {"a": 1}, "Shop A", id="function"),
        pytest.param("_map regions _map shops {shop}", {"shop": 101}, "East", id="nested-map"),
        pytest.param("_map shops {shop}", {"shop": 102}, {"name": "Shop B"}, id="object-value"),
        pytest.param("_map shops {shop}", {"shop": None}, None, id="null-passes"),
        pytest.param("_map shops {shop}", {"shop": "  "}, "  ", id="blank-passes"),
    ],
)
def test_the_operand_is_any_value_and_its_result_is_looked_up(
    text: str, row: dict[str, Any], expected: Any
) -> None:
    assert evaluate(text, row) == expected


def test_a_mapped_object_is_a_copy_each_time() -> None:
    with value_maps(tables()):
        compiled = compile_value("_map shops {shop}", path=PATH)
    first = compiled.evaluate(EvalContext(row={"shop": 102}))
    first["name"] = "changed"

    assert compiled.evaluate(EvalContext(row={"shop": 102})) == {"name": "Shop B"}


def test_keep_returns_the_unmatched_value_as_it_is() -> None:
    assert evaluate("_map shops {shop}", {"shop": 999}) == 999


def test_default_returns_the_maps_default() -> None:
    assert evaluate("_map shops {shop}", {"shop": 999}, Unmatched("default", "unknown")) == "unknown"


def test_quarantine_raises_with_rule_path_value_and_reason() -> None:
    with pytest.raises(Quarantined) as caught:
        evaluate("_map shops {shop}", {"shop": 999}, Unmatched("quarantine"))

    held = caught.value
    assert (held.rule, held.path, held.value) == ("map:shops", PATH, 999)
    assert held.reason == "no match in value map 'shops' (2 entries)"


@pytest.mark.parametrize(
    ("suffix", "expected"),
    [
        pytest.param("unmatched=keep", 999, id="keep"),
        pytest.param("default=other shop", "other shop", id="default-with-spaces"),
        pytest.param("default=", "", id="empty-default"),
    ],
)
def test_a_field_overrides_the_tables_policy(suffix: str, expected: Any) -> None:
    assert evaluate(f"_map shops {{shop}} {suffix}", {"shop": 999}, Unmatched("quarantine")) == expected


def test_a_field_may_quarantine_where_the_table_keeps() -> None:
    with pytest.raises(Quarantined):
        evaluate("_map shops {shop} unmatched=quarantine", {"shop": 999})


def test_the_value_reads_the_operands_references_and_has_kind_map() -> None:
    with value_maps(tables()):
        compiled = compile_value("_map shops {{order.shop}}", path=PATH)

    assert compiled.kind == "map" and compiled.references == frozenset({"order.shop"})


def test_the_table_is_resolved_at_compile_time_not_per_record() -> None:
    with value_maps(tables()):
        compiled = compile_value("_map shops {shop}", path=PATH)

    assert compiled.evaluate(EvalContext(row={"shop": 101})) == "Shop A"  # outside the scope


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        pytest.param(
            "_map shop {x}", "unknown value map 'shop' (did you mean 'shops'?)", 6, id="did-you-mean"
        ),
        pytest.param("_map shops", "_map needs a table name and a value", 11, id="no-operand"),
        pytest.param("_map shops {x} unmatched=drop", "unknown unmatched policy 'drop'", 26, id="policy"),
        pytest.param(
            "_map shops {x} unmatched=keep default=y",
            "unmatched=keep and default= contradict each other",
            26,
            id="contradiction",
        ),
        pytest.param("_map shops {x|nope}", "unknown formatter 'nope'", 15, id="operand-error-column"),
    ],
)
def test_compile_errors_name_the_column(text: str, message: str, column: int) -> None:
    with value_maps(tables()), pytest.raises(ExpressionError) as caught:
        compile_value(text, path=PATH)

    assert caught.value.message.startswith(message) and caught.value.column == column
    assert str(caught.value).startswith(f"{PATH}: {message}")


def test_without_any_table_the_error_says_how_to_add_one() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_value("_map shops {x}", path=PATH)

    assert "the scheme has no value map: put maps/<name>.csv" in caught.value.message


def test_unmatched_values_are_counted_and_the_first_ones_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    maps = tables()
    with value_maps(maps):
        compiled = compile_value("_map shops {shop}", path=PATH)
    caplog.set_level(logging.WARNING, logger="ferry.expr.valuemap")

    for shop in (999, 999, 998, 101):
        compiled.evaluate(EvalContext(row={"shop": shop}))

    assert maps["shops"].missed == {"999": 2, "998": 1}
    assert [r.getMessage() for r in caplog.records] == [
        "value map 'shops' has no entry for '999'",
        "value map 'shops' has no entry for '998'",
    ]


def test_the_digest_is_the_content_not_the_order() -> None:
    one = ValueMap("a", {"1": "x", "2": "y"})
    other = ValueMap("b", {"2": "y", "1": "x"})

    assert one.digest == other.digest and one.digest != ValueMap("c", {"1": "x"}).digest
    assert one.describe() == f"a: 2 entries from inline, unmatched keep ({one.digest[:19]})"
