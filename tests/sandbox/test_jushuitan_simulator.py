"""The JuShuiTan simulator behaves like the v2 gateway: signature, clock, token, limits, paging."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

import httpx
import pytest

from ferry.sandbox import Faults, SandboxTransport
from ferry.sandbox.jushuitan import JushuitanSimulator
from ferry.sandbox.world import material

T0 = 1_717_200_000.0  # 2024-06-01 08:00:00 +08:00
INOUT = JushuitanSimulator.INOUT_QUERY
SKU = JushuitanSimulator.SKU_QUERY
UNLIMITED = Faults(rate_per_second=0, rate_per_minute=0)


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def md5_sign(secret: str, form: dict[str, str]) -> str:
    text = secret + "".join(f"{k}{form[k]}" for k in sorted(form) if k != "sign" and form[k] != "")
    return hashlib.md5(text.encode()).hexdigest()


class Caller:
    """Signs and posts v2 form calls to one simulator."""

    def __init__(self, sim: JushuitanSimulator, clock: Clock) -> None:
        self.sim, self.clock = sim, clock
        self.http = httpx.Client(base_url=sim.base_url, transport=SandboxTransport({"jushuitan": sim}))
        self.app_key, self.secret, self.token = sim.APP_KEY, sim.APP_SECRET, sim.ACCESS_TOKEN

    def form(self, biz: dict, **over: str) -> dict[str, str]:
        form = {
            "app_key": self.app_key,
            "access_token": self.token,
            "timestamp": str(int(self.clock())),
            "version": "2",
            "charset": "utf-8",
            "biz": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
            **over,
        }
        form["sign"] = md5_sign(self.secret, form)
        return form

    def post(self, path: str, form: dict[str, str]) -> dict:
        response = self.http.post(path, data=form)
        assert response.status_code == 200, response.text
        return response.json()

    def query(self, biz: dict, path: str = INOUT, **over: str) -> dict:
        return self.post(path, self.form(biz, **over))

    def token_call(self, path: str, **fields: str) -> dict:
        form = {"app_key": self.app_key, "timestamp": str(int(self.clock())), "charset": "utf-8", **fields}
        form["sign"] = md5_sign(self.secret, form)
        return self.post(path, form)


def week(start: str = "2024-05-10 00:00:00", days: float = 7, **biz) -> dict:
    begin = datetime.strptime(start, "%Y-%m-%d %H:%M:%S")
    end = begin + timedelta(days=days)
    return {"modified_begin": start, "modified_end": end.strftime("%Y-%m-%d %H:%M:%S"), **biz}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def caller(clock) -> Caller:
    return Caller(JushuitanSimulator(size=120, faults=UNLIMITED, clock=clock), clock)


def test_the_documented_vector_passes_the_signature_check_and_then_the_page_size_limit_applies(clock):
    sim = JushuitanSimulator(size=10, faults=UNLIMITED, clock=Clock(1639128407))
    sim.apps["5b53060f23d84ddf9703056e84fa5a2d"] = "e9c5ca33fecb404b8e6cdbd0ef4a6d25"
    sim.tokens.issue("d7b01bf0842a4742a9450e21ffd95f60", "5b53060f23d84ddf9703056e84fa5a2d")
    form = {
        "app_key": "5b53060f23d84ddf9703056e84fa5a2d",
        "access_token": "d7b01bf0842a4742a9450e21ffd95f60",
        "timestamp": "1639128407",
        "version": "2",
        "charset": "utf-8",
        "biz": '{"page_index":"1","page_size":"100","nicks":["老板"]}',
        "sign": "395f5a78b446be465ac03a02491296c7",
    }
    body = Caller(sim, clock).post(INOUT, form)
    assert body == {"code": 1, "msg": "page_size不能超过50", "data": None}


@pytest.mark.parametrize(
    "over",
    [
        pytest.param({"sign": "395f5a78b446be465ac03a02491296c7"}, id="wrong-sign"),
        pytest.param({"sign": ""}, id="empty-sign"),
        pytest.param({"app_key": "not-an-app"}, id="unknown-app-key"),
    ],
)
def test_a_bad_signature_answers_code_10(caller, over):
    form = caller.form(week())
    form.update(over)
    assert caller.post(INOUT, form) == {"code": 10, "msg": "验证失败！无效签名", "data": None}
    assert caller.sim.calls[-1].code == 10


def test_a_tampered_biz_fails_the_signature(caller):
    form = caller.form(week(status="Confirmed"))
    form["biz"] = form["biz"].replace("Confirmed", "Cancelled")
    assert caller.post(INOUT, form)["code"] == 10


@pytest.mark.parametrize(
    ("skew", "code"),
    [
        pytest.param(-14 * 60, 0, id="14-min-behind-ok"),
        pytest.param(14 * 60, 0, id="14-min-ahead-ok"),
        pytest.param(16 * 60, 140, id="16-min-ahead"),
        pytest.param(-16 * 60, 140, id="16-min-behind"),
    ],
)
def test_the_timestamp_may_differ_by_at_most_15_minutes(caller, clock, skew, code):
    body = caller.query(week(), timestamp=str(int(clock() + skew)))
    assert body["code"] == code
    if code:
        assert "15分钟" in body["msg"]


def test_an_unknown_access_token_answers_code_100(caller):
    body = caller.query(week(), access_token="0" * 32)
    assert body["code"] == 100 and "access_token" in body["msg"]


def test_a_token_expires_after_the_configured_number_of_calls(clock):
    caller = Caller(
        JushuitanSimulator(size=20, faults=UNLIMITED.with_(token_expiry_calls=2), clock=clock), clock
    )
    assert [caller.query(week())["code"] for _ in range(3)] == [0, 0, 100]
    assert caller.sim.calls[-1].fault == "expired"


def test_refresh_token_gives_a_working_token_and_is_single_use(clock):
    caller = Caller(
        JushuitanSimulator(size=20, faults=UNLIMITED.with_(token_expiry_calls=1), clock=clock), clock
    )
    caller.query(week())
    assert caller.query(week())["code"] == 100
    path = JushuitanSimulator.REFRESH_TOKEN_PATH
    fields = {"grant_type": "refresh_token", "refresh_token": caller.sim.REFRESH_TOKEN, "scope": "all"}
    answer = caller.token_call(path, **fields)
    assert answer["code"] == 0 and answer["data"]["expires_in"] == 2_592_000
    assert answer["data"]["scope"] == "all" and answer["data"]["refresh_token"] != caller.sim.REFRESH_TOKEN
    caller.token = answer["data"]["access_token"]
    assert caller.query(week())["code"] == 0
    assert caller.token_call(path, **fields)["code"] == 100, "a refresh token is used once"


@pytest.mark.parametrize("grant", ["authorization_code", "refresh_token"])
def test_get_init_token_issues_a_token_with_a_caller_chosen_code(caller, grant):
    answer = caller.token_call(JushuitanSimulator.INIT_TOKEN, grant_type=grant, code="a1B2c3")
    assert answer["code"] == 0
    caller.token = answer["data"]["access_token"]
    assert caller.query(week())["code"] == 0
    assert caller.sim.renewals == 1


def test_an_isv_app_may_not_renew_its_token(clock):
    caller = Caller(JushuitanSimulator(size=5, faults=UNLIMITED, clock=clock, isv=True), clock)
    answer = caller.token_call(JushuitanSimulator.INIT_TOKEN, grant_type="authorization_code", code="abcdef")
    assert answer == {"code": 150, "msg": "服务商应用禁止刷新access_token", "data": None}


def test_a_token_call_is_signed_too(caller):
    answer = caller.post(
        JushuitanSimulator.INIT_TOKEN,
        {
            "app_key": caller.app_key,
            "timestamp": str(int(T0)),
            "grant_type": "authorization_code",
            "code": "x",
        },
    )
    assert answer["code"] == 10


@pytest.mark.parametrize(
    ("days", "code"),
    [pytest.param(7, 0, id="exactly-7-days"), pytest.param(7 + 1 / 86400, 1, id="7-days-and-1-second")],
)
def test_the_modified_range_spans_at_most_seven_days(caller, days, code):
    body = caller.query(week(days=days))
    assert body["code"] == code
    if code:
        assert body["msg"] == "修改起始时间和结束时间间隔不能超过七天"


def test_the_parameter_error_code_is_configurable(clock):
    caller = Caller(JushuitanSimulator(size=5, faults=UNLIMITED, clock=clock, param_error_code=9001), clock)
    assert caller.query(week(days=8))["code"] == 9001


@pytest.mark.parametrize(
    ("biz", "fragment"),
    [
        pytest.param({"modified_begin": "2024-05-10 00:00:00"}, "同时存在", id="begin-without-end"),
        pytest.param({}, "不能同时为空", id="no-range-no-ids"),
        pytest.param(week(page_index=0), "page_index", id="page-index-0"),
        pytest.param(week(page_size=51), "page_size不能超过50", id="page-size-51"),
        pytest.param({"modified_begin": "2024/05/10", "modified_end": "2024/05/11"}, "格式", id="bad-date"),
        pytest.param(week(date_type=1), "date_type", id="date-type-1"),
    ],
)
def test_bad_business_parameters_are_rejected_with_the_rule_in_msg(caller, biz, fragment):
    body = caller.query(biz)
    assert body["code"] == 1 and fragment in body["msg"]


def test_version_2_is_required(caller):
    assert caller.query(week(), version="1") == {"code": 1, "msg": "version必须为2", "data": None}


def test_pages_are_one_based_with_default_size_30_and_has_next(clock):
    caller = Caller(JushuitanSimulator(size=300, faults=UNLIMITED, clock=clock), clock)
    first = caller.query(week())["data"]
    total = first["data_count"]
    assert total > 60, "the week must span three pages of 30"
    assert (first["page_index"], first["page_size"], len(first["datas"])) == (1, 30, 30)
    assert first["page_count"] == -(-total // 30) and first["has_next"] is True
    pages = [caller.query(week(page_index=i))["data"] for i in range(1, first["page_count"] + 1)]
    assert [p["has_next"] for p in pages] == [True] * (len(pages) - 1) + [False]
    ids = [r["io_id"] for p in pages for r in p["datas"]]
    assert len(ids) == len(set(ids)) == total
    past = caller.query(week(page_index=len(pages) + 1))["data"]
    assert (past["datas"], past["has_next"], past["data_count"]) == ([], False, total)


def test_page_size_50_is_accepted(caller):
    assert caller.query(week(page_size=50))["data"]["page_size"] == 50


def test_records_are_confirmed_returns_with_world_skus_when_filtered_so(caller):
    body = caller.query(week(status="Confirmed", types=["其它退货"], page_size=50, date_type="0"))
    rows = body["data"]["datas"]
    assert rows and all(r["status"] == "Confirmed" and r["type"] == "其它退货" for r in rows)
    modified = [r["modified"] for r in rows]
    assert modified == sorted(modified) and all("2024-05-10" <= m <= "2024-05-17" for m in modified)
    for item in (i for r in rows for i in r["items"]):
        index = int(item["sku_id"][3:]) - 1
        assert item["sku_id"] == material(index).sku_id and item["name"] == material(index).name
        assert item["cost_amount"] == round(item["qty"] * item["cost_price"], 2)


def test_date_type_2_filters_on_io_date(caller):
    by_io_date = caller.query(week(date_type=2, page_size=50))["data"]["datas"]
    assert by_io_date and all("2024-05-10" <= r["io_date"] <= "2024-05-17" for r in by_io_date)


def test_io_ids_query_needs_no_time_range(caller):
    body = caller.query({"io_ids": ["10001", "10003"]})
    assert sorted(r["io_id"] for r in body["data"]["datas"]) == [10001, 10003]


def test_the_per_second_budget_answers_199(clock):
    caller = Caller(JushuitanSimulator(size=10, clock=clock), clock)
    codes = [caller.query(week())["code"] for _ in range(6)]
    assert codes == [0, 0, 0, 0, 0, 199]
    assert caller.sim.calls[-1].fault == "throttled"
    clock.now += 1.01
    assert caller.query(week())["code"] == 0


def test_the_per_minute_budget_answers_200(clock):
    caller = Caller(JushuitanSimulator(size=10, clock=clock), clock)
    codes = []
    for _ in range(101):
        codes.append(caller.query(week())["code"])
        clock.now += 0.25
    assert codes == [0] * 100 + [200]
    assert "每分钟" in caller.query(week())["msg"]


def test_sku_query_pages_the_sku_master_and_filters_by_sku_ids(caller):
    page = caller.query({"modified_begin": "2024-05-02 00:00:00", "modified_end": "2024-05-09 00:00:00"}, SKU)
    assert page["code"] == 0 and page["data"]["data_count"] == len(page["data"]["datas"]) > 0
    assert all(r["sku_id"].startswith("SKU") for r in page["data"]["datas"])
    chosen = caller.query({"sku_ids": "SKU00001,SKU00003"}, SKU)["data"]["datas"]
    assert [(r["sku_id"], r["name"]) for r in chosen] == [
        ("SKU00001", material(0).name),
        ("SKU00003", material(2).name),
    ]
    assert (
        caller.query({"modified_begin": "2024-05-01 00:00:00", "modified_end": "2024-05-09 00:00:00"}, SKU)[
            "code"
        ]
        == 1
    )


def test_duplicate_fault_repeats_the_previous_pages_last_record(clock):
    faults = UNLIMITED.with_(duplicate_rate=1.0)
    caller = Caller(JushuitanSimulator(size=300, faults=faults, clock=clock), clock)
    first = caller.query(week(page_size=10))["data"]["datas"]
    second = caller.query(week(page_size=10, page_index=2))["data"]["datas"]
    assert second[0]["io_id"] == first[-1]["io_id"] and len(second) == 11


def test_late_records_appear_after_enough_calls(clock):
    faults = UNLIMITED.with_(late_rate=0.3, late_after_calls=2)
    caller = Caller(JushuitanSimulator(size=100, faults=faults, clock=clock), clock)
    everything = {
        "modified_begin": "2024-05-01 00:00:00",
        "modified_end": "2024-05-08 00:00:00",
        "page_size": 50,
    }
    before = caller.query(everything)["data"]["data_count"]
    caller.query(everything)
    after = caller.query(everything)["data"]["data_count"]
    assert caller.sim.inout.late and after > before


def test_unknown_paths_and_get_requests_are_404(caller):
    assert caller.http.post("/open/nothing", data=caller.form({})).status_code == 404
    assert caller.http.get(INOUT).status_code == 404


def test_describe_lists_the_demo_credentials():
    described = JushuitanSimulator(size=1).describe()
    assert described["app_key"] == JushuitanSimulator.APP_KEY
    assert described["app_secret"] == JushuitanSimulator.APP_SECRET
    assert described["access_token"] == JushuitanSimulator.ACCESS_TOKEN
    assert INOUT in described["paths"] and SKU in described["paths"]
