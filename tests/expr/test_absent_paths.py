"""A row placeholder whose path is absent from the record notes its value's scheme path in
``EvalContext.missed``; a path present with a null value, a variable, or a context that
collects nothing notes nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ferry.expr import EvalContext, compile_value
from ferry.expr.paths import has_path

AT = "target.request[0].value"
NOW = datetime(2024, 5, 3, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def missed(value: str, row: dict[str, Any], scope: dict[str, Any] | None = None) -> tuple[Any, list[str]]:
    """Evaluate ``value`` (compiled at ``AT``) on ``row``: the result and what it noted."""
    sink: list[str] = []
    variables = {"CURRENT_TIME": NOW, "LAST_SYNC_TIME": NOW}
    ctx = EvalContext(row=row, variables=variables, scope=scope, missed=sink)
    got = compile_value(value, path=AT).evaluate(ctx)
    return got, sink


@pytest.mark.parametrize(
    ("value", "row"),
    [
        pytest.param("{outerID}", {"outerId": "O1"}, id="simple"),
        pytest.param("{{items.outerID}}", {"items": {"outerId": "O1"}}, id="pair-in-a-dict"),
        pytest.param(
            "{{items.outerID}}", {"items_outerId": "O1", "items": {"outerId": "O1"}}, id="pair-flattened"
        ),
        pytest.param("{{items.outerID}}", {"other": 1}, id="pair-without-its-head"),
        pytest.param("{{a.b.c}}", {"a": {"b": {"d": 1}}}, id="dotted"),
        pytest.param("{{a.b.c}}", {"a": {"b": "text"}}, id="dotted-through-a-scalar"),
        pytest.param("no {outerID} here", {"outerId": "O1"}, id="in-mixed-text"),
        pytest.param("{createdAt|date}", {"created_at": "2024-05-01 10:00:00"}, id="with-a-formatter"),
        pytest.param("_function CONCAT('x', {outerID})", {"outerId": "O1"}, id="in-a-function"),
    ],
)
def test_an_absent_path_is_noted_under_the_values_scheme_path(value: str, row: dict[str, Any]) -> None:
    _, sink = missed(value, row)
    assert sink == [AT]


@pytest.mark.parametrize(
    ("value", "row", "expected"),
    [
        pytest.param("{note}", {"note": None}, None, id="simple-null"),
        pytest.param("{{items.note}}", {"items": {"note": None}}, None, id="pair-null"),
        pytest.param("{{receiver.city}}", {"receiver": None}, None, id="null-parent"),
        pytest.param("{{items.note}}", {"items_note": None}, None, id="flattened-null"),
        pytest.param("{{a.b.c}}", {"a": {"b": {"c": None}}}, None, id="dotted-null"),
        pytest.param("{items_sku}", {"items": {"sku": "S1"}}, "S1", id="flattened-element"),
        pytest.param("{{items.0.sku}}", {"items": [{"sku": "S1"}]}, "S1", id="indexed"),
        pytest.param("{{CURRENT_TIME|date}}", {}, "2024-05-03", id="a-variable"),
    ],
)
def test_a_present_path_or_a_variable_notes_nothing(value: str, row: dict[str, Any], expected: Any) -> None:
    got, sink = missed(value, row)
    if expected is not None:
        assert got == expected
    assert sink == []


def test_inside_array_children_the_current_element_is_read_and_its_absence_noted() -> None:
    element = {"sku_id": "S1"}
    assert missed("{{items.skuId}}", {"items": [element]}, scope={"items": element}) == (None, [AT])
    assert missed("{{items.sku_id}}", {"items": [element]}, scope={"items": element}) == ("S1", [])
    assert missed("{skuId}", {}, scope={"items": element}) == (None, [AT])
    assert missed("{sku_id}", {}, scope={"items": element}) == ("S1", [])


def test_a_value_compiled_without_a_path_or_a_context_without_a_sink_notes_nothing() -> None:
    sink: list[str] = []
    assert compile_value("{outerID}").evaluate(EvalContext(row={}, missed=sink)) is None
    assert sink == []
    assert compile_value("{outerID}", path=AT).evaluate(EvalContext(row={})) is None  # missed is None


def test_two_absent_placeholders_in_one_value_note_it_twice() -> None:
    _, sink = missed("{a}-{b}", {})
    assert sink == [AT, AT]


@pytest.mark.parametrize(
    ("value", "segs", "present"),
    [
        ({"a": {"b": 1}}, ("a", "b"), True),
        ({"a": {"b": None}}, ("a", "b"), True),
        ({"a": None}, ("a", "b"), True),
        ({"a": {}}, ("a", "b"), False),
        ({"a": [{"b": 1}, {}]}, ("a", "b"), True),
        ({"a": [{}, {}]}, ("a", "b"), False),
        ({"a": [{"b": 1}]}, ("a", "1", "b"), False),
        ({"a": "text"}, ("a", "b"), False),
    ],
)
def test_has_path_tells_an_absent_path_from_a_null_value(
    value: Any, segs: tuple[str, ...], present: bool
) -> None:
    assert has_path(value, segs) is present
