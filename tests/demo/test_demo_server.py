"""The demo source: a deterministic dataset behind a paged JSON API (thread and process)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest

from ferry.connectors.base import PageState
from ferry.connectors.http import HttpConnector
from ferry.demo import DemoSource, build_dataset
from ferry.demo.dataset import SHANGHAI, parse_time


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoSource]:
    with DemoSource(n_orders=500, n_products=40, seed=7) as source:
        yield source


@pytest.fixture(scope="module")
def client(demo: DemoSource) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=demo.base_url) as http:
        yield http


def test_same_seed_gives_the_same_data_and_another_seed_differs() -> None:
    a = build_dataset(n_orders=200, n_products=20, seed=3)
    b = build_dataset(n_orders=200, n_products=20, seed=3)
    c = build_dataset(n_orders=200, n_products=20, seed=4)
    assert a.orders == b.orders and a.products == b.products
    assert a.orders != c.orders


def test_orders_have_the_documented_shape_and_lie_in_the_range(demo: DemoSource) -> None:
    orders = demo.orders()
    skus = {p["sku_id"] for p in demo.products()}
    assert len(orders) == 500
    assert sorted(o["order_id"] for o in orders) == list(range(1, 501))
    assert [(o["modified"], o["order_id"]) for o in orders] == sorted(
        (o["modified"], o["order_id"]) for o in orders
    )
    for order in orders:
        assert set(order) == {"order_id", "order_no", "shop_no", "buyer", "modified", "created", "items"}
        modified = parse_time(order["modified"])
        assert demo.dataset.start <= modified < demo.dataset.end
        assert 0 <= modified.replace(tzinfo=SHANGHAI).timestamp() - order["created"] < 3 * 86400
        assert 1 <= len(order["items"]) <= 4
        assert len({item["sku_id"] for item in order["items"]}) == len(order["items"])
        for item in order["items"]:
            assert set(item) == {"sku_id", "qty", "price", "discount"}
            assert item["sku_id"] in skus
    assert len(demo.order_lines()) == sum(len(o["items"]) for o in orders)


def test_products_page_through_to_the_exact_dataset(client: httpx.Client, demo: DemoSource) -> None:
    got, page = [], 1
    while True:
        body = client.get("/products", params={"page": page, "page_size": 7}).json()
        assert body["code"] == 0
        assert body["data"]["total"] == 40
        got += body["data"]["list"]
        if len(body["data"]["list"]) < 7:
            break
        page += 1
    assert page == 6
    assert got == demo.products()
    assert set(got[0]) == {"sku_id", "sku_name", "item_code", "unit", "price"}


def test_orders_window_is_half_open_and_ordered(client: httpx.Client, demo: DemoSource) -> None:
    orders = demo.orders()
    start, end = orders[100]["modified"], orders[300]["modified"]
    expected = [o for o in orders if start <= o["modified"] < end]
    got, page = [], 1
    while True:
        data = client.get(
            "/orders", params={"start": start, "end": end, "page": page, "page_size": 50}
        ).json()["data"]
        assert data["total"] == len(expected)
        got += data["list"]
        if len(data["list"]) < 50:
            break
        page += 1
    assert got == expected
    assert got[0]["modified"] == start  # start is inclusive
    assert all(o["modified"] < end for o in got)  # end is exclusive


def test_orders_without_a_window_return_everything(client: httpx.Client, demo: DemoSource) -> None:
    data = client.get("/orders", params={"page_size": 1000}).json()["data"]
    assert data["total"] == 500
    assert data["list"] == demo.orders()


def test_page_past_the_end_is_empty(client: httpx.Client) -> None:
    data = client.get("/orders", params={"page": 99, "page_size": 100}).json()["data"]
    assert data["list"] == []
    assert data["total"] == 500


@pytest.mark.parametrize(
    ("path", "params", "status", "fragment"),
    [
        pytest.param(
            "/orders", {"page_size": 1001}, 400, "page_size must be between 1 and 1000", id="page-size"
        ),
        pytest.param("/orders", {"page": 0}, 400, "page must be between", id="page-zero"),
        pytest.param(
            "/orders", {"start": "yesterday"}, 400, "start must be 'YYYY-MM-DD HH:MM:SS'", id="bad-time"
        ),
        pytest.param(
            "/orders", {"start": "2024-05-10", "end": "2024-05-01"}, 400, "is after end", id="reversed-window"
        ),
        pytest.param("/customers", {}, 404, "no such endpoint", id="unknown-path"),
    ],
)
def test_bad_requests_get_an_error_code(
    client: httpx.Client, path: str, params: dict[str, object], status: int, fragment: str
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == status
    assert response.json()["code"] == status
    assert fragment in response.json()["msg"]


def test_http_connector_reads_a_window_from_the_live_server(demo: DemoSource) -> None:
    orders = demo.orders()
    window = {"start": orders[10]["modified"], "end": orders[480]["modified"]}
    source = HttpConnector(demo.connection(page_size=100))
    got, state, pages = [], PageState(page_size=100), 0
    while state is not None:
        page = source.fetch("/orders", "GET", window, state)
        got += page.records
        state, pages = page.next, pages + 1
    source.close()
    assert got == [o for o in orders if window["start"] <= o["modified"] < window["end"]]
    assert pages == len(got) // 100 + 1
    assert demo.app.requests["/orders"] >= pages


def test_in_process_transport_serves_the_same_answers(demo: DemoSource, client: httpx.Client) -> None:
    with httpx.Client(transport=demo.transport(), base_url="http://demo.invalid") as local:
        params = {"page": 2, "page_size": 30}
        assert local.get("/orders", params=params).json() == client.get("/orders", params=params).json()


def test_latency_is_applied_per_request() -> None:
    with (
        DemoSource(n_orders=5, n_products=3, latency_ms=120) as slow,
        httpx.Client(base_url=slow.base_url) as http,
    ):
        began = time.perf_counter()
        http.get("/products")
        assert time.perf_counter() - began >= 0.12


def test_stop_releases_the_port() -> None:
    source = DemoSource(n_orders=1, n_products=1)
    url = source.start()
    assert httpx.get(url + "/health").json()["data"] == {"orders": 1, "products": 1}
    source.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/health", timeout=1)
    with pytest.raises(RuntimeError, match="not started"):
        _ = source.base_url


def test_order_times_follow_the_end_and_days_options() -> None:
    end = datetime(2025, 1, 1)
    data = build_dataset(n_orders=300, n_products=5, seed=1, days=2, end=end)
    times = [parse_time(o["modified"]) for o in data.orders]
    assert min(times) >= end - timedelta(days=2)
    assert max(times) < end


def test_server_runs_as_its_own_process_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ferry.demo", "--port", "0", "--orders", "50", "--products", "5"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        data = httpx.get(url + "/orders", params={"page_size": 100}).json()["data"]
        assert data["total"] == 50
        assert data["list"] == build_dataset(n_orders=50, n_products=5, seed=1).orders
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
