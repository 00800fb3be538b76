"""The generic http connector against an in-process fake API (httpx.MockTransport)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from ferry.connectors.base import Delivery, Limits, Page, PageState, Rejected
from ferry.connectors.http import HttpConnector
from ferry.connectors.registry import build_source, parse_connection
from ferry.errors import ConfigError, RetriableError, ThrottledError

SECRET = "tok-XYZ-123456"
Handler = Callable[[httpx.Request], httpx.Response]


class FakeApi:
    """Serves ``n`` records ``{"id": 1..n}`` by page, offset or cursor; remembers every request."""

    def __init__(
        self, n: int, shape: Callable[[list[dict[str, Any]], dict[str, Any]], Any] | None = None
    ) -> None:
        self.records = [{"id": i} for i in range(1, n + 1)]
        self.requests: list[httpx.Request] = []
        self.shape = shape or (lambda rows, info: {"data": {"list": rows, "total": info["total"]}})

    def params(self, request: httpx.Request) -> dict[str, Any]:
        if request.method == "GET":
            return dict(request.url.params)
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return {k: v[-1] for k, v in parse_qs(request.content.decode()).items()}
        return json.loads(request.content)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        p = self.params(request)
        size = int(p.get("page_size", p.get("limit", 10)))
        if "page" in p:
            first = (int(p["page"]) - int(p.get("_base", 1))) * size
        elif "cursor" in p:
            first = int(p["cursor"]) if p["cursor"].isdigit() else 0
        else:
            first = int(p.get("offset", 0))
        rows = self.records[first : first + size]
        nxt = first + size
        info = {"total": len(self.records), "more": nxt < len(self.records), "cursor": str(nxt)}
        return httpx.Response(200, json=self.shape(rows, info))

    def sent(self, key: str) -> list[Any]:
        return [self.params(r).get(key) for r in self.requests]


def connector(handler: Handler, **spec: Any) -> HttpConnector:
    data = {"type": "http", "name": "shop", "base_url": "https://api.example.test/v1", **spec}
    return build_source(parse_connection(data, path="test"), transport=httpx.MockTransport(handler))  # type: ignore[return-value]


def read_all(
    source: HttpConnector, page_size: int = 10, api: str = "/items", method: str = "GET"
) -> list[Page]:
    pages, state = [], PageState(page_size=page_size)
    while state is not None:
        page = source.fetch(api, method, {"status": "open"}, state)
        pages.append(page)
        state = page.next
        assert len(pages) < 20, "paging did not end"
    return pages


def ids(pages: list[Page]) -> list[int]:
    return [r["id"] for p in pages for r in p.records]


# -- paging styles and last-page rules --------------------------------------------------------


def test_page_style_sends_page_numbers_from_start_and_stops_on_a_short_page() -> None:
    api = FakeApi(23)
    pages = read_all(connector(api, records_path="data.list", total_path="data.total"))
    assert [len(p.records) for p in pages] == [10, 10, 3]
    assert ids(pages) == list(range(1, 24))
    assert api.sent("page") == ["1", "2", "3"]
    assert api.sent("page_size") == ["10", "10", "10"]
    assert api.sent("status") == ["open"] * 3
    assert pages[0].total == 23
    assert api.requests[0].url.path == "/v1/items"


def test_page_style_with_zero_based_pages() -> None:
    api = FakeApi(5)
    source = connector(api, records_path="data.list", paging={"start": 0, "page_size": 2})
    page = source.fetch("items", "GET", {"_base": 0}, PageState(page_size=2))
    assert api.sent("page") == ["0"]
    assert ids([page]) == [1, 2]
    assert source.limits.page_base == 0


def test_offset_style_with_total_rule_stops_without_an_extra_request() -> None:
    api = FakeApi(20)
    source = connector(
        api,
        paging={"style": "offset", "size_param": "limit"},
        records_path="data.list",
        total_path="data.total",
        last_page="total",
    )
    pages = read_all(source)
    assert ids(pages) == list(range(1, 21))
    assert api.sent("offset") == ["0", "10"]
    assert api.sent("limit") == ["10", "10"]


def test_short_page_rule_needs_one_more_request_when_the_total_is_a_multiple() -> None:
    api = FakeApi(20)
    pages = read_all(
        connector(api, paging={"style": "offset", "size_param": "limit"}, records_path="data.list")
    )
    assert [len(p.records) for p in pages] == [10, 10, 0]


def test_empty_rule_reads_past_short_pages_until_an_empty_one() -> None:
    api = FakeApi(12)
    pages = read_all(connector(api, records_path="data.list", last_page="empty"))
    assert [len(p.records) for p in pages] == [10, 2, 0]
    assert ids(pages) == list(range(1, 13))


@pytest.mark.parametrize(
    ("flag", "means"),
    [
        pytest.param(lambda more: more, "more", id="bool-has-more"),
        pytest.param(lambda more: 1 if more else 0, "more", id="int-has-more"),
        pytest.param(lambda more: "false" if more else "true", "last", id="text-is-last"),
    ],
)
def test_flag_rule_follows_the_flag(flag: Callable[[bool], Any], means: str) -> None:
    api = FakeApi(25, shape=lambda rows, info: {"list": rows, "flag": flag(info["more"])})
    source = connector(
        api, records_path="list", last_page={"rule": "flag", "flag_path": "flag", "flag_means": means}
    )
    pages = read_all(source)
    assert [len(p.records) for p in pages] == [10, 10, 5]


def test_flag_rule_errors_when_the_flag_is_missing() -> None:
    api = FakeApi(25, shape=lambda rows, info: {"list": rows})
    source = connector(api, records_path="list", last_page={"rule": "flag", "flag_path": "has_more"})
    with pytest.raises(RetriableError, match="no flag at 'has_more'"):
        source.fetch("/items", "GET", {}, PageState(page_size=10))


def test_total_rule_errors_when_the_total_is_missing() -> None:
    api = FakeApi(25, shape=lambda rows, info: {"data": {"list": rows}})
    source = connector(api, records_path="data.list", total_path="data.total", last_page="total")
    with pytest.raises(RetriableError, match=r"no total at 'data\.total'"):
        source.fetch("/items", "GET", {}, PageState(page_size=10))


def test_cursor_style_passes_the_returned_cursor_and_stops_when_it_is_absent() -> None:
    def shape(rows: list[dict[str, Any]], info: dict[str, Any]) -> Any:
        return {"items": rows, "next": info["cursor"] if info["more"] else None}

    api = FakeApi(25, shape=shape)
    source = connector(api, paging={"style": "cursor", "cursor_path": "next"}, records_path="items")
    pages = read_all(source)
    assert ids(pages) == list(range(1, 26))
    assert api.sent("cursor") == [None, "10", "20"]
    assert [p.next.cursor if p.next else None for p in pages] == ["10", "20", None]


def test_cursor_that_does_not_advance_is_an_error_not_a_loop() -> None:
    api = FakeApi(25, shape=lambda rows, info: {"items": rows, "next": "same"})
    source = connector(api, paging={"style": "cursor", "cursor_path": "next"}, records_path="items")
    with pytest.raises(RetriableError, match="next cursor equals the current one"):
        source.fetch("/items", "GET", {}, PageState(page_size=10, cursor="same"))


def test_style_none_makes_one_request() -> None:
    api = FakeApi(25, shape=lambda rows, info: rows)
    pages = read_all(connector(api, paging={"style": "none"}))
    assert len(pages) == 1
    assert api.sent("page") == [None]


def test_empty_records_path_means_the_body_is_the_list_and_null_means_empty() -> None:
    api = FakeApi(3, shape=lambda rows, info: rows)
    assert ids(read_all(connector(api))) == [1, 2, 3]
    nulls = FakeApi(3, shape=lambda rows, info: {"data": {"list": None}})
    page = connector(nulls, records_path="data.list").fetch("/x", "GET", {}, PageState())
    assert page.records == []
    assert page.next is None


def test_page_size_is_capped_at_max_page_size() -> None:
    api = FakeApi(300)
    source = connector(api, records_path="data.list", paging={"page_size": 50, "max_page_size": 100})
    page = source.fetch("/items", "GET", {}, PageState(page_size=500))
    assert api.sent("page_size") == ["100"]
    assert len(page.records) == 100
    assert page.next is not None


def test_paging_parameters_override_the_request_and_values_are_encoded() -> None:
    api = FakeApi(3)
    source = connector(api, records_path="data.list")
    request = {"page": 99, "filter": {"shop": ["A", "B"]}, "flag": True, "skip": None}
    source.fetch("/items", "GET", request, PageState(page_size=10, index=1))
    params = api.requests[0].url.params
    assert params["page"] == "2"
    assert params["filter"] == '{"shop":["A","B"]}'
    assert params["flag"] == "true"
    assert "skip" not in params


def test_post_sends_request_and_paging_as_json() -> None:
    api = FakeApi(3)
    connector(api, records_path="data.list").fetch(
        "/q", "POST", {"since": "2024-05-01"}, PageState(page_size=5)
    )
    sent = api.requests[0]
    assert sent.headers["content-type"] == "application/json"
    assert json.loads(sent.content) == {"since": "2024-05-01", "page": 1, "page_size": 5}


def test_post_form_encoding() -> None:
    api = FakeApi(3)
    connector(api, records_path="data.list", body="form").fetch(
        "/q", "POST", {"a": 1}, PageState(page_size=5)
    )
    assert api.requests[0].content.decode() == "a=1&page_size=5&page=1"


@pytest.mark.parametrize(
    ("auth", "check"),
    [
        pytest.param(
            {"type": "bearer", "value": SECRET}, lambda r: r.headers["authorization"] == f"Bearer {SECRET}"
        ),
        pytest.param(
            {"type": "header", "name": "X-Api-Key", "value": SECRET},
            lambda r: r.headers["x-api-key"] == SECRET,
        ),
        pytest.param(
            {"type": "query", "name": "token", "value": SECRET}, lambda r: r.url.params["token"] == SECRET
        ),
    ],
)
def test_auth_is_applied_to_every_request(
    auth: dict[str, Any], check: Callable[[httpx.Request], bool]
) -> None:
    api = FakeApi(3)
    connector(api, records_path="data.list", auth=auth, headers={"X-Tenant": "t1"}).fetch(
        "/x", "GET", {}, PageState()
    )
    assert check(api.requests[0])
    assert api.requests[0].headers["x-tenant"] == "t1"


def test_limits_come_from_the_spec() -> None:
    source = connector(
        FakeApi(0),
        paging={"page_size": 50, "max_page_size": 200, "start": 0},
        max_window_seconds=7 * 86400,
        rate_per_second=5,
    )
    assert source.limits == Limits(
        max_window=timedelta(days=7), max_page_size=200, default_page_size=50, page_base=0, rate_per_second=5
    )


# -- error classification ---------------------------------------------------------------------


def respond(status: int, text: str = "", headers: dict[str, str] | None = None) -> Handler:
    return lambda request: httpx.Response(status, text=text, headers=headers)


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_credentials_are_a_config_error_quoting_the_response_without_secrets(status: int) -> None:
    body = f"invalid token {SECRET} " + "x" * 500
    source = connector(respond(status, body), auth={"type": "bearer", "value": SECRET})
    with pytest.raises(ConfigError) as info:
        source.fetch("/orders", "GET", {}, PageState())
    message = str(info.value)
    assert f"http connection 'shop': GET /orders: HTTP {status}" in message
    assert "invalid token ***" in message
    assert SECRET not in message
    assert "x" * 301 not in message  # quoted text is truncated to 300 characters


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param({"Retry-After": "7"}, 7.0, id="seconds"),
        pytest.param({}, None, id="absent"),
    ],
)
def test_429_is_throttled_with_retry_after(header: dict[str, str], expected: float | None) -> None:
    with pytest.raises(ThrottledError) as info:
        connector(respond(429, "slow down", header)).fetch("/orders", "GET", {}, PageState())
    assert info.value.retry_after == expected


def test_429_retry_after_as_http_date() -> None:
    when = format_datetime(datetime.now().astimezone() + timedelta(seconds=30), usegmt=False)
    with pytest.raises(ThrottledError) as info:
        connector(respond(429, "", {"Retry-After": when})).fetch("/orders", "GET", {}, PageState())
    assert info.value.retry_after is not None
    assert 25 <= info.value.retry_after <= 31


@pytest.mark.parametrize("status", [500, 502, 503, 408])
def test_server_errors_are_retriable(status: int) -> None:
    with pytest.raises(RetriableError, match=f"HTTP {status}: 'boom'") as info:
        connector(respond(status, "boom")).fetch("/orders", "GET", {}, PageState())
    assert not isinstance(info.value, ThrottledError)


@pytest.mark.parametrize("status", [400, 404, 422])
def test_other_client_errors_are_config_errors(status: int) -> None:
    with pytest.raises(ConfigError, match=f"HTTP {status}, request rejected"):
        connector(respond(status, "bad field")).fetch("/orders", "GET", {}, PageState())


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(httpx.ReadTimeout("read timed out"), id="timeout"),
        pytest.param(httpx.ConnectError("connection refused"), id="refused"),
        pytest.param(httpx.RemoteProtocolError("server disconnected"), id="dropped"),
    ],
)
def test_transport_failures_are_retriable(error: httpx.HTTPError) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    with pytest.raises(RetriableError, match="http connection 'shop': GET /orders"):
        connector(handler).fetch("/orders", "GET", {}, PageState())


def test_timeout_against_a_slow_real_server_is_retriable() -> None:
    import socket

    with socket.socket() as listener:  # accepts connections but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        spec = parse_connection(
            {"type": "http", "name": "slow", "base_url": f"http://127.0.0.1:{port}", "timeout": 0.2}, path="t"
        )
        source = build_source(spec)
        with pytest.raises(RetriableError, match=r"timed out after 0\.2s"):
            source.fetch("/x", "GET", {}, PageState())


def test_invalid_json_is_retriable_and_quotes_the_body_start() -> None:
    html = "<html>502 Bad Gateway from the proxy</html>"
    with pytest.raises(RetriableError, match=r"not valid JSON \(HTTP 200\): '<html>502 Bad Gateway"):
        connector(respond(200, html)).fetch("/orders", "GET", {}, PageState())


def test_missing_records_path_is_retriable_and_quotes_the_body() -> None:
    handler = lambda request: httpx.Response(200, json={"code": 500, "msg": "busy"})  # noqa: E731
    with pytest.raises(RetriableError, match=r"""no records at 'data.list': '\{"code":500,"msg":"busy"\}'"""):
        connector(handler, records_path="data.list").fetch("/orders", "GET", {}, PageState())


def test_records_that_are_not_objects_are_rejected_in_their_place_and_the_rest_is_read() -> None:
    handler = lambda request: httpx.Response(200, json={"list": [{"id": 1}, 2, None]})  # noqa: E731
    page = connector(handler, records_path="list").fetch("/orders", "GET", {}, PageState())
    good, number, null = page.records
    assert good == {"id": 1}
    assert isinstance(number, Rejected) and (number.raw, number.position) == (b"2", 1)
    assert number.reason == "the record is a number, not a JSON object"
    assert isinstance(null, Rejected) and null.reason == "the record is null, not a JSON object"


def test_a_records_value_that_is_not_a_list_is_retriable() -> None:
    handler = lambda request: httpx.Response(200, json={"list": {"id": 1}})  # noqa: E731
    with pytest.raises(RetriableError, match="'list' are not a list"):
        connector(handler, records_path="list").fetch("/orders", "GET", {}, PageState())


# -- target -----------------------------------------------------------------------------------


def delivery(body: Any) -> Delivery:
    return Delivery(api="/bills", method="POST", body=body, record_ids=["a", "b"])


def test_write_posts_the_body_as_json_and_acknowledges_every_record() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"ok": True, "ids": [7, 8]})

    target = connector(handler, auth={"type": "query", "name": "key", "value": SECRET})
    body = {"rows": [{"amount": Decimal("1.50"), "at": datetime(2024, 5, 1, 8, 0)}]}
    outcomes = target.write(delivery(body))

    assert [(o.record_id, o.ok) for o in outcomes] == [("a", True), ("b", True)]
    assert outcomes[0].response == {"ok": True, "ids": [7, 8]}
    assert seen[0].method == "POST"
    assert seen[0].url.path == "/v1/bills"
    assert seen[0].url.params["key"] == SECRET
    assert json.loads(seen[0].content) == {"rows": [{"amount": "1.50", "at": "2024-05-01T08:00:00"}]}


def test_write_client_error_fails_each_record_with_the_response() -> None:
    outcomes = connector(respond(422, '{"error":"FNumber required"}')).write(delivery({}))
    assert [o.ok for o in outcomes] == [False, False]
    assert outcomes[0].error == """HTTP 422: '{"error":"FNumber required"}'"""


@pytest.mark.parametrize(
    ("status", "error"),
    [
        pytest.param(401, ConfigError, id="401"),
        pytest.param(429, ThrottledError, id="429"),
        pytest.param(503, RetriableError, id="503"),
    ],
)
def test_write_raises_for_auth_throttling_and_server_errors(status: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        connector(respond(status, "no")).write(delivery({}))
