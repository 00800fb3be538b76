"""The KuaiMai connector against its simulator: spec, signing, paging, error classes, a full run."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml

from ferry.connectors.base import Page, PageState
from ferry.connectors.kuaimai import KuaimaiConnection, KuaimaiConnector, router_url
from ferry.connectors.registry import build_source, load_connections, parse_connection
from ferry.engine.retry import RetryPolicy
from ferry.engine.runner import run_scheme
from ferry.errors import AuthExpiredError, ConfigError, RetriableError, ThrottledError
from ferry.sandbox import Faults, SandboxTransport
from ferry.sandbox.kuaimai import KuaimaiSimulator
from ferry.scheme.loader import load_scheme
from ferry.store import open_store

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "001-kuaimai-aftersale-to-mysql"
LIST = "erp.aftersale.list.query"
WINDOW = {"startModified": "2024-05-01 00:00:00", "endModified": "2024-06-01 00:00:00"}
T0 = 1_717_000_000.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Recorder(httpx.BaseTransport):
    """Passes requests to the sandbox and keeps each sent form."""

    def __init__(self, sim: KuaimaiSimulator) -> None:
        self.inner = SandboxTransport({"kuaimai": sim})
        self.forms: list[dict[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.forms.append(dict(parse_qsl(request.content.decode())))
        return self.inner.handle_request(request)


def spec(**changes: Any) -> KuaimaiConnection:
    values: dict[str, Any] = {
        "name": "km",
        "base_url": "http://kuaimai.sandbox/router",
        "app_key": KuaimaiSimulator.APP_KEY,
        "app_secret": KuaimaiSimulator.APP_SECRET,
        "session": KuaimaiSimulator.SESSION,
        **changes,
    }
    return KuaimaiConnection.model_validate(values)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def setup(
    clock: Clock, size: int = 30, faults: Faults | None = None, **changes: Any
) -> tuple[KuaimaiSimulator, Recorder, KuaimaiConnector]:
    sim = KuaimaiSimulator(size=size, faults=faults or Faults(rate_per_second=0), clock=clock)
    recorder = Recorder(sim)
    return sim, recorder, KuaimaiConnector(spec(**changes), transport=recorder, clock=clock)


def fetch(connector: KuaimaiConnector, state: PageState | None = None, **request: Any) -> Page:
    return connector.fetch(LIST, "POST", {**WINDOW, **request}, state or PageState(page_size=10))


def fetch_all(connector: KuaimaiConnector, page_size: int, **request: Any) -> list[Page]:
    pages: list[Page] = []
    state: PageState | None = PageState(page_size=page_size)
    while state is not None:
        pages.append(fetch(connector, state, **request))
        state = pages[-1].next
    return pages


# -- the connection spec ---------------------------------------------------------------------


def test_example_connection_loads_with_documented_defaults_and_builds_the_connector() -> None:
    env = {"KUAIMAI_APP_KEY": "app", "KUAIMAI_APP_SECRET": "s3cret-value", "KUAIMAI_SESSION": "sess-value"}
    env["BI_MYSQL_URL"] = "sqlite://"
    conn = load_connections(EXAMPLE / "connections.yaml", env=env)["kuaimai"]
    assert isinstance(conn, KuaimaiConnection)
    assert (conn.sign_method, conn.refresh_token, conn.base_url) == (
        "hmac",
        None,
        "https://gw.superboss.cc/router",
    )
    assert "s3cret-value" not in repr(conn) and "sess-value" not in repr(conn)
    assert set(conn.secret_values()) == {"app", "s3cret-value", "sess-value"}  # every ${VAR} value
    source = build_source(conn)
    assert isinstance(source, KuaimaiConnector)
    limits = source.limits
    assert (limits.page_base, limits.max_page_size, limits.default_page_size) == (1, 200, 200)
    assert (limits.max_window, limits.rate_per_second) == (None, 10)
    source.close()


def test_unknown_sign_method_is_a_config_error_naming_the_field() -> None:
    data = {"type": "kuaimai", "name": "km", "app_key": "a", "app_secret": "b", "session": "c"}
    with pytest.raises(ConfigError, match=r"sign_method: Input should be 'hmac', 'md5' or 'hmac-sha256'"):
        parse_connection({**data, "sign_method": "sha1"}, path="connections.yaml:km")


def test_a_bare_gateway_host_gets_the_router_path() -> None:
    assert router_url("https://gw.superboss.cc") == "https://gw.superboss.cc/router"
    assert router_url("http://kuaimai.sandbox/router") == "http://kuaimai.sandbox/router"


# -- signing and paging ----------------------------------------------------------------------


@pytest.mark.parametrize("sign_method", ["hmac", "md5", "hmac-sha256"])
def test_every_call_is_signed_with_the_configured_method(clock: Clock, sign_method: str) -> None:
    _, recorder, connector = setup(clock, sign_method=sign_method)
    page = fetch(connector)
    assert len(page.records) == 10 and page.total == 30
    sent = recorder.forms[0]
    assert sent["sign_method"] == sign_method and sent["appKey"] == KuaimaiSimulator.APP_KEY
    assert sent["timestamp"] == "2024-05-30 00:26:40"


def test_paging_parameters_override_the_schemes_and_empty_values_are_not_sent(clock: Clock) -> None:
    _, recorder, connector = setup(clock)
    fetch(connector, PageState(index=1, page_size=5, offset=5), pageNo="1", pageSize="200", tid="")
    fetch(connector, PageState(page_size=500))
    assert (recorder.forms[0]["pageNo"], recorder.forms[0]["pageSize"]) == ("2", "5")
    assert "tid" not in recorder.forms[0]
    assert recorder.forms[1]["pageSize"] == "200", "capped at the documented maximum"


def test_an_empty_window_is_one_call_and_no_next_page(clock: Clock) -> None:
    _, recorder, connector = setup(clock)
    pages = fetch_all(connector, 10, startModified="2023-01-01 00:00:00", endModified="2023-01-02 00:00:00")
    assert [(len(p.records), p.total) for p in pages] == [(0, 0)]
    assert len(recorder.forms) == 1


def test_exactly_one_full_page_ends_by_total_without_an_extra_call(clock: Clock) -> None:
    _, recorder, connector = setup(clock, size=10)
    pages = fetch_all(connector, 10)
    assert [(len(p.records), p.total) for p in pages] == [(10, 10)]
    assert len(recorder.forms) == 1


def test_a_short_last_page_ends_paging_with_every_record_read_once(clock: Clock) -> None:
    sim, recorder, connector = setup(clock, size=23)
    pages = fetch_all(connector, 10)
    assert [len(p.records) for p in pages] == [10, 10, 3]
    assert [f["pageNo"] for f in recorder.forms] == ["1", "2", "3"]
    ids = [r["id"] for p in pages for r in p.records]
    assert sorted(ids) == sorted(r["id"] for r in sim.aftersales.all())
    assert pages[1].next is not None and pages[1].next.offset == 20


# -- errors ----------------------------------------------------------------------------------


def test_bad_signature_is_a_config_error_naming_the_connection_and_quoting_the_vendor(clock: Clock) -> None:
    sim, _, connector = setup(clock, app_secret="wrong-secret-value")
    with pytest.raises(ConfigError) as info:
        fetch(connector)
    message = str(info.value)
    assert message.startswith(f"kuaimai connection 'km': {LIST}: vendor code 25: Invalid Signature")
    assert "check app_secret and sign_method" in message
    assert "wrong-secret-value" not in message and KuaimaiSimulator.SESSION not in message
    assert len(sim.calls) == 1, "never retried"


def test_unknown_app_key_and_clock_skew_are_config_errors(clock: Clock) -> None:
    _, _, connector = setup(clock, app_key="nobody")
    with pytest.raises(ConfigError, match="vendor code 29"):
        fetch(connector)
    _, _, skewed = setup(clock)
    skewed.clock = Clock(T0 + 11 * 60)
    with pytest.raises(ConfigError, match=r"vendor code 31.*\n  hint: .*this machine's clock"):
        fetch(skewed)


def test_rejected_argument_is_a_config_error(clock: Clock) -> None:
    _, _, connector = setup(clock)
    with pytest.raises(ConfigError, match="vendor code 41: Invalid Arguments: startModified"):
        fetch(connector, startModified="2024/05/01")


def test_expired_session_without_refresh_token_asks_the_user_to_authorize_again(clock: Clock) -> None:
    sim, _, connector = setup(clock, faults=Faults(rate_per_second=0, token_expiry_calls=1))
    fetch(connector)
    with pytest.raises(ConfigError) as info:
        fetch(connector)
    assert "vendor code 27" in str(info.value) and "authorize the app again" in str(info.value)
    assert [c.api for c in sim.calls] == [LIST, LIST]


def test_expired_session_is_refreshed_once_and_the_call_repeated(clock: Clock) -> None:
    sim, recorder, connector = setup(
        clock,
        faults=Faults(rate_per_second=0, token_expiry_calls=1),
        refresh_token=KuaimaiSimulator.REFRESH_TOKEN,
    )
    fetch(connector)
    page = fetch(connector)
    assert len(page.records) == 10 and connector.refreshes == 1
    assert [c.api for c in sim.calls] == [LIST, LIST, "open.token.refresh", LIST]
    assert recorder.forms[2]["refreshToken"] == KuaimaiSimulator.REFRESH_TOKEN
    assert recorder.forms[3]["session"] not in (KuaimaiSimulator.SESSION, "")


def test_session_still_expired_after_the_refresh_is_auth_expired(clock: Clock) -> None:
    sim, _, connector = setup(
        clock,
        faults=Faults(rate_per_second=0, token_expiry_calls=0),
        refresh_token=KuaimaiSimulator.REFRESH_TOKEN,
    )
    with pytest.raises(AuthExpiredError, match=r"kuaimai connection 'km': .*session expired, vendor code 27"):
        fetch(connector)
    assert [c.api for c in sim.calls] == [LIST, "open.token.refresh", LIST]


def test_rejected_refresh_token_is_a_config_error(clock: Clock) -> None:
    _, _, connector = setup(clock, session="stale-session", refresh_token="forged-refresh")
    with pytest.raises(ConfigError, match=r"open.token.refresh: vendor code 27.*\n  hint: the refresh_token"):
        fetch(connector)


def test_throttling_code_7_is_a_throttled_error(clock: Clock) -> None:
    sim, _, connector = setup(clock, faults=Faults(rate_per_second=1))
    fetch(connector)
    with pytest.raises(ThrottledError, match="throttled, vendor code 7: App Call Limited"):
        fetch(connector)
    sim.throttle_status = 429
    with pytest.raises(ThrottledError, match="HTTP 429") as info:
        fetch(connector)
    assert info.value.retry_after == 1.0


@pytest.mark.parametrize(
    ("timeout_share", "text"),
    [pytest.param(0.0, "HTTP 502", id="5xx"), pytest.param(1.0, "timed out", id="timeout")],
)
def test_server_errors_and_timeouts_are_retriable(clock: Clock, timeout_share: float, text: str) -> None:
    _, _, connector = setup(
        clock, faults=Faults(rate_per_second=0, error_rate=1.0, timeout_share=timeout_share)
    )
    with pytest.raises(RetriableError, match=text) as info:
        fetch(connector)
    assert not isinstance(info.value, ThrottledError | AuthExpiredError)


@pytest.mark.parametrize(
    ("body", "text"),
    [
        pytest.param(
            {"success": False, "code": "50", "msg": "系统繁忙"}, "vendor code 50: 系统繁忙", id="unknown-code"
        ),
        pytest.param({"success": True, "total": 3}, "response has no list of records", id="no-list"),
    ],
)
def test_unknown_vendor_failures_are_retriable(body: dict[str, Any], text: str) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    connector = KuaimaiConnector(spec(), transport=transport)
    with pytest.raises(RetriableError, match=text) as info:
        fetch(connector)
    assert type(info.value) is RetriableError


# -- a whole run of the seed-001 shape --------------------------------------------------------

NOW = datetime(2024, 6, 2, tzinfo=ZoneInfo("Asia/Shanghai"))
FAST = RetryPolicy(attempts=10, base_delay=0.001, max_delay=0.005)


def write_scheme(tmp_path: Path, sim: KuaimaiSimulator, **kuaimai: Any) -> Path:
    """Seed 001's metadata verbatim, a sandbox connection and a SQLite target."""
    for name in ("source.json", "target.json"):
        (tmp_path / name).write_text((EXAMPLE / name).read_text(encoding="utf-8"), encoding="utf-8")
    target = tmp_path / "bi.db"
    with sqlite3.connect(target) as con:
        con.executescript((EXAMPLE / "schema.sql").read_text(encoding="utf-8"))
    connections = {
        "kuaimai": {
            "type": "kuaimai",
            **sim.describe(),
            "rate_per_second": 1000,
            **kuaimai,
        },
        "bi": {"type": "sql", "url": f"sqlite:///{target}"},
    }
    for key in ("methods", "refresh_token"):
        connections["kuaimai"].pop(key)
    (tmp_path / "connections.yaml").write_text(yaml.safe_dump(connections), encoding="utf-8")
    scheme = {
        "id": "km-aftersale",
        "name": "快麦售后工单",
        "connections": "connections.yaml",
        "source": {"connection": "kuaimai", "metadata": "source.json"},
        "target": {"connection": "bi", "metadata": "target.json"},
        "window": {"start": "2024-05-01 00:00:00", "step": "7d", "lag": "1m"},
        "settings": {"on_change": "redeliver", "page_size": 7},
    }
    path = tmp_path / "scheme.yaml"
    path.write_text(json.dumps(scheme, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture
def run_sim() -> Iterator[KuaimaiSimulator]:
    yield KuaimaiSimulator(
        size=40, faults=Faults(error_rate=0.2, duplicate_rate=0.5, seed=11, rate_per_second=0)
    )


def test_seed_001_run_lands_every_after_sales_line_once_despite_faults_and_repeated_rows(
    tmp_path: Path, run_sim: KuaimaiSimulator
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'ferry.db'}")
    transport = SandboxTransport({"kuaimai": run_sim})
    report = run_scheme(
        load_scheme(write_scheme(tmp_path, run_sim)), store, now=NOW, transport=transport, retry=FAST
    )

    assert report.status == "succeeded", report.error
    assert report.exit_code == 0
    assert any(c.fault for c in run_sim.calls) and report.counts.retries > 0, "faults must have been injected"
    assert run_sim.aftersales.duplicated, "some pages must have repeated a work order"
    orders = run_sim.aftersales.all()
    expected = {
        f"{o['id']}-{i}": (str(o["id"]), item["outerId"], item["receivableCount"])
        for o in orders
        for i, item in enumerate(o["items"])
    }
    ledger = store.find_records("km-aftersale", limit=10_000)
    assert sorted(r.record_id for r in ledger) == sorted(expected)
    assert {k: v for k, v in store.count_by_status("km-aftersale").items() if v} == {
        "finished": len(expected)
    }
    assert report.counts.new == report.counts.delivered == len(expected)
    with sqlite3.connect(tmp_path / "bi.db") as con:
        rows = con.execute("SELECT id, outer_id, qty, after_sale_type FROM aftersale_list_query").fetchall()
    assert sorted(r[:3] for r in rows) == sorted(expected.values())
    types = {str(o["id"]): o["afterSaleType"] for o in orders}
    assert all(r[3] == types[r[0]] for r in rows)


def test_seed_001_run_with_a_wrong_secret_exits_2_naming_the_connection(tmp_path: Path) -> None:
    sim = KuaimaiSimulator(size=5, faults=Faults(rate_per_second=0))
    store = open_store(f"sqlite:///{tmp_path / 'ferry.db'}")
    scheme = load_scheme(write_scheme(tmp_path, sim, app_secret="not-the-secret"))
    report = run_scheme(scheme, store, now=NOW, transport=SandboxTransport({"kuaimai": sim}), retry=FAST)

    assert report.exit_code == 2 and report.status == "invalid"
    assert report.error is not None
    assert "kuaimai connection 'kuaimai'" in report.error and "vendor code 25" in report.error
    assert "not-the-secret" not in report.error
    assert len(sim.calls) == 1
