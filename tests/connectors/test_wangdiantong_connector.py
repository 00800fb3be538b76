"""The WangDianTong connector against the simulator, on the direct and the Qimen route."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ferry.connectors.base import PageState
from ferry.connectors.registry import load_connections
from ferry.connectors.wangdiantong import (
    WangdiantongConnection,
    WangdiantongConnector,
    direct_api,
    qimen_method,
)
from ferry.engine.retry import RetryPolicy
from ferry.engine.runner import run_scheme
from ferry.engine.windows import plan_windows
from ferry.errors import ConfigError, RetriableError, ThrottledError
from ferry.sandbox import CHINA, Faults, SandboxTransport
from ferry.sandbox.wangdiantong import WangdiantongSimulator as Wdt
from ferry.scheme.loader import load_scheme
from ferry.store import open_store

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "003-wdt-stockout-to-k3cloud-customer"
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=CHINA).timestamp()
API = "wdt.stockout.order.query.trade"
MONTH = {"start_time": "2024-05-02 00:00:00", "end_time": "2024-06-01 00:00:00"}
SEED_FILTER = {**MONTH, "status": "95,105,110,113", "shop_nos": "002,003,004,0071"}
ROUTES = ["direct", "qimen"]


def clock() -> float:
    return NOW


def spec_for(sim: Wdt, route: str, **changes: Any) -> WangdiantongConnection:
    fields = {**sim.describe()[route], **changes}
    return WangdiantongConnection(name="wdt", route=route, **fields)


Connect = Callable[..., WangdiantongConnector]


@pytest.fixture
def sim() -> Wdt:
    return Wdt(size=60, clock=clock)


@pytest.fixture
def connect(sim: Wdt) -> Connect:
    def build(route: str, *, simulator: Wdt | None = None, at: Callable[[], float] = clock, **changes: Any):
        target = simulator or sim
        transport = SandboxTransport({"wangdiantong": target})
        return WangdiantongConnector(spec_for(target, route, **changes), transport=transport, clock=at)

    return build


def read_all(connector: WangdiantongConnector, request: dict[str, Any], size: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    state: PageState | None = PageState(index=0, page_size=size)
    while state is not None:
        page = connector.fetch(API, "POST", request, state)
        rows += page.records
        state = page.next
    return rows


def matching(sim: Wdt, request: dict[str, str]) -> list[str]:
    """Stock-out numbers the query selects, straight from the dataset."""
    statuses = {int(s) for s in request["status"].split(",")}
    shops = set(request["shop_nos"].split(","))
    return [
        r["stockout_no"]
        for r in sim.dataset.all()
        if r["status"] in statuses
        and r["shop_no"] in shops
        and request["start_time"] <= r["modified"] <= request["end_time"]
    ]


# -- reading -----------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES)
def test_every_matching_stockout_is_read_once_across_pages(route, sim, connect):
    rows = read_all(connect(route), SEED_FILTER, size=4)

    assert [r["stockout_no"] for r in rows] == matching(sim, SEED_FILTER)
    assert len(rows) > 8
    assert all(r["details_list"] for r in rows)


@pytest.mark.parametrize("route", ROUTES)
def test_the_connector_numbers_pages_from_zero_over_the_requests_own(route, sim, connect):
    connector = connect(route)
    request = {**SEED_FILTER, "page_no": "9", "page_size": "3", "src_tid": None, "warehouse_no": ""}

    page = connector.fetch(API, "POST", request, PageState(index=0, page_size=5))

    assert [r["stockout_no"] for r in page.records] == matching(sim, SEED_FILTER)[:5]
    assert connector.limits.page_base == 0 and page.next is not None and page.next.index == 1


def test_the_documented_limits_are_declared(connect):
    limits = connect("direct").limits

    assert limits.max_window == timedelta(days=30)
    assert (limits.max_page_size, limits.default_page_size, limits.page_base) == (100, 40, 0)
    assert limits.rate_per_second is None and limits.rate_per_minute is None


@pytest.mark.parametrize("route", ROUTES)
def test_an_empty_result_is_one_call_and_no_next_page(route, sim, connect):
    request = {"start_time": "2023-01-01 00:00:00", "end_time": "2023-01-30 00:00:00"}

    page = connect(route).fetch(API, "POST", request, PageState(index=0, page_size=40))

    assert page.records == [] and page.total == 0 and page.next is None
    assert len(sim.calls) == 1


@pytest.mark.parametrize("route", ROUTES)
def test_exactly_one_full_page_ends_without_asking_for_another(route, sim, connect):
    total = len(matching(sim, SEED_FILTER))

    page = connect(route).fetch(API, "POST", SEED_FILTER, PageState(index=0, page_size=total))

    assert len(page.records) == total and page.total == total and page.next is None
    assert len(sim.calls) == 1


@pytest.mark.parametrize("route", ROUTES)
def test_a_short_last_page_ends_paging(route, sim, connect):
    total = len(matching(sim, SEED_FILTER))
    size = total - 1
    connector = connect(route)

    first = connector.fetch(API, "POST", SEED_FILTER, PageState(index=0, page_size=size))
    assert first.next is not None
    last = connector.fetch(API, "POST", SEED_FILTER, first.next)

    assert (len(first.records), len(last.records), last.next) == (size, 1, None)


def test_without_total_count_a_short_page_is_the_last(monkeypatch, sim, connect):
    original = Wdt._stockout_order_query_trade

    def no_total(self: Wdt, params: dict[str, str]) -> dict[str, Any]:
        body = original(self, params)
        del body["total_count"]
        return body

    monkeypatch.setattr(Wdt, "_stockout_order_query_trade", no_total)
    connector = connect("direct")

    rows = read_all(connector, SEED_FILTER, size=5)

    assert [r["stockout_no"] for r in rows] == matching(sim, SEED_FILTER)


@pytest.mark.parametrize("route", ROUTES)
def test_a_70_day_range_splits_into_three_windows_each_accepted(route, sim, connect):
    connector = connect(route)
    end = datetime(2024, 6, 1, tzinfo=CHINA)
    windows = plan_windows(
        now=end,
        cursor=None,
        start=end - timedelta(days=70),
        step=timedelta(days=365),
        connector_max=connector.limits.max_window,
    )
    seen: list[str] = []
    for window in windows:
        request = {
            "start_time": window.start.strftime("%Y-%m-%d %H:%M:%S"),
            "end_time": window.end.strftime("%Y-%m-%d %H:%M:%S"),
            "status": "5,55,95,105,110,113",
        }
        seen += [r["stockout_no"] for r in read_all(connector, request, size=100)]

    assert [w.end - w.start for w in windows] == [timedelta(days=30), timedelta(days=30), timedelta(days=10)]
    assert sorted(seen) == sorted(r["stockout_no"] for r in sim.dataset.all())
    assert {c.code for c in sim.calls} == {0}


def test_the_scheme_api_maps_between_the_routes():
    assert direct_api("wdt.stockout.order.query.trade") == "stockout_order_query_trade.php"
    assert direct_api("stockout_order_query_trade.php") == "stockout_order_query_trade.php"
    assert direct_api("hu3cgwt0tc.wdt.trade.query") == "trade_query.php"
    assert qimen_method("stockout_order_query_trade.php") == "wdt.stockout.order.query.trade"
    assert qimen_method("wdt.stockout.order.query.trade") == "wdt.stockout.order.query.trade"


@pytest.mark.parametrize("route", ROUTES)
def test_the_php_name_works_on_both_routes(route, sim, connect):
    page = connect(route).fetch("stockout_order_query_trade.php", "POST", SEED_FILTER, PageState(page_size=5))

    assert len(page.records) == 5
    assert sim.calls[-1].api == ("stockout_order_query_trade.php" if route == "direct" else API)


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "quoted"),
    [
        pytest.param("direct", "vendor code 1007: 签名错误", id="direct"),
        pytest.param("qimen", "vendor code 25: Invalid signature", id="qimen"),
    ],
)
def test_a_bad_signature_is_a_config_error_quoting_the_vendor(route, quoted, connect):
    connector = connect(route, app_secret="a-wrong-secret")

    with pytest.raises(ConfigError) as caught:
        connector.fetch(API, "POST", MONTH, PageState())

    message = str(caught.value)
    assert message.startswith(
        f"wangdiantong connection 'wdt': {direct_api(API) if route == 'direct' else API}"
    )
    assert quoted in message and "hint:" in message
    assert "a-wrong-secret" not in message


@pytest.mark.parametrize(
    ("route", "changes", "quoted"),
    [
        pytest.param("direct", {"sid": "nobody"}, "vendor code 1007: sid或appkey错误", id="direct-sid"),
        pytest.param("qimen", {"sid": "nobody"}, "vendor code 1007: sid或appkey错误", id="qimen-sid"),
        pytest.param("qimen", {"app_key": "99999999"}, "vendor code 29: Invalid App Key", id="qimen-app-key"),
        pytest.param(
            "qimen", {"target_app_key": "1"}, "vendor code 41: Invalid Arguments", id="qimen-target"
        ),
    ],
)
def test_wrong_credentials_are_config_errors(route, changes, quoted, connect):
    with pytest.raises(ConfigError, match="wangdiantong connection 'wdt'") as caught:
        connect(route, **changes).fetch(API, "POST", MONTH, PageState())

    assert quoted in str(caught.value)


@pytest.mark.parametrize(("route", "code"), [("direct", "1008"), ("qimen", "31")])
def test_a_clock_off_by_more_than_the_tolerance_is_a_config_error(route, code, connect):
    connector = connect(route, at=lambda: NOW + 3600)

    with pytest.raises(ConfigError, match=f"vendor code {code}") as caught:
        connector.fetch(API, "POST", MONTH, PageState())

    assert "clock" in str(caught.value)


@pytest.mark.parametrize("route", ROUTES)
def test_a_window_over_30_days_is_refused_as_a_config_error(route, connect):
    request = {"start_time": "2024-04-01 00:00:00", "end_time": "2024-06-01 00:00:00"}

    with pytest.raises(ConfigError, match="vendor code 1030: 参数错误: 时间跨度不能超过30天"):
        connect(route).fetch(API, "POST", request, PageState())


@pytest.mark.parametrize(("route", "retry_after"), [("direct", None), ("qimen", 1.0)])
def test_throttling_is_a_throttled_error(route, retry_after, connect):
    limited = Wdt(size=10, clock=clock, faults=Faults(rate_per_second=1))
    connector = connect(route, simulator=limited)
    connector.fetch(API, "POST", MONTH, PageState())

    with pytest.raises(ThrottledError, match="throttled") as caught:
        connector.fetch(API, "POST", MONTH, PageState())

    assert caught.value.retry_after == retry_after


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(("share", "text"), [(0.0, "HTTP 502"), (1.0, "timed out")], ids=["5xx", "timeout"])
def test_server_errors_and_timeouts_are_retriable(route, share, text, connect):
    broken = Wdt(size=10, clock=clock, faults=Faults(error_rate=1.0, timeout_share=share))

    with pytest.raises(RetriableError, match=text) as caught:
        connect(route, simulator=broken).fetch(API, "POST", MONTH, PageState())

    assert not isinstance(caught.value, ThrottledError)


def test_an_unknown_php_api_is_a_config_error(connect):
    with pytest.raises(ConfigError, match="HTTP 404"):
        connect("direct").fetch("no_such_api.php", "POST", MONTH, PageState())


# -- the connection spec -----------------------------------------------------------------------


def test_the_seed_connection_loads_as_a_qimen_connection():
    env = {
        "WDT_SID": "s",
        "WDT_QIMEN_APP_KEY": "k",
        "WDT_QIMEN_APP_SECRET": "secret-value",
        "WDT_TARGET_APP_KEY": "t",
        "K3CLOUD_URL": "http://k3",
        "K3CLOUD_ACCT_ID": "a",
        "K3CLOUD_USERNAME": "u",
        "K3CLOUD_APP_ID": "i",
        "K3CLOUD_APP_SECRET": "x",
    }
    spec = load_connections(EXAMPLE / "connections.yaml", env=env)["wdt_qimen"]

    assert isinstance(spec, WangdiantongConnection)
    assert (spec.route, spec.target_app_key) == ("qimen", "t")
    # the secret field first, then every value a ${VAR} gave (sid, app keys: secrets too)
    assert spec.secret_values() == ["secret-value", "s", "k", "t"]
    assert spec.source_impl == "ferry.connectors.wangdiantong:WangdiantongConnector"


def test_a_qimen_connection_without_target_app_key_is_invalid():
    data = {"type": "wangdiantong", "route": "qimen", "base_url": "http://x/router/qm", "sid": "s"}

    with pytest.raises(ConfigError, match="target_app_key") as caught:
        load_connections({"wdt": {**data, "app_key": "k", "app_secret": "hidden-secret"}})

    assert "hidden-secret" not in str(caught.value)


# -- whole runs --------------------------------------------------------------------------------

TARGET_META = {
    "api": "batchexecute",
    "effect": "EXECUTE",
    "method": "SQL",
    "idCheck": True,
    "request": [
        {"field": "stockout_no", "value": "{stockout_no}"},
        {"field": "shop_no", "value": "{shop_no}"},
        {"field": "title", "value": "{invoice_title}"},
        {"field": "tax_no", "value": "{invoice_content}"},
    ],
    "otherRequest": [
        {"field": "main_sql", "value": "REPLACE INTO customers (stockout_no, shop_no, title, tax_no) VALUES"}
    ],
}


def seed_scheme(tmp_path: Path, wdt: dict[str, Any]) -> Any:
    """Seed 003's source metadata, verbatim, collecting into a SQLite table."""
    database = tmp_path / "target.db"
    with sqlite3.connect(database) as db:
        db.execute(
            "CREATE TABLE customers (stockout_no TEXT PRIMARY KEY, shop_no TEXT, title TEXT, tax_no TEXT)"
        )
    return load_scheme(
        {
            "id": "wdt-customers",
            "name": "seed 003 source into SQLite",
            "connections": {"wdt": wdt, "db": {"type": "sql", "url": f"sqlite:///{database}"}},
            "source": {"connection": "wdt", "metadata": json.loads((EXAMPLE / "source.json").read_text())},
            "target": {"connection": "db", "metadata": TARGET_META},
            "window": {"start": "2024-05-01 00:00:00", "step": "30d", "max_span": "30d"},
            "settings": {"page_size": 5},
        }
    )


