"""Quiet, true alerts: a misconfigured channel is reported once and its notices skipped; an
incident keeps its latest notices and counts them all."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from observe_helpers import Receiver, add_run
from typer.testing import CliRunner

from ferry.cli.main import app
from ferry.cli.serve import _alert_hook
from ferry.console._queries import alert_history
from ferry.observe.alerts import AlertMonitor, list_incidents, list_notices, parse_alert_config
from ferry.store import Store
from ferry.store.incidents import KEEP_NOTICES

T0 = datetime(2024, 5, 3, 4, 0, tzinfo=UTC)
UNSET = "FERRY_TEST_DING_TOKEN"
RULES = [{"type": "run_failed", "channels": ["hook", "ding"]}]


def channels(receiver: Receiver) -> dict[str, Any]:
    """The receiver's webhook, and a DingTalk robot whose token comes from an unset variable."""
    return {
        "hook": receiver.config()["hook"],
        "ding": {
            "type": "dingtalk",
            "webhook": f"{receiver.base}/dingtalk/robot/send?access_token=${{{UNSET}:-}}",
            "secret": "${FERRY_TEST_DING_SECRET:-}",  # empty as a whole: signing off, not a problem
        },
    }


def config(receiver: Receiver, env: dict[str, str] | None = None, **settings: Any) -> Any:
    doc = {"channels": channels(receiver), "rules": RULES, "settings": settings}
    return parse_alert_config(doc, env=env or {})


def test_unset_variables_make_a_channel_misconfigured_naming_them(receiver: Receiver) -> None:
    cfg = config(receiver)
    assert cfg.misconfigured == {"ding": [UNSET]}
    assert cfg.misconfigured_lines() == [
        f"alert channel 'ding' is misconfigured: {UNSET} is unset or empty; its notices are skipped "
        "(counted as misconfigured): set it and restart Ferry"
    ]
    assert config(receiver, {UNSET: ""}).misconfigured == {"ding": [UNSET]}  # empty counts as unset
    assert config(receiver, {UNSET: "token"}).misconfigured == {}


def test_serve_reports_a_misconfigured_channel_once_not_at_every_evaluation(
    store: Store, receiver: Receiver, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    add_run(store, "orders", "failed", T0 - timedelta(minutes=5), error="boom")
    hook, _every, close = _alert_hook(config(receiver), store, [])
    assert hook is not None
    with caplog.at_level(logging.INFO, logger="ferry.observe.alerts"):
        for minute in range(5):
            hook(T0 + timedelta(minutes=minute))
    close()
    said = [line for line in capsys.readouterr().err.splitlines() if "'ding'" in line]
    assert said == [
        f"warning: alert channel 'ding' is misconfigured: {UNSET} is unset or empty; its notices are "
        "skipped (counted as misconfigured): set it and restart Ferry"
    ]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]  # no failure per minute
    assert receiver.got("ding") == [] and receiver.got("ding", accepted=False) == []
    assert len(receiver.got("hook")) == 1


def test_notices_to_a_misconfigured_channel_are_skipped_once_and_counted(
    store: Store, receiver: Receiver
) -> None:
    add_run(store, "orders", "failed", T0 - timedelta(minutes=5), error="boom")
    with AlertMonitor(store, config(receiver)) as monitor:
        [opened] = monitor.evaluate(T0)
        assert [(n.channel, n.ok, n.skipped) for n in opened.notices] == [
            ("hook", True, False),
            ("ding", False, True),
        ]
        for minute in range(1, 4):
            assert monitor.evaluate(T0 + timedelta(minutes=minute))[0].notices == []
        add_run(store, "orders", "succeeded", T0 + timedelta(minutes=4))
        [resolved] = monitor.evaluate(T0 + timedelta(minutes=5))
    assert [(n.channel, n.kind, n.skipped) for n in resolved.notices] == [
        ("hook", "recovery", False),
        ("ding", "recovery", True),
    ]
    skipped = [n for n in list_notices(store, opened.incident_id) if n["skipped"]]
    assert [(n["kind"], n["ok"]) for n in skipped] == [("alert", False), ("recovery", False)]
    assert all(UNSET in n["error"] and "misconfigured" in n["error"] for n in skipped)
    [incident] = list_incidents(store)
    assert incident["notices"] == {"total": 4, "sent": 2, "failed": 0, "skipped": 2, "last_error": None}
    assert receiver.got("ding") == [] and receiver.got("ding", accepted=False) == []


def test_a_channel_configured_before_a_restart_gets_the_alert_of_an_open_incident(
    store: Store, receiver: Receiver
) -> None:
    add_run(store, "orders", "failed", T0 - timedelta(minutes=5), error="boom")
    with AlertMonitor(store, config(receiver)) as monitor:
        monitor.evaluate(T0)
    cfg = parse_alert_config({"channels": receiver.config(), "rules": RULES}, env={})  # ding now set
    with AlertMonitor(store, cfg) as monitor:
        [event] = monitor.evaluate(T0 + timedelta(minutes=1))
    assert [(n.channel, n.ok) for n in event.notices] == [("ding", True)]
    assert len(receiver.got("ding")) == 1 and len(receiver.got("hook")) == 1


def test_an_incident_keeps_its_latest_notices_and_counts_them_all(store: Store, receiver: Receiver) -> None:
    receiver.status["hook"] = 500  # the webhook keeps failing: one failed notice per evaluation
    add_run(store, "orders", "failed", T0 - timedelta(minutes=5), error="boom")
    cfg = parse_alert_config(
        {"channels": receiver.config(), "rules": [{"type": "run_failed", "channels": ["hook"]}],
         "settings": {"max_attempts": 30}},
        env={},
    )  # fmt: skip
    with AlertMonitor(store, cfg) as monitor:
        for minute in range(35):
            monitor.evaluate(T0 + timedelta(minutes=minute))
    # 30 attempts, then it gave up: pruning kept the attempt count
    assert len(receiver.got("hook", accepted=False)) == 30
    [incident] = list_incidents(store)
    kept = list_notices(store, incident["id"])
    assert len(kept) == KEEP_NOTICES == 20
    assert [n["attempt"] for n in kept] == list(range(11, 31))  # the latest 20, oldest first
    assert incident["notice_count"] == 30 and incident["notices"]["total"] == 30
    assert incident["notices"]["failed"] == 20
    [shown] = alert_history(store)
    assert len(shown["notices"]) == 20 and shown["notice_count"] == 30


def write_alerts(tmp_path: Path, receiver: Receiver) -> Path:
    file = tmp_path / "alerts.yaml"
    file.write_text(yaml.safe_dump({"channels": channels(receiver), "rules": RULES}), encoding="utf-8")
    return file


def test_alerts_check_reports_the_misconfigured_channel_and_test_refuses_it(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(UNSET, raising=False)
    file = write_alerts(tmp_path, receiver)
    checked = CliRunner().invoke(app, ["alerts", "check", str(file)])
    assert checked.exit_code == 0, checked.output
    assert f"alert channel 'ding' is misconfigured: {UNSET} is unset or empty" in checked.output
    assert "channel hook: webhook channel 'hook' (127.0.0.1)" in checked.output
    tested = CliRunner().invoke(app, ["alerts", "test", str(file), "ding"])
    assert tested.exit_code == 2
    assert f"alert channel 'ding' is misconfigured: {UNSET}" in tested.output
    assert receiver.got("ding") == [] and receiver.got("ding", accepted=False) == []
