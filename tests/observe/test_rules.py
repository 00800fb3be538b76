"""Each rule, firing and not firing, on store states built for it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from observe_helpers import add_dead, add_run

from ferry.observe.alerts import AlertMonitor, Finding, parse_alert_config
from ferry.scheme.loader import load_scheme
from ferry.store import Store
from ferry.store._schema import api_calls
from ferry.store.alert_queries import first_id_since

NOW = datetime(2024, 5, 3, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai, on a */5 slot


def findings(store: Store, rule: dict[str, Any], now: datetime = NOW, schemes=None) -> dict[str, Finding]:
    config = parse_alert_config({"rules": [rule]}, env={})
    with AlertMonitor(store, config, schemes=schemes) as monitor:
        found = monitor.findings(now)
        assert monitor.rule_errors == {}
    return {f.subject: f for f in found[config.rules[0].name]}


# -- run_failed ------------------------------------------------------------------------------------


def test_run_failed_fires_with_the_streak_and_the_last_error(store: Store) -> None:
    add_run(store, "s1", "succeeded", NOW - timedelta(hours=3))
    add_run(store, "s1", "failed", NOW - timedelta(hours=2), error="first")
    last = add_run(store, "s1", "failed", NOW - timedelta(hours=1),
                   error="cannot connect mysql://ferry:hunter22@db/erp\ntraceback...")  # fmt: skip
    add_run(store, "s1", "running", NOW - timedelta(minutes=1))  # not finished: does not count
    add_run(store, "s1", "failed", NOW - timedelta(minutes=30), kind="replay")  # not watched by default

    f = findings(store, {"type": "run_failed"})["s1"]
    assert f.firing and f.severity == "critical"
    assert (
        f.summary.startswith("2 failed run(s) in a row (连续失败 2 次)")
        and "mysql://ferry:***@db/erp" in f.summary
    )
    assert "hunter22" not in f.summary and "traceback" not in f.summary
    assert f.hint == f"ferry runs show {last}; ferry runs --scheme s1"


def test_run_failed_is_quiet_once_a_later_run_succeeds(store: Store) -> None:
    add_run(store, "s1", "failed", NOW - timedelta(hours=2), error="boom")
    add_run(store, "s1", "partial", NOW - timedelta(hours=1))
    f = findings(store, {"type": "run_failed"})["s1"]
    assert not f.firing and "partial" in f.summary


def test_run_failed_passes_over_runs_a_shutdown_stopped(store: Store) -> None:
    add_run(store, "s1", "succeeded", NOW - timedelta(hours=3))
    add_run(store, "s1", "failed", NOW - timedelta(hours=2), error="stopped: shutdown")
    add_run(store, "s2", "failed", NOW - timedelta(hours=3), error="boom")
    add_run(store, "s2", "failed", NOW - timedelta(hours=2), error="stopped: lease lost")

    found = findings(store, {"type": "run_failed"})
    assert not found["s1"].firing and "succeeded" in found["s1"].summary
    # a stop neither ends a streak nor extends it
    assert found["s2"].firing and found["s2"].summary.startswith("1 failed run(s) in a row")
    assert "boom" in found["s2"].summary


def test_run_failed_ignores_disabled_and_unwatched_schemes(store: Store) -> None:
    for sid in ("kuaimai-a", "jst-b", "kuaimai-off"):
        store.save_scheme(sid, sid, {})
        add_run(store, sid, "failed", NOW - timedelta(hours=1))
    store.set_scheme_enabled("kuaimai-off", False)
    assert set(findings(store, {"type": "run_failed", "schemes": ["kuaimai-*"]})) == {"kuaimai-a"}


# -- error_ratio -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "firing", "text"),
    [
        pytest.param(
            {"delivered": 70, "failed": 20, "dead": 10}, True, "30 of 100 deliveries failed", id="30%-fires"
        ),
        pytest.param(
            {"delivered": 80, "failed": 20, "dead": 0}, False, "20 of 100", id="exactly-20%-is-not-above"
        ),
        pytest.param({"delivered": 2, "failed": 3, "dead": 0}, False, "below min_records 10", id="too-few"),
    ],
)
def test_error_ratio_sums_the_runs_of_the_window(store: Store, counts, firing, text) -> None:
    half = {k: v // 2 for k, v in counts.items()}
    rest = {k: v - half[k] for k, v in counts.items()}
    add_run(store, "s1", "partial", NOW - timedelta(minutes=50), NOW - timedelta(minutes=40), counts=half)
    add_run(store, "s1", "partial", NOW - timedelta(minutes=20), NOW - timedelta(minutes=10), counts=rest)
    add_run(store, "s1", "failed", NOW - timedelta(hours=5), NOW - timedelta(hours=4), counts={"failed": 999})

    f = findings(store, {"type": "error_ratio", "threshold": 0.2, "window": "1h"})["s1"]
    assert f.firing is firing
    assert text in f.summary


def test_error_ratio_has_nothing_to_say_without_recent_runs(store: Store) -> None:
    add_run(store, "s1", "failed", NOW - timedelta(days=3), counts={"failed": 50})
    assert findings(store, {"type": "error_ratio"}) == {}


# -- stalled ---------------------------------------------------------------------------------------


def scheme(sid: str, cron: str | None):
    return load_scheme(
        {
            "id": sid,
            "name": sid,
            "source": {"connection": {"type": "sql", "url": "sqlite://"},
                       "metadata": {"api": "q", "effect": "QUERY", "id": "id", "request": []}},
            "target": {"connection": {"type": "sql", "url": "sqlite://"},
                       "metadata": {"api": "save", "effect": "EXECUTE", "request": [{"field": "a", "value": "{a}"}]}},
            "schedule": {"source": cron} if cron else {},
        }
    )  # fmt: skip


STALLED = {"type": "stalled", "intervals": 3, "grace": "0s"}


@pytest.mark.parametrize(
    ("last_ok", "status", "firing"),
    [
        pytest.param(timedelta(minutes=16), "succeeded", True, id="3-slots-missed"),
        pytest.param(timedelta(minutes=14), "partial", False, id="within-3-slots"),
        pytest.param(timedelta(minutes=2), "running", False, id="a-collect-is-running"),
        pytest.param(timedelta(hours=2), "running", True, id="a-hung-collect"),
    ],
)
def test_stalled_counts_missed_slots_of_the_source_crontab(store: Store, last_ok, status, firing) -> None:
    add_run(
        store,
        "s1",
        status,
        NOW - last_ok,
        None if status == "running" else NOW - last_ok + timedelta(seconds=5),
    )
    add_run(store, "s1", "failed", NOW - timedelta(minutes=1))
    f = findings(store, STALLED, schemes={"s1": scheme("s1", "*/5 * * * *")})["s1"]
    assert f.firing is firing
    assert ("no successful collect in the last 3 slots of '*/5 * * * *'" in f.summary) is firing


def test_stalled_follows_an_irregular_schedule_in_the_schemes_time_zone(store: Store) -> None:
    # 09:00 Shanghai on weekdays; NOW is Friday 12:00 Shanghai: slots back are Fri, Thu, Wed 09:00.
    add_run(store, "s1", "succeeded", datetime(2024, 5, 1, 1, 30, tzinfo=UTC))  # Wed 09:30 Shanghai
    weekdays = {"s1": scheme("s1", "0 9 * * 1-5")}
    two = findings(store, {**STALLED, "intervals": 2}, schemes=weekdays)["s1"]
    assert two.firing and two.facts["deadline"] == "2024-05-02T09:00:00+08:00"  # Thu and Fri missed
    assert not findings(store, {**STALLED, "intervals": 3}, schemes=weekdays)["s1"].firing


def test_a_scheme_that_never_ran_is_stalled_only_once_it_had_time_to(store: Store) -> None:
    store.save_scheme("s1", "s1", {})
    registered = datetime.now(UTC)
    schemes = {"s1": scheme("s1", "*/5 * * * *"), "manual": scheme("manual", None)}
    assert not findings(store, STALLED, registered + timedelta(minutes=4), schemes)["s1"].firing
    late = findings(store, STALLED, registered + timedelta(hours=1), schemes)
    assert late["s1"].firing and "last successful collect: never" in late["s1"].summary
    assert "manual" not in late  # no source schedule: nothing to be late for


# -- dead_letters ----------------------------------------------------------------------------------


def test_dead_letters_fire_while_new_ones_arrive_and_count_all(store: Store) -> None:
    add_dead(store, "s1", ["a", "b"], NOW - timedelta(hours=3))
    add_dead(store, "s1", ["c", "d", "e"], NOW - timedelta(minutes=10))
    store.upsert_records("s2", [("x", None, {})])

    found = findings(store, {"type": "dead_letters", "window": "1h"})
    assert found["s1"].firing and found["s1"].summary.startswith("3 record(s) went dead in the last 1h")
    assert "5 dead in all" in found["s1"].summary and "ferry replay s1 --status dead" in found["s1"].hint
    assert not findings(store, {"type": "dead_letters", "window": "5m"})["s1"].firing
    assert not findings(store, {"type": "dead_letters", "min_count": 4})["s1"].firing


def test_dead_letters_are_quiet_for_a_scheme_without_any(store: Store) -> None:
    store.save_scheme("s2", "s2", {})
    f = findings(store, {"type": "dead_letters"})["s2"]
    assert not f.firing and "0 dead in all" in f.summary


# -- api_error_burst -------------------------------------------------------------------------------


def calls(
    store: Store, connection: str, at: datetime, errors: int, oks: int = 0, api: str = "/open/q"
) -> None:
    rows = [
        {
            "connection": connection,
            "api": api,
            "started_at": at,
            "status": "error",
            "error_code": "429",
            "error_message": f"too many requests #{i}",
            "scheme_id": "s1",
        }
        for i in range(errors)
    ]
    rows += [{"connection": connection, "api": api, "started_at": at, "scheme_id": "s1"} for _ in range(oks)]
    store.log_api_calls(rows)  # fmt: skip


def test_api_error_burst_counts_errors_in_the_window_per_connection_and_api(store: Store) -> None:
    calls(store, "jst", NOW - timedelta(hours=2), errors=300)  # long before the window
    calls(store, "jst", NOW - timedelta(minutes=5), errors=5, oks=20)
    calls(store, "kis", NOW - timedelta(minutes=5), errors=4)
    found = findings(store, {"type": "api_error_burst", "errors": 5, "window": "10m"})
    assert set(found) == {"jst:/open/q", "kis:/open/q"}
    assert found["jst:/open/q"].firing
    assert found["jst:/open/q"].summary.startswith(
        "5 error(s) in 25 call(s) to /open/q on jst in the last 10m"
    )
    assert "last: 429 too many requests #4" in found["jst:/open/q"].summary
    assert not found["kis:/open/q"].firing
    only = findings(store, {"type": "api_error_burst", "errors": 5, "connections": ["k*"]})
    assert set(only) == {"kis:/open/q"}


def test_api_error_burst_never_counts_throttling_answers_as_errors(store: Store) -> None:
    at = NOW - timedelta(minutes=5)
    throttled = {
        "connection": "km",
        "api": "/router",
        "started_at": at,
        "status": "throttled",
        "error_code": "7",
    }
    store.log_api_calls([throttled] * 9 + [{"connection": "km", "api": "/router", "started_at": at}] * 3)
    calls(store, "km", at, errors=1, api="/router")
    found = findings(store, {"type": "api_error_burst", "errors": 5, "window": "10m"})
    assert not found["km:/router"].firing
    assert found["km:/router"].summary.startswith(
        "1 error(s) in 13 call(s) to /router on km in the last 10m; 9 throttled (rate limit waited out, "
        "not counted"
    )


@pytest.mark.parametrize("minutes", [0, 1, 29, 30, 31, 59, 60, 61, 200])
def test_first_id_since_bisects_to_the_first_row_at_or_after_the_time(store: Store, minutes: int) -> None:
    t0 = NOW - timedelta(hours=1)
    store.log_api_calls(
        [{"connection": "c", "api": "a", "started_at": t0 + timedelta(minutes=m)} for m in range(61)]
    )
    with store.transaction(write=True) as conn:
        conn.execute(sa.delete(api_calls).where(api_calls.c.id.in_([5, 6, 7, 31, 32])))  # gaps
    since = t0 + timedelta(minutes=minutes)
    with store.transaction() as conn:
        first = first_id_since(conn, api_calls, api_calls.c.started_at, since)
        expected = conn.execute(
            sa.select(sa.func.min(api_calls.c.id)).where(api_calls.c.started_at >= since)
        ).scalar()
        last = conn.execute(sa.select(sa.func.max(api_calls.c.id))).scalar()
        expected = expected if expected is not None else last + 1
        assert first is not None and first <= expected
        between = sa.select(sa.func.count()).where(api_calls.c.id >= first, api_calls.c.id < expected)
        assert conn.execute(between).scalar() == 0  # only deleted ids lie between