def test_a_seed_run_through_faults_stores_every_titled_stockout_exactly_once(tmp_path):
    sim = Wdt(size=150, faults=Faults(error_rate=0.2, seed=3))
    wdt = {"type": "wangdiantong", "route": "qimen", **sim.describe()["qimen"]}
    store = open_store(f"sqlite:///{tmp_path / 'ferry.db'}")
    now = datetime(2024, 6, 2, tzinfo=CHINA)

    report = run_scheme(
        seed_scheme(tmp_path, wdt),
        store,
        now=now,
        transport=SandboxTransport({"wangdiantong": sim}),
        retry=RetryPolicy(attempts=10, base_delay=0.001, max_delay=0.001),
    )

    selected = [
        r
        for r in sim.dataset.all()
        if r["status"] in {95, 105, 110, 113} and r["shop_no"] in {"002", "003", "004", "0071"}
    ]
    titled = {r["stockout_no"]: r for r in selected if r["invoice_title"]}
    assert report.exit_code == 0, report.error
    assert len(titled) < len(selected), "the dataset must have rows with empty titles"
    assert report.counts.retries > 0, "the faults must have hit"
    assert report.counts.new == len(titled) and report.counts.filtered_out == len(selected) - len(titled)
    ledger = store.find_records("wdt-customers", limit=1000)
    assert sorted(r.record_id for r in ledger) == sorted(titled)
    assert {r.status for r in ledger} == {"finished"}
    with sqlite3.connect(tmp_path / "target.db") as db:
        rows = db.execute("SELECT stockout_no, title, tax_no FROM customers").fetchall()
    assert {row[0]: row[1:] for row in rows} == {
        no: (r["invoice_title"], r["invoice_content"]) for no, r in titled.items()
    }
    store.close()


def test_a_run_with_wrong_credentials_exits_2_naming_the_connection(tmp_path):
    sim = Wdt(size=10)
    wdt = {
        "type": "wangdiantong",
        "route": "direct",
        **sim.describe()["direct"],
        "app_secret": "wrong-secret",
    }
    store = open_store(f"sqlite:///{tmp_path / 'ferry.db'}")

    report = run_scheme(
        seed_scheme(tmp_path, wdt),
        store,
        now=datetime(2024, 6, 2, tzinfo=CHINA),
        transport=SandboxTransport({"wangdiantong": sim}),
        retry=RetryPolicy(attempts=3, base_delay=0.001),
    )

    assert report.exit_code == 2
    assert report.error is not None and "wangdiantong connection 'wdt'" in report.error
    assert "vendor code 1007: 签名错误" in report.error and "wrong-secret" not in report.error
    assert len(sim.calls) == 1, "a configuration error is never retried"
    store.close()
