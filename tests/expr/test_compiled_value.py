"""CompiledValue metadata (kind, constness, references, lookup schemes) and context behaviour."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from ferry.errors import RecordError
from ferry.expr import EvalContext, compile_value

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("value", "kind", "references", "schemes"),
    [
        pytest.param(None, "constant", set(), set(), id="none"),
        pytest.param({"a": "{{x}}"}, "constant", set(), set(), id="dict-is-not-scanned"),
        pytest.param("BD_OwnerOrg", "constant", set(), set(), id="plain-string"),
        pytest.param(
            "{{items.sku_id}}-{shop_no}", "template", {"items.sku_id", "shop_no"}, set(), id="template"
        ),
        pytest.param(
            "{{LAST_SYNC_TIME|datetime}} {{DAYS_AGO_1}}", "template", set(), set(), id="variables-only"
        ),
        pytest.param(
            "_findCollection find F from s1 where a={{x}} b='{{y.z}}'",
            "find",
            {"x", "y.z"},
            {"s1"},
            id="find",
        ),
        pytest.param(
            '_mongoQuery s2 findField=content.F where={"$or":[{"content.a":"{k}"},{"content.b":"{{m.n}}"}]}',
            "mongo",
            {"k", "m.n"},
            {"s2"},
            id="mongo",
        ),
    ],
)
def test_compiled_value_reports_kind_references_and_schemes(
    value: object, kind: str, references: set[str], schemes: set[str]
) -> None:
    cv = compile_value(value)
    assert cv.kind == kind
    assert cv.is_constant is (kind == "constant")
    assert cv.references == frozenset(references)
    assert cv.lookup_schemes == frozenset(schemes)


def test_constant_containers_are_not_shared_between_evaluations() -> None:
    cv = compile_value({"FNumber": "A", "list": [1]})
    first = cv.evaluate(EvalContext(row={}))
    first["list"].append(2)
    assert cv.evaluate(EvalContext(row={})) == {"FNumber": "A", "list": [1]}


def test_context_time_zone_controls_naive_times_and_output() -> None:
    cv = compile_value("{{created|timestamp}}")
    assert cv.evaluate(EvalContext(row={"created": "2024-05-01 10:00:00"})) == 1714528800
    utc = ZoneInfo("UTC")
    assert cv.evaluate(EvalContext(row={"created": "2024-05-01 10:00:00"}, tz=utc)) == 1714557600
    shown = compile_value("{{LAST_SYNC_TIME|datetime}}")
    ctx = EvalContext(row={}, variables={"LAST_SYNC_TIME": datetime(2024, 5, 1, 10, tzinfo=SHANGHAI)}, tz=utc)
    assert shown.evaluate(ctx) == "2024-05-01 02:00:00"


def test_ago_variable_without_any_clock_uses_the_wall_clock() -> None:
    before = datetime.now(SHANGHAI).timestamp()
    got = compile_value("{{MINUTES_AGO_5}}").evaluate(EvalContext(row={}))
    after = datetime.now(SHANGHAI).timestamp()
    assert before - 301 <= got <= after - 299


def test_same_compiled_value_serves_many_rows() -> None:
    cv = compile_value("{{platform_id}}-{{shop_no}}")
    rows = [{"platform_id": i, "shop_no": f"S{i}"} for i in range(3)]
    assert [cv.evaluate(EvalContext(row=r)) for r in rows] == ["0-S0", "1-S1", "2-S2"]


def test_function_without_a_clock_does_not_read_current_time() -> None:
    ctx = EvalContext(row={"a": 1}, variables={"CURRENT_TIME": "not a time"})
    assert compile_value("_function {{a}} + 1", path="p").evaluate(ctx) == 2
    with pytest.raises(RecordError, match=r"^p: variable CURRENT_TIME is not a time"):
        compile_value("_function NOW()", path="p").evaluate(ctx)
