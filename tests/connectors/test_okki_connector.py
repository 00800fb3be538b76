"""The OKKI CRM connector against the OKKI simulator, and one collect run of seed 004's source."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ferry.connectors.base import PageState
from ferry.connectors.okki import OkkiConnection, OkkiConnector
from ferry.connectors.registry import build_source, parse_connection
from ferry.engine.retry import RetryPolicy
from ferry.engine.runner import run_scheme
from ferry.errors import AuthExpiredError, ConfigError, RetriableError, ThrottledError
from ferry.sandbox import Faults, SandboxTransport
from ferry.sandbox.okki import RECEIPTS, TOKEN, OkkiSimulator
from ferry.scheme.loader import load_scheme
from ferry.store import open_store

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "004-okki-receipts-to-k3cloud"
REQUEST = {
    "start_time": "2024-01-01 00:00:00",
    "end_time": "2024-07-01 00:00:00",
    "start_index": "1",
    "count": "10",
    "removed": "0",
}


class Clock:
    def __init__(self) -> None:
        self.now = 1_717_200_000.0

    def __call__(self) -> float:
        return self.now


def connect(sim: OkkiSimulator, **changes: Any) -> OkkiConnector:
    fields = {
        "name": "okki",
        "base_url": sim.base_url,
        "client_id": sim.CLIENT_ID,
        "client_secret": sim.CLIENT_SECRET,
    }
    spec = OkkiConnection(**{**fields, **changes})
    return OkkiConnector(spec, transport=SandboxTransport({sim.name: sim}))


def fetch(connector: OkkiConnector, size: int = 10, index: int = 0, **request: str):
    return connector.fetch(RECEIPTS, "GET", {**REQUEST, **request}, PageState(index=index, page_size=size))


def page_through(connector: OkkiConnector, size: int) -> list[tuple[int, int | None]]:
    pages: list[tuple[int, int | None]] = []
    state: PageState | None = PageState(page_size=size)
    while state is not None:
        page = connector.fetch(RECEIPTS, "GET", REQUEST, state)
        pages.append((len(page.records), page.total))
        state = page.next
        assert len(pages) < 50, "paging does not end"
    return pages


def test_limits_are_one_based_pages_without_a_rate_or_window():
    limits = connect(OkkiSimulator(size=5)).limits
    assert (limits.page_base, limits.max_page_size, limits.default_page_size) == (1, 100, 20)
    assert limits.max_window is None and limits.rate_per_minute is None


def test_bad_credentials_are_a_config_error_quoting_the_oauth_error():
    connector = connect(OkkiSimulator(size=5), client_secret="wr0ng-secret")
    with pytest.raises(ConfigError) as caught:
        fetch(connector)
    message = str(caught.value)
    assert message.startswith(
        "okki connection 'okki': /v1/oauth2/access_token: vendor code invalid_client: Client authentication failed"
    )
    assert "wr0ng-secret" not in message


def test_unknown_scope_is_a_config_error():
    with pytest.raises(ConfigError, match="vendor code invalid_scope"):
        fetch(connect(OkkiSimulator(size=5), scope="invoices orders"))


def test_missing_invoices_scope_is_a_config_error_with_the_vendor_text():
    with pytest.raises(ConfigError, match="vendor code 403: no permission invoices scopes"):
        fetch(connect(OkkiSimulator(size=5), scope="company"))


def test_expired_token_is_fetched_again_and_the_call_succeeds():
    clock = Clock()
    sim = OkkiSimulator(size=30, clock=clock)
    connector = connect(sim)
    fetch(connector)
    clock.now += OkkiSimulator.TOKEN_LIFETIME + 1
    assert len(fetch(connector).records) == 10
    assert connector.tokens_fetched == 2
    assert [c.status for c in sim.calls_to(RECEIPTS)] == [200, 401, 200]


def test_token_expiring_after_every_call_is_renewed_each_time():
    sim = OkkiSimulator(size=30, faults=Faults(token_expiry_calls=1))
    connector = connect(sim)
    assert page_through(connector, 10) == [(10, 30), (10, 30), (10, 30)]
    assert connector.tokens_fetched == 3


def test_a_second_401_raises_auth_expired():
    sim = OkkiSimulator(size=5, faults=Faults(token_expiry_calls=0))  # every token is dead on arrival
    with pytest.raises(
        AuthExpiredError, match="session expired, vendor code access_denied: Access token has expired"
    ):
        fetch(connect(sim))
    assert len(sim.calls_to(TOKEN)) == 2


def test_throttling_is_a_throttled_error():
    connector = connect(OkkiSimulator(size=5, faults=Faults(rate_per_minute=2)))
    fetch(connector)
    with pytest.raises(ThrottledError, match="HTTP 429"):
        fetch(connector)


@pytest.mark.parametrize("timeout_share", [pytest.param(0.0, id="5xx"), pytest.param(1.0, id="timeout")])
def test_server_errors_and_timeouts_are_retriable(timeout_share):
    sim = OkkiSimulator(size=5, faults=Faults(error_rate=1.0, timeout_share=timeout_share))
    with pytest.raises(RetriableError) as caught:
        fetch(connect(sim))
    assert not isinstance(caught.value, ThrottledError | AuthExpiredError)
    assert "okki-demo-secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("size", "count", "expected"),
    [
        pytest.param(0, 10, [(0, 0)], id="empty"),
        pytest.param(10, 10, [(10, 10)], id="one-full-page"),
        pytest.param(25, 10, [(10, 25), (10, 25), (5, 25)], id="last-page-short"),
        pytest.param(20, 10, [(10, 20), (10, 20)], id="two-full-pages"),
    ],
)
def test_receipt_list_pages_end_when_page_times_count_reaches_total(size, count, expected):
    sim = OkkiSimulator(size=size)
    assert page_through(connect(sim), count) == expected
    assert len(sim.calls_to(RECEIPTS)) == len(expected)


def test_paging_overrides_start_index_and_count_and_passes_removed_through():
    sim = OkkiSimulator(size=40)
    connector = connect(sim)
    page = fetch(connector, size=1, index=1, removed="1")  # page 2 of the 2 deleted receipts
    assert len(page.records) == 1 and page.total == 2 and page.next is None
    live = fetch(connector, size=25, index=1)
    assert (len(live.records), live.total, live.next) == (15, 40, None)


def test_bad_request_parameter_is_a_config_error():
    with pytest.raises(ConfigError, match=r"vendor code 400: start_time"):
        fetch(connect(OkkiSimulator(size=5)), start_time="yesterday")


def test_registry_builds_the_source_from_the_examples_fields():
    data = {
        "name": "okki",
        "type": "okki",
        "base_url": "https://api-sandbox.xiaoman.cn",
        "client_id": "${OKKI_CLIENT_ID}",
        "client_secret": "${OKKI_CLIENT_SECRET}",
        "scope": "invoices",
    }
    env = {"OKKI_CLIENT_ID": "id", "OKKI_CLIENT_SECRET": "s3cr3t-v4lue"}
    conn = parse_connection(data, path="connections.yaml:okki", env=env)
    assert isinstance(conn, OkkiConnection) and "v4lue" not in repr(conn)
    assert isinstance(build_source(conn), OkkiConnector)
    assert conn.target_impl is None


# -- one collect run of seed 004's source ------------------------------------------------------

NOW = datetime(2024, 6, 2, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
FAST = RetryPolicy(attempts=8, base_delay=0.001, max_delay=0.002)


def write_scheme(tmp_path: Path, client_secret: str) -> Path:
    shutil.copy(EXAMPLE / "source.json", tmp_path / "source.json")
    target = {
        "api": "save",
        "effect": "EXECUTE",
        "request": [{"field": "no", "value": "{cash_collection_no}"}],
    }
    (tmp_path / "target.json").write_text(json.dumps(target), encoding="utf-8")
    (tmp_path / "connections.yaml").write_text(
        "okki:\n"
        "  type: okki\n"
        "  base_url: http://okki.sandbox\n"
        f"  client_id: {OkkiSimulator.CLIENT_ID}\n"
        f"  client_secret: {client_secret}\n"
        "  scope: invoices\n"
        "sink:\n"
        "  type: sql\n"
        "  url: 'sqlite://'\n",
        encoding="utf-8",
    )
    path = tmp_path / "scheme.yaml"
    path.write_text(
        "id: okki-receipts\n"
        "name: okki receipts\n"
        "connections: connections.yaml\n"
        "source: {connection: okki, metadata: source.json}\n"
        "target: {connection: sink, metadata: target.json}\n"
        'window: {start: "2024-05-01 00:00:00", step: 10d}\n'
        "settings: {page_size: 10}\n",
        encoding="utf-8",
    )
    return path


def test_collect_with_transport_faults_stores_every_receipt_exactly_once(tmp_path):
    sim = OkkiSimulator(size=60, faults=Faults(error_rate=0.2, seed=11))
    store = open_store(f"sqlite:///{tmp_path / 'ferry.db'}")
    try:
        scheme = load_scheme(write_scheme(tmp_path, OkkiSimulator.CLIENT_SECRET))
        report = run_scheme(
            scheme, store, deliver=False, now=NOW, transport=SandboxTransport({"okki": sim}), retry=FAST
        )
        assert report.exit_code == 0, report.error
        rows = list(store.iter_lookup_rows("okki-receipts"))
    finally:
        store.close()
    expected = {str(r["cash_collection_id"]) for r in sim.receipts.all()}
    assert [row["id"] for row in rows] == sorted(expected)
    assert report.counts.retries > 0, "the faults must have been exercised"
    assert any(c.fault in ("5xx", "timeout") for c in sim.calls)


def test_collect_with_wrong_credentials_is_invalid_and_names_the_connection(tmp_path):
    sim = OkkiSimulator(size=10)
    store = open_store(f"sqlite:///{tmp_path / 'ferry.db'}")
    try:
        scheme = load_scheme(write_scheme(tmp_path, "not-the-secret"))
        report = run_scheme(
            scheme, store, deliver=False, now=NOW, transport=SandboxTransport({"okki": sim}), retry=FAST
        )
    finally:
        store.close()
    assert report.exit_code == 2
    assert report.error is not None and "okki connection 'okki'" in report.error
    assert "invalid_client" in report.error and "not-the-secret" not in report.error
    assert len(sim.calls_to(TOKEN)) == 1, "a configuration error is not retried"
