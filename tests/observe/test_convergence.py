"""Convergence: N evaluations of one failure -> one alert per channel, then one recovery per channel."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from observe_helpers import SECRETS, Mailbox, Receiver, add_dead, add_run

from ferry.observe.alerts import (
    AlertMonitor,
    describe_rules,
    list_incidents,
    list_notices,
    parse_alert_config,
)
from ferry.store import Store, open_store

T0 = datetime(2024, 5, 3, 4, 0, tzinfo=UTC)
HTTP_CHANNELS = ("ding", "wecom", "feishu", "hook")


def config(
    receiver: Receiver, mailbox: Mailbox | None = None, ding_secret: str | None = None, **settings: Any
):
    channels = receiver.config()
    if ding_secret is not None:
        channels["ding"]["secret"] = ding_secret
    if mailbox is not None:
        channels["mail"] = {"type": "email", "host": "127.0.0.1", "port": mailbox.port, "security": "none",
                            "from": "ferry@example.com", "to": ["ops@example.com"]}  # fmt: skip
    rules = [{"type": "run_failed"}, {"type": "dead_letters", "window": "1h", "channels": ["hook"]}]
    return parse_alert_config({"channels": channels, "rules": rules, "settings": settings}, env={})


def subjects(mailbox: Mailbox) -> list[str]:
    return [
        email.message_from_bytes(raw, policy=email.policy.default)["Subject"] for _, _, raw in mailbox.mails
    ]


def test_n_failures_send_one_alert_then_one_recovery_on_every_channel(
    store: Store, receiver, mailbox
) -> None:
    with AlertMonitor(store, config(receiver, mailbox)) as monitor:
        history = []
        for i in range(4):  # four failed runs, each followed by an evaluation
            at = T0 + timedelta(minutes=5 * i)
            add_run(store, "orders", "failed", at, error=f"HTTP 503 #{i}")
            history.append(monitor.evaluate(at + timedelta(seconds=30)))

        assert [[(e.rule, e.change) for e in events] for events in history] == [
            [("run_failed", "opened")],
            *[[("run_failed", "ongoing")]] * 3,
        ]
        assert [n.channel for n in history[0][0].notices] == ["ding", "wecom", "feishu", "hook", "mail"]
        assert all(n.ok for n in history[0][0].notices) and not any(e.notices for e in history[-1])
        for channel in HTTP_CHANNELS:
            assert len(receiver.got(channel)) == 1, channel
        assert receiver.requests and all(r.accepted for r in receiver.requests)
        assert subjects(mailbox) == ["[Ferry 告警 ALERT] 运行失败 run failed · orders"]
        [open_incident] = list_incidents(store)
        assert open_incident["status"] == "open" and open_incident["last_seen_at"] == T0 + timedelta(
            minutes=15, seconds=30
        )
        assert open_incident["summary"].startswith("4 failed run(s) in a row")  # the latest count is kept

        add_run(store, "orders", "succeeded", T0 + timedelta(minutes=20))
        [resolved] = monitor.evaluate(T0 + timedelta(minutes=21))
        assert (resolved.change, resolved.firing) == ("resolved", False)
        assert monitor.evaluate(T0 + timedelta(minutes=22)) == []  # nothing more, ever
        for channel in HTTP_CHANNELS:
            assert len(receiver.got(channel)) == 2, channel
        recovery = receiver.got("hook")[-1].body
        assert (recovery["kind"], recovery["subject"], recovery["resolved_at"]) == (
            "recovery", "orders", (T0 + timedelta(minutes=21)).isoformat()
        )  # fmt: skip
        assert "succeeded" in recovery["summary"] and "was 之前: 4 failed run(s)" in recovery["summary"]
        assert subjects(mailbox)[1] == "[Ferry 恢复 RESOLVED] 运行失败 run failed · orders"

        add_run(store, "orders", "failed", T0 + timedelta(minutes=30), error="again")
        [again] = monitor.evaluate(T0 + timedelta(minutes=31))
        assert again.change == "opened" and again.incident_id != resolved.incident_id
        assert len(receiver.got("ding")) == 3 and len(mailbox.mails) == 3

    incidents = list_incidents(store)
    assert [(i["id"], i["status"]) for i in incidents] == [
        (again.incident_id, "open"),
        (resolved.incident_id, "resolved"),
    ]
    assert incidents[1]["notices"] == {"total": 10, "sent": 10, "failed": 0, "skipped": 0, "last_error": None}
    assert [(n["channel"], n["kind"]) for n in list_notices(store, resolved.incident_id)][-5:] == [
        (ch, "recovery") for ch in (*HTTP_CHANNELS, "mail")
    ]


def test_a_failed_send_is_recorded_and_retried_until_it_gets_through(
    store: Store, receiver: Receiver
) -> None:
    receiver.status["hook"] = 500
    cfg = config(receiver, ding_secret="SECnot-the-secret")
    add_run(store, "orders", "failed", T0, error="boom")
    with AlertMonitor(store, cfg) as monitor:
        [first] = monitor.evaluate(T0)
        outcome = {n.channel: (n.ok, n.error) for n in first.notices}
        assert outcome["wecom"] == (True, None) and outcome["feishu"] == (True, None)
        assert not outcome["hook"][0] and "HTTP 500" in str(outcome["hook"][1])
        assert not outcome["ding"][0] and "errcode 310000: sign not match" in str(outcome["ding"][1])
        for _, error in outcome.values():
            assert not any(secret in str(error) for secret in (*SECRETS, "SECnot-the-secret"))

        # Still firing: only the two failed sends are made again.
        [second] = monitor.evaluate(T0 + timedelta(minutes=1))
        assert second.change == "ongoing" and sorted(n.channel for n in second.notices) == ["ding", "hook"]
        receiver.status.clear()
        [third] = monitor.evaluate(T0 + timedelta(minutes=2))
        assert [(n.channel, n.ok) for n in third.notices] == [("ding", False), ("hook", True)]
        [fourth] = monitor.evaluate(T0 + timedelta(minutes=3))  # refused for now: tried up to max_attempts
        assert [(n.channel, n.ok) for n in fourth.notices] == [("ding", False)]
        hook_sends = [n for n in list_notices(store, first.incident_id) if n["channel"] == "hook"]
        assert [n["ok"] for n in hook_sends] == [False, False, True]
        assert len(receiver.got("hook")) == 1 and len(receiver.got("wecom")) == 1


def test_a_channel_that_never_answers_is_given_up_after_max_attempts(
    store: Store, receiver: Receiver
) -> None:
    receiver.status["hook"] = 503
    add_run(store, "orders", "failed", T0)
    with AlertMonitor(store, config(receiver, max_attempts=2)) as monitor:
        for i in range(4):
            monitor.evaluate(T0 + timedelta(minutes=i))
        assert len(receiver.got("hook", accepted=False)) == 2
        add_run(store, "orders", "succeeded", T0 + timedelta(minutes=5))
        monitor.evaluate(T0 + timedelta(minutes=6))  # the recovery is still tried: it was a different notice
    assert len(receiver.got("hook", accepted=False)) == 3 and len(receiver.got("wecom")) == 2


def test_recovery_failing_is_retried_after_the_incident_resolved(store: Store, receiver: Receiver) -> None:
    add_run(store, "orders", "failed", T0)
    with AlertMonitor(store, config(receiver)) as monitor:
        monitor.evaluate(T0)
        add_run(store, "orders", "succeeded", T0 + timedelta(minutes=1))
        receiver.status["wecom"] = 502
        [resolved] = monitor.evaluate(T0 + timedelta(minutes=2))
        assert [(n.channel, n.ok) for n in resolved.notices if not n.ok] == [("wecom", False)]
        receiver.status.clear()
        [retried] = monitor.evaluate(T0 + timedelta(minutes=3))
    assert (retried.change, retried.firing) == ("retried", False)
    assert [(n.channel, n.kind, n.ok) for n in retried.notices] == [("wecom", "recovery", True)]


def test_incidents_of_a_removed_rule_are_closed_without_a_notice(store: Store, receiver: Receiver) -> None:
    add_run(store, "orders", "failed", T0)
    with AlertMonitor(store, config(receiver)) as monitor:
        monitor.evaluate(T0)
    sent = len(receiver.requests)
    cfg = parse_alert_config({"channels": receiver.config(), "rules": [{"type": "dead_letters"}]}, env={})
    with AlertMonitor(store, cfg) as monitor:
        assert monitor.evaluate(T0 + timedelta(minutes=1)) == []
    assert list_incidents(store)[0]["status"] == "closed" and len(receiver.requests) == sent


def test_rules_are_described_for_the_console(receiver: Receiver) -> None:
    described = describe_rules(config(receiver))
    assert described[0] == {
        "name": "run_failed", "type": "run_failed", "severity": "critical", "schemes": [],
        "channels": ["ding", "wecom", "feishu", "hook"], "misconfigured": [],
        "description": "Fires when the latest finished run/collect/deliver run of a scheme failed "
        "(runs a shutdown stopped do not count).",
        "description_zh": "触发条件：方案最近一次结束的运行/采集/推送失败（因停机而中止的运行不计）。",
    }  # fmt: skip
    assert described[1]["channels"] == ["hook"]
    assert described[1]["description"] == "Fires when at least 1 record(s) went dead in the last 1h."
    assert described[1]["description_zh"] == "触发条件：最近 1 小时内至少 1 条记录成为死信。"


@pytest.mark.parametrize(
    "db",
    [
        pytest.param("mariadb", marks=pytest.mark.mariadb),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ],
)
def test_dead_letters_converge_on_a_database_server(
    db: str, request: pytest.FixtureRequest, receiver: Receiver
) -> None:
    url = request.getfixturevalue(f"{db}_url")
    with open_store(url) as store, AlertMonitor(store, config(receiver)) as monitor:
        for i in range(3):
            add_dead(store, "kuaimai", [f"r{i}"], T0 + timedelta(minutes=i))
            events = monitor.evaluate(T0 + timedelta(minutes=i, seconds=10))
            assert [e.change for e in events] == ["opened" if i == 0 else "ongoing"]
        assert monitor.evaluate(T0 + timedelta(hours=2))[0].change == "resolved"
        add_dead(store, "kuaimai", ["late"], T0 + timedelta(hours=3))
        assert monitor.evaluate(T0 + timedelta(hours=3))[0].change == "opened"
        assert [r.body["kind"] for r in receiver.got("hook")] == ["alert", "recovery", "alert"]
        assert "3 dead in all" in receiver.got("hook")[1].body["summary"]
        assert receiver.got("ding") == []  # the rule names its channels: only the webhook
        assert [i["status"] for i in list_incidents(store)] == ["open", "resolved"]
        # A failed send is recorded and retried on the server's tables as well.
        add_run(store, "kuaimai", "failed", T0 + timedelta(hours=3))
        receiver.status["wecom"] = 500
        [run_failed] = [
            e for e in monitor.evaluate(T0 + timedelta(hours=3, minutes=1)) if e.rule == "run_failed"
        ]
        assert [(n.channel, n.ok) for n in run_failed.notices if not n.ok] == [("wecom", False)]
        receiver.status.clear()
        [retry] = [e for e in monitor.evaluate(T0 + timedelta(hours=3, minutes=2)) if e.rule == "run_failed"]
        assert [(n.channel, n.ok) for n in retry.notices] == [("wecom", True)]
