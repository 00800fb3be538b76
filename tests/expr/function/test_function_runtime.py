"""Evaluation behaviour that the YAML cases cannot express: the clock, errors that MariaDB
answers without a warning, values that cannot be bound, and closure reuse."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from ferry.errors import RecordError
from ferry.expr.function import _function, compile_function


def _resolve(values: dict[str, Any]) -> Any:
    return lambda item: values[item.name]


def test_tz_aware_now_is_read_in_shanghai_time() -> None:
    cf = compile_function("_function NOW()")
    now = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
    assert cf.evaluate(_resolve({}), now) == datetime(2024, 5, 1, 10, 0)


def test_naive_now_is_taken_as_shanghai_wall_clock() -> None:
    cf = compile_function("_function CURDATE()")
    assert cf.evaluate(_resolve({}), datetime(2024, 5, 1, 23, 59)) == datetime(2024, 5, 1).date()


def test_without_now_the_wall_clock_is_used() -> None:
    result = compile_function("_function YEAR(NOW())").evaluate(_resolve({}))
    assert isinstance(result, int) and result >= 2024


def test_negative_unix_time_fails_the_record() -> None:
    # MariaDB returns NULL *without* a warning here, so this case lives outside the parity suite.
    cf = compile_function("_function FROM_UNIXTIME({{ts}})")
    with pytest.raises(RecordError, match=r"FROM_UNIXTIME: timestamp -1 is outside 0\.\.2147483647"):
        cf.evaluate(_resolve({"ts": -1}))


def test_unix_timestamp_before_1970_fails_the_record() -> None:
    cf = compile_function("_function UNIX_TIMESTAMP('{{d}}')")
    with pytest.raises(RecordError, match="outside the TIMESTAMP range"):
        cf.evaluate(_resolve({"d": "1969-12-31"}))


def test_division_by_zero_names_the_sub_expression() -> None:
    cf = compile_function("_function ROUND(({{a}} + 1) / {{b}}, 2)")
    with pytest.raises(RecordError) as info:
        cf.evaluate(_resolve({"a": 1, "b": 0}))
    assert info.value.reason == "division by zero in _function: ({{a}} + 1) / {{b}}"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param({"k": 1}, "cannot bind a dict value", id="dict"),
        pytest.param(float("nan"), "cannot bind the non-finite number nan", id="nan"),
        pytest.param([[1]], "cannot bind a list nested in a list", id="nested-list"),
        pytest.param(b"raw", "cannot bind a bytes value", id="bytes"),
    ],
)
def test_unbindable_values_fail_the_record_with_the_placeholder(value: Any, reason: str) -> None:
    cf = compile_function("_function {{v}}")
    with pytest.raises(RecordError) as info:
        cf.evaluate(_resolve({"v": value}))
    assert info.value.reason == f"{{{{v}}}}: {reason} in _function"


def test_errors_from_resolve_propagate_unchanged() -> None:
    def resolve(item: Any) -> Any:
        raise RecordError("field qty is missing", record_id="7")

    with pytest.raises(RecordError, match=r"^record 7: field qty is missing$"):
        compile_function("_function {{qty}} * 2").evaluate(resolve)


def test_each_placeholder_occurrence_is_resolved_once_per_evaluation() -> None:
    seen: list[str] = []

    def resolve(item: Any) -> Any:
        seen.append(item.name)
        return 2

    assert compile_function("_function {{a}} * {{a}} + '{{b}}{{a}}'").evaluate(resolve) == 26.0
    assert seen == ["a", "a", "b", "a"]


def test_records_of_the_same_shape_reuse_one_specialisation(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = _function.Specializer

    class Counting(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            calls.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(_function, "Specializer", Counting)
    cf = _function.CompiledFunction("_function {{price}} * {{qty}} + LENGTH('{{sku}}')")
    for i in range(50):
        assert cf.evaluate(_resolve({"price": 2, "qty": i, "sku": "ab"})) == 2 * i + 2
    assert len(calls) == 1
    assert cf.evaluate(_resolve({"price": "1.5", "qty": 2, "sku": "ab"})) == Decimal("5.0")
    assert len(calls) == 2


def test_round_places_from_a_placeholder_decide_the_scale_per_value() -> None:
    cf = compile_function("_function ROUND({{x}}, {{d}})")
    assert str(cf.evaluate(_resolve({"x": "2.34567", "d": 1}))) == "2.3"
    assert str(cf.evaluate(_resolve({"x": "2.34567", "d": 4}))) == "2.3457"


def test_sysdate_uses_the_given_clock() -> None:
    cf = compile_function("_function SYSDATE()")
    assert cf.evaluate(_resolve({}), datetime(2024, 5, 1, 10)) == datetime(2024, 5, 1, 10)
