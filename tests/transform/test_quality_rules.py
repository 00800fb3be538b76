"""Quality rules compile once, report every bad rule at its path, and judge records."""

from __future__ import annotations

from typing import Any

import pytest

from ferry.errors import ConfigError
from ferry.scheme.model import QualitySpec
from ferry.transform.quality import QualityJudge, compile_quality, quality_issues


def spec(*rules: dict[str, Any], side: str = "target") -> QualitySpec:
    return QualitySpec.model_validate({side: list(rules)})


@pytest.mark.parametrize(
    ("rule", "path", "message"),
    [
        pytest.param(
            {"field": "a", "regex": "(", "action": "warn"},
            "quality.target[0].regex",
            "invalid regex",
            id="regex",
        ),
        pytest.param(
            {"field": "a", "action": "warn"}, "quality.target[0]", "rule names no check", id="no-check"
        ),
        pytest.param(
            {"field": "a", "required": True, "enum": ["x"], "action": "warn"},
            "quality.target[0]",
            "rule names 2 checks (required, enum)",
            id="two-checks",
        ),
        pytest.param(
            {"field": "a", "range": {"min": 5, "max": 1}, "action": "warn"},
            "quality.target[0].range",
            "min 5 is greater than max 1",
            id="range-order",
        ),
        pytest.param(
            {"field": "a", "range": {"low": 1}, "action": "warn"},
            "quality.target[0].range",
            "range takes {min, max}",
            id="range-keys",
        ),
        pytest.param(
            {"field": "a", "length": {"min": -1}, "action": "warn"},
            "quality.target[0].length.min",
            "must be a whole number ≥ 0",
            id="length",
        ),
        pytest.param(
            {"field": "a", "between": "1", "action": "warn"},
            "quality.target[0].between",
            "between takes two bounds",
            id="between",
        ),
        pytest.param(
            {"field": "a", "lookup": {"scheme": "p"}, "action": "warn"},
            "quality.target[0].lookup",
            "lookup takes {scheme, field}",
            id="lookup",
        ),
        pytest.param(
            {"field": "a", "expr": "FOO({a})", "action": "warn"}, "quality.target[0].expr", "FOO", id="expr"
        ),
        pytest.param(
            {"field": "a", "required": False, "action": "warn"},
            "quality.target[0].required",
            "required takes true",
            id="flag",
        ),
    ],
)
def test_a_bad_rule_is_reported_at_its_path(rule: dict[str, Any], path: str, message: str) -> None:
    issues = quality_issues(spec(rule))
    assert [i.path for i in issues] == [path]
    assert message in issues[0].message
    with pytest.raises(ConfigError, match=path.replace("[", r"\[").replace("]", r"\]")):
        compile_quality(spec(rule))


def test_every_bad_rule_of_both_sides_is_reported() -> None:
    both = QualitySpec.model_validate(
        {
            "source": [{"field": "a", "regex": "[", "action": "warn"}],
            "target": [{"field": "b", "action": "quarantine"}, {"field": "c", "enum": [], "action": "warn"}],
        }
    )
    assert [i.path for i in quality_issues(both)] == [
        "quality.source[0].regex",
        "quality.target[0]",
        "quality.target[1].enum",
    ]


def test_the_strongest_action_decides_and_every_broken_rule_is_counted() -> None:
    plan = compile_quality(
        spec(
            {"name": "qty", "field": "qty", "range": {"min": 0}, "action": "warn"},
            {"name": "sku", "field": "sku", "required": True, "action": "quarantine"},
        )
    )
    judge = QualityJudge(plan.target)
    assert judge.judge({"qty": 1, "sku": "A"}) is None
    verdict = judge.judge({"qty": -1, "sku": ""})
    assert verdict is not None and verdict.action == "quarantine"
    assert (verdict.first.rule, verdict.first.reason) == ("sku", "is required (missing or empty)")
    assert judge.rule_counts() == {"qty": {"warn": 1}, "sku": {"quarantine": 1}}


def test_a_path_across_an_array_judges_each_element_and_names_the_failing_one() -> None:
    judge = QualityJudge(compile_quality(spec({"field": "items.qty", "gt": 0, "action": "warn"})).target)
    verdict = judge.judge({"items": [{"qty": 2}, {"qty": 0}]})
    assert verdict is not None and verdict.first.reason == "element 1: must be greater than 0"


def test_a_missing_value_passes_every_check_but_required() -> None:
    judge = QualityJudge(
        compile_quality(
            spec(
                {"field": "a", "type": "int", "action": "warn"},
                {"field": "a", "range": {"min": 1}, "action": "warn"},
                {"field": "a", "regex": "^x$", "action": "warn"},
                {"field": "a", "enum": ["x"], "action": "warn"},
            )
        ).target
    )
    assert judge.judge({}) is None
