"""QEasy ``otherResponse`` on an http source: DataKey, StatusKey/StatusValue, PageKey and the
generic list path, resolved onto the connection of the compiled plan (no records_path set)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from ferry.connectors.base import Page, PageState
from ferry.connectors.http import HttpConnector
from ferry.connectors.registry import build_source
from ferry.connectors.specs import HttpConnection
from ferry.errors import ConfigError, RetriableError, SchemeError, ThrottledError
from ferry.scheme import load_scheme
from ferry.transform.plan import compile_scheme

Handler = Callable[[httpx.Request], httpx.Response]
QEASY = [
    {"field": "DataKey", "label": "数据键", "type": "string", "value": "data/list"},
    {"field": "StatusKey", "label": "状态键", "type": "string", "value": "code"},
    {"field": "StatusValue", "label": "成功值", "type": "string", "value": "0"},
    {"field": "PageKey", "label": "页码键", "type": "string", "value": "pageNo"},
]


def scheme(tmp_path: Path, other_response: list[dict[str, Any]], **paging: Any) -> Any:
    """An http source (no records_path on the connection) into a ledger."""
    connection: dict[str, Any] = {"type": "http", "base_url": "https://api.example.test"}
    if paging:
        connection["paging"] = paging
    return load_scheme(
        {
            "id": "qeasy-http",
            "name": "qeasy http",
            "connections": {"api": connection, "store": {"type": "ledger"}},
            "source": {
                "connection": "api",
                "metadata": {
                    "api": "/orders",
                    "effect": "QUERY",
                    "method": "POST",
                    "id": "order_id",
                    "request": [
                        {"field": "pageNo", "value": "1"},
                        {"field": "page_size", "value": "10"},
                    ],
                    "otherResponse": other_response,
                },
            },
            "target": {
                "connection": "store",
                "metadata": {"api": "store", "effect": "EXECUTE", "method": "POST"},
            },
        }
    )


class Vendor:
    """25 orders, 10 a page by ``pageNo``, in ``{"code": 0, "data": {"list": [...]}}``."""

    def __init__(self, fail: dict[str, Any] | None = None) -> None:
        self.orders = [{"order_id": str(i)} for i in range(1, 26)]
        self.pages: list[Any] = []
        self.fail = fail

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.pages.append(body.get("pageNo"))
        if self.fail is not None:
            return httpx.Response(200, json=self.fail)
        page, size = int(body["pageNo"]), int(body["page_size"])
        rows = self.orders[(page - 1) * size : page * size]
        return httpx.Response(200, json={"code": 0, "msg": "ok", "data": {"list": rows, "total": 25}})


def source_of(plan_scheme: Any, handler: Handler) -> HttpConnector:
    connection = compile_scheme(plan_scheme).source.connection
    return build_source(connection, transport=httpx.MockTransport(handler))  # type: ignore[return-value]


def read_all(source: HttpConnector) -> list[Page]:
    pages, state = [], PageState(page_size=10)
    while state is not None:
        page = source.fetch("/orders", "POST", {"pageNo": "1", "page_size": 10}, state)
        pages.append(page)
        state = page.next
        assert len(pages) < 10, "paging did not end"
    return pages


def test_other_response_becomes_the_connection_of_the_plan(tmp_path: Path) -> None:
    loaded = scheme(tmp_path, QEASY)

    connection = compile_scheme(loaded).source.connection

    assert isinstance(connection, HttpConnection)
    assert loaded.source_connection.records_path == ""  # type: ignore[union-attr]
    assert connection.records_path == "data.list"
    assert (connection.status_path, connection.status_ok) == ("code", "0")
    assert (connection.paging.style, connection.paging.page_param, connection.paging.start) == (
        "page",
        "pageNo",
        1,
    )


def test_data_key_and_page_key_read_every_page_without_records_path(tmp_path: Path) -> None:
    vendor = Vendor()

    pages = read_all(source_of(scheme(tmp_path, QEASY), vendor))

    assert [r["order_id"] for p in pages for r in p.records] == [str(i) for i in range(1, 26)]
    assert vendor.pages == [1, 2, 3]  # PageKey carries the page number, from the request's own 1


def test_the_first_items_value_is_the_generic_list_path(tmp_path: Path) -> None:
    loaded = scheme(tmp_path, [{"field": "rows", "value": "data/list"}])

    page = source_of(loaded, Vendor()).fetch(
        "/orders", "POST", {"pageNo": "2", "page_size": 10}, PageState(page_size=10)
    )

    assert compile_scheme(loaded).source.connection.records_path == "data.list"  # type: ignore[attr-defined]
    assert [r["order_id"] for r in page.records] == [str(i) for i in range(11, 21)]


@pytest.mark.parametrize(
    ("answer", "error", "words"),
    [
        pytest.param(
            {"code": 40001, "msg": "签名错误"}, ConfigError, "check the connection's auth", id="bad-sign"
        ),
        pytest.param({"code": 7, "msg": "调用过于频繁"}, ThrottledError, "调用过于频繁", id="throttled"),
        pytest.param({"code": 1, "message": "系统繁忙,请稍后再试"}, RetriableError, "系统繁忙", id="busy"),
        pytest.param(
            {"code": 1002, "errmsg": "参数 startTime 不合法"}, ConfigError, "the API refused", id="rejected"
        ),
    ],
)
def test_an_error_status_in_a_200_answer_is_classified_and_quotes_the_vendor(
    tmp_path: Path, answer: dict[str, Any], error: type[Exception], words: str
) -> None:
    source = source_of(scheme(tmp_path, QEASY), Vendor(fail=answer))

    with pytest.raises(error) as caught:
        source.fetch("/orders", "POST", {"pageNo": "1", "page_size": 10}, PageState(page_size=10))

    text = str(caught.value)
    assert type(caught.value) is error
    assert f"vendor status code={answer['code']} (success is '0')" in text
    assert words in text
    vendor_message = next(v for k, v in answer.items() if k != "code")
    assert vendor_message in text


def test_a_missing_status_is_an_error_quoting_the_answer(tmp_path: Path) -> None:
    source = source_of(scheme(tmp_path, QEASY), Vendor(fail={"data": {"list": []}}))

    with pytest.raises(ConfigError, match=r"code=\(missing\)"):
        source.fetch("/orders", "POST", {}, PageState(page_size=10))


def test_records_not_found_names_both_ways_to_say_where_they_are(tmp_path: Path) -> None:
    loaded = scheme(tmp_path, [{"field": "StatusKey", "value": "code"}, {"field": "StatusValue", "value": 0}])
    source = source_of(loaded, Vendor())

    with pytest.raises(RetriableError) as caught:
        source.fetch("/orders", "POST", {"pageNo": "1", "page_size": 10}, PageState(page_size=10))

    text = str(caught.value)
    assert "records at '(body)' are not a list" in text
    assert "the answer has a list of objects at 'data.list'" in text
    assert '"otherResponse": [{"field": "DataKey", "value": "data/list"}]' in text
    assert "records_path: data.list" in text


def test_page_key_on_a_connection_paging_by_offset_is_invalid(tmp_path: Path) -> None:
    with pytest.raises(SchemeError) as caught:
        scheme(tmp_path, QEASY, style="offset")

    assert "source.otherResponse: PageKey 'pageNo' asks for page numbers" in str(caught.value)


def test_a_status_key_without_its_value_is_invalid(tmp_path: Path) -> None:
    with pytest.raises(SchemeError) as caught:
        scheme(tmp_path, [{"field": "StatusKey", "value": "code"}])

    assert "source.otherResponse[0]: StatusKey needs StatusValue beside it" in str(caught.value)


def test_status_on_the_connection_itself_needs_both_parts() -> None:
    with pytest.raises(ValueError, match="status_path and status_ok go together"):
        HttpConnection.model_validate(
            {"name": "x", "base_url": "https://api.example.test", "status_path": "code"}
        )
