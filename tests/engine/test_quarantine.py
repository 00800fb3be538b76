"""Quality rules in a run: each action of each rule kind, on both sides, on SQLite and MariaDB.

Every record of the runs breaks at most one rule; the ledger, the holds, the counts (which
must balance) and the cursor show what each action did.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fakes import FakeSource, FakeTarget

from ferry.engine.retry import RetryPolicy
from ferry.engine.runner import run_scheme
from ferry.scheme.loader import load_scheme
from ferry.store import Store, open_store, quarantine

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 5, 3, 12, 0, tzinfo=TZ)
START = "2024-05-02 12:00:00"  # one window: [START, NOW)
FAST = RetryPolicy(attempts=2, base_delay=0.0, max_delay=0.0)

# check -> (its argument, a good value, a bad value); a bad value of None means "missing"
KINDS: dict[str, tuple[Any, Any, Any]] = {
    "eq": ("A", "A", "B"),
    "neq": ("B", "A", "B"),
    "gt": (0, 1, 0),
    "egt": (1, 1, 0),
    "lt": (10, 1, 10),
    "elt": (10, 10, 11),
    "like": ("SO", "SO-1", "PO-1"),
    "notlike": ("TEST", "SO-1", "TEST-1"),
    "between": ("1,5", 3, 6),
    "notnull": (True, "x", ""),
    "isnull": (True, "", "x"),
    "in": ("A,B", "A", "C"),
    "notin": (["X"], "A", "X"),
    "required": (True, "x", None),
    "type": ("int", 5, "five"),
    "range": ({"min": 0, "max": 100}, 50, 101),
    "length": ({"min": 2, "max": 4}, "abc", "a"),
    "regex": (r"^SO-\d+$", "SO-1", "SO-x"),
    "enum": (["red", "green"], "red", "blue"),
    "unique_in_window": (True, None, "dup"),  # good: the record's own id; bad: good-1's value
    "lookup": ({"scheme": "products", "field": "sku"}, "K1", "K9"),
    "expr": ("_function {v_expr} * 2 > 5", 3, 1),
}


def good(rid: str) -> dict[str, Any]:
    record: dict[str, Any] = {"id": rid}
    for check, (_, value, _) in KINDS.items():
        record[f"v_{check}"] = rid if check == "unique_in_window" else value
    return record


def bad(check: str) -> dict[str, Any]:
    record = good(check)
    value = KINDS[check][2]
    if check == "unique_in_window":
        value = "good-1"
    if value is None:
        del record[f"v_{check}"]
    else:
        record[f"v_{check}"] = value
    return record


def rules(action: str, only: str | None = None) -> list[dict[str, Any]]:
    return [
        {"name": check, "field": f"v_{check}", check: arg, "action": action}
        for check, (arg, _, _) in KINDS.items()
        if only in (None, check)
    ]


def scheme(sid: str, side: str, action: str, only: str | None = None):
    return load_scheme(
        {
            "id": sid,
            "name": sid,
            "source": {
                "connection": {"type": "sql", "url": "sqlite://"},
                "metadata": {"api": "/orders", "effect": "QUERY", "id": "id", "request": []},
            },
            "target": {
                "connection": {"type": "sql", "url": "sqlite://"},
                "metadata": {
                    "api": "save",
                    "effect": "EXECUTE",
                    "request": [{"field": "id", "value": "{id}"}]
                    + [{"field": f"v_{c}", "value": f"{{v_{c}}}"} for c in KINDS],
                },
            },
            "window": {"start": START, "step": "1d"},
            "settings": {"stream": "inline"},
            "quality": {side: rules(action, only)},
        }
    )


@pytest.fixture(scope="module", params=["sqlite", "mariadb"])
def store(request, tmp_path_factory) -> Iterator[Store]:
    """One store per backend for the module (each test uses its own scheme ids)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('q') / 'ferry.db'}"
        opened = open_store(url)
        yield opened
        opened.close()
        return
    import uuid

    import pymysql

    name = f"ferry_test_{uuid.uuid4().hex[:12]}"
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)
    conn.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        opened = open_store(f"mysql+pymysql://root@127.0.0.1:3306/{name}?charset=utf8mb4")
        yield opened
        opened.close()
    finally:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


