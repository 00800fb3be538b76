"""``ferry alerts check | test | evaluate | incidents``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from observe_helpers import Receiver, add_run
from typer.testing import CliRunner, Result

from ferry.cli.main import app
from ferry.store import Store


@pytest.fixture
def alerts_file(tmp_path: Path, receiver: Receiver) -> Path:
    file = tmp_path / "alerts.yaml"
    doc = {"channels": receiver.config(), "rules": [{"type": "run_failed", "channels": ["hook", "ding"]}]}
    file.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return file


def ferry(store: Store | None, *args: str) -> Result:
    url = [] if store is None else ["--store", store.url]
    return CliRunner().invoke(app, [*url, "alerts", *args])


def test_check_lists_channels_without_secrets_and_rules(alerts_file: Path) -> None:
    result = ferry(None, "check", str(alerts_file))
    assert result.exit_code == 0, result.output
    assert "OK" in result.output and "4 channel(s), 1 rule(s)" in result.output
    assert "channel ding: dingtalk channel 'ding' (127.0.0.1)" in result.output
    assert "rule run_failed [critical] -> hook, ding" in result.output
    assert "access_token" not in result.output and "SECdingtalk" not in result.output


def test_check_exits_2_with_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "alerts.yaml"
    bad.write_text("rules:\n  - {type: stalled, intervals: 0, channels: [nope]}\n", encoding="utf-8")
    result = ferry(None, "check", str(bad))
    assert result.exit_code == 2
    assert "2 errors in alert config" in result.output
    assert (
        "rules[0].intervals" in result.output
        and "rules[0].channels[0]: unknown channel 'nope'" in result.output
    )


def test_test_sends_a_test_notice_and_reports_a_refusal(alerts_file: Path, receiver: Receiver) -> None:
    assert ferry(None, "test", str(alerts_file), "hook").exit_code == 0
    [sent] = receiver.got("hook")
    assert (
        sent.body["kind"] == "test"
        and sent.body["title"] == "[Ferry 测试 TEST] 测试消息 test message · ferry"
    )
    receiver.status["ding"] = 500
    failed = ferry(None, "test", str(alerts_file), "ding")
    assert failed.exit_code == 1 and "HTTP 500" in failed.output
    unknown = ferry(None, "test", str(alerts_file), "sms")
    assert unknown.exit_code == 2 and "unknown channel 'sms'" in unknown.output


def test_evaluate_sends_once_and_incidents_lists_it(
    store: Store, alerts_file: Path, receiver: Receiver
) -> None:
    add_run(store, "orders", "failed", datetime.now(UTC) - timedelta(minutes=1), error="boom")
    first = ferry(store, "evaluate", str(alerts_file))
    assert first.exit_code == 1, first.output
    assert "opened   run_failed orders: 1 failed run(s) in a row" in first.output
    assert "hook ok, ding ok" in first.output
    again = ferry(store, "evaluate", str(alerts_file))
    assert again.exit_code == 1 and "ongoing" in again.output and "nothing sent" in again.output
    assert len(receiver.got("hook")) == 1

    listed = ferry(store, "incidents", "--json")
    assert listed.exit_code == 0
    [incident] = json.loads(listed.output)
    assert (incident["rule"], incident["subject"], incident["status"]) == ("run_failed", "orders", "open")
    assert incident["notices"] == {"total": 2, "sent": 2, "failed": 0, "skipped": 0, "last_error": None}
    table = ferry(store, "incidents", "--status", "open")
    assert table.exit_code == 0 and "orders" in table.output
