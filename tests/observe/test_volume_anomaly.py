"""``volume_anomaly`` on four weeks of synthetic hourly history, stored as runs on SQLite and
MariaDB: a 10x drop and a zero fire, once per incident, and recover; the weekly pattern and a
holiday-sized dip do not fire."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from observe_helpers import Receiver
from volume_history import HOUR, NOW, TARGET, Hour, history, store_windows, usual

from ferry.observe.alerts import AlertMonitor, Finding, list_incidents, parse_alert_config
from ferry.store import Store, open_store


@pytest.fixture(params=["sqlite", "mariadb"])
def db(request: pytest.FixtureRequest) -> Iterator[Store]:
    store = open_store(request.getfixturevalue(f"{request.param}_url"))
    yield store
    store.close()


def config(receiver: Receiver | None = None, **rule: Any):
    channels = {"hook": receiver.config()["hook"]} if receiver is not None else {}
    return parse_alert_config({"channels": channels, "rules": [{"type": "volume_anomaly", **rule}]}, env={})


def finding(store: Store, now=NOW, **rule: Any) -> Finding | None:
    with AlertMonitor(store, config(**rule)) as monitor:
        found = monitor.findings(now)
        assert monitor.rule_errors == {}
    by_subject = {f.subject: f for f in found["volume_anomaly"]}
    return by_subject.get("orders")


def with_newest(store: Store, records: int, *, weeks: int = 4) -> None:
    store_windows(store, "orders", [*history(weeks), Hour(TARGET, records)])


def test_a_10x_drop_fires_with_the_counts_and_the_usual_volume(db: Store) -> None:
    expected = usual(TARGET)  # Monday 10:00, a peak hour: 120
    with_newest(db, round(expected / 10))
    f = finding(db)
    assert f is not None and f.firing
    assert f.facts["basis"] == "hour-of-week" and f.facts["samples"] == 4 and f.facts["reason"] == "z"
    assert f.facts["count"] == 12 and 100 < f.facts["median"] < 140 and f.facts["z"] < -3.5
    assert f.summary.startswith(
        "window [06-03 10:00, 06-03 11:00) collected 12 records, far fewer than usual"
    )
    assert "median of 4 hour-of-week windows" in f.summary and "数据量骤降" in f.summary


def test_zero_records_where_the_median_is_high_enough_fires_on_its_own(db: Store) -> None:
    with_newest(db, 0)
    f = finding(db, threshold=100)  # a z-score threshold nothing reaches: the zero rule alone fires
    assert f is not None and f.firing and f.facts["reason"] == "zero"
    assert "collected 0 records where the median is" in f.summary and "数据量为零" in f.summary
    assert finding(db, threshold=100, zero_when_median_at_least=None).firing is False  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("share", "firing"),
    [
        pytest.param(1.0, False, id="usual"),
        pytest.param(0.6, False, id="holiday-dip-40pct"),
        pytest.param(1.4, False, id="busy-day-plus-40pct"),
        pytest.param(0.1, True, id="10x-drop"),
        pytest.param(10.0, True, id="10x-spike"),
    ],
)
def test_only_a_large_change_fires(db: Store, share: float, firing: bool) -> None:
    with_newest(db, round(usual(TARGET) * share))
    f = finding(db)
    assert f is not None and f.firing is firing, f.summary


def test_the_quiet_weekend_is_normal_for_a_weekend_hour(db: Store) -> None:
    """Saturday 10:00 runs at 40 % of Monday 10:00: hour-of-week history knows it."""
    saturday = TARGET - timedelta(days=2)
    past = history(end=saturday)
    store_windows(db, "orders", [*past, Hour(saturday, round(usual(saturday)))])
    f = finding(db, now=saturday + HOUR + timedelta(minutes=5))
    assert f is not None and not f.firing and f.facts["basis"] == "hour-of-week"
    assert 40 <= f.facts["median"] <= 56


def test_thin_history_gives_no_verdict_then_the_same_hour_of_day(db: Store) -> None:
    store_windows(db, "orders", [*history(weeks=4)[-3 * 24 :], Hour(TARGET, 0)])  # three days
    assert finding(db) is None  # three samples of the hour: fewer than min_samples 4
    assert finding(db, min_samples=3).facts["basis"] == "hour-of-day"  # type: ignore[union-attr]


def test_a_window_read_again_counts_as_its_newest_run_saw_it(db: Store) -> None:
    """The live run found nothing (a vendor outage); the omissionRemedy sweep re-read the window
    and found the orders: the window is no longer anomalous."""
    with_newest(db, 0)
    assert finding(db).firing  # type: ignore[union-attr]
    store_windows(db, "orders", [Hour(TARGET, round(usual(TARGET)))])
    assert not finding(db, now=NOW + timedelta(minutes=30)).firing  # type: ignore[union-attr]


def test_an_anomaly_opens_one_incident_notifies_once_and_recovers(db: Store, receiver: Receiver) -> None:
    with_newest(db, round(usual(TARGET) / 10))
    with AlertMonitor(db, config(receiver)) as monitor:
        opened = monitor.evaluate(NOW)
        assert [(e.rule, e.subject, e.change) for e in opened] == [("volume_anomaly", "orders", "opened")]
        ongoing = monitor.evaluate(NOW + timedelta(minutes=1))
        assert [e.change for e in ongoing] == ["ongoing"] and not ongoing[0].notices
        [alert] = receiver.got("hook")
        assert alert.body["kind"] == "alert" and alert.body["rule_type"] == "volume_anomaly"
        assert alert.body["title"] == "[Ferry 告警 ALERT] 数据量异常 volume anomaly · orders"

        next_hour = TARGET + HOUR  # Monday 11:00-12:00 arrives at its usual volume
        store_windows(db, "orders", [Hour(next_hour, round(usual(next_hour)))])
        [resolved] = monitor.evaluate(NOW + HOUR)
        assert (resolved.change, resolved.firing) == ("resolved", False)
        assert monitor.evaluate(NOW + HOUR + timedelta(minutes=1)) == []
    kinds = [r.body["kind"] for r in receiver.got("hook")]
    assert kinds == ["alert", "recovery"]
    recovery = receiver.got("hook")[-1].body
    assert "数据量正常" in recovery["summary"] and "was 之前: window [06-03 10:00" in recovery["summary"]
    [incident] = list_incidents(db)
    assert incident["status"] == "resolved" and incident["rule"] == "volume_anomaly"


def test_schemes_not_watched_or_without_windows_get_no_finding(db: Store) -> None:
    with_newest(db, 0)
    db.save_scheme("idle", "idle", {})  # a scheme without runs
    assert finding(db, schemes=["other-*"]) is None
    with AlertMonitor(db, config()) as monitor:
        assert [f.subject for f in monitor.findings(NOW)["volume_anomaly"]] == ["orders"]