@pytest.fixture(scope="module", autouse=True)
def products(store: Store) -> None:
    store.upsert_records("products", [("p1", None, {"sku": "K1"})])


def records() -> list[dict[str, Any]]:
    return [good("good-1"), good("good-2"), *(bad(check) for check in KINDS)]


@pytest.mark.parametrize("side", ["source", "target"])
def test_quarantine_holds_each_rule_breaker_with_its_rule_path_and_value(store: Store, side: str) -> None:
    sid = f"q-{side}"
    target = FakeTarget()
    report = run_scheme(
        scheme(sid, side, "quarantine"),
        store,
        now=NOW,
        source=FakeSource(records()),
        target=target,
        retry=FAST,
    )
    c = report.counts
    assert report.status == "succeeded", report.error
    assert set(target.written) == {"good-1", "good-2"}, "no held record reaches the target"
    assert (c.due, c.delivered, c.quarantined) == (2 + len(KINDS), 2, len(KINDS))
    assert c.imbalance() == []
    assert c.waiting_quarantined == len(KINDS)
    held = {h.record_id: h for h in quarantine.list_held(store, scheme_id=sid, limit=1000)}
    assert set(held) == set(KINDS)
    for check in KINDS:
        h = held[check]
        assert (h.rule, h.path, h.side, h.status) == (check, f"v_{check}", side, "quarantined")
        row = store.get_record(sid, check)
        assert row is not None and row.status == "quarantined"
        assert row.last_error is not None and row.last_error.startswith(
            f"quarantined by {check}: v_{check} = "
        )
    assert held["range"].value == 101 and held["range"].reason == "value must be between 0 and 100"
    assert held["lookup"].reason == "not found in scheme 'products' (content.sku)"
    assert held["unique_in_window"].reason == "repeats the value of record good-1 of the same window"
    # a deliver-only run never claims them, and a replay never selects them
    again = run_scheme(
        scheme(sid, side, "quarantine"), store, now=NOW, collect=False, target=target, retry=FAST
    )
    assert again.counts.due == 0
    assert store.replay(sid, status="quarantined") == 0 and store.replay(sid, record_ids=["range"]) == 0


@pytest.mark.parametrize("side", ["source", "target"])
def test_warn_delivers_every_record_and_counts_the_warnings(store: Store, side: str) -> None:
    sid = f"w-{side}"
    target = FakeTarget()
    report = run_scheme(
        scheme(sid, side, "warn"), store, now=NOW, source=FakeSource(records()), target=target, retry=FAST
    )
    c = report.counts
    assert report.status == "succeeded", report.error
    assert len(target.written) == 2 + len(KINDS)
    assert (c.delivered, c.quarantined, c.warned) == (2 + len(KINDS), 0, len(KINDS))
    assert c.imbalance() == []
    assert quarantine.list_held(store, scheme_id=sid) == []


@pytest.mark.parametrize("check", list(KINDS))
def test_fail_window_at_the_source_keeps_the_cursor_and_stores_nothing_of_the_page(
    store: Store, check: str
) -> None:
    sid = f"f-s-{check}"
    source = FakeSource([good("good-1"), bad(check)])
    report = run_scheme(
        scheme(sid, "source", "fail_window", check),
        store,
        now=NOW,
        source=source,
        target=FakeTarget(),
        retry=FAST,
    )
    assert report.status == "failed"
    assert report.error is not None and report.error.startswith(f"quality rule {check} failed in window ")
    assert f"record {check}: v_{check} = " in report.error
    assert report.counts.quality_failed == 1 and report.counts.imbalance() == []
    assert store.get_cursor(sid, "main") is None, "the window's cursor did not move"
    assert store.find_records(sid, limit=10) == [], "the page with the breaking record is not stored"


