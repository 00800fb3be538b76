from ferry.scheme.metadata import ConditionRule
from ferry.transform.condition import compile_condition


def rules(*groups):
    return [[ConditionRule(**r) for r in g] for g in groups]


ORDER = {
    "io_id": "816403",
    "invoice_title": "",
    "amount": "120.5",
    "modified": "2024-05-01 10:00:00",
    "items": [{"name": "活动A", "qty": 1}, {"name": "普通", "qty": 2}],
}


def test_outer_list_is_or_inner_list_is_and():
    keep = compile_condition(
        rules(
            [{"field": "io_id", "logic": "eq", "value": "1"}],
            [{"field": "amount", "logic": "gt", "value": "100"}],
        )
    )
    assert keep(ORDER) is ORDER
    both = compile_condition(
        rules(
            [
                {"field": "io_id", "logic": "eq", "value": "816403"},
                {"field": "amount", "logic": "lt", "value": "100"},
            ]
        )
    )
    assert both(ORDER) is None


def test_empty_invoice_title_is_dropped_like_seed_003():
    keep = compile_condition(rules([{"field": "invoice_title", "logic": "notnull"}]))
    assert keep(ORDER) is None
    assert keep({**ORDER, "invoice_title": "上海某公司"}) is not None
    assert keep({k: v for k, v in ORDER.items() if k != "invoice_title"}) is None


def test_detail_rule_without_strict_mode_removes_failing_lines_only():
    keep = compile_condition(rules([{"field": "items.name", "logic": "like", "value": "活动"}]))
    kept = keep(ORDER)
    assert kept is not None
    assert [i["name"] for i in kept["items"]] == ["活动A"]
    assert len(ORDER["items"]) == 2, "the source record must not be mutated"


def test_detail_rule_with_strict_mode_drops_the_whole_record():
    keep = compile_condition(
        rules([{"field": "items.name", "logic": "like", "value": "活动", "strictMode": True}])
    )
    assert keep(ORDER) is None
    assert keep({**ORDER, "items": [{"name": "活动B"}]}) is not None


def test_operators():
    cases = [
        ("eq", "120.50", "amount", True),
        ("neq", "120.5", "amount", False),
        ("egt", "120.5", "amount", True),
        ("elt", "120", "amount", False),
        ("between", "100,200", "amount", True),
        ("between", "121,200", "amount", False),
        ("in", "1,816403", "io_id", True),
        ("notin", ["816403"], "io_id", False),
        ("notlike", "xyz", "io_id", True),
        ("isnull", None, "invoice_title", True),
        ("gt", "2024-04-30 00:00:00", "modified", True),
        ("lt", "timestamp:1714528800", "modified", False),
    ]
    for logic, value, field, expected in cases:
        keep = compile_condition(rules([{"field": field, "logic": logic, "value": value}]))
        assert (keep(ORDER) is not None) is expected, (logic, value, field)


def test_no_condition_keeps_everything():
    assert compile_condition([])(ORDER) is ORDER


def test_compiled_rule_tests_agree_with_the_rule_semantics_for_every_operator():
    from ferry.transform.condition import _compile_test, _test

    actuals = [
        None,
        "",
        "12",
        12,
        12.0,
        "12.00",
        " 12 ",
        "abc",
        "ABC",
        True,
        "a",
        "b,c",
        "2024-05-01 10:00:00",
    ]
    expected = ["12", "12.0", 12, "abc", "a, b", ["a", "b,c"], None, "", "timestamp:1714528800", "1,20"]
    ops = [
        "eq",
        "neq",
        "like",
        "notlike",
        "in",
        "notin",
        "isnull",
        "notnull",
        "gt",
        "egt",
        "lt",
        "elt",
        "between",
    ]
    for op in ops:
        for want in expected:
            test = _compile_test(op, want)
            for actual in actuals:
                assert test(actual) == _test(op, actual, want), (op, actual, want)
