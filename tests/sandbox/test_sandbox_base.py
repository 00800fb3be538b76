"""The shared simulator machinery: faults, rate budgets, tokens, the dataset's adversarial modes."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from ferry.sandbox import (
    Call,
    Dataset,
    Faults,
    RateBudget,
    SandboxTransport,
    Simulator,
    TokenBook,
    json_response,
)
from ferry.sandbox._faults import FaultDice
from ferry.sandbox.world import material, sale_order, spread


class Echo(Simulator):
    name = "echo"
    default_rate_per_second = 3

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.writes = 0

    def dispatch(self, request: httpx.Request, call: Call) -> httpx.Response:
        call.credential = request.headers.get("app", "")
        call.api = request.url.path
        throttled = self.over_budget(request, call)
        if throttled is not None:
            return throttled
        if request.method == "POST":
            self.writes += 1
        return json_response({"code": 0, "path": request.url.path})

    def throttled(self, request: httpx.Request, call: Call, which: str) -> httpx.Response:
        return json_response({"code": 199, "msg": f"over the {which} budget"})

    def is_write(self, request: httpx.Request) -> bool:
        return request.method == "POST"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def client(sim: Simulator) -> httpx.Client:
    return httpx.Client(transport=SandboxTransport({sim.name: sim}), base_url=sim.base_url)


def test_transport_routes_by_host_and_refuses_unknown_hosts() -> None:
    sim = Echo(faults=Faults(rate_per_second=0))
    with client(sim) as http:
        assert http.get("/a/b").json() == {"code": 0, "path": "/a/b"}
        with pytest.raises(httpx.ConnectError, match=r"no simulator serves host 'nope\.sandbox'"):
            http.get("http://nope.sandbox/x")
    assert [c.path for c in sim.calls] == ["/a/b"]


def test_injected_errors_are_5xx_pages_or_timeouts_in_the_configured_share() -> None:
    sim = Echo(faults=Faults(error_rate=0.5, timeout_share=0.5, seed=3, rate_per_second=0))
    outcomes = {"ok": 0, "5xx": 0, "timeout": 0}
    with client(sim) as http:
        for _ in range(400):
            try:
                response = http.get("/q")
            except httpx.ReadTimeout:
                outcomes["timeout"] += 1
                continue
            if response.status_code == 502:
                assert "Bad Gateway" in response.text
                outcomes["5xx"] += 1
            else:
                outcomes["ok"] += 1
    assert 150 < outcomes["ok"] < 250
    assert 60 < outcomes["5xx"] < 140 and 60 < outcomes["timeout"] < 140
    assert sum(1 for c in sim.calls if c.fault) == outcomes["5xx"] + outcomes["timeout"]


def test_commit_before_timeout_applies_the_write_then_times_out() -> None:
    sim = Echo(faults=Faults(error_rate=1.0, timeout_share=1.0, commit_before_timeout=1.0, rate_per_second=0))
    with client(sim) as http, pytest.raises(httpx.ReadTimeout):
        http.post("/save", content=b"{}")
    assert sim.writes == 1
    assert sim.calls[0].fault == "timeout-after-commit"


def test_rate_budget_answers_with_the_vendor_code_per_credential() -> None:
    clock = Clock()
    sim = Echo(clock=clock)
    with client(sim) as http:
        codes = [http.get("/q", headers={"app": "a"}).json()["code"] for _ in range(4)]
        other = http.get("/q", headers={"app": "b"}).json()["code"]
        clock.now += 1.01
        after = http.get("/q", headers={"app": "a"}).json()["code"]
    assert codes == [0, 0, 0, 199]
    assert other == 0 and after == 0
    assert [c.fault for c in sim.calls].count("throttled") == 1


def test_rate_budget_per_minute() -> None:
    clock = Clock()
    budget = RateBudget(None, 2, clock)
    assert [budget.take("k") for _ in range(3)] == [None, None, "minute"]
    clock.now += 61
    assert budget.take("k") is None


def test_token_book_expires_by_lifetime_and_by_call_count() -> None:
    clock = Clock()
    book = TokenBook(lifetime=100, expiry_calls=2, clock=clock)
    book.issue("t1", "app")
    assert [book.check("t1") for _ in range(3)] == ["ok", "ok", "expired"]
    assert book.check("t1") == "expired"
    book.issue("t2", "app", user="u")
    clock.now += 101
    assert book.check("t2") == "expired"
    assert book.check("nope") == "unknown" and book.check(None) == "unknown"
    assert book.data("t2") == {"user": "u"} and book.subject("t2") == "app"


def make_dataset(n: int, faults: Faults, clock: datetime | None = None) -> Dataset:
    base = datetime(2024, 5, 1)
    records = [(f"r{i:03d}", base + timedelta(minutes=i), {"id": f"r{i:03d}", "v": i}) for i in range(n)]

    def touch(row: dict[str, object], modified: datetime) -> None:
        row["modified"] = modified.isoformat()

    return Dataset(records, dice=FaultDice(faults), touch=touch, clock=lambda: clock or datetime(2024, 6, 1))


def page_through(
    ds: Dataset, size: int, start: datetime | None = None, end: datetime | None = None
) -> list[str]:
    seen: list[str] = []
    offset = 0
    while True:
        ds.tick()
        ids = ds.select(start, end)
        rows = ds.page(ids, offset, size)
        seen += [str(r["id"]) for r in rows]
        if offset + size >= len(ids):
            return seen
        offset += size


def test_dataset_selects_half_open_windows_in_modified_order() -> None:
    ds = make_dataset(10, Faults())
    window = ds.select(datetime(2024, 5, 1, 0, 2), datetime(2024, 5, 1, 0, 5))
    assert window == ["r002", "r003", "r004"]
    assert ds.select(datetime(2024, 5, 1, 0, 2), datetime(2024, 5, 1, 0, 5), end_inclusive=True)[-1] == "r005"
    assert page_through(ds, 3) == [f"r{i:03d}" for i in range(10)]


def test_drift_moves_served_records_later_and_a_naive_offset_pager_loses_records() -> None:
    ds = make_dataset(50, Faults(drift_rate=0.3, seed=5))
    seen = page_through(ds, 10, end=datetime(2024, 5, 2))
    assert ds.drifted, "the fault must have modified records"
    drifted = set(ds.drifted)
    assert all(ds.get(rid)["modified"] == "2024-06-01T00:00:00" for rid in drifted)  # type: ignore[index]
    lost = {f"r{i:03d}" for i in range(50)} - set(seen) - drifted
    assert lost, "offset paging over a drifting set skips records it never saw"


def test_late_records_appear_after_enough_calls_with_their_past_time() -> None:
    ds = make_dataset(40, Faults(late_rate=0.25, late_after_calls=3, seed=2))
    assert ds.late
    first = ds.select()
    assert not set(ds.late) & set(first)
    for _ in range(3):
        ds.tick()
    later = ds.select()
    assert set(ds.late) <= set(later) and len(later) == 40
    assert all(ds.modified(rid) < datetime(2024, 5, 2) for rid in ds.late)


def test_duplicates_repeat_the_previous_pages_last_record() -> None:
    ds = make_dataset(30, Faults(duplicate_rate=1.0))
    seen = page_through(ds, 10)
    assert len(seen) == 32 and seen[10] == "r009" and seen[21] == "r019"
    assert ds.duplicated == ["r009", "r019"]


def test_put_stores_target_writes_visible_to_queries() -> None:
    ds = make_dataset(2, Faults())
    ds.put("new", {"id": "new"}, datetime(2024, 5, 1, 0, 0, 30))
    assert ds.select() == ["r000", "new", "r001"]
    assert len(ds) == 3 and "new" in ds


def test_faults_reject_rates_outside_zero_to_one() -> None:
    with pytest.raises(ValueError, match="error_rate must be between 0 and 1"):
        Faults(error_rate=1.5)


def test_world_is_deterministic_and_joins_across_vendors() -> None:
    assert material(0).sku_id == "SKU00001" and material(0).item_id == 10_000
    assert sale_order(4).collection_id == sale_order(4).collection_id == "3000000005"
    times = [spread(i, 10) for i in range(10)]
    assert times == sorted(times) and times[-1] < datetime(2024, 6, 1)


def test_server_serves_a_simulator_over_http_and_drops_the_connection_on_timeouts() -> None:
    from ferry.sandbox import Sandbox
    from ferry.sandbox.server import SandboxServer

    ok = Echo(faults=Faults(rate_per_second=0))
    ok.name = "ok"
    slow = Echo(faults=Faults(error_rate=1.0, timeout_share=1.0, rate_per_second=0))
    slow.name = "slow"
    with SandboxServer(Sandbox({"ok": ok, "slow": slow})) as server:
        urls = server.urls()
        response = httpx.post(urls["ok"] + "/x/y?a=1", content=b'{"k": 1}', headers={"app": "me"})
        assert response.status_code == 200 and response.json() == {"code": 0, "path": "/x/y"}
        assert ok.calls[-1].credential == "me"
        with pytest.raises(httpx.TransportError):
            httpx.get(urls["slow"] + "/q", timeout=5)
    assert ok.writes == 1


def test_a_selection_is_answered_again_only_until_a_record_changes() -> None:
    ds = make_dataset(5, Faults())
    first = ds.select(where=lambda row: row["v"] % 2 == 0, where_key="even")
    assert (
        ds.select(where=lambda row: True, where_key="even") is first
    )  # the pager's next page: the same answer
    ds.put("r001", {"id": "r001", "v": 2}, ds.modified("r001"))
    assert ds.select(where=lambda row: row["v"] % 2 == 0, where_key="even") == [
        "r000",
        "r001",
        "r002",
        "r004",
    ]
    ds.remove("r000")
    assert ds.select() == ["r001", "r002", "r003", "r004"]
    unkeyed = ds.select(where=lambda row: row["v"] > 2)
    assert ds.select(where=lambda row: row["v"] > 3) == ["r004"] != unkeyed  # no key: asked afresh
