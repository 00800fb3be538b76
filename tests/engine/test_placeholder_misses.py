"""A run counts, per target field, the records in which a placeholder found nothing, and keeps
the counts with its record: whatever host delivers (inline, thread, forked children), across
batches, and with nested fields named by their place in the payload."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fakes import FakeSource, FakeTarget

from ferry.engine.hosts import choose_host
from ferry.engine.misses import PlaceholderMisses, missing_lines
from ferry.engine.retry import RetryPolicy
from ferry.engine.runner import run_scheme
from ferry.scheme.loader import load_scheme
from ferry.store import Store, open_store

HOSTS = ["inline", "thread", "process"]
NOW = datetime(2024, 5, 3, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
FAST = RetryPolicy(attempts=2, base_delay=0.0, max_delay=0.0)


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = open_store(f"sqlite:///{tmp_path / 'ferry.db'}")
    yield s
    s.close()


# -- a SQL source into a SQL target, as a forked child can share them ---------------------------


def _databases(tmp: Path, n: int) -> None:
    """``n`` source rows whose ``note`` is null in every other row, and a target whose ``note``
    column is nullable (a typo there surfaces nowhere but in these counts)."""
    with sqlite3.connect(tmp / "source.db") as con:
        con.execute("CREATE TABLE src (id INTEGER PRIMARY KEY, name TEXT, note TEXT)")
        rows = [(i, f"item {i}", None if i % 2 else f"note {i}") for i in range(1, n + 1)]
        con.executemany("INSERT INTO src VALUES (?, ?, ?)", rows)
    with sqlite3.connect(tmp / "target.db") as con:
        con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT)")


def _sql_scheme(tmp: Path, host: str, note: str) -> Any:
    return load_scheme(
        {
            "id": "items",
            "name": "items",
            "source": {
                "connection": {"type": "sql", "url": f"sqlite:///{tmp / 'source.db'}"},
                "metadata": {
                    "api": "SELECT id, name, note FROM src ORDER BY id",
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
                        {"field": "note", "value": note},
                    ],
                    "otherRequest": [
                        {"field": "main_sql", "value": "REPLACE INTO t (id, name, note) VALUES"}
                    ],
                },
            },
            "window": {"start": "2024-05-03 00:00:00", "step": "1d"},
            "settings": {"stream": host, "batch_size": 40, "page_size": 50, "deliver_workers": 2},
        }
    )


def _notes(tmp: Path) -> list[Any]:
    with sqlite3.connect(tmp / "target.db") as con:
        return [note for (note,) in con.execute("SELECT note FROM t ORDER BY id")]


def _kept(store: Store, run_id: int | None) -> tuple[Any, list[str]]:
    """What the store keeps with the run: its ``placeholders`` and its log's warnings."""
    assert run_id is not None
    stored = store.get_run(run_id)
    assert stored is not None
    return stored["placeholders"], [e["message"] for e in store.list_run_events(run_id, levels=["warning"])]


@pytest.mark.parametrize("host", HOSTS)
def test_a_typo_on_a_nullable_column_is_counted_in_every_record_on_every_host(
    tmp_path: Path, store: Store, host: str
) -> None:
    _databases(tmp_path, 600)
    scheme = _sql_scheme(tmp_path, host, "{notes}")
    assert choose_host(scheme, store) == host
    report = run_scheme(scheme, store, now=NOW)

    assert report.status == "succeeded", report.error
    assert report.counts.delivered == 600
    assert _notes(tmp_path) == [None] * 600, "the typo wrote null, and the database said nothing"
    expected = {"mapped": 600, "missing": {"note": 600}}
    assert report.misses.as_dict() == expected  # 15 batches of 40, over pages of 50
    placeholders, warnings = _kept(store, report.run_id)
    assert placeholders == expected
    assert missing_lines(placeholders) == ["note: missing in 600 of 600 records"]
    assert warnings == ["a placeholder found nothing: note: missing in 600 of 600 records"]


@pytest.mark.parametrize("host", HOSTS)
def test_a_correct_scheme_reports_no_miss_though_half_its_values_are_null(
    tmp_path: Path, store: Store, host: str
) -> None:
    _databases(tmp_path, 200)
    report = run_scheme(_sql_scheme(tmp_path, host, "{note}"), store, now=NOW)

    assert report.status == "succeeded", report.error
    assert _notes(tmp_path).count(None) == 100
    placeholders, warnings = _kept(store, report.run_id)
    assert placeholders == {"mapped": 200, "missing": {}}
    assert missing_lines(placeholders) == []
    assert warnings == []


def test_a_run_that_maps_nothing_keeps_no_counts(tmp_path: Path, store: Store) -> None:
    _databases(tmp_path, 10)
    report = run_scheme(_sql_scheme(tmp_path, "inline", "{notes}"), store, now=NOW, deliver=False)

    assert _kept(store, report.run_id)[0] is None
    assert report.misses.mapped == 0


