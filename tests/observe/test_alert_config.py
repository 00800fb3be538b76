"""The alerts file: every problem reported with its path, secrets expanded and never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferry.errors import ConfigError
from ferry.observe.alerts import load_alert_config, parse_alert_config
from ferry.observe.alerts.config import DingTalkChannel, EmailChannel, StalledRule

EXAMPLE = Path(__file__).parents[2] / "examples" / "alerts.yaml"


def test_the_example_file_is_valid_and_names_every_channel_type() -> None:
    config = load_alert_config(EXAMPLE, env={"DINGTALK_SECRET": "SECabc"})
    assert {spec.type for spec in config.channels.values()} == {
        "dingtalk",
        "wecom",
        "feishu",
        "webhook",
        "email",
    }
    assert [r.type for r in config.rules] == [
        "run_failed", "error_ratio", "stalled", "dead_letters", "api_error_burst", "schema_drift",
        "stalled", "volume_anomaly", "freshness",
    ]  # fmt: skip
    ding = config.channels["ops-dingtalk"]
    assert isinstance(ding, DingTalkChannel) and ding.secret is not None
    assert ding.secret.get_secret_value() == "SECabc" and "SECabc" not in repr(config)
    mail = config.channels["mail"]
    assert isinstance(mail, EmailChannel) and mail.effective_port == 587
    stalled = config.rules[6]
    assert isinstance(stalled, StalledRule) and stalled.grace.total_seconds() == 1800
    assert stalled.watches("kuaimai-aftersale") and not stalled.watches("jst-inout")


def test_every_problem_is_reported_with_its_path_and_no_secret() -> None:
    data = {
        "channels": {
            "ding": {
                "type": "dingtalk",
                "webhook": "https://x/robot?access_token=${TOKEN}",
                "secret": "s3cr3t-value",
            },
            "pager": {"type": "pagerduty"},
            "mail": {"type": "email", "host": "smtp", "from": "a@b.c", "to": [], "pasword": "hunter22"},
        },
        "rules": [
            {"type": "error_ratio", "threshold": 1.5},
            {"type": "run_failed", "channels": ["ding", "sms"]},
            {"type": "run_failed"},
            {"type": "flapping"},
            {"type": "stalled", "grace": "soon"},
        ],
    }
    with pytest.raises(ConfigError) as caught:
        parse_alert_config(data, env={}, source="alerts.yaml")
    text = str(caught.value)
    assert text.splitlines()[0] == "alerts.yaml: 9 errors in alert config"
    for expected in (
        "channels.ding.webhook: references ${TOKEN} but environment variable TOKEN is not set",
        "channels.pager: Input tag 'pagerduty' found using 'type' does not match",
        "hint: type must be one of: dingtalk, email, feishu, webhook, wecom",
        "channels.mail.to: List should have at least 1 item",
        "channels.mail.pasword: Extra inputs are not permitted",
        "rules[0].threshold: Input should be less than or equal to 1",
        "rules[3]: Input tag 'flapping' found using 'type' does not match",
        "rules[4].grace: Value error, invalid duration 'soon'",
    ):
        assert expected in text, expected
    assert "hunter22" not in text and "s3cr3t-value" not in text


def test_rule_names_must_be_unique_and_channels_must_exist() -> None:
    data = {
        "channels": {"hook": {"type": "webhook", "url": "http://127.0.0.1/x"}},
        "rules": [{"type": "run_failed", "channels": ["hook", "sms"]}, {"type": "run_failed"}],
    }
    with pytest.raises(ConfigError) as caught:
        parse_alert_config(data, env={})
    text = str(caught.value)
    assert "rules[0].channels[1]: unknown channel 'sms'\n    hint: known: hook" in text
    assert "rules[1].name: rule name 'run_failed' is already used by rules[0]" in text


def test_env_defaults_and_dollar_escapes_are_expanded() -> None:
    data = {"channels": {"hook": {"type": "webhook", "url": "http://h/${PATH_PART:-alerts}?x=$$1",
                                  "headers": {"X-Key": "${KEY}"}}}}  # fmt: skip
    config = parse_alert_config(data, env={"KEY": "k-1"})
    hook = config.channels["hook"]
    assert hook.url.get_secret_value() == "http://h/alerts?x=$1"  # type: ignore[union-attr]
    assert hook.headers["X-Key"].get_secret_value() == "k-1"  # type: ignore[union-attr]


def test_an_unreadable_or_broken_file_says_where(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read alert config"):
        load_alert_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - type: run_failed\n   severity: high\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.yaml: .* \(line 3, column 4\)"):
        load_alert_config(bad)
    listed = tmp_path / "list.yaml"
    listed.write_text("- run_failed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="must be a mapping with channels/rules, not a list"):
        load_alert_config(listed)
