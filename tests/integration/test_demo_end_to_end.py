"""The whole pipeline: paginated HTTP JSON with nested arrays -> condition -> beatFlat ->
ledger -> mapping with _function and _findCollection -> MariaDB REPLACE INTO."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from demo_env import create_target_tables, database_name, expected_lines, target_lines, write_schemes

from ferry.demo.server import DemoSource
from ferry.engine.runner import run_scheme
from ferry.scheme.loader import load_scheme
from ferry.store import open_store

NOW = datetime(2024, 6, 2, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def source():
    with DemoSource(n_orders=600, n_products=80, seed=7) as demo:
        yield demo


@pytest.mark.parametrize("store_on", ["sqlite_url", "mariadb_url", "postgres_url"])
def test_demo_schemes_land_exact_rows_in_mariadb_and_a_rerun_changes_nothing(
    tmp_path, source, mariadb_url, mariadb_raw, store_on, request
):
    """The same run with the ledger on each store backend (MariaDB: beside the target tables)."""
    target = mariadb_raw(database_name(mariadb_url))
    create_target_tables(target)
    paths = write_schemes(
        tmp_path,
        source_url=source.base_url,
        target_url=mariadb_url,
        orders_patch={"window": {"step": "7d"}, "settings": {"deliver_workers": 2}},
    )
    store = open_store(request.getfixturevalue(store_on))

    products = run_scheme(load_scheme(paths["products"]), store, now=NOW)
    orders = run_scheme(load_scheme(paths["orders"]), store, now=NOW)

    assert products.status == "succeeded", products.error
    assert orders.status == "succeeded", orders.error
    expected = expected_lines(source.orders(), source.products())
    assert target_lines(target) == expected
    kept_orders = [o for o in source.orders() if o["shop_no"] != "SHOP05"]
    c = orders.counts
    assert c.fetched == len(source.orders())
    assert c.filtered_out == len(source.orders()) - len(kept_orders)
    # each kept order is one row, plus the rows beatFlat added for its further lines
    assert len(kept_orders) + c.flattened == c.new == c.delivered == len(expected)
    assert c.imbalance() == []
    assert c.windows == 5 and c.pages > c.windows, "7-day windows over 31 days, several pages each"
    assert (c.failed, c.dead, c.unchanged) == (0, 0, 0)
    statuses = {k: v for k, v in store.count_by_status("demo-orders").items() if v}
    assert statuses == {"finished": len(expected)}
    rows = store.find_records("demo-orders", limit=len(expected) + 1)
    assert {r.attempts for r in rows} == {1}, "two deliver workers never take the same record"
    writes = [c for c in store.list_api_calls("demo-orders", limit=1000) if c["api"] == "batchexecute"]
    assert sum(c["records"] for c in writes) == len(expected)

    # Re-read everything (a 40-day lookback): idCheck skips every known row, nothing is re-sent.
    rerun = load_scheme(paths["orders"])
    rerun.window.lookback = rerun.window.step * 6
    again = run_scheme(rerun, store, now=NOW.replace(day=3))
    assert again.status == "succeeded", again.error
    assert again.counts.unchanged == len(expected)
    assert (again.counts.new, again.counts.delivered) == (0, 0)
    assert target_lines(target) == expected


def test_changed_source_rows_are_redelivered_when_on_change_is_redeliver(
    tmp_path, source, mariadb_url, mariadb_raw
):
    target = mariadb_raw(database_name(mariadb_url))
    create_target_tables(target)
    paths = write_schemes(
        tmp_path,
        source_url=source.base_url,
        target_url=mariadb_url,
        orders_patch={"settings": {"on_change": "redeliver"}},
    )
    store = open_store(f"sqlite:///{tmp_path / 'ferry.db'}")
    run_scheme(load_scheme(paths["products"]), store, now=NOW)
    first = run_scheme(load_scheme(paths["orders"]), store, now=NOW)
    assert first.status == "succeeded", first.error

    order = next(o for o in source.orders() if o["shop_no"] != "SHOP05")
    order["items"][0]["qty"] += 10  # the vendor changed one line
    rerun = load_scheme(paths["orders"])
    rerun.window.lookback = rerun.window.step * 2
    again = run_scheme(rerun, store, now=NOW)
    assert again.status == "succeeded", again.error
    assert (again.counts.changed, again.counts.delivered) == (1, 1)
    assert target_lines(target) == expected_lines(source.orders(), source.products())
