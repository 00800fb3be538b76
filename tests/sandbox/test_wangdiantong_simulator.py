"""The WangDianTong simulator speaks openapi2 and Qimen as docs/vendor-protocols.md §5 describes them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from ferry.connectors._wdt_sign import qimen_sign, wdt_sign
from ferry.sandbox import CHINA, Faults, SandboxTransport, world
from ferry.sandbox.wangdiantong import WangdiantongSimulator as Wdt

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=CHINA).timestamp()
MONTH = {"start_time": "2024-05-02 00:00:00", "end_time": "2024-06-01 00:00:00"}
API = "stockout_order_query_trade.php"
METHOD = "wdt.stockout.order.query.trade"


def clock() -> float:
    return NOW


@pytest.fixture
def sim() -> Wdt:
    return Wdt(size=120, clock=clock)


def post(sim: Wdt, path: str, data: dict[str, str]) -> httpx.Response:
    with httpx.Client(transport=SandboxTransport({"wangdiantong": sim})) as client:
        return client.post(f"{sim.base_url}{path}", data=data)


def direct(
    sim: Wdt, *, api: str = API, secret: str = Wdt.APP_SECRET, at: float = NOW, **business: Any
) -> dict[str, Any]:
    params = {"sid": Wdt.SID, "appkey": Wdt.APP_KEY, "timestamp": str(int(at))}
    params.update({k: str(v) for k, v in business.items()})
    params["sign"] = wdt_sign(params, secret)
    response = post(sim, f"/openapi2/{api}", params)
    assert response.status_code == 200
    body: dict[str, Any] = orjson.loads(response.content)
    return body


def qimen(
    sim: Wdt,
    *,
    method: str = METHOD,
    secret: str = Wdt.QIMEN_APP_SECRET,
    at: float = NOW,
    tweak: Callable[[dict[str, str]], None] | None = None,
    **business: Any,
) -> dict[str, Any]:
    params = {
        "method": method,
        "app_key": Wdt.QIMEN_APP_KEY,
        "target_app_key": Wdt.TARGET_APP_KEY,
        "sid": Wdt.SID,
        "format": "json",
        "v": "2.0",
        "sign_method": "md5",
        "timestamp": datetime.fromtimestamp(at, CHINA).strftime("%Y-%m-%d %H:%M:%S"),
    }
    params.update({k: str(v) for k, v in business.items()})
    if tweak is not None:
        tweak(params)
    params["sign"] = qimen_sign(params, secret)
    response = post(sim, "/router/qm", params)
    assert response.status_code == 200
    body: dict[str, Any] = orjson.loads(response.content)
    return body


def all_pages(sim: Wdt, size: int, **business: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    page = 0
    while True:
        body = direct(sim, page_no=page, page_size=size, **business)
        rows += body["stockout_list"]
        page += 1
        if page * size >= body["total_count"]:
            return rows


# -- direct openapi2 ---------------------------------------------------------------------------


def test_a_signed_direct_query_returns_documented_stockouts(sim):
    body = direct(sim, status="95,105,110,113", **MONTH)

    assert body["code"] == 0 and body["message"] == ""
    assert body["total_count"] > 40 and len(body["stockout_list"]) == 40  # default page size 40
    row = body["stockout_list"][0]
    for key in ("stockout_no", "src_order_no", "shop_no", "status", "invoice_title", "invoice_content"):
        assert key in row
    assert row["modified"] >= MONTH["start_time"] and row["consign_time"] == row["modified"]
    numbers = {m.number for m in world.materials(60)}
    lines = [line for r in body["stockout_list"] for line in r["details_list"]]
    assert lines and all(line["goods_no"] in numbers for line in lines)
    assert all(line["goods_count"].endswith(".0000") for line in lines)


def test_a_wrong_direct_signature_is_refused_with_code_1007(sim):
    body = direct(sim, secret="not-the-secret", **MONTH)

    assert body == {"code": 1007, "message": "签名错误"}
    assert sim.calls[-1].code == 1007


def test_an_unknown_sid_is_refused(sim):
    params = {"sid": "someone-else", "appkey": Wdt.APP_KEY, "timestamp": str(int(NOW)), **MONTH}
    params["sign"] = wdt_sign(params, Wdt.APP_SECRET)

    body = orjson.loads(post(sim, f"/openapi2/{API}", params).content)

    assert body["code"] == 1007 and "sid" in body["message"]


@pytest.mark.parametrize(
    ("skew", "code"),
    [
        pytest.param(-299, 0, id="4m59s-early"),
        pytest.param(299, 0, id="4m59s-late"),
        pytest.param(-301, 1008, id="5m01s-early"),
        pytest.param(360, 1008, id="6m-late"),
    ],
)
def test_direct_timestamps_may_be_five_minutes_off(sim, skew, code):
    assert direct(sim, at=NOW + skew, **MONTH)["code"] == code


@pytest.mark.parametrize(
    ("end", "code"),
    [
        pytest.param("2024-05-31 00:00:00", 0, id="exactly-30-days"),
        pytest.param("2024-05-31 00:00:01", 1030, id="30-days-and-a-second"),
        pytest.param("2024-07-01 00:00:00", 1030, id="60-days"),
    ],
)
def test_the_query_window_is_at_most_30_days(sim, end, code):
    body = direct(sim, start_time="2024-05-01 00:00:00", end_time=end)

    assert body["code"] == code
    if code:
        assert body["message"] == "参数错误: 时间跨度不能超过30天"


def test_a_query_without_a_window_is_refused(sim):
    body = direct(sim, status="95")

    assert body["code"] == 1030 and "start_time" in body["message"]


def test_pages_are_numbered_from_zero_and_cover_the_result_once(sim):
    whole = direct(sim, page_size=100, **MONTH)
    pages = all_pages(sim, 7, **MONTH)

    assert [r["stockout_no"] for r in pages] == [r["stockout_no"] for r in whole["stockout_list"]]
    assert len(pages) == whole["total_count"]
    first = direct(sim, page_no=0, page_size=7, **MONTH)["stockout_list"]
    assert [r["stockout_no"] for r in first] == [r["stockout_no"] for r in pages[:7]]


def test_a_page_past_the_end_is_empty_and_keeps_the_total(sim):
    total = direct(sim, **MONTH)["total_count"]

    body = direct(sim, page_no=total, page_size=1, **MONTH)

    assert body["code"] == 0 and body["stockout_list"] == [] and body["total_count"] == total


@pytest.mark.parametrize("size", [0, 101])
def test_page_size_must_be_between_1_and_100(sim, size):
    body = direct(sim, page_size=size, **MONTH)

    assert body["code"] == 1030 and "page_size" in body["message"]


def test_the_status_filter_takes_a_comma_list_and_defaults_to_shipped_and_finished(sim):
    chosen = all_pages(sim, 100, status="95,105,110,113", **MONTH)
    default = all_pages(sim, 100, **MONTH)
    cancelled = all_pages(sim, 100, status="5", **MONTH)

    assert {r["status"] for r in chosen} == {95, 105, 110, 113}
    assert {r["status"] for r in default} == {95, 110}
    assert {r["status"] for r in cancelled} == {5}
    assert all(r["consign_time"] == "0000-00-00 00:00:00" for r in cancelled)


def test_the_shop_filter_takes_a_comma_list_and_every_shop_has_stockouts(sim):
    everything = all_pages(sim, 100, status="5,55,95,105,110,113", **MONTH)
    four = all_pages(sim, 100, status="5,55,95,105,110,113", shop_nos="002,003,004,0071", **MONTH)

    assert {r["shop_no"] for r in everything} == set(world.SHOPS)
    assert {r["shop_no"] for r in four} == {"002", "003", "004", "0071"}
    assert len(four) == sum(1 for r in everything if r["shop_no"] in {"002", "003", "004", "0071"})


def test_a_stockout_number_finds_one_stockout_without_a_window(sim):
    wanted = direct(sim, **MONTH)["stockout_list"][3]["stockout_no"]

    body = direct(sim, stockout_no=wanted, status="5,55,95,105,110,113")

    assert [r["stockout_no"] for r in body["stockout_list"]] == [wanted]


def test_a_quarter_of_invoice_titles_are_empty_and_titled_rows_carry_a_tax_number(sim):
    rows = all_pages(sim, 100, status="5,55,95,105,110,113", **MONTH)

    empty = [r for r in rows if not r["invoice_title"]]
    titled = [r for r in rows if r["invoice_title"]]
    assert len(empty) == len(rows) // 4
    assert all(r["invoice_content"] == "" for r in empty)
    assert all(len(r["invoice_content"]) == 18 for r in titled)


def test_an_unknown_php_api_is_http_404(sim):
    params = {"sid": Wdt.SID, "appkey": Wdt.APP_KEY, "timestamp": str(int(NOW))}
    params["sign"] = wdt_sign(params, Wdt.APP_SECRET)

    assert post(sim, "/openapi2/no_such_api.php", params).status_code == 404


# -- Qimen -------------------------------------------------------------------------------------


def test_the_qimen_route_answers_the_same_query_wrapped_in_response(sim):
    body = qimen(sim, status="95,105,110,113", shop_nos="002,003", page_no=1, page_size=5, **MONTH)
    plain = direct(sim, status="95,105,110,113", shop_nos="002,003", page_no=1, page_size=5, **MONTH)

    response = body["response"]
    assert response["flag"] == "success" and response["code"] == "0"
    assert response["total_count"] == plain["total_count"]
    assert response["stockout_list"] == plain["stockout_list"]
    assert sim.calls[-2].api == METHOD and sim.calls[-2].credential == Wdt.QIMEN_APP_KEY


def test_a_wrong_qimen_signature_is_top_error_25(sim):
    body = qimen(sim, secret="wrong", **MONTH)

    assert body["error_response"]["code"] == 25
    assert body["error_response"]["msg"] == "Invalid signature"


def test_the_qimen_signature_covers_every_parameter(sim):
    params = {
        "method": METHOD,
        "app_key": Wdt.QIMEN_APP_KEY,
        "target_app_key": Wdt.TARGET_APP_KEY,
        "sid": Wdt.SID,
        "sign_method": "md5",
        "timestamp": datetime.fromtimestamp(NOW, CHINA).strftime("%Y-%m-%d %H:%M:%S"),
        **MONTH,
    }
    params["sign"] = qimen_sign(params, Wdt.QIMEN_APP_SECRET)
    params["page_size"] = "100"  # added after signing

    body = orjson.loads(post(sim, "/router/qm", params).content)

    assert body["error_response"]["code"] == 25


@pytest.mark.parametrize(
    ("change", "code"),
    [
        pytest.param({"app_key": "99999999"}, 29, id="unknown-app-key"),
        pytest.param({"target_app_key": "11111111"}, 41, id="wrong-target-app"),
        pytest.param({"timestamp": "2024-06-01 11:49:00"}, 31, id="11-minutes-old"),
    ],
)
def test_qimen_gateway_refusals_use_top_codes(sim, change, code):
    body = qimen(sim, tweak=lambda p: p.update(change), **MONTH)

    assert body["error_response"]["code"] == code
    assert body["error_response"]["request_id"]


def test_an_unknown_qimen_method_is_top_error_22(sim):
    assert qimen(sim, method="wdt.no.such.method", **MONTH)["error_response"]["code"] == 22


def test_qimen_refusals_by_wdt_are_wrapped_failures(sim):
    wrong_sid = qimen(sim, tweak=lambda p: p.update(sid="other"), **MONTH)["response"]
    too_long = qimen(sim, start_time="2024-04-01 00:00:00", end_time="2024-06-01 00:00:00")["response"]

    assert wrong_sid["flag"] == "failure" and wrong_sid["code"] == "1007"
    assert too_long["flag"] == "failure" and too_long["code"] == "1030"
    assert "30天" in too_long["message"]


def test_the_prefixed_qimen_method_name_is_accepted(sim):
    body = qimen(sim, method="hu3cgwt0tc." + METHOD, **MONTH)

    assert body["response"]["flag"] == "success"


# -- throttling, faults, description -----------------------------------------------------------


def test_there_is_no_rate_limit_by_default(sim):
    codes = {direct(sim, page_size=1, **MONTH)["code"] for _ in range(30)}

    assert codes == {0}


def test_a_rate_budget_throttles_with_each_routes_code():
    sim = Wdt(size=20, clock=clock, faults=Faults(rate_per_second=2))

    direct_codes = [direct(sim, **MONTH)["code"] for _ in range(3)]
    qimen_answer = qimen(sim, **MONTH)  # the Qimen app key has its own budget
    qimen_answers = [qimen(sim, **MONTH) for _ in range(2)]

    assert direct_codes == [0, 0, 1020]
    assert "response" in qimen_answer and "response" in qimen_answers[0]
    limited = qimen_answers[1]["error_response"]
    assert limited["code"] == 7 and "1 more seconds" in limited["sub_msg"]
    assert [c.fault for c in sim.calls].count("throttled") == 2


def test_drift_moves_a_served_stockout_to_a_later_time():
    sim = Wdt(size=40, clock=clock, faults=Faults(drift_rate=1.0))

    first = direct(sim, page_size=5, **MONTH)["stockout_list"]

    moved = sim.dataset.get(first[0]["stockout_no"])
    assert moved is not None and sim.dataset.drifted
    assert moved["modified"] == datetime.fromtimestamp(NOW, CHINA).strftime("%Y-%m-%d %H:%M:%S")


def test_describe_gives_both_routes_with_their_credentials(sim):
    info = sim.describe()

    assert info["direct"]["base_url"] == "http://wangdiantong.sandbox/openapi2"
    assert info["qimen"]["base_url"] == "http://wangdiantong.sandbox/router/qm"
    assert info["direct"]["app_secret"] == Wdt.APP_SECRET
    assert info["qimen"]["target_app_key"] == Wdt.TARGET_APP_KEY
    assert info["records"] == 120


def test_the_seeded_month_is_the_worlds(sim):
    rows = sim.dataset.all()

    first, last = rows[0]["modified"], rows[-1]["modified"]
    assert first >= (world.ANCHOR - timedelta(days=30)).strftime("%Y-%m-%d %H:%M:%S")
    assert last < world.ANCHOR.strftime("%Y-%m-%d %H:%M:%S")
