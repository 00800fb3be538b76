"""Value maps (值映射) in a run into a real SQLite target: shop codes mapped to shop names with
each unmatched policy; a quarantined record never reaches the target, carries the rule, path,
value and reason, and is not retried; the run names the version of the table it read."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from fakes import FakeSource

from ferry.connectors.registry import build_target, parse_connection
from ferry.engine.retry import RetryPolicy
from ferry.engine.runner import run_scheme
from ferry.scheme.loader import load_scheme
from ferry.store import open_store

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 5, 3, 12, 0, tzinfo=TZ)
FAST = RetryPolicy(attempts=2, base_delay=0.0, max_delay=0.0)
ORDERS = [
    {"id": 1, "no": "SO1", "shop": 101},
    {"id": 2, "no": "SO2", "shop": "102 "},
    {"id": 3, "no": "SO3", "shop": 999},
]
SHOPS_CSV = "\ufeffcode,name\n101,Shop A\n102,Shop B\n"


def write_scheme(
    folder: Path, value: str, maps: dict[str, Any] | None = None, stream: str = "thread"
) -> Path:
    (folder / "maps").mkdir(exist_ok=True)
    (folder / "maps" / "shops.csv").write_text(SHOPS_CSV, encoding="utf-8")
    scheme: dict[str, Any] = {
        "id": "shop-orders",
        "name": "orders with shop names",
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
                        "children": [
                            {"field": "NO", "value": "{no}"},
                            {"field": "SHOP", "value": value},
                        ],
                    }
                ],
                "otherRequest": [
                    {"field": "main_sql", "value": "insert into orders (no, shop) values (:NO, :SHOP)"}
                ],
            },
        },
        "window": {"start": "2024-05-01 00:00:00", "step": "1d"},
        "settings": {"stream": stream, "retry": ["1m"]},
    }
    if maps is not None:
        scheme["maps"] = maps
    path = folder / "scheme.yaml"
    path.write_text(yaml.safe_dump(scheme, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Any]:
    s = open_store(f"sqlite:///{tmp_path / 'ferry.db'}")
    yield s
    s.close()


@pytest.fixture
def target(tmp_path: Path) -> Iterator[tuple[Any, Path]]:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE orders (no TEXT PRIMARY KEY, shop TEXT)")
    connector = build_target(
        parse_connection({"type": "sql", "name": "shop", "url": f"sqlite:///{path}"}, path="t")
    )
    yield connector, path
    connector.close()


def rows(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as con:
        return dict(con.execute("SELECT no, shop FROM orders ORDER BY no").fetchall())


def run(scheme: Any, store: Any, connector: Any, now: datetime = NOW, *, collect: bool = True) -> Any:
    source = FakeSource([dict(o) for o in ORDERS]) if collect else None
    return run_scheme(scheme, store, now=now, source=source, target=connector, retry=FAST, collect=collect)


def test_keep_writes_the_mapped_names_and_the_unmatched_code_as_it_is(
    tmp_path: Path, store: Any, target: tuple[Any, Path]
) -> None:
    scheme = load_scheme(write_scheme(tmp_path, "_map shops {shop}"))

    report = run(scheme, store, target[0])

    assert report.counts.delivered == 3 and report.counts.dead == 0
    assert rows(target[1]) == {"SO1": "Shop A", "SO2": "Shop B", "SO3": "999"}


def test_default_writes_the_default_for_the_unmatched_code(
    tmp_path: Path, store: Any, target: tuple[Any, Path]
) -> None:
    path = write_scheme(tmp_path, "_map shops {shop}", {"shops": {"unmatched": {"default": "未知门店"}}})

    report = run(load_scheme(path), store, target[0])

    assert report.counts.delivered == 3
    assert rows(target[1]) == {"SO1": "Shop A", "SO2": "Shop B", "SO3": "未知门店"}


@pytest.mark.parametrize("stream", ["thread", "process"])
def test_quarantine_holds_the_unmatched_record_with_its_reason_and_never_retries_it(
    tmp_path: Path, store: Any, target: tuple[Any, Path], stream: str
) -> None:
    scheme = load_scheme(write_scheme(tmp_path, "_map shops {shop} unmatched=quarantine", stream=stream))

    report = run(scheme, store, target[0])

    assert report.counts.delivered == 2
    assert rows(target[1]) == {"SO1": "Shop A", "SO2": "Shop B"}
    held = store.get_record("shop-orders", "3")
    assert held.status == "quarantined" and held.next_attempt_at is None
    assert report.counts.quarantined == 1
    assert held.last_error == (
        "quarantined by map:shops: target.request[0].children[1].value = 999: "
        "no match in value map 'shops' (2 entries)"
    )
    again = run(scheme, store, target[0], NOW + timedelta(hours=1), collect=False)
    assert again.counts.due == 0 and store.get_record("shop-orders", "3").status == "quarantined"


def test_a_run_names_the_version_of_each_value_map_it_read(
    tmp_path: Path, store: Any, target: tuple[Any, Path]
) -> None:
    scheme = load_scheme(write_scheme(tmp_path, "_map shops {shop}"))
    version = scheme.value_maps["shops"].digest

    report = run(scheme, store, target[0])

    events = [e["message"] for e in store.list_run_events(report.run_id)]
    assert f"value map shops: 2 entries from maps/shops.csv, unmatched keep ({version[:19]})" in events
    stored = store.get_scheme("shop-orders")["definition"]["value_maps"]["shops"]
    assert stored == {"origin": "maps/shops.csv", "entries": 2, "unmatched": "keep", "digest": version}


def test_a_changed_table_is_a_new_version(tmp_path: Path) -> None:
    first = load_scheme(write_scheme(tmp_path, "_map shops {shop}")).value_maps["shops"].digest
    (tmp_path / "maps" / "shops.csv").write_text(SHOPS_CSV + "103,Shop C\n", encoding="utf-8")

    second = load_scheme(tmp_path / "scheme.yaml").value_maps["shops"].digest

    assert first.startswith("sha256:") and second.startswith("sha256:") and first != second
