"""The OKKI CRM simulator follows docs/vendor-protocols.md §6: OAuth2 tokens and the 1-based receipt list."""

from __future__ import annotations

import hashlib
from datetime import datetime

import httpx
import pytest

from ferry.sandbox import Faults, SandboxTransport
from ferry.sandbox._okki_receipts import ORPHAN_BASE
from ferry.sandbox.okki import RECEIPTS, REFRESH, TOKEN, OkkiSimulator
from ferry.sandbox.world import sale_order, spread


class Clock:
    def __init__(self) -> None:
        self.now = 1_717_200_000.0

    def __call__(self) -> float:
        return self.now


def client(sim: OkkiSimulator) -> httpx.Client:
    return httpx.Client(transport=SandboxTransport({sim.name: sim}), base_url=sim.base_url)


def token_form(**changes: str) -> dict[str, str]:
    form = {
        "grant_type": "client_credentials",
        "client_id": OkkiSimulator.CLIENT_ID,
        "client_secret": OkkiSimulator.CLIENT_SECRET,
        "scope": "invoices company",
    }
    return {**form, **changes}


def token(http: httpx.Client, **changes: str) -> str:
    response = http.post(TOKEN, data=token_form(**changes))
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def receipts(http: httpx.Client, bearer: str, **params: str | int) -> httpx.Response:
    return http.get(RECEIPTS, params=params, headers={"Authorization": f"Bearer {bearer}"})


def test_client_credentials_token_has_expiry_and_no_refresh_token():
    response = client(OkkiSimulator(size=5)).post(TOKEN, data=token_form())
    body = response.json()
    assert response.status_code == 200
    assert body["token_type"] == "Bearer" and body["expires_in"] == 28_800 and body["access_token"]
    assert "refresh_token" not in body


def test_json_token_request_is_accepted_too():
    response = client(OkkiSimulator(size=5)).post(TOKEN, json=token_form())
    assert response.status_code == 200 and response.json()["access_token"]


def test_asking_again_returns_the_same_token_with_the_remaining_lifetime():
    clock = Clock()
    http = client(OkkiSimulator(size=5, clock=clock))
    first = http.post(TOKEN, data=token_form()).json()
    clock.now += 100
    second = http.post(TOKEN, data=token_form()).json()
    assert second["access_token"] == first["access_token"]
    assert second["expires_in"] == 28_700


@pytest.mark.parametrize(
    ("changes", "status", "error"),
    [
        pytest.param({"client_secret": "wrong"}, 401, "invalid_client", id="bad-secret"),
        pytest.param({"grant_type": "authorization_code"}, 400, "unsupported_grant_type", id="grant"),
        pytest.param({"grant_type": ""}, 400, "invalid_request", id="no-grant"),
        pytest.param({"scope": "invoices orders"}, 400, "invalid_scope", id="unknown-scope"),
        pytest.param({"scope": ""}, 400, "invalid_scope", id="no-scope"),
    ],
)
def test_token_errors_have_the_oauth_shape(changes, status, error):
    response = client(OkkiSimulator(size=5)).post(TOKEN, data=token_form(**changes))
    body = response.json()
    assert response.status_code == status
    assert body["error"] == error and body["error_description"] and body["message"]


def test_invalid_client_text_is_the_documented_one():
    body = client(OkkiSimulator(size=5)).post(TOKEN, data=token_form(client_id="x")).json()
    assert body == {
        "error": "invalid_client",
        "error_description": "Client authentication failed",
        "message": "Client authentication failed",
    }


def test_password_grant_gives_a_refresh_token_that_works_once():
    http = client(OkkiSimulator(size=5))
    digest = hashlib.sha256(OkkiSimulator.PASSWORD.encode()).hexdigest()
    form = token_form(grant_type="password", username=OkkiSimulator.USERNAME, password=digest)
    first = http.post(TOKEN, data=form).json()
    assert first["refresh_token"]
    refresh = {
        "grant_type": "refresh_token",
        "refresh_token": first["refresh_token"],
        "client_id": OkkiSimulator.CLIENT_ID,
        "client_secret": OkkiSimulator.CLIENT_SECRET,
    }
    renewed = http.post(REFRESH, data=refresh).json()
    assert renewed["access_token"] != first["access_token"]
    assert receipts(http, renewed["access_token"]).status_code == 200
    assert http.post(REFRESH, data=refresh).status_code == 401


