"""Decoding a page: integers exact on the fast path, one bad record never sinks the others."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from ferry._json import DecodeError, ascii_text, loads
from ferry.connectors._lenient import decode_page
from ferry.connectors.base import PageState, Rejected
from ferry.connectors.kuaimai import KuaimaiConnection, KuaimaiConnector

GOOD = b'{"id": 1}'


def page(*records: bytes) -> bytes:
    return b'{"code": 0, "data": {"total": 3, "list": [' + b", ".join(records) + b"]}}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(b"[18446744073709551616, 18446744073709551617]", [2**64, 2**64 + 1], id="beyond-uint64"),
        pytest.param(b"[-9223372036854775809]", [-(2**63) - 1], id="below-int64"),
        pytest.param(b"[18446744073709551615, -9223372036854775808]", [2**64 - 1, -(2**63)], id="edges-fast"),
        pytest.param(
            b'["12345678901234567890123", 1.5]', ["12345678901234567890123", 1.5], id="digits-in-a-string"
        ),
        pytest.param('{"名": 123456789012345678901}', {"名": 123456789012345678901}, id="str-input"),
    ],
)
def test_integers_of_any_size_are_decoded_exactly(text: bytes | str, expected: Any) -> None:
    value = loads(text)
    assert value == expected
    assert [type(v) for v in (value if isinstance(value, list) else value.values())] == [
        type(v) for v in (expected if isinstance(expected, list) else expected.values())
    ]


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        pytest.param(b'{"id": 2, "v": NaN}', "NaN is not a number JSON allows", id="nan"),
        pytest.param(b'{"id": 2, "v": Infinity}', "Infinity is not a number JSON allows", id="infinity"),
        pytest.param(b'{"id": 2, "v": 1e400}', "number 1e400 is out of range for a 64-bit float", id="1e400"),
        pytest.param(b'{"id": 2, "v": "\\udc00"}', "a string holds a lone surrogate", id="lone-surrogate"),
        pytest.param(
            b'{"id": 2, "v": "\xc3\x28"}', "invalid UTF-8 at byte 16 of the record", id="invalid-utf-8"
        ),
        pytest.param(
            b'{"id": 2, "v": ' + b"[" * 1100 + b"]" * 1100 + b"}", "nested 1101 levels deep", id="deep"
        ),
        pytest.param(b'{"id": 2, "v": tru}', "not valid JSON", id="broken"),
        pytest.param(b'"\\ud800"', "the record is a string, not a JSON object", id="not-an-object"),
    ],
)
def test_a_record_that_cannot_be_read_takes_its_place_with_raw_bytes_and_reason(
    record: bytes, reason: str
) -> None:
    body = page(GOOD, record, b'{"id": 3}')
    document = decode_page(body, "data.list")
    first, bad, last = document["data"]["list"]
    assert (first, last) == ({"id": 1}, {"id": 3})
    assert document["data"]["total"] == 3, "the envelope is read too"
    assert isinstance(bad, Rejected) and reason in bad.reason
    assert (bad.raw, bad.position) == (record, 1)


def test_without_a_records_path_the_outermost_array_is_read_item_by_item() -> None:
    document = decode_page(b'{"success": true, "list": [{"id": 1}, {"id": 2, "v": NaN}, [3]]}')
    good, bad, row = document["list"]
    assert good == {"id": 1} and isinstance(bad, Rejected) and row == [3], (
        "rows that are arrays stay (K3Cloud)"
    )


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<html>502 Bad Gateway</html>", id="html"),
        pytest.param(b'{"data": {"list": [{"id": 1}', id="cut-off"),
        pytest.param(b'{"data": {"total": NaN, "list": [{"id": 1}]}}', id="bad-envelope"),
        pytest.param(b'{"data": {"list": [{"id": 1, "x": "' + b"a" * 2_000_000, id="unterminated-2mb"),
    ],
)
def test_a_page_whose_envelope_cannot_be_read_fails_quickly(body: bytes) -> None:
    started = time.monotonic()
    with pytest.raises(DecodeError):
        decode_page(body, "data.list")
    assert time.monotonic() - started < 2, "linear scans: never the 15 s per MB of a backtracking parser"


def test_ascii_text_shows_any_value_at_any_depth() -> None:
    deep: Any = 0
    for _ in range(5000):
        deep = [deep]
    assert ascii_text(deep) == "[" * 5000 + "0" + "]" * 5000
    assert ascii_text({"a": [1, float("nan"), "\ud800", None], "b": 2**70}) == (
        '{"a":[1,NaN,"\\ud800",null],"b":1180591620717411303424}'
    )


def test_a_vendor_connector_keeps_an_unreadable_record_in_its_place() -> None:
    body = b'{"success": true, "total": 2, "list": [{"id": 1}, {"id": 2, "v": NaN}]}'
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    spec = KuaimaiConnection(
        name="km",
        type="kuaimai",
        base_url="https://gw.example.test",
        app_key="k",
        app_secret="s",
        session="t",
    )
    connector = KuaimaiConnector(spec, transport=transport)
    page_ = connector.fetch("erp.aftersale.list.query", "POST", {}, PageState(page_size=50))
    good, bad = page_.records
    assert good == {"id": 1} and isinstance(bad, Rejected) and "NaN" in bad.reason