@pytest.mark.parametrize("check", list(KINDS))
def test_fail_window_at_delivery_holds_the_record_and_fails_the_run(store: Store, check: str) -> None:
    sid = f"f-t-{check}"
    target = FakeTarget()
    source = FakeSource([good("good-1"), bad(check)])
    report = run_scheme(
        scheme(sid, "target", "fail_window", check), store, now=NOW, source=source, target=target, retry=FAST
    )
    assert report.status == "failed"
    assert report.error is not None and report.error.startswith(
        f"quality rule {check} failed at delivery: record {check}"
    )
    assert set(target.written) == {"good-1"}
    c = report.counts
    assert (c.quality_failed, c.quarantined, c.delivered) == (1, 1, 1) and c.imbalance() == []
    assert store.get_record(sid, check).status == "quarantined"


@pytest.mark.parametrize("side", ["source", "target"])
def test_a_released_record_is_delivered_as_is_and_an_edited_one_as_edited(store: Store, side: str) -> None:
    sid = f"r-{side}"
    plan = scheme(sid, side, "quarantine", "range")
    target = FakeTarget()
    first = [good("good-1"), bad("range"), {**bad("range"), "id": "fixme"}]
    run_scheme(plan, store, now=NOW, source=FakeSource(first), target=target, retry=FAST)
    assert {h.record_id for h in quarantine.list_held(store, scheme_id=sid)} == {"range", "fixme"}

    assert quarantine.release(store, sid, ["range"], who="alice") == 1
    fixed = {**store.get_record(sid, "fixme").content, "v_range": 7}
    quarantine.edit(store, sid, "fixme", fixed, who="bob", reason="typo at the source")
    report = run_scheme(plan, store, now=NOW, collect=False, target=target, retry=FAST)
    assert report.counts.delivered == 2 and report.counts.quarantined == 0
    assert target.written["range"]["v_range"] == 101, "released: delivered as it is"
    assert target.written["fixme"]["v_range"] == 7, "edited, then delivered as edited"
    assert store.get_record(sid, "range").status == "finished"
    audit = quarantine.audit_log(store, scheme_id=sid)
    assert [(a.operation, a.who, a.record_id, a.status_before, a.status_after) for a in audit] == [
        ("edit", "bob", "fixme", "quarantined", "pending"),
        ("release", "alice", "range", "quarantined", "pending"),
    ]
    assert audit[0].content_before["v_range"] == 101 and audit[0].content_after["v_range"] == 7
    # read again unchanged, the released record is not held again
    again = run_scheme(plan, store, now=NOW, source=FakeSource(first[:2]), target=target, retry=FAST)
    assert again.counts.quarantined == 0 and store.get_record(sid, "range").status == "finished"


def test_fail_window_fires_one_quality_alert_per_incident_and_recovers(store: Store) -> None:
    from datetime import timedelta

    from ferry.observe.alerts import AlertMonitor, parse_alert_config

    sid = "alerting"
    plan = scheme(sid, "source", "fail_window", "range")
    config = parse_alert_config({"channels": {}, "rules": [{"type": "quality_failed"}]}, env={})
    changes = []
    with AlertMonitor(store, config) as monitor:
        for i in range(2):  # the same bad record stops two runs in a row: one incident
            report = run_scheme(
                plan, store, now=NOW, source=FakeSource([bad("range")]), target=FakeTarget(), retry=FAST
            )
            assert report.status == "failed" and store.get_cursor(sid, "main") is None
            events = [e for e in monitor.evaluate(NOW + timedelta(minutes=i + 1)) if e.subject == sid]
            changes.append([(e.rule, e.change) for e in events])
        fixed = run_scheme(
            plan, store, now=NOW, source=FakeSource([good("good-1")]), target=FakeTarget(), retry=FAST
        )
        assert fixed.status == "succeeded" and store.get_cursor(sid, "main") == NOW
        events = [e for e in monitor.evaluate(NOW + timedelta(minutes=5)) if e.subject == sid]
        changes.append([(e.rule, e.change) for e in events])
    assert changes == [
        [("quality_failed", "opened")],
        [("quality_failed", "ongoing")],
        [("quality_failed", "resolved")],
    ]
