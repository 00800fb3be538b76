"""The typed per-window report and the vendor clock of the connector protocol.

A run's windows are :class:`WindowReport` objects; the run record stores their
:meth:`~WindowReport.as_dict` form, which ``ferry runs show`` and the console read. A source
declares its clock (:meth:`SourceConnector.vendor_time`); one without a clock holds no cursor back.
"""

from __future__ import annotations

import importlib
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fakes import FakeSource

from ferry.connectors.base import SourceConnector
from ferry.connectors.registry import CONNECTION_TYPES, connection_class
from ferry.engine.retry import RetryPolicy
from ferry.engine.runner import run_scheme
from ferry.engine.window_report import WindowReport
from ferry.engine.windows import Window
from ferry.scheme.loader import load_scheme
from ferry.store import Store, open_store

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2024, 5, 1, tzinfo=TZ)
NOW = datetime(2024, 5, 3, 12, 0, tzinfo=TZ)
FAST = RetryPolicy(attempts=3, base_delay=0.0, max_delay=0.0)
RECORDS = [{"id": i, "no": f"A{i}", "status": "paid"} for i in range(1, 6)]


def scheme(source_url: str = "sqlite://", **settings: Any) -> Any:
    return load_scheme(
        {
            "id": "orders",
            "name": "orders",
            "source": {
                "connection": {"type": "sql", "url": source_url},
                "metadata": {
                    "api": "SELECT id, no, status FROM orders ORDER BY id",
                    "effect": "QUERY",
                    "id": "id",
                    "number": "no",
                    "request": [{"field": "since", "value": "{{LAST_SYNC_TIME|datetime}}"}],
                },
            },
            "target": {
                "connection": {"type": "sql", "url": "sqlite://"},
                "metadata": {
                    "api": "save",
                    "effect": "EXECUTE",
                    "request": [{"field": "no", "value": "{no}"}],
                },
            },
            "window": {"start": "2024-05-01 00:00:00", "step": "1d"},
            "settings": settings,
        }
    )


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = open_store(f"sqlite:///{tmp_path / 'ferry.db'}")
    yield s
    s.close()


def stored_windows(store: Store, run_id: int | None) -> list[dict[str, Any]]:
    assert run_id is not None
    run = store.get_run(run_id)
    assert run is not None
    return list(run["windows"])


# -- the report and its stored form -------------------------------------------------------------


def test_a_full_report_is_stored_in_the_run_record_form_and_reads_back(store: Store) -> None:
    report = WindowReport.of(Window(START, START + timedelta(days=1)))
    report.pages, report.fetched, report.stored, report.total = 3, 250, 248, 251
    report.held_back_s, report.recovered, report.short, report.seconds = 91.0, 1, 2, 1.204
    report.ledger, report.delivered = 249, 200
    record = report.as_dict()
    assert list(record.items()) == [
        ("window", "[2024-05-01 00:00:00+08:00, 2024-05-02 00:00:00+08:00)"),
        ("start", "2024-05-01T00:00:00+08:00"),
        ("end", "2024-05-02T00:00:00+08:00"),
        ("pages", 3),
        ("fetched", 250),
        ("stored", 248),
        ("total", 251),
        ("held_back_s", 91.0),
        ("recovered", 1),
        ("short", 2),
        ("seconds", 1.204),
        ("ledger", 249),
        ("delivered", 200),
    ]
    assert WindowReport.from_dict(record) == report
    run_id = store.start_run("orders", "collect")
    store.finish_run(run_id, "succeeded", {}, None, [record])
    [back] = stored_windows(store, run_id)
    assert back == record and WindowReport.from_dict(back) == report


def test_figures_a_window_does_not_have_are_left_out_of_the_record() -> None:
    report = WindowReport.of(Window(START, START + timedelta(days=1)))
    record = report.as_dict()
    assert list(record) == ["window", "start", "end", "pages", "fetched", "stored", "total", "seconds"]
    assert record["total"] is None  # an API without a total: kept, as null
    assert WindowReport.from_dict(record) == report
    report.recovered = 0  # read again, nothing new found: still said
    assert report.as_dict()["recovered"] == 0
    assert WindowReport.from_dict(report.as_dict()) == report


