"""Content JSON: canonical hashing, non-JSON types, truncation of stored texts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from ferry.store.codec import TEXT_LIMIT, content_hash, dumps, encode_content, loads, to_text, truncate_text


def test_hash_ignores_key_order_at_every_level() -> None:
    a = {"b": 1, "a": {"y": [1, {"q": 1, "p": 2}], "x": None}}
    b = {"a": {"x": None, "y": [1, {"p": 2, "q": 1}]}, "b": 1}
    assert content_hash(a) == content_hash(b)
    assert len(content_hash(a)) == 32
    assert content_hash(a) != content_hash({**a, "b": 2})


def test_encode_keeps_source_key_order_and_hashes_canonically() -> None:
    text, digest = encode_content({"z": 1, "a": "中文"})
    assert text == '{"z":1,"a":"中文"}'
    assert digest == content_hash({"a": "中文", "z": 1})


def test_encode_writes_non_string_keys_and_non_json_values_as_dumps_does() -> None:
    content = {"b": {2: "two", 1: Decimal("1.50")}, "a": [date(2024, 5, 1)]}
    text, digest = encode_content(content)
    assert text == dumps(content) == '{"b":{"2":"two","1":"1.50"},"a":["2024-05-01"]}'
    assert digest == content_hash({"a": ["2024-05-01"], "b": {"1": "1.50", "2": "two"}})


def test_non_json_values_become_readable_text() -> None:
    value = {
        "amount": Decimal("12.50"),
        "at": datetime(2024, 5, 1, 8, 30, tzinfo=UTC),
        "day": date(2024, 5, 1),
        "span": timedelta(hours=26, minutes=3, seconds=4),
        "raw": b"abc",
        "blob": b"\xff\xfe",
        "tags": {"b", "a"},
    }
    assert loads(dumps(value)) == {
        "amount": "12.50",
        "at": "2024-05-01T08:30:00+00:00",
        "day": "2024-05-01",
        "span": "26:03:04",
        "raw": "abc",
        "blob": "//4=",
        "tags": ["a", "b"],
    }


def test_unknown_type_names_the_type() -> None:
    with pytest.raises(TypeError, match="object"):
        dumps({"x": object()})


def test_truncation_keeps_at_most_the_limit_without_splitting_characters() -> None:
    text = "中" * 30_000  # 90,000 bytes of UTF-8
    cut = truncate_text(text)
    assert len(cut.encode("utf-8")) <= TEXT_LIMIT
    assert cut.endswith("…[truncated, 90000 bytes in total]")
    assert set(cut.split("…")[0]) == {"中"}
    assert truncate_text("short") == "short"


def test_to_text_keeps_strings_and_serializes_the_rest() -> None:
    assert to_text(None) is None
    assert to_text("plain") == "plain"
    assert to_text({"ok": True, "n": Decimal("1.0")}) == '{"ok":true,"n":"1.0"}'


def test_integers_beyond_64_bits_are_stored_and_read_back_exactly() -> None:
    content = {"id": 2**64 + 1, "neg": -(2**63) - 1, "small": 7, "name": "中文"}
    text, digest = encode_content(content)
    assert text == '{"id":18446744073709551617,"neg":-9223372036854775809,"small":7,"name":"中文"}'
    assert loads(text) == content and type(loads(text)["id"]) is int
    assert digest == content_hash({"small": 7, "name": "中文", "neg": -(2**63) - 1, "id": 2**64 + 1})
    assert content_hash({"id": 2**64}) != content_hash({"id": 2**64 + 1}), "never the same float"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param({"s": "\ud800"}, "surrogates not allowed", id="lone-surrogate"),
        pytest.param({"s": "\ud800", "big": 2**64}, "surrogates not allowed", id="lone-surrogate-big-int"),
        pytest.param({"deep": loads("[" * 300 + "]" * 300)}, "Recursion limit", id="deep"),
    ],
)
def test_content_the_ledger_cannot_hold_raises_type_error_saying_why(content: dict, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        encode_content(content)
