"""``freshness`` on SQLite and MariaDB: no new record for longer than ``max_age`` fires (not a
minute before), counts only active hours when asked, opens one incident and recovers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from observe_helpers import Receiver, add_run

from ferry.observe.alerts import AlertMonitor, Finding, list_incidents, parse_alert_config
from ferry.store import Store, open_store
from ferry.store._schema import schemes

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2024, 6, 4, 10, 0, tzinfo=SH)  # a Tuesday
"""When the last run that found new records finished."""


@pytest.fixture(params=["sqlite", "mariadb"])
def db(request: pytest.FixtureRequest) -> Iterator[Store]:
    store = open_store(request.getfixturevalue(f"{request.param}_url"))
    yield store
    store.close()


def config(receiver: Receiver | None = None, **rule: Any):
    channels = {"hook": receiver.config()["hook"]} if receiver is not None else {}
    return parse_alert_config({"channels": channels, "rules": [{"type": "freshness", **rule}]}, env={})


def finding(store: Store, now: datetime, **rule: Any) -> Finding | None:
    with AlertMonitor(store, config(**rule)) as monitor:
        found = monitor.findings(now)
        assert monitor.rule_errors == {}
    return {f.subject: f for f in found["freshness"]}.get("orders")


def created(store: Store, scheme: str, at: datetime) -> None:
    """Back-date the scheme's creation (the store stamps the wall clock)."""
    with store.transaction(write=True) as conn:
        conn.execute(sa.update(schemes).where(schemes.c.id == scheme).values(created_at=at))


def collect(
    store: Store, finished: datetime, new: int, *, status: str = "succeeded", kind: str = "run"
) -> int:
    """A collecting run that finished at ``finished`` having found ``new`` records."""
    run = add_run(store, "orders", status, finished - timedelta(minutes=1), finished, kind=kind,
                  counts={"fetched": new + 3, "new": new, "unchanged": 3})  # fmt: skip
    created(store, "orders", T0 - timedelta(days=30))
    return run


def test_fires_after_max_age_without_new_records_and_not_before(db: Store) -> None:
    collect(db, T0 - timedelta(hours=1), 40)
    collect(db, T0, 12)
    for minutes in (5, 30, 60, 90):  # later runs that found nothing new do not refresh the data
        collect(db, T0 + timedelta(minutes=minutes), 0)
    add_run(db, "orders", "running", T0 + timedelta(minutes=100), counts={"new": 9})  # not finished

    before = finding(db, T0 + timedelta(hours=2))
    assert before is not None and not before.firing
    assert before.summary.startswith("new records within 2h (数据新鲜); last new records (12)")
    after = finding(db, T0 + timedelta(hours=2, minutes=1))
    assert after is not None and after.firing
    assert after.summary.startswith(
        "no new record for more than 2h (超过 2h 没有新数据); last new records (12)"
    )
    assert "2024-06-04 10:00:00 (2h 1m ago)" in after.summary
    assert after.facts["active_age_s"] == 2 * 3600 + 60 and after.facts["new"] == 12


def test_max_age_is_the_rules_setting(db: Store) -> None:
    collect(db, T0, 5)
    assert not finding(db, T0 + timedelta(minutes=29), max_age="30m").firing  # type: ignore[union-attr]
    assert finding(db, T0 + timedelta(minutes=31), max_age="30m").firing  # type: ignore[union-attr]


def test_only_active_hours_age_the_data(db: Store) -> None:
    evening = T0.replace(hour=21, minute=30)
    collect(db, evening, 7)  # the last orders of the day
    rule = {"max_age": "2h", "active_hours": "08:00-22:00"}
    next_morning = evening + timedelta(hours=11, minutes=30)  # 09:00: 30 min + 60 min of active time
    f = finding(db, next_morning, **rule)
    assert f is not None and not f.firing and f.facts["active_age_s"] == 90 * 60
    assert "of active time (08:00-22:00)" in f.summary
    assert not finding(db, next_morning + timedelta(minutes=29), **rule).firing  # type: ignore[union-attr]
    assert finding(db, next_morning + timedelta(minutes=31), **rule).firing  # type: ignore[union-attr]
    assert finding(db, next_morning, max_age="2h").firing  # type: ignore[union-attr]  # all day: 11.5 h


def test_weekends_can_be_left_out(db: Store) -> None:
    friday = datetime(2024, 6, 7, 17, 0, tzinfo=SH)
    collect(db, friday, 3)
    monday = datetime(2024, 6, 10, 9, 30, tzinfo=SH)
    rule = {
        "max_age": "2h",
        "active_hours": "09:00-18:00",
        "active_days": ["mon", "tue", "wed", "thu", "fri"],
    }
    assert not finding(db, monday, **rule).firing  # type: ignore[union-attr]  # 1 h + 30 min
    assert finding(db, monday + timedelta(minutes=31), **rule).firing  # type: ignore[union-attr]


def test_a_scheme_that_never_found_a_record_ages_from_its_creation(db: Store) -> None:
    add_run(db, "orders", "succeeded", T0, counts={"fetched": 0, "new": 0})
    created(db, "orders", T0 - timedelta(hours=1))
    assert not finding(db, T0 + timedelta(minutes=30)).firing  # type: ignore[union-attr]
    f = finding(db, T0 + timedelta(hours=1, minutes=1))
    assert f is not None and f.firing and "none of its latest 500 runs found a new record" in f.summary


def test_only_collecting_runs_count(db: Store) -> None:
    collect(db, T0, 5)
    collect(db, T0 + timedelta(hours=2), 8, kind="deliver")  # a deliver run finds nothing new
    collect(db, T0 + timedelta(hours=2), 8, kind="replay")
    assert finding(db, T0 + timedelta(hours=2, minutes=5)).firing  # type: ignore[union-attr]
    collect(db, T0 + timedelta(hours=2), 8, kind="collect", status="partial")
    assert not finding(db, T0 + timedelta(hours=2, minutes=5)).firing  # type: ignore[union-attr]


def test_a_stale_scheme_opens_one_incident_and_recovers_with_new_records(
    db: Store, receiver: Receiver
) -> None:
    collect(db, T0, 20)
    with AlertMonitor(db, config(receiver, max_age="1h")) as monitor:
        assert monitor.evaluate(T0 + timedelta(minutes=59)) == []
        [opened] = monitor.evaluate(T0 + timedelta(minutes=61))
        assert (opened.rule, opened.subject, opened.change) == ("freshness", "orders", "opened")
        assert [e.change for e in monitor.evaluate(T0 + timedelta(minutes=70))] == ["ongoing"]
        collect(db, T0 + timedelta(minutes=75), 4)
        [resolved] = monitor.evaluate(T0 + timedelta(minutes=76))
        assert (resolved.change, resolved.firing) == ("resolved", False)
    [alert, recovery] = [r.body for r in receiver.got("hook")]
    assert alert["title"] == "[Ferry 告警 ALERT] 数据不新鲜 data not fresh · orders"
    assert recovery["kind"] == "recovery" and "数据新鲜" in recovery["summary"]
    [incident] = list_incidents(db)
    assert incident["status"] == "resolved" and incident["rule"] == "freshness"