# -- nested fields, flattened rows, records that fail ---------------------------------------------


def _scheme(request: list[dict[str, Any]], *, beat_flat: bool = False) -> Any:
    source: dict[str, Any] = {"api": "/orders", "effect": "QUERY", "id": "id"}
    if beat_flat:
        source["beatFlat"] = ["items"]
    return load_scheme(
        {
            "id": "orders",
            "name": "orders",
            "source": {"connection": {"type": "sql", "url": "sqlite://"}, "metadata": source},
            "target": {
                "connection": {"type": "ledger"},
                "metadata": {"api": "save", "effect": "EXECUTE", "request": request},
            },
            "window": {"start": "2024-05-01 00:00:00", "step": "1d"},
            "settings": {"batch_size": 2},
        }
    )


ORDERS = [
    {"id": 1, "no": "A1", "remark": None, "items": [{"skuId": "x", "qty": 1}, {"skuId": "y", "qty": 2}]},
    {"id": 2, "no": "A2", "items": [{"skuId": "z", "qty": 3}], "shop": {"no": "S2"}},
    {"id": 3, "no": "A3", "remark": "r", "items": []},
]
NESTED = [
    {"field": "no", "value": "{no}"},
    {"field": "remark", "value": "{remark}"},
    {"field": "Head", "type": "object", "children": [{"field": "Shop", "value": "{{shop.no}}"}]},
    {
        "field": "FEntity",
        "type": "array",
        "value": "items",
        "children": [
            {"field": "FMaterialId", "value": "{{items.skuID}}"},
            {"field": "FQty", "value": "_function {{items.qty}} * {{items.price}}"},
        ],
    },
]


def test_nested_fields_are_named_by_their_place_and_counted_once_per_record(store: Store) -> None:
    target = FakeTarget()
    report = run_scheme(_scheme(NESTED), store, now=NOW, source=FakeSource(ORDERS), target=target, retry=FAST)

    assert report.status == "succeeded", report.error
    assert target.written["1"]["FEntity"] == [{"FMaterialId": None, "FQty": None}] * 2
    # record 1 misses skuID in both of its lines: one record; record 3 has no line to miss in
    assert report.misses.as_dict() == {
        "mapped": 3,
        "missing": {
            "FEntity[].FMaterialId": 2,
            "FEntity[].FQty": 2,
            "Head.Shop": 2,
            "remark": 1,
        },
    }
    assert missing_lines(report.misses.as_dict()) == [
        "FEntity[].FMaterialId: missing in 2 of 3 records",
        "FEntity[].FQty: missing in 2 of 3 records",
        "Head.Shop: missing in 2 of 3 records",
        "remark: missing in 1 of 3 records",
    ]


def test_a_flattened_row_counts_as_a_record_and_its_elements_typo_is_found(store: Store) -> None:
    request = [{"field": "no", "value": "{no}"}, {"field": "sku", "value": "{{items.skuID}}"}]
    records = [dict(order) for order in ORDERS[:2]]
    report = run_scheme(
        _scheme(request, beat_flat=True),
        store,
        now=NOW,
        source=FakeSource(records),
        target=FakeTarget(),
        retry=FAST,
    )

    assert report.counts.due == 3  # order 1 splits into two rows
    assert report.misses.as_dict() == {"mapped": 3, "missing": {"sku": 3}}


def test_a_record_that_fails_mapping_still_counts_its_misses(store: Store) -> None:
    request = [
        {"field": "no", "value": "{no}"},
        {"field": "code", "value": "{itemCode}", "is_required": True},
    ]
    report = run_scheme(
        _scheme(request), store, now=NOW, source=FakeSource(ORDERS), target=FakeTarget(), retry=FAST
    )

    assert report.counts.failed == 3
    assert report.misses.as_dict() == {"mapped": 3, "missing": {"code": 3}}


# -- the lines every view shows -------------------------------------------------------------------


def test_lines_list_the_most_missed_fields_first_and_sum_up_the_rest() -> None:
    misses = PlaceholderMisses(mapped=5)
    for i in range(12):
        misses.note([f"target.request[{i}].value"] * 2, {f"target.request[{i}].value": f"f{i:02}"})
    misses.note(["target.request[3].value"], {"target.request[3].value": "f03"})
    misses.merge({"mapped": 1, "missing": {"f11": 4}})

    lines = missing_lines(misses.as_dict())

    assert misses.mapped == 6
    assert lines[:3] == [
        "f11: missing in 5 of 6 records",
        "f03: missing in 2 of 6 records",
        "f00: missing in 1 of 6 records",
    ]
    assert len(lines) == 11 and lines[-1] == "and 2 more fields"
    assert missing_lines(misses.as_dict(), lang="zh")[0] == "f11：6 条记录中有 5 条取不到占位符的值"
    assert missing_lines(None) == [] and missing_lines({"mapped": 3, "missing": {}}) == []
