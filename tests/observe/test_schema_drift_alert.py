"""The ``schema_drift`` rule: one incident while a scheme has open drift, recovered by accepting it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from observe_helpers import Receiver

from ferry.engine.drift import accept_fingerprint
from ferry.observe.alerts import AlertMonitor, describe_rules, list_incidents, parse_alert_config
from ferry.observe.alerts.messages import describe_rule_zh
from ferry.store import Store
from ferry.store import drift as stored

T0 = datetime(2024, 5, 3, 4, 0, tzinfo=UTC)
RENAME = [
    stored.DriftEvent("items[].outerID", "appeared", None, "string", "4000117", "warn", 7),
    stored.DriftEvent("items[].outerId", "disappeared", "string", None, "4000117", "warn", 7),
]


def _config(receiver: Receiver):
    return parse_alert_config(
        {"channels": {"hook": receiver.config()["hook"]}, "rules": [{"type": "schema_drift"}]}, env={}
    )


def test_open_drift_sends_one_alert_and_accepting_it_one_recovery(store: Store, receiver: Receiver) -> None:
    store.save_scheme("kuaimai", "KuaiMai", {})
    store.save_scheme("quiet", "Quiet", {})
    with AlertMonitor(store, _config(receiver)) as monitor:
        assert [e.change for e in monitor.evaluate(T0)] == []  # nothing drifted yet
        stored.record_drift(store, "kuaimai", RENAME, T0)
        history = [monitor.evaluate(T0 + timedelta(minutes=1 + i)) for i in range(3)]
        stored.record_drift(store, "kuaimai", RENAME, T0 + timedelta(minutes=5))  # the same drift again
        history.append(monitor.evaluate(T0 + timedelta(minutes=6)))
        assert [[(e.subject, e.change) for e in events] for events in history] == [
            [("kuaimai", "opened")],
            *[[("kuaimai", "ongoing")]] * 3,
        ]
        [incident] = list_incidents(store)
        assert incident["rule"] == "schema_drift" and incident["status"] == "open"
        assert incident["summary"].startswith("2 source field(s) drifted (结构漂移 2 处) (run #7): ")
        assert "items[].outerId disappeared (was string)" in incident["summary"]
        assert "items[].outerID appeared (string)" in incident["summary"]
        [alert] = receiver.got("hook")
        assert alert.body["title"] == "[Ferry 告警 ALERT] 结构漂移 schema drift · kuaimai"
        assert alert.body["hint"] == "ferry drift show kuaimai; ferry drift accept kuaimai"

        assert stored.accept_drift(store, "kuaimai", accept_fingerprint, by="ops", now=T0) == 2
        resolved = monitor.evaluate(T0 + timedelta(minutes=7))
        assert [(e.subject, e.change) for e in resolved] == [("kuaimai", "resolved")]
        assert [r.body["status"] for r in receiver.got("hook")] == ["firing", "resolved"]
        assert [e.change for e in monitor.evaluate(T0 + timedelta(minutes=8))] == []


def test_the_rule_is_described_in_both_languages(receiver: Receiver) -> None:
    config = _config(receiver)
    [rule] = config.rules
    assert "source fields appeared, disappeared or changed type" in describe_rules(config)[0]["description"]
    assert "结构漂移" in describe_rule_zh(rule)