def test_password_grant_rejects_a_plain_text_password():
    http = client(OkkiSimulator(size=5))
    form = token_form(grant_type="password", username=OkkiSimulator.USERNAME, password=OkkiSimulator.PASSWORD)
    response = http.post(TOKEN, data=form)
    assert response.status_code == 400 and response.json()["error"] == "invalid_credentials"


def test_list_answers_the_documented_envelope():
    clock = Clock()
    sim = OkkiSimulator(size=30, clock=clock)
    http = client(sim)
    body = receipts(http, token(http), start_index=1, count=10).json()
    assert (body["code"], body["message"]) == (200, "success")
    assert body["now"] == sim.now().strftime("%Y-%m-%d %H:%M:%S")
    assert body["data"]["totalItem"] == 30 and len(body["data"]["list"]) == 10
    row = body["data"]["list"][0]
    assert isinstance(row["cash_collection_id"], int) and row["cash_collection_no"].startswith("HK")
    for money in ("amount", "real_amount", "bank_charge"):
        assert isinstance(row[money], str) and "." in row[money]
    assert row["company_info"] == [] and row["exchange_rate"] == "100.00000"


def test_bare_token_without_bearer_is_accepted():
    http = client(OkkiSimulator(size=5))
    response = http.get(RECEIPTS, headers={"Authorization": token(http)})
    assert response.status_code == 200


def test_missing_or_unknown_token_is_access_denied():
    http = client(OkkiSimulator(size=5))
    missing = http.get(RECEIPTS)
    unknown = receipts(http, "not-a-token")
    assert missing.status_code == unknown.status_code == 401
    assert missing.json()["error"] == unknown.json()["error"] == "access_denied"
    assert unknown.json()["message"] == "Access token could not be verified"


def test_pages_are_numbered_from_one_and_past_the_end_is_empty():
    http = client(OkkiSimulator(size=25))
    bearer = token(http)
    pages = [receipts(http, bearer, start_index=n, count=10).json()["data"] for n in (1, 2, 3, 4)]
    ids = [r["cash_collection_id"] for page in pages for r in page["list"]]
    assert [len(page["list"]) for page in pages] == [10, 10, 5, 0]
    assert len(set(ids)) == 25
    assert {page["totalItem"] for page in pages} == {25}


def test_time_window_is_inclusive_at_both_ends_and_a_date_end_means_the_whole_day():
    size = 30
    http = client(OkkiSimulator(size=size))
    bearer = token(http)
    start, end = spread(5, size), spread(9, size)
    fmt = "%Y-%m-%d %H:%M:%S"
    inside = receipts(http, bearer, start_time=start.strftime(fmt), end_time=end.strftime(fmt), count=100)
    assert [r["update_time"] for r in inside.json()["data"]["list"]] == [
        spread(i, size).strftime(fmt) for i in range(5, 10)
    ]
    day = spread(0, size).date()
    whole_day = receipts(http, bearer, start_time=str(day), end_time=str(day), count=100).json()["data"]
    assert whole_day["totalItem"] == sum(1 for i in range(size) if spread(i, size).date() == day)


def test_removed_one_returns_the_deleted_receipts_only():
    http = client(OkkiSimulator(size=40))
    bearer = token(http)
    live = {r["cash_collection_id"] for r in receipts(http, bearer, count=100).json()["data"]["list"]}
    deleted = receipts(http, bearer, count=100, removed=1).json()["data"]
    assert deleted["totalItem"] == 2
    assert not live & {r["cash_collection_id"] for r in deleted["list"]}


