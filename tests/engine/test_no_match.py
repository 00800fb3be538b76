"""``settings.on_no_match``: an UPDATE that matches no row climbs the retry ladder and dies after
its last rung, or (``ok``) is delivered and counted unchanged; a real SQLite target."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fakes import FakeSource

from ferry.connectors.registry import build_target, parse_connection
from ferry.engine.retry import RetryPolicy
from ferry.engine.runner import run_scheme
from ferry.errors import SchemeError
from ferry.scheme.loader import load_scheme
from ferry.store import open_store

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 5, 3, 12, 0, tzinfo=TZ)
FAST = RetryPolicy(attempts=2, base_delay=0.0, max_delay=0.0)
ORDERS = [{"id": 1, "no": "SO1"}, {"id": 2, "no": "SO2"}]


def scheme(**settings: Any) -> Any:
    return load_scheme(
        {
            "id": "close-orders",
            "name": "close orders",
            "source": {
                "connection": {"type": "sql", "url": "sqlite://"},
                "metadata": {"api": "/orders", "effect": "QUERY", "id": "id", "number": "no", "request": []},
            },
            "target": {
                "connection": {"type": "sql", "url": "sqlite://"},
                "metadata": {
                    "api": "execute",
                    "effect": "EXECUTE",
                    "request": [
                        {
                            "field": "main_params",
                            "type": "object",
                            "children": [{"field": "SO_NUMBER", "value": "{no}"}],
                        }
                    ],
                    "otherRequest": [
                        {
                            "field": "main_sql",
                            "value": "update so_head set status='CLOSED' where so_number=:SO_NUMBER",
                        }
                    ],
                },
            },
            "window": {"start": "2024-05-01 00:00:00", "step": "1d"},
            "settings": {"stream": "thread", **settings},
        }
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Any]:
    s = open_store(f"sqlite:///{tmp_path / 'ferry.db'}")
    yield s
    s.close()


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Any]:
    path = tmp_path / "mom.db"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE so_head (so_number TEXT PRIMARY KEY, status TEXT)")
        con.execute("INSERT INTO so_head VALUES ('SO1', 'OPEN')")  # SO2 is not in the target (yet)
    connector = build_target(
        parse_connection({"type": "sql", "name": "mom", "url": f"sqlite:///{path}"}, path="t")
    )
    yield connector
    connector.close()


def test_a_write_that_matches_no_row_climbs_the_ladder_then_is_dead(store: Any, target: Any) -> None:
    ladder = scheme(retry=["1m"])
    first = run_scheme(ladder, store, now=NOW, source=FakeSource(ORDERS[:]), target=target, retry=FAST)

    assert (first.counts.delivered, first.counts.failed) == (1, 1)
    row = store.get_record("close-orders", "2")
    assert row.status == "error" and row.next_attempt_at == NOW + timedelta(minutes=1)
    assert row.last_error.startswith("UPDATE so_head matched no row (so_number='SO2'); ")

    last = run_scheme(ladder, store, now=NOW + timedelta(minutes=1), collect=False, target=target, retry=FAST)

    assert last.counts.dead == 1 and last.counts.delivered == 0
    assert store.get_record("close-orders", "2").status == "dead"
    assert store.get_record("close-orders", "1").status == "finished"


def test_on_no_match_ok_delivers_the_record_counted_unchanged(store: Any, target: Any) -> None:
    report = run_scheme(
        scheme(on_no_match="ok"), store, now=NOW, source=FakeSource(ORDERS[:]), target=target, retry=FAST
    )

    assert report.counts.delivered == 2 and report.counts.failed == 0
    assert report.counts.delivered_unchanged == 1
    assert store.get_record("close-orders", "2").status == "finished"


def test_on_no_match_accepts_only_error_or_ok() -> None:
    with pytest.raises(
        SchemeError, match=r"settings\.on_no_match: must be one of 'error' or 'ok' \(got 'ignore'\)"
    ):
        scheme(on_no_match="ignore")
