"""The public surface of ``ferry.expr.function``: what it exports, what it hands the caller
(placeholders, lookup spans, SQL, bound values) and where compile errors point."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

import ferry.expr.function as function_pkg
from ferry.errors import ExpressionError
from ferry.expr.function import LookupSpan, compile_function
from ferry.expr.placeholders import Placeholder


def test_exported_members_are_exactly_the_documented_ones() -> None:
    assert function_pkg.__all__ == [
        "SUPPORTED_FUNCTIONS",
        "CompiledFunction",
        "LookupSpan",
        "compile_function",
        "render_text",
    ]
    assert {"CONCAT", "DATE_FORMAT", "SUM", "CAST"} <= set(function_pkg.SUPPORTED_FUNCTIONS)


def test_compile_is_cached_by_text() -> None:
    text = "_function {{a}} + 1"
    assert compile_function(text) is compile_function(text)


def test_placeholders_are_listed_in_order_and_lookup_contents_are_not() -> None:
    text = (
        "_function CONCAT('{{a}}-{b}', {{c|date}}, "
        "_findCollection find F from s1 where x={{d}} y={e} _endFind)"
    )
    items = compile_function(text).placeholders
    assert [type(i) for i in items] == [Placeholder, Placeholder, Placeholder, LookupSpan]
    assert [(i.name, i.formatter) for i in items[:3] if isinstance(i, Placeholder)] == [
        ("a", None),
        ("b", None),
        ("c", "date"),
    ]
    span = items[3]
    assert isinstance(span, LookupSpan)
    assert span.text == "_findCollection find F from s1 where x={{d}} y={e}"
    assert text[span.start : span.start + len(span.text)] == span.text
    assert text[span.end - len("_endFind") : span.end] == "_endFind"


def test_mongo_query_span_is_one_parameter() -> None:
    text = (
        '_function IFNULL(_mongoQuery s2 findField=content.FID where={"content.a":{"$eq":"{x}"}} _endFind, 0)'
    )
    (span,) = compile_function(text).placeholders
    assert isinstance(span, LookupSpan)
    assert span.text.startswith("_mongoQuery s2 findField=content.FID")
    assert compile_function(text).sql == "IFNULL(%s, 0)"


def test_sql_has_one_marker_per_parameter_and_doubles_percent() -> None:
    cf = compile_function("_function DATE_FORMAT('{{d}}', '%Y-%m') = '{{m}}' AND {{n}} LIKE '5%'")
    assert cf.sql == "DATE_FORMAT(%s, '%%Y-%%m') = %s AND %s LIKE '5%%'"


def _resolver(values: dict[str, Any]) -> Any:
    return lambda item: values[item.name if isinstance(item, Placeholder) else item.text]


def test_bind_follows_the_binding_rules() -> None:
    cf = compile_function("_function CONCAT({{f}}, {{n}}, {{s}}, {{z}}, '{{t}}/{{z}}', {{b}})")
    values = {"f": 12.5, "n": "007", "s": "12 boxes", "z": None, "t": 1.0, "b": True}
    assert cf.bind(_resolver(values)) == [Decimal("12.5"), 7, "12 boxes", None, "1.0/", 1]
    assert [type(v) for v in cf.bind(_resolver(values))][:3] == [Decimal, int, str]


def test_bind_keeps_a_list_for_an_array_path() -> None:
    cf = compile_function("_function SUM({{d.qty}})")
    assert cf.bind(_resolver({"d.qty": [1, "2.5", None]})) == [[Decimal("1"), Decimal("2.5"), None]]


def test_unknown_function_points_at_its_name_and_lists_supported_ones() -> None:
    text = "_function {{a_long_field_name}} + FOO(1)"
    with pytest.raises(ExpressionError) as info:
        compile_function(text)
    error = info.value
    assert error.column == text.index("FOO") + 1
    assert error.text == text
    assert "unknown function FOO in _function expression; supported: ABS, " in error.message
    assert str(error).endswith(f"\n  {text}\n  {' ' * text.index('FOO')}^")


def test_syntax_error_points_at_the_offending_token() -> None:
    text = "_function '{{x}}' + 2 )"
    with pytest.raises(ExpressionError, match="unexpected token") as info:
        compile_function(text)
    assert info.value.column == text.index(")") + 1


def test_empty_argument_is_a_syntax_error() -> None:
    text = "_function CONCAT('a',, 'b')"
    with pytest.raises(ExpressionError, match="empty argument") as info:
        compile_function(text)
    assert info.value.column == text.index(",,") + 2


def test_wrong_argument_count_points_at_the_call() -> None:
    text = "_function CONCAT('a', LEFT('{{s}}'))"
    with pytest.raises(ExpressionError, match=r"LEFT expects 2 argument\(s\), got 1") as info:
        compile_function(text)
    assert info.value.column == text.index("LEFT") + 1


def test_unterminated_literal_points_at_its_quote() -> None:
    text = "_function CONCAT('a', 'b)"
    with pytest.raises(ExpressionError, match="unterminated string literal") as info:
        compile_function(text)
    assert info.value.column == text.index("'b") + 1


def test_glued_placeholder_is_refused_with_a_hint() -> None:
    with pytest.raises(ExpressionError, match=r"glued to '0'.*write an operator") as info:
        compile_function("_function {{CURRENT_TIME}}000")
    assert info.value.column == len("_function {{CURRENT_TIME}}") + 1


def test_value_without_prefix_is_refused_at_column_one() -> None:
    with pytest.raises(ExpressionError, match="must start with '_function'") as info:
        compile_function("1 + 1")
    assert info.value.column == 1


def test_error_can_be_located_at_a_scheme_path() -> None:
    with pytest.raises(ExpressionError) as info:
        compile_function("_function FOO(1)")
    located = info.value.at("target.request[2].value")
    assert str(located).startswith("target.request[2].value: unknown function FOO")