def test_receipts_pay_the_worlds_sales_orders_except_a_few():
    http = client(OkkiSimulator(size=50))
    rows = receipts(http, token(http), count=100).json()["data"]["list"]
    by_index = {r["cash_collection_id"] - 5_221_565_013: r for r in rows}
    order_ids = {i: r["order_id"] for i, r in by_index.items()}
    assert order_ids[0] == int(sale_order(0).collection_id)
    assert by_index[0]["order_info"]["order_no"] == sale_order(0).bill_no
    assert order_ids[24] == order_ids[49] == 0
    assert order_ids[12] == ORPHAN_BASE + 12 and by_index[12]["order_info"] == []
    linked = [i for i, oid in order_ids.items() if oid == int(sale_order(i).collection_id)]
    assert len(linked) == 46


def test_expired_token_is_refused_and_a_new_one_is_issued():
    clock = Clock()
    http = client(OkkiSimulator(size=5, clock=clock))
    first = token(http)
    clock.now += OkkiSimulator.TOKEN_LIFETIME + 1
    expired = receipts(http, first)
    assert expired.status_code == 401
    assert expired.json()["message"] == "Access token has expired"
    second = token(http)
    assert second != first and receipts(http, second).status_code == 200


def test_token_expires_after_the_fault_call_count():
    http = client(OkkiSimulator(size=5, faults=Faults(token_expiry_calls=2)))
    bearer = token(http)
    assert [receipts(http, bearer).status_code for _ in range(3)] == [200, 200, 401]
    assert token(http) != bearer


def test_token_without_the_invoices_scope_gets_no_permission():
    http = client(OkkiSimulator(size=5))
    response = receipts(http, token(http, scope="company"))
    assert response.status_code == 403
    assert response.json()["message"] == "no permission invoices scopes"


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"start_index": 0}, id="page-zero"),
        pytest.param({"count": 101}, id="count-too-large"),
        pytest.param({"start_time": "2024/05/01"}, id="bad-time"),
        pytest.param({"removed": 2}, id="bad-removed"),
    ],
)
def test_bad_list_parameters_are_refused(params):
    http = client(OkkiSimulator(size=5))
    response = receipts(http, token(http), **params)
    assert response.status_code == 400 and response.json()["code"] == 400


def test_rate_budget_answers_429_when_a_fault_sets_one():
    http = client(OkkiSimulator(size=5, faults=Faults(rate_per_minute=2)))
    bearer = token(http)
    assert receipts(http, bearer).status_code == 200
    throttled = receipts(http, bearer)
    assert throttled.status_code == 429 and throttled.json()["code"] == 429


def test_unlimited_by_default():
    http = client(OkkiSimulator(size=5))
    bearer = token(http)
    assert {receipts(http, bearer).status_code for _ in range(30)} == {200}


def test_injected_server_error_is_a_500_envelope():
    sim = OkkiSimulator(size=5, faults=Faults(error_rate=1.0, timeout_share=0.0))
    response = client(sim).post(TOKEN, data=token_form())
    assert response.status_code == 500 and response.json()["code"] == 500


def test_duplicate_fault_repeats_the_previous_pages_last_receipt():
    http = client(OkkiSimulator(size=20, faults=Faults(duplicate_rate=1.0)))
    bearer = token(http)
    first = receipts(http, bearer, start_index=1, count=10).json()["data"]["list"]
    second = receipts(http, bearer, start_index=2, count=10).json()["data"]["list"]
    assert second[0] == first[-1]


def test_drift_moves_a_served_receipt_to_now():
    clock = Clock()
    sim = OkkiSimulator(size=20, clock=clock, faults=Faults(drift_rate=1.0))
    http = client(sim)
    receipts(http, token(http), start_index=1, count=10)
    moved = sim.receipts.get(sim.receipts.drifted[0])
    assert moved is not None
    assert datetime.strptime(moved["update_time"], "%Y-%m-%d %H:%M:%S") == sim.now().replace(microsecond=0)


def test_describe_gives_the_demo_credentials():
    described = OkkiSimulator(size=40).describe()
    assert described["credentials"]["client_id"] == OkkiSimulator.CLIENT_ID
    assert (described["receipts"], described["removed"]) == (40, 2)
