"""The quality report: every record of a run in exactly one bucket, and each quarantined row
held by one rule, for runs with warn, quarantine and fail_window rules on both sides, value-map
holds and operator drops (on SQLite and MariaDB), and per-rule counts kept with the run on every
deliver host, the forked process host included."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import test_quarantine as q
from fakes import FakeSource, FakeTarget
from test_quarantine import FAST, KINDS, NOW, bad, good, records, scheme

from ferry.engine.hosts import choose_host
from ferry.engine.runner import run_scheme
from ferry.scheme.loader import load_scheme
from ferry.store import Store, open_store, quarantine
from ferry.store.quality_report import QualityRow, quality_report, totals

HOSTS = ["inline", "thread", "process"]
store = q.store
"""The quarantine tests' stores: SQLite and MariaDB, one per module."""
products = q.products


def only_row(store: Store, sid: str, **kw: Any) -> QualityRow:
    rows = quality_report(store, scheme_id=sid, **kw)
    assert len(rows) == 1, [r.as_dict() for r in rows]
    return rows[0]


def kept_rules(store: Store, run_id: int | None) -> dict[str, dict[str, int]]:
    assert run_id is not None
    stored = store.get_run(run_id)
    assert stored is not None
    return stored["counts"]["quality_rules"]


@pytest.mark.parametrize("side", ["source", "target"])
def test_quarantine_rules_each_hold_their_breaker_and_the_report_balances(store: Store, side: str) -> None:
    sid = f"qr-q-{side}"
    target = FakeTarget(reject=lambda row: "refused" if row.get("id") == "good-2" else None)
    report = run_scheme(
        scheme(sid, side, "quarantine"),
        store,
        now=NOW,
        source=FakeSource(records()),
        target=target,
        retry=FAST,
    )
    assert report.status == "partial", report.error
    expected = {check: {"warned": 0, "quarantined": 1, "failed": 0} for check in KINDS}
    assert report.counts.quality_rules == expected
    assert kept_rules(store, report.run_id) == expected, "kept with the run's counts"

    assert quarantine.drop(store, sid, ["range", "enum"], who="alice", reason="test orders") == 2
    row = only_row(store, sid)
    assert row.imbalance() == []
    n = 2 + len(KINDS)
    assert (row.source_total, row.filtered, row.collected) == (n, 0, n)
    assert (row.due, row.delivered, row.quarantined, row.failed, row.pending) == (n, 1, len(KINDS), 1, 0)
    assert row.dropped == 2
    assert row.rules["range"] == {"warned": 0, "quarantined": 1, "failed": 0, "dropped": 1}
    assert row.rules["regex"] == {"warned": 0, "quarantined": 1, "failed": 0, "dropped": 0}
    assert sum(r["quarantined"] for r in row.rules.values()) == row.quarantined
    assert row.as_dict()["balanced"] is True


@pytest.mark.parametrize("side", ["source", "target"])
def test_warn_rules_count_each_warned_record_per_rule(store: Store, side: str) -> None:
    sid = f"qr-w-{side}"
    report = run_scheme(
        scheme(sid, side, "warn"),
        store,
        now=NOW,
        source=FakeSource(records()),
        target=FakeTarget(),
        retry=FAST,
    )
    assert report.status == "succeeded", report.error
    row = only_row(store, sid)
    assert row.imbalance() == []
    assert (row.delivered, row.quarantined, row.warned) == (2 + len(KINDS), 0, len(KINDS))
    assert row.rules == {check: {"warned": 1, "quarantined": 0, "failed": 0, "dropped": 0} for check in KINDS}


@pytest.mark.parametrize(
    ("side", "held"),
    [pytest.param("source", 0, id="source-page-not-stored"), pytest.param("target", 1, id="target-held")],
)
def test_fail_window_names_the_rule_that_stopped_the_run(store: Store, side: str, held: int) -> None:
    sid = f"qr-f-{side}"
    report = run_scheme(
        scheme(sid, side, "fail_window", "enum"),
        store,
        now=NOW,
        source=FakeSource([good("good-1"), bad("enum")]),
        target=FakeTarget(),
        retry=FAST,
    )
    assert report.status == "failed"
    row = only_row(store, sid)
    assert row.status == "failed" and row.imbalance() == []
    assert row.quality_failed == 1
    assert row.rules == {"enum": {"warned": 0, "quarantined": held, "failed": 1, "dropped": 0}}
    assert row.quarantined == held


def test_a_day_sums_its_runs_and_the_total_sums_the_days(store: Store) -> None:
    sid = "qr-days"
    plan = scheme(sid, "target", "quarantine", "range")
    first = [good("good-1"), bad("range"), {**good("good-2"), "v_range": -1}]
    run_scheme(plan, store, now=NOW, source=FakeSource(first), target=FakeTarget(), retry=FAST)
    later = NOW + timedelta(days=1)  # the next window
    run_scheme(plan, store, now=later, source=FakeSource([good("good-3")]), target=FakeTarget(), retry=FAST)

    runs = quality_report(store, scheme_id=sid, by="run")
    days = quality_report(store, scheme_id=sid, by="day")
    assert [r.runs for r in runs] == [1, 1] and len(days) == 1
    day = days[0]
    assert day.key == runs[0].started_at.date().isoformat() and day.runs == 2 and day.status is None
    assert day.imbalance() == []
    assert (day.source_total, day.collected, day.delivered, day.quarantined) == (4, 4, 2, 2)
    assert day.rules == {"range": {"warned": 0, "quarantined": 2, "failed": 0, "dropped": 0}}
    total = totals(runs, sid)
    assert total is not None and total.as_dict() | {"key": day.key, "status": None} == day.as_dict()
    # the window of time selects runs by when they started
    after = datetime.now(UTC) + timedelta(hours=1)
    assert quality_report(store, scheme_id=sid, since=after) == []
    assert len(quality_report(store, scheme_id=sid, until=after)) == 2


