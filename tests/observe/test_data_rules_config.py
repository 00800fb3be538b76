"""The ``volume_anomaly`` and ``freshness`` rules in an alerts file: defaults, every problem with
its path and a hint, and the bilingual descriptions."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from ferry.errors import ConfigError
from ferry.observe.alerts import parse_alert_config
from ferry.observe.alerts.config import FreshnessRule, VolumeAnomalyRule
from ferry.observe.alerts.messages import describe_rule, describe_rule_zh


def test_defaults_are_four_weeks_a_robust_threshold_and_a_zero_test() -> None:
    config = parse_alert_config({"rules": [{"type": "volume_anomaly"}, {"type": "freshness"}]}, env={})
    volume, fresh = config.rules
    assert isinstance(volume, VolumeAnomalyRule) and isinstance(fresh, FreshnessRule)
    assert (volume.days, volume.threshold, volume.min_samples, volume.min_spread) == (28, 3.5, 4, 0.15)
    assert (volume.zero_when_median_at_least, volume.direction) == (5, "both")
    assert fresh.max_age == timedelta(hours=2) and fresh.hours is None and len(fresh.active_days) == 7


def test_active_hours_may_wrap_midnight() -> None:
    config = parse_alert_config({"rules": [{"type": "freshness", "active_hours": "22:00-06:30"}]}, env={})
    rule = config.rules[0]
    assert isinstance(rule, FreshnessRule) and rule.hours == (time(22), time(6, 30))


def test_every_problem_is_reported_with_its_path_and_a_hint() -> None:
    data = {
        "rules": [
            {"type": "volume_anomaly", "days": 3, "threshold": 0, "min_samples": 1,
             "zero_when_median_at_least": 0, "direction": "down", "windw": 1},
            {"type": "freshness", "max_age": "0s", "active_hours": "8-22", "active_days": ["monday"]},
            {"type": "freshness", "name": "f2", "max_age": "soon", "active_hours": "09:00-09:00"},
        ]
    }  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        parse_alert_config(data, env={}, source="alerts.yaml")
    text = str(caught.value)
    assert text.splitlines()[0] == "alerts.yaml: 11 errors in alert config"
    for line in [
        "  rules[0].days: Input should be greater than or equal to 7",
        "    hint: hour-of-week history needs at least a week; 28 gives four samples of each hour",
        "  rules[0].threshold: Input should be greater than 0",
        "  rules[0].min_samples: Input should be greater than or equal to 3",
        "  rules[0].zero_when_median_at_least: Input should be greater than or equal to 1",
        "    hint: a number of records, e.g. 5; null turns the zero test off",
        "  rules[0].direction: Input should be 'both', 'drop' or 'spike'",
        "  rules[0].windw: Extra inputs are not permitted",
        "  rules[1].max_age: Value error, must be a positive duration, e.g. 2h",
        "  rules[1].active_hours: Value error, invalid active_hours '8-22'; write HH:MM-HH:MM, e.g. 08:00-22:00",
        '    hint: quote it in YAML: active_hours: "08:00-22:00"',
        "  rules[1].active_days[0]: Input should be 'mon', 'tue', 'wed', 'thu', 'fri', 'sat' or 'sun'",
        "  rules[2].max_age: Value error, invalid duration 'soon'; write e.g. 30s, 5m, 1h, 7d or a number of seconds",
        "  rules[2].active_hours: Value error, active_hours '09:00-09:00' is an empty range; omit it to count the whole day",
    ]:
        assert line in text.splitlines(), line


def test_hints_belong_to_their_rule_type() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_alert_config({"rules": [{"type": "error_ratio", "threshold": 2}]}, env={})
    assert "hint" not in str(caught.value)  # the volume threshold's hint is not error_ratio's


def test_descriptions_say_when_each_rule_fires_in_both_languages() -> None:
    config = parse_alert_config(
        {"rules": [
            {"type": "volume_anomaly", "direction": "drop", "schemes": ["kuaimai-*"]},
            {"type": "volume_anomaly", "name": "spikes", "direction": "spike"},
            {"type": "freshness", "max_age": "90m", "active_hours": "08:00-22:00"},
        ]},
        env={},
    )  # fmt: skip
    drop, spike, fresh = config.rules
    assert describe_rule(drop) == (
        "Fires when a scheme's newest window collected far fewer records than the same hour of the "
        "week in the last 28 days (robust z-score beyond 3.5), or none where the median is at least 5 "
        "(schemes kuaimai-*)."
    )
    assert "or none" not in describe_rule(spike) and "far more records" in describe_rule(spike)
    assert describe_rule(fresh) == (
        "Fires when a scheme found no new record for more than 1h 30m of active time (08:00-22:00)."
    )
    assert describe_rule_zh(drop).startswith("触发条件：方案最新窗口的采集量相比最近 28 天同一周时段骤降")
    assert (
        describe_rule_zh(fresh)
        == "触发条件：方案超过 1 小时 30 分钟没有采集到新记录（仅计活跃时段 08:00-22:00）。"
    )
