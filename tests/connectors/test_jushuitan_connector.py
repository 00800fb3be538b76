"""The JuShuiTan connector against the simulator: errors by recovery, paging, windows, a full run."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import httpx
import pytest

from ferry.connectors.base import PageState
from ferry.connectors.jushuitan import JushuitanConnection, JushuitanConnector
from ferry.connectors.registry import build_source, load_connections
from ferry.engine.retry import RetryPolicy
from ferry.engine.runner import run_scheme
from ferry.engine.windows import plan_windows
from ferry.errors import AuthExpiredError, ConfigError, RetriableError, ThrottledError
from ferry.sandbox import Faults, SandboxTransport
from ferry.sandbox.jushuitan import JushuitanSimulator
from ferry.scheme.loader import load_scheme
from ferry.store import open_store

SEED = Path(__file__).resolve().parents[2] / "examples" / "002-jushuitan-otherinout-to-kis"
TZ = ZoneInfo("Asia/Shanghai")
T0 = 1_717_200_000.0  # 2024-06-01 08:00:00 +08:00, a whole minute
INOUT = JushuitanSimulator.INOUT_QUERY
UNLIMITED = Faults(rate_per_second=0, rate_per_minute=0)
FMT = "%Y-%m-%d %H:%M:%S"


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def seed_request(begin: str = "2024-05-10 00:00:00", end: str = "2024-05-17 00:00:00") -> dict:
    """The seed 002 request as the collector renders it (page fields still the scheme's text)."""
    return {
        "modified_begin": begin,
        "modified_end": end,
        "status": "Confirmed",
        "page_index": "1",
        "page_size": "30",
        "date_type": "0",
        "types": ["其它退货"],
    }


def connector(
    sim: JushuitanSimulator,
    clock: Clock | None = None,
    transport: httpx.BaseTransport | None = None,
    **fields,
) -> JushuitanConnector:
    spec = JushuitanConnection(
        name="jst",
        base_url=sim.base_url,
        **{
            "app_key": sim.APP_KEY,
            "app_secret": sim.APP_SECRET,
            "access_token": sim.ACCESS_TOKEN,
            **fields,
        },
    )
    conn = JushuitanConnector(spec, transport=transport or SandboxTransport({"jushuitan": sim}))
    if clock is not None:
        conn.clock = clock
    return conn


def fetch_all(conn: JushuitanConnector, request: dict, size: int) -> tuple[list[dict], list[int | None]]:
    state: PageState | None = PageState(page_size=size)
    records, totals = [], []
    while state is not None:
        page = conn.fetch(INOUT, "POST", request, state)
        records += page.records
        totals.append(page.total)
        state = page.next
    return records, totals


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sim(clock) -> JushuitanSimulator:
    return JushuitanSimulator(size=200, faults=UNLIMITED, clock=clock)


# -- connection spec --------------------------------------------------------------------------


def test_the_seed_connection_loads_and_builds_this_connector_with_the_documented_limits(sim):
    env = {"JST_APP_KEY": sim.APP_KEY, "JST_APP_SECRET": sim.APP_SECRET, "JST_ACCESS_TOKEN": sim.ACCESS_TOKEN}
    spec = load_connections(SEED / "connections.yaml", env={**env, **{k: "x" for k in _kis_vars()}})[
        "jushuitan"
    ]
    assert isinstance(spec, JushuitanConnection) and spec.base_url == "https://openapi.jushuitan.com"
    assert sim.APP_SECRET not in repr(spec) and sim.ACCESS_TOKEN not in repr(spec)
    source = build_source(spec.model_copy(update={"base_url": sim.base_url}), transport=None)
    assert isinstance(source, JushuitanConnector)
    limits = source.limits
    assert (limits.max_window, limits.max_page_size, limits.default_page_size, limits.page_base) == (
        timedelta(days=7),
        50,
        30,
        1,
    )
    assert (limits.rate_per_second, limits.rate_per_minute) == (5, 100)


def _kis_vars() -> list[str]:
    return ["KIS_CLIENT_ID", "KIS_CLIENT_SECRET", "KIS_AUTH_CODE", "KIS_ACCT_NUMBER"]


# -- errors, each with its final outcome -------------------------------------------------------


def test_a_bad_signature_is_a_config_error_naming_the_connection_and_quoting_the_vendor(sim, clock):
    conn = connector(sim, clock, app_secret="f" * 32)
    with pytest.raises(ConfigError) as caught:
        conn.fetch(INOUT, "POST", seed_request(), PageState(page_size=30))
    message = str(caught.value)
    assert "jushuitan connection 'jst'" in message and INOUT in message
    assert "vendor code 10: 验证失败！无效签名" in message and "app_secret" in message
    assert "f" * 32 not in message and sim.ACCESS_TOKEN not in message
    assert len(sim.calls) == 1, "a bad signature is never retried or renewed"


def test_a_clock_off_by_more_than_15_minutes_is_a_config_error(sim, clock):
    conn = connector(sim, Clock(T0 + 20 * 60))
    with pytest.raises(ConfigError, match=r"vendor code 140: .*15分钟(.|\n)*clock"):
        conn.fetch(INOUT, "POST", seed_request(), PageState(page_size=30))


def test_an_expired_token_is_renewed_once_and_the_call_succeeds(clock):
    sim = JushuitanSimulator(size=200, faults=UNLIMITED.with_(token_expiry_calls=1), clock=clock)
    conn = connector(sim, clock)
    records, _ = fetch_all(conn, seed_request(), size=2)
    expected = sim.inout.select(
        datetime(2024, 5, 10),
        datetime(2024, 5, 17),
        where=lambda r: r["status"] == "Confirmed" and r["type"] == "其它退货",
        end_inclusive=True,
    )
    assert [str(r["io_id"]) for r in records] == expected and len(expected) >= 3
    pages = -(-len(expected) // 2)
    assert conn.renewals == pages - 1, "each token lives one call: one renewal per page after the first"
    init = sim.calls_to(JushuitanSimulator.INIT_TOKEN)
    refresh = sim.calls_to(JushuitanSimulator.REFRESH_TOKEN_PATH)
    assert len(init) == 1, "the first renewal asks getInitToken; later ones use its refresh_token"
    assert len(refresh) == conn.renewals - 1 and all(c.code == 0 for c in init + refresh)
    assert [c.code for c in sim.calls_to(INOUT)].count(100) == conn.renewals


def test_a_configured_refresh_token_renews_through_the_refresh_endpoint(clock):
    sim = JushuitanSimulator(size=50, faults=UNLIMITED, clock=clock)
    sim.tokens.expire_all()  # the configured token is dead; renewed ones live
    conn = connector(sim, clock, refresh_token=sim.REFRESH_TOKEN)
    page = conn.fetch(INOUT, "POST", seed_request(), PageState(page_size=30))
    assert page.total is not None and conn.renewals == 1
    assert [c.code for c in sim.calls_to(JushuitanSimulator.REFRESH_TOKEN_PATH)] == [0]
    assert sim.calls_to(JushuitanSimulator.INIT_TOKEN) == []


def test_a_refused_refresh_token_falls_back_to_get_init_token(sim, clock):
    sim.tokens.expire_all()
    conn = connector(sim, clock, refresh_token="0" * 32)
    conn.fetch(INOUT, "POST", seed_request(), PageState(page_size=30))
    assert [c.code for c in sim.calls_to(JushuitanSimulator.REFRESH_TOKEN_PATH)] == [100]
    assert [c.code for c in sim.calls_to(JushuitanSimulator.INIT_TOKEN)] == [0]


def test_a_token_still_expired_after_renewal_is_an_auth_expired_error(clock):
    sim = JushuitanSimulator(size=50, faults=UNLIMITED.with_(token_expiry_calls=0), clock=clock)
    conn = connector(sim, clock)
    with pytest.raises(AuthExpiredError, match=r"jushuitan connection 'jst'.*vendor code 100"):
        conn.fetch(INOUT, "POST", seed_request(), PageState(page_size=30))
    assert [c.code for c in sim.calls_to(INOUT)] == [100, 100] and conn.renewals == 1


def test_an_isv_app_with_an_expired_token_is_a_config_error(clock):
    sim = JushuitanSimulator(size=50, faults=UNLIMITED, clock=clock, isv=True)
    sim.tokens.expire_all()
    with pytest.raises(ConfigError, match=r"vendor code 150: 服务商应用禁止刷新access_token(.|\n)*authorize"):
        connector(sim, clock).fetch(INOUT, "POST", seed_request(), PageState(page_size=30))


def test_more_than_5_calls_a_second_is_throttled_for_one_second(clock):
    conn = connector(JushuitanSimulator(size=50, clock=clock), clock)
    for _ in range(5):
        conn.fetch(INOUT, "POST", seed_request(), PageState(page_size=30))
    with pytest.raises(ThrottledError, match="vendor code 199") as caught:
        conn.fetch(INOUT, "POST", seed_request(), PageState(page_size=30))
    assert caught.value.retry_after == 1.0


def test_more_than_100_calls_a_minute_is_throttled_until_the_next_minute(clock):
    sim = JushuitanSimulator(size=50, faults=Faults(rate_per_second=0), clock=clock)
    conn = connector(sim, clock)
    for _ in range(100):
        conn.fetch(INOUT, "POST", seed_request(), PageState(page_size=30))
    clock.now = T0 + 15
    with pytest.raises(ThrottledError, match="vendor code 200") as caught:
        conn.fetch(INOUT, "POST", seed_request(), PageState(page_size=30))
    assert caught.value.retry_after == 45.0


@pytest.mark.parametrize(
    ("timeout_share", "fragment"),
    [pytest.param(0.0, "HTTP 502", id="5xx"), pytest.param(1.0, "timed out", id="timeout")],
)
def test_server_errors_and_timeouts_are_retriable(clock, timeout_share, fragment):
    sim = JushuitanSimulator(
        size=50, faults=UNLIMITED.with_(error_rate=1.0, timeout_share=timeout_share), clock=clock
    )
    with pytest.raises(RetriableError, match=fragment) as caught:
        connector(sim, clock).fetch(INOUT, "POST", seed_request(), PageState(page_size=30))
    assert type(caught.value) is RetriableError and "jushuitan connection 'jst'" in str(caught.value)


def test_a_rejected_request_is_a_config_error_quoting_the_rule(sim, clock):
    request = seed_request("2024-05-01 00:00:00", "2024-05-09 00:00:00")
    with pytest.raises(ConfigError, match="vendor code 1: 修改起始时间和结束时间间隔不能超过七天"):
        connector(sim, clock).fetch(INOUT, "POST", request, PageState(page_size=30))


# -- paging -----------------------------------------------------------------------------------


def test_an_empty_window_is_one_call_with_no_next_page(sim, clock):
    conn = connector(sim, clock)
    page = conn.fetch(INOUT, "POST", seed_request("2024-07-01 00:00:00", "2024-07-02 00:00:00"), PageState())
    assert (page.records, page.next, page.total) == ([], None, 0)
    assert len(sim.calls) == 1


def test_exactly_one_full_page_ends_without_asking_for_a_second(sim, clock):
    conn = connector(sim, clock)
    total = conn.fetch(INOUT, "POST", seed_request(), PageState(page_size=50)).total
    assert total is not None and 1 < total <= 50
    before = len(sim.calls)
    page = conn.fetch(INOUT, "POST", seed_request(), PageState(page_size=total))
    assert len(page.records) == total and page.next is None and len(sim.calls) == before + 1


def test_the_last_page_may_be_short(sim, clock):
    recording = Recording(sim)
    conn = connector(sim, clock, transport=recording)
    records, totals = fetch_all(conn, seed_request(), size=4)
    total = totals[0]
    assert total is not None and total % 4 != 0, "the window must end on a short page"
    assert len(records) == total == len({r["io_id"] for r in records})
    sent = [json.loads(form["biz"]) for form in recording.forms]
    assert [b["page_index"] for b in sent] == list(range(1, len(totals) + 1))
    assert all(b["page_size"] == 4 for b in sent)


def test_page_size_is_capped_at_50_and_text_list_fields_become_json_arrays(sim, clock):
    recording = Recording(sim)
    conn = connector(sim, clock, transport=recording)
    page = conn.fetch(
        INOUT, "POST", {**seed_request(), "types": "其它退货,其它进仓"}, PageState(page_size=500)
    )
    assert page.records and {r["type"] for r in page.records} == {"其它退货", "其它进仓"}
    biz = json.loads(recording.forms[-1]["biz"])
    assert biz["page_size"] == 50 and biz["types"] == ["其它退货", "其它进仓"]


class Recording(httpx.BaseTransport):
    """The sandbox transport, keeping the form of every request sent."""

    def __init__(self, sim: JushuitanSimulator) -> None:
        self.inner = SandboxTransport({"jushuitan": sim})
        self.forms: list[dict[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.forms.append(dict(parse_qsl(request.content.decode())))
        return self.inner.handle_request(request)


# -- windows ----------------------------------------------------------------------------------


def test_a_20_day_range_becomes_three_windows_each_accepted(sim, clock):
    conn = connector(sim, clock)
    now = datetime(2024, 5, 30, 12, 0, tzinfo=TZ)
    windows = plan_windows(
        now=now,
        cursor=None,
        start=now - timedelta(days=20),
        step=timedelta(days=30),
        connector_max=conn.limits.max_window,
    )
    assert [w.end - w.start for w in windows] == [timedelta(days=7), timedelta(days=7), timedelta(days=6)]
    seen = []
    for window in windows:
        request = seed_request(window.start.strftime(FMT), window.end.strftime(FMT))
        seen += fetch_all(conn, request, size=30)[0]
    assert all(c.code == 0 for c in sim.calls)
    whole = seed_request(windows[0].start.strftime(FMT), windows[-1].end.strftime(FMT))
    with pytest.raises(ConfigError, match="七天"):
        conn.fetch(INOUT, "POST", whole, PageState(page_size=30))
    assert len({r["io_id"] for r in seen}) > 10


# -- full runs --------------------------------------------------------------------------------

NOW = datetime(2024, 5, 30, 12, 0, tzinfo=TZ)
FAST = RetryPolicy(attempts=10, base_delay=0.001, max_delay=0.005)


def seed_scheme(sim: JushuitanSimulator, **credentials: str):
    connections = {
        "jst": {
            "type": "jushuitan",
            "base_url": sim.base_url,
            "app_key": sim.APP_KEY,
            "app_secret": sim.APP_SECRET,
            "access_token": sim.ACCESS_TOKEN,
            "rate_per_second": 1000,
            "rate_per_minute": 100000,
            **credentials,
        },
        "db": {"type": "sql", "url": "sqlite://"},
    }
    return load_scheme(
        {
            "id": "jst-otherinout",
            "name": "聚水潭其它出入库",
            "source": {
                "connection": "jst",
                "metadata": json.loads((SEED / "source.json").read_text("utf-8")),
            },
            "target": {
                "connection": "db",
                "metadata": {
                    "api": "save",
                    "effect": "EXECUTE",
                    "request": [{"field": "io_id", "value": "{io_id}"}],
                },
            },
            "window": {"start": "2024-05-10 00:00:00", "step": "30d"},
            "settings": {"page_size": 2},
        },
        connections=connections,
    )


def test_a_run_with_faults_collects_every_record_into_the_ledger_exactly_once(tmp_path):
    sim = JushuitanSimulator(size=200, faults=UNLIMITED.with_(error_rate=0.2, seed=11))
    expected = sim.inout.select(
        datetime(2024, 5, 10),
        NOW.replace(tzinfo=None),
        where=lambda r: r["status"] == "Confirmed" and r["type"] == "其它退货",
        end_inclusive=True,
    )
    assert len(expected) > 20, "several pages in each of the three windows"
    store = open_store(f"sqlite:///{tmp_path / 'ferry.db'}")
    try:
        report = run_scheme(
            seed_scheme(sim),
            store,
            now=NOW,
            deliver=False,
            transport=SandboxTransport({"jushuitan": sim}),
            retry=FAST,
        )
        assert report.status == "succeeded", report.error
        assert report.counts.windows == 3 and report.counts.retries > 0
        assert sum(1 for c in sim.calls if c.fault in ("5xx", "timeout")) == report.counts.retries
        rows = store.find_records("jst-otherinout", limit=1000)
        assert sorted(r.record_id for r in rows) == sorted(expected)
        assert report.counts.new == len(expected) == store.count_by_status("jst-otherinout")["pending"]
    finally:
        store.close()


def test_a_run_with_wrong_credentials_exits_2_naming_the_connection(tmp_path):
    sim = JushuitanSimulator(size=50, faults=UNLIMITED)
    store = open_store(f"sqlite:///{tmp_path / 'ferry.db'}")
    try:
        report = run_scheme(
            seed_scheme(sim, app_secret="0" * 32),
            store,
            now=NOW,
            deliver=False,
            transport=SandboxTransport({"jushuitan": sim}),
            retry=FAST,
        )
    finally:
        store.close()
    assert report.exit_code == 2 and report.status == "invalid"
    assert "jushuitan connection 'jst'" in (report.error or "") and "vendor code 10" in (report.error or "")
    assert "0" * 32 not in (report.error or "")
    assert [c.code for c in sim.calls] == [10], "a configuration error is never retried"