def test_an_unknown_grouping_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="by must be one of run, day"):
        quality_report(store, by="week")


# -- value maps ---------------------------------------------------------------------------------


def _shop_scheme(tmp: Path, stream: str) -> Any:
    (tmp / "maps").mkdir(exist_ok=True)
    (tmp / "maps" / "shops.csv").write_text("code,name\n101,Shop A\n102,Shop B\n", encoding="utf-8")
    (tmp / "shop.db").unlink(missing_ok=True)
    with sqlite3.connect(tmp / "shop.db") as con:
        con.execute("CREATE TABLE orders (no TEXT PRIMARY KEY, shop TEXT)")
    scheme_file = tmp / "scheme.yaml"
    scheme_file.write_text(
        f"""
id: qr-shops
name: orders with shop names
source:
  connection: {{type: sql, url: "sqlite://"}}
  metadata: {{api: /orders, effect: QUERY, id: id, number: "no", request: []}}
target:
  connection: {{type: sql, url: "sqlite:///{tmp / "shop.db"}"}}
  metadata:
    api: execute
    effect: EXECUTE
    request:
      - field: main_params
        type: object
        children:
          - {{field: "NO", value: "{{no}}"}}
          - {{field: SHOP, value: "_map shops {{shop}} unmatched=quarantine"}}
    otherRequest:
      - {{field: main_sql, value: "insert into orders (no, shop) values (:NO, :SHOP)"}}
window: {{start: "2024-05-01 00:00:00", step: 1d}}
settings: {{stream: {stream}, retry: [1m]}}
""",
        encoding="utf-8",
    )
    return load_scheme(scheme_file)


def test_value_map_holds_are_counted_under_their_map_rule(store: Store, tmp_path: Path) -> None:
    orders = [
        {"id": 1, "no": "SO1", "shop": 101},
        {"id": 2, "no": "SO2", "shop": 999},
        {"id": 3, "no": "SO3", "shop": 998},
    ]
    plan = _shop_scheme(tmp_path, "thread")
    report = run_scheme(plan, store, now=NOW, source=FakeSource(orders), retry=FAST)
    assert report.counts.quarantined == 2, report.error
    row = only_row(store, "qr-shops")
    assert row.imbalance() == []
    assert (row.due, row.delivered, row.quarantined) == (3, 1, 2)
    assert row.rules == {"map:shops": {"warned": 0, "quarantined": 2, "failed": 0, "dropped": 0}}


# -- every host carries the per-rule counts back -------------------------------------------------


def _items(tmp: Path, n: int) -> None:
    with sqlite3.connect(tmp / "source.db") as con:
        con.execute("CREATE TABLE src (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER)")
        con.executemany(
            "INSERT INTO src VALUES (?, ?, ?)", [(i, f"item {i}", i % 7) for i in range(1, n + 1)]
        )
    with sqlite3.connect(tmp / "target.db") as con:
        con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER)")


def _items_scheme(tmp: Path, host: str) -> Any:
    return load_scheme(
        {
            "id": "items",
            "name": "items",
            "source": {
                "connection": {"type": "sql", "url": f"sqlite:///{tmp / 'source.db'}"},
                "metadata": {
                    "api": "SELECT id, name, qty FROM src ORDER BY id",
                    "effect": "QUERY",
                    "id": "id",
                },
            },
            "target": {
                "connection": {"type": "sql", "url": f"sqlite:///{tmp / 'target.db'}"},
                "metadata": {
                    "api": "batchexecute",
                    "effect": "EXECUTE",
                    "request": [
                        {"field": "id", "value": "{id}"},
                        {"field": "name", "value": "{name}"},
                        {"field": "qty", "value": "{qty}"},
                    ],
                    "otherRequest": [{"field": "main_sql", "value": "REPLACE INTO t (id, name, qty) VALUES"}],
                },
            },
            "window": {"start": "2024-05-03 00:00:00", "step": "1d"},
            "settings": {"stream": host, "batch_size": 40, "page_size": 50, "deliver_workers": 2},
            "quality": {
                "source": [{"name": "id-max", "field": "id", "range": {"max": 590}, "action": "quarantine"}],
                "target": [
                    {"name": "qty-small", "field": "qty", "range": {"max": 4}, "action": "quarantine"},
                    {"name": "name-short", "field": "name", "length": {"max": 7}, "action": "warn"},
                ],
            },
        }
    )


@pytest.mark.parametrize("host", HOSTS)
def test_per_rule_counts_come_back_from_every_host(tmp_path: Path, host: str) -> None:
    n = 600
    _items(tmp_path, n)
    scheme_ = _items_scheme(tmp_path, host)
    with open_store(f"sqlite:///{tmp_path / 'ferry.db'}") as local:
        assert choose_host(scheme_, local) == host
        report = run_scheme(scheme_, local, now=NOW)
        assert report.status == "succeeded", report.error
        ids = range(1, 591)
        small = sum(1 for i in ids if i % 7 > 4)
        warned = sum(1 for i in ids if i >= 100 and i % 7 <= 4)
        expected = {
            "id-max": {"warned": 0, "quarantined": n - 590, "failed": 0},
            "qty-small": {"warned": 0, "quarantined": small, "failed": 0},
            "name-short": {"warned": warned, "quarantined": 0, "failed": 0},
        }
        assert report.counts.quality_rules == expected
        assert kept_rules(local, report.run_id) == expected
        row = only_row(local, "items")
        assert row.imbalance() == []
        assert (row.due, row.quarantined, row.delivered) == (n, n - 590 + small, 590 - small)
        assert row.warned == warned