def test_a_run_returns_window_reports_and_stores_them_as_its_record(store: Store) -> None:
    report = run_scheme(scheme(), store, deliver=False, now=NOW, source=FakeSource(RECORDS[:]), retry=FAST)
    assert report.status == "succeeded", report.error
    assert all(isinstance(w, WindowReport) for w in report.windows) and len(report.windows) == 3
    assert [w.fetched for w in report.windows] == [5, 5, 5]  # the fake ignores the window
    assert [w.ledger for w in report.windows] == [5, 0, 0]  # the ledger counts a record in its first window
    assert stored_windows(store, report.run_id) == [w.as_dict() for w in report.windows]


# -- the vendor clock ---------------------------------------------------------------------------


class ClockedSource(FakeSource):
    """A source whose vendor's clock is 90 s behind Ferry's (NOW)."""

    def vendor_time(self) -> datetime | None:
        return NOW - timedelta(seconds=90)


def test_a_source_without_a_clock_moves_the_cursor_to_the_window_end(tmp_path: Path, store: Store) -> None:
    db = tmp_path / "source.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, no TEXT, status TEXT)")
        conn.executemany("INSERT INTO orders VALUES (:id, :no, :status)", RECORDS)
    orders = scheme(f"sqlite:///{db}", follow_vendor_clock=True)
    report = run_scheme(orders, store, deliver=False, now=NOW, retry=FAST)  # the real SqlConnector
    assert report.status == "succeeded", report.error
    assert report.counts.new == len(RECORDS)
    assert all(w.held_back_s is None for w in report.windows)
    assert store.get_cursor("orders") == NOW


@pytest.mark.parametrize("follow", [True, False], ids=["followed", "ignored"])
def test_a_source_clock_behind_holds_the_last_cursor_back(store: Store, follow: bool) -> None:
    orders = scheme(follow_vendor_clock=follow)
    report = run_scheme(orders, store, deliver=False, now=NOW, source=ClockedSource(RECORDS[:]), retry=FAST)
    assert report.status == "succeeded", report.error
    held = [w.held_back_s for w in report.windows]
    assert held == ([None, None, 91.0] if follow else [None, None, None])  # clock, lag 0, and a second
    assert store.get_cursor("orders") == (NOW - timedelta(seconds=91) if follow else NOW)


SOURCE_IMPLS = {kind: connection_class(kind).source_impl for kind in sorted(CONNECTION_TYPES)}


@pytest.mark.parametrize("kind", [kind for kind, impl in SOURCE_IMPLS.items() if impl])
def test_every_source_connector_declares_its_vendor_clock(kind: str) -> None:
    module, name = str(SOURCE_IMPLS[kind]).split(":")
    source = getattr(importlib.import_module(module), name)
    assert callable(getattr(source, "vendor_time", None)), f"{kind}: {name} lacks vendor_time()"


class NoClockDeclared:
    """A source as it was before the protocol declared the vendor clock."""

    name = "old"
    limits = FakeSource([]).limits

    def fetch(self, api: str, method: str, request: Any, state: Any) -> Any: ...

    def close(self) -> None: ...


def test_the_protocol_asks_every_source_for_its_vendor_clock() -> None:
    assert isinstance(FakeSource([]), SourceConnector)
    assert not isinstance(NoClockDeclared(), SourceConnector)


@pytest.mark.parametrize(
    "connection",
    [{"type": "sql", "url": "sqlite://"}, {"type": "http", "base_url": "https://api.example"}],
    ids=["sql", "http"],
)
def test_sources_without_a_date_header_tell_no_clock(connection: dict[str, Any]) -> None:
    from ferry.connectors.registry import build_source, parse_connection

    source = build_source(parse_connection({"name": "src", **connection}, path="p"))
    try:
        assert isinstance(source, SourceConnector)
        assert source.vendor_time() is None
    finally:
        source.close()
