"""The KuaiMai simulator: gateway authentication, error envelope, after-sales paging, refresh."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ferry.connectors._kuaimai_sign import signed_form
from ferry.sandbox import Faults, SandboxTransport
from ferry.sandbox.kuaimai import KuaimaiSimulator, expected_sign
from ferry.sandbox.world import material

T0 = 1_717_000_000.0
"""2024-05-30 00:26:40 Beijing time."""
WINDOW = {"startModified": "2024-05-01 00:00:00", "endModified": "2024-06-01 00:00:00"}
LIST = "erp.aftersale.list.query"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def simulator(clock: Clock, size: int = 30, **faults: Any) -> KuaimaiSimulator:
    return KuaimaiSimulator(size=size, faults=Faults(**{"rate_per_second": 0, **faults}), clock=clock)


def form(
    sim: KuaimaiSimulator,
    method: str = LIST,
    *,
    sign_method: str = "hmac",
    session: str | None = KuaimaiSimulator.SESSION,
    secret: str = KuaimaiSimulator.APP_SECRET,
    app_key: str = KuaimaiSimulator.APP_KEY,
    **business: str,
) -> dict[str, str]:
    return signed_form(
        method=method,
        app_key=app_key,
        session=session,
        secret=secret,
        sign_method=sign_method,
        business=business,
        at=sim.clock(),
    )


def post(sim: KuaimaiSimulator, data: dict[str, str], path: str = "/router") -> httpx.Response:
    with httpx.Client(transport=SandboxTransport({"kuaimai": sim}), base_url=sim.base_url) as http:
        return http.post(path, data=data)


def call(sim: KuaimaiSimulator, **kwargs: Any) -> dict[str, Any]:
    response = post(sim, form(sim, **kwargs))
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def error_code(body: dict[str, Any]) -> str:
    assert body["success"] is False and body["trace_id"] and body["msg"]
    return str(body["code"])


# -- signatures -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("hmac-sha256", "7905D5EF37CA177B9219DBFA603F773A7616F424D545E731AAFBB992408F6CEE"),
        ("hmac", "33F8A0DBB3DB1E60E210A7307DD15075"),
        ("md5", "F1D3BB43123A50C78EBCB84CD301A340"),
    ],
)
def test_gateway_signature_matches_the_document_vectors(method: str, expected: str) -> None:
    params = {
        "appKey": "123456",
        "format": "json",
        "method": "open.system.time.get",
        "session": "test",
        "sign_method": method,
        "timestamp": "2020-09-21 16:58:00",
        "version": "1.0",
    }
    assert expected_sign(params, "helloworld", method) == expected


@pytest.mark.parametrize("sign_method", ["hmac", "md5", "hmac-sha256"])
def test_each_sign_method_is_accepted(clock: Clock, sign_method: str) -> None:
    sim = simulator(clock)
    body = call(sim, sign_method=sign_method, pageSize="5", **WINDOW)
    assert body["success"] is True and len(body["list"]) == 5


def test_a_lower_case_signature_is_accepted(clock: Clock) -> None:
    sim = simulator(clock)
    data = form(sim, pageSize="2", **WINDOW)
    data["sign"] = data["sign"].lower()
    assert post(sim, data).json()["success"] is True


def test_empty_values_may_be_signed_or_left_out(clock: Clock) -> None:
    sim = simulator(clock)
    kept = form(sim, pageSize="2", tid="", **WINDOW)
    assert kept["tid"] == ""
    dropped = {k: v for k, v in kept.items() if k != "sign"}
    dropped["sign"] = (
        expected_sign({k: v for k, v in dropped.items() if v != ""}, sim.APP_SECRET, "hmac") or ""
    )
    assert post(sim, kept).json()["total"] == 30
    assert post(sim, dropped).json()["total"] == 30, "an empty tid is no filter"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        pytest.param({"secret": "wrong-secret"}, "25", id="bad-sign"),
        pytest.param({"app_key": "nobody"}, "29", id="unknown-app"),
        pytest.param({"session": "not-issued"}, "27", id="unknown-session"),
        pytest.param({"session": None}, "26", id="missing-session"),
        pytest.param({"method": "erp.nothing.here"}, "22", id="unknown-method"),
        pytest.param({"pageSize": "201"}, "41", id="page-size-over-200"),
        pytest.param({"pageNo": "0"}, "41", id="page-no-zero"),
        pytest.param({"startModified": "2024/05/01"}, "41", id="bad-date"),
    ],
)
def test_rejected_calls_answer_http_200_with_the_vendor_code_as_a_string(
    clock: Clock, change: dict[str, Any], code: str
) -> None:
    sim = simulator(clock)
    kwargs: dict[str, Any] = {"pageSize": "10", **WINDOW, **change}
    assert error_code(call(sim, **kwargs)) == code
    assert sim.calls[-1].code == code


def test_missing_sign_method_and_timestamp_fields(clock: Clock) -> None:
    sim = simulator(clock)
    data = form(sim, **WINDOW)
    assert error_code(post(sim, {k: v for k, v in data.items() if k != "sign"}).json()) == "24"
    assert error_code(post(sim, {k: v for k, v in data.items() if k != "method"}).json()) == "21"
    assert error_code(post(sim, {k: v for k, v in data.items() if k != "timestamp"}).json()) == "30"


def test_an_unknown_sign_method_is_an_invalid_signature(clock: Clock) -> None:
    sim = simulator(clock)
    data = {**form(sim, **WINDOW), "sign_method": "sha1"}
    data["sign"] = expected_sign(data, sim.APP_SECRET, "hmac") or ""
    assert error_code(post(sim, data).json()) == "25"


def test_timestamp_more_than_ten_minutes_off_is_code_31(clock: Clock) -> None:
    sim = simulator(clock)
    ahead = form(sim, **WINDOW)
    clock.now -= 9 * 60
    assert post(sim, ahead).json()["success"] is True, "nine minutes of skew is fine"
    clock.now -= 2 * 60
    assert error_code(post(sim, ahead).json()) == "31"


def test_unknown_paths_are_404(clock: Clock) -> None:
    sim = simulator(clock)
    assert post(sim, form(sim), path="/api").status_code == 404


# -- sessions and refresh -------------------------------------------------------------------


def test_session_expires_after_the_configured_calls_and_a_refresh_issues_a_working_one(clock: Clock) -> None:
    sim = simulator(clock, token_expiry_calls=2)
    assert [call(sim, **WINDOW)["success"] for _ in range(2)] == [True, True]
    expired = call(sim, **WINDOW)
    assert error_code(expired) == "27" and "过期" in expired["msg"]
    assert sim.calls[-1].fault == "expired"

    refreshed = call(sim, method="open.token.refresh", refreshToken=sim.REFRESH_TOKEN)
    session = refreshed["session"]
    assert refreshed["success"] is True and session["refreshToken"] == sim.REFRESH_TOKEN
    assert session["accessToken"] != sim.SESSION and session["expireTime"]
    assert call(sim, session=session["accessToken"], **WINDOW)["success"] is True


def test_refresh_with_an_unknown_token_is_code_27(clock: Clock) -> None:
    sim = simulator(clock)
    assert error_code(call(sim, method="open.token.refresh", refreshToken="forged")) == "27"
    assert error_code(call(sim, method="open.token.refresh")) == "40"


# -- erp.aftersale.list.query ----------------------------------------------------------------


def test_pages_are_one_based_and_cover_the_window_in_modified_order(clock: Clock) -> None:
    sim = simulator(clock, size=23)
    pages = [call(sim, pageNo=str(n), pageSize="10", **WINDOW) for n in (1, 2, 3, 4)]
    assert [len(p["list"]) for p in pages] == [10, 10, 3, 0]
    assert {p["total"] for p in pages} == {23}
    rows = [r for p in pages for r in p["list"]]
    assert len({r["id"] for r in rows}) == 23
    assert [r["modified"] for r in rows] == sorted(r["modified"] for r in rows)


def test_page_size_defaults_to_one_as_documented(clock: Clock) -> None:
    sim = simulator(clock)
    assert len(call(sim, **WINDOW)["list"]) == 1


def test_modified_bounds_are_inclusive(clock: Clock) -> None:
    sim = simulator(clock)
    one = sim.aftersales.all()[4]
    body = call(sim, pageSize="200", startModified=one["modified"], endModified=one["modified"])
    assert [r["id"] for r in body["list"]] == [one["id"]] and body["total"] == 1


def test_has_next_is_returned_only_when_asked(clock: Clock) -> None:
    sim = simulator(clock, size=12)
    assert "hasNext" not in call(sim, pageSize="10", **WINDOW)
    assert call(sim, pageSize="10", useHasNext="true", **WINDOW)["hasNext"] is True
    assert call(sim, pageNo="2", pageSize="10", useHasNext="true", **WINDOW)["hasNext"] is False


def test_filters_by_type_tid_id_and_version(clock: Clock) -> None:
    sim = simulator(clock, size=40)
    returns = call(sim, pageSize="200", afterSaleType="2,4", **WINDOW)["list"]
    assert returns and {r["afterSaleType"] for r in returns} == {2, 4}
    some = sim.aftersales.all()[7]
    assert [r["id"] for r in call(sim, pageSize="200", tid=some["tid"])["list"]] == [some["id"]]
    assert [r["tid"] for r in call(sim, pageSize="200", id=str(some["id"]))["list"]] == [some["tid"]]
    assert call(sim, pageSize="200", asVersion="1", **WINDOW)["total"] == 0


def test_work_orders_carry_documented_fields_and_world_skus(clock: Clock) -> None:
    sim = simulator(clock, size=10)
    rows = call(sim, pageSize="200", **WINDOW)["list"]
    skus = {material(i).sku_id: material(i).name for i in range(60)}
    for row in rows:
        assert {"id", "tid", "status", "afterSaleType", "created", "modified", "items"} <= set(row)
        assert row["created"] < row["modified"]
        outer_ids = [item["outerId"] for item in row["items"]]
        assert len(outer_ids) == len(set(outer_ids)) >= 1
        for item in row["items"]:
            assert skus[item["outerId"]] == item["title"]
            assert item["receivableCount"] >= 1
            assert item["rawRefundMoney"] == round(item["payment"] * 100)


def test_duplicate_fault_repeats_the_previous_pages_last_work_order(clock: Clock) -> None:
    sim = simulator(clock, size=20, duplicate_rate=1.0)
    first = call(sim, pageNo="1", pageSize="10", **WINDOW)["list"]
    second = call(sim, pageNo="2", pageSize="10", **WINDOW)["list"]
    assert len(second) == 11 and second[0]["id"] == first[-1]["id"]


# -- throttling -----------------------------------------------------------------------------


def test_more_than_ten_calls_a_second_per_app_are_code_7(clock: Clock) -> None:
    sim = KuaimaiSimulator(size=5, clock=clock)
    codes = [call(sim, **WINDOW).get("code") for _ in range(11)]
    assert codes[:10] == [None] * 10 and codes[10] == "7"
    assert sim.calls[-1].fault == "throttled"
    clock.now += 1.01
    assert call(sim, **WINDOW)["success"] is True


def test_throttling_may_answer_http_429(clock: Clock) -> None:
    sim = KuaimaiSimulator(size=5, faults=Faults(rate_per_second=1), clock=clock)
    sim.throttle_status = 429
    assert post(sim, form(sim, **WINDOW)).status_code == 200
    response = post(sim, form(sim, **WINDOW))
    assert response.status_code == 429 and response.json()["code"] == "7"


def test_describe_lists_the_router_and_demo_credentials(clock: Clock) -> None:
    info = simulator(clock).describe()
    assert info["base_url"] == "http://kuaimai.sandbox/router"
    assert (info["app_key"], info["app_secret"], info["session"]) == (
        KuaimaiSimulator.APP_KEY,
        KuaimaiSimulator.APP_SECRET,
        KuaimaiSimulator.SESSION,
    )
