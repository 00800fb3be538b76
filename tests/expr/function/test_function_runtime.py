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


@pytest.mark.parametrize(
    ("text", "uses_clock"),
    [
        pytest.param("_function NOW()", True, id="now"),
        pytest.param("_function CURDATE()", True, id="curdate"),
        pytest.param("_function UNIX_TIMESTAMP()", True, id="unix-timestamp-now"),
        pytest.param("_function DATE_ADD(NOW(), INTERVAL 1 DAY)", True, id="nested"),
        pytest.param("_function UNIX_TIMESTAMP('{{d}}')", False, id="unix-timestamp-of-a-value"),
        pytest.param("_function ROUND({{a}} * {{b}}, 2)", False, id="arithmetic"),
    ],
)
def test_uses_clock_tells_whether_now_is_read(text: str, uses_clock: bool) -> None:
    assert compile_function(text).uses_clock is uses_clock


def test_evaluator_reads_the_clock_only_when_the_expression_uses_it() -> None:
    calls: list[Any] = []

    def clock(ctx: Any) -> datetime:
        calls.append(ctx)
        return datetime(2024, 5, 1, 2, 0, tzinfo=UTC)

    plain = compile_function("_function {{a}} + 1")
    assert plain.evaluator([lambda ctx: ctx["a"]], clock)({"a": 2}) == 3
    assert calls == []
    timed = compile_function("_function UNIX_TIMESTAMP() + {{a}}")
    assert timed.evaluator([lambda ctx: ctx["a"]], clock)({"a": 1}) == 1714528801
    assert calls == [{"a": 1}]


def test_evaluator_gives_what_evaluate_gives() -> None:
    text = "_function CONCAT('{{s}}:', ROUND({{q}} * {{p}} - {{d}}, 2), IFNULL({{n}}, 'none'))"
    cf = compile_function(text)
    names = [item.name for item in cf.placeholders]
    run = cf.evaluator([lambda row, name=name: row[name] for name in names], lambda row: None)
    rows = [
        {"s": "SKU'1", "q": 3, "p": 280.14, "d": 0.5, "n": None},
        {"s": "", "q": "2", "p": "1.25", "d": 0, "n": 7},
        {"s": None, "q": 1.5, "p": 2, "d": "x", "n": "y"},
    ]
    for row in rows:
        assert run(row) == cf.evaluate(lambda item, row=row: row[item.name])
    assert run(rows[0]) == "SKU'1:839.92none"


def test_evaluator_needs_one_getter_per_placeholder() -> None:
    with pytest.raises(ValueError, match="expected 2 getters, got 1"):
        compile_function("_function {{a}} + {{b}}").evaluator([lambda ctx: 1], lambda ctx: None)


def test_a_float_binds_alike_every_time_it_comes_back() -> None:
    """Bindings of floats are remembered; a repeat, a zero of the other sign and a float
    subclass with its own text must bind as a fresh value would."""
    from ferry.expr.function._types import _bind_float, bare_value

    class Shown(float):
        def __repr__(self) -> str:
            return f"Shown({float(self)!r})"

    values = [209.67, 1e16, 0.0, -0.0, 2.5, 209.67, -0.0, 0.0, 1e16, 1e300]
    for value in values:
        for _ in range(2):
            got, expected = bare_value(value), _bind_float(value)
            assert got == expected and str(got[0]) == str(expected[0])
    assert [str(bare_value(v)[0]) for v in (0.0, -0.0, 0.0)] == ["0.0", "-0.0", "0.0"]
    bare_value(1.5)
    assert bare_value(Shown(1.5)) == (Shown(1.5), _bind_float(Shown(1.5))[1])
    cf = compile_function("_function ROUND({{q}} * {{p}} - {{d}}, 2)")
    for _ in range(3):
        assert str(cf.evaluate(_resolve({"q": 3, "p": 280.14, "d": -0.0}))) == "840.42"
