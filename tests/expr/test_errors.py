"""Compile-time errors carry the value's scheme path and a 1-based column with a caret."""

from __future__ import annotations

import pytest

from ferry.errors import ExpressionError, RecordError
from ferry.expr import EvalContext, compile_value


def _compile_error(value: str, path: str = "request[3].value", **kwargs: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        compile_value(value, path=path, **kwargs)
    return info.value


def test_unknown_formatter_points_at_the_formatter_name() -> None:
    value = "FDate>='{{LAST_SYNC_TIME|isoformat}}'"
    err = _compile_error(value)
    assert err.path == "request[3].value"
    assert err.column == value.index("isoformat") + 1
    assert err.text == value
    assert str(err).startswith("request[3].value: unknown formatter 'isoformat'")
    lines = str(err).splitlines()
    assert lines[1] == f"  {value}"
    assert lines[2] == "  " + " " * value.index("isoformat") + "^"


def test_bad_findcollection_condition_points_at_the_condition() -> None:
    value = "_findCollection find FItemID from goods where FNumber {{x}}"
    err = _compile_error(value)
    assert err.column == value.index("FNumber") + 1
    assert "bad where condition" in str(err)


def test_unknown_formatter_inside_lookup_condition_is_located() -> None:
    value = "_findCollection find FItemID from goods where FNumber={{x|upper}}"
    err = _compile_error(value)
    assert err.column == value.index("upper") + 1


def test_malformed_mongo_json_points_into_the_json() -> None:
    value = '_mongoQuery goods findField=content.FID where={"content.a" "x"}'
    err = _compile_error(value)
    assert err.column == value.index('"x"') + 1
    assert "malformed where= JSON" in err.message


def test_unknown_mongo_operator_points_at_the_operator() -> None:
    value = '_mongoQuery goods findField=content.FID where={"content.a":{"$regex":"x"}}'
    err = _compile_error(value)
    assert err.column == value.index("$regex") + 1
    assert "known: $eq, $exists, $gt, $gte, $in, $lt, $lte, $ne, $nin" in err.message


def test_unknown_formatter_inside_mongo_string_leaf_is_located() -> None:
    value = '_mongoQuery goods findField=content.FID where={"content.d":{"$gt":"{{LAST_SYNC_TIME|bogus}}"}}'
    err = _compile_error(value)
    assert err.column == value.index("bogus") + 1


def test_mongo_without_scheme_says_where_to_configure_it() -> None:
    err = _compile_error('_mongoQuery findField=content.FItemID where={"content.F_103":"{sku_id}"}')
    assert str(err).startswith("request[3].value: _mongoQuery names no scheme id")
    assert "lookup_scheme" in str(err)


def test_mongo_without_scheme_compiles_with_a_default() -> None:
    cv = compile_value(
        '_mongoQuery findField=content.FItemID where={"content.F_103":"{sku_id}"}',
        default_lookup_scheme="goods",
    )
    assert cv.lookup_schemes == frozenset({"goods"})


def test_record_error_reason_starts_with_the_value_path() -> None:
    cv = compile_value("{{created|datetime}}", path="request[0].children[2].value")
    with pytest.raises(RecordError) as info:
        cv.evaluate(EvalContext(row={"created": "garbage"}))
    assert info.value.reason.startswith("request[0].children[2].value: field created: cannot apply |datetime")
    assert "'garbage'" in info.value.reason


def test_missing_variable_names_it() -> None:
    cv = compile_value("{{CURRENT_TIME|datetime}}", path="request[1].value")
    with pytest.raises(RecordError, match=r"request\[1\]\.value: variable CURRENT_TIME is not set"):
        cv.evaluate(EvalContext(row={}))
