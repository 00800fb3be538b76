"""A lookup that finds nothing says what it looked for: the values next to the expression."""

from __future__ import annotations

from typing import Any

import pytest

from ferry.errors import RecordError
from ferry.expr import EvalContext, InMemoryLookups
from ferry.scheme.metadata import FieldSpec
from ferry.transform.mapping import Mapper

ORDERS = [
    {"id": "o1", "number": "SO-1", "content": {"F_Cash_Collection_Id": 7, "FID": 100001, "FStatus": "A"}},
    {"id": "o2", "number": "SO-2", "content": {"F_Cash_Collection_Id": 8, "FID": 100002, "FStatus": "B"}},
]
EMPTY = "target.request[0]: required field 'FID' is empty"


def _reason(value: str, row: dict[str, Any]) -> str:
    """The reason of the record error a required field with ``value`` gives for ``row``."""
    mapper = Mapper(
        [FieldSpec.model_validate({"field": "FID", "is_required": True, "value": value})],
        lookup_scheme="orders",
    )
    lookups = InMemoryLookups(lambda scheme: ORDERS if scheme == "orders" else [], default_scheme="orders")
    with pytest.raises(RecordError) as info:
        mapper.map(EvalContext(row=row, lookups=lookups))
    return info.value.reason


def _mongo(where: str) -> str:
    return f"_mongoQuery findField=content.FID where={where}"


@pytest.mark.parametrize(
    ("where", "row", "looked_for"),
    [
        pytest.param(
            '{"content.F_Cash_Collection_Id":{"$eq":"{order_id}"}}',
            {"order_id": 0},
            "F_Cash_Collection_Id = 0",
            id="eq",
        ),
        pytest.param(
            '{"content.F_Cash_Collection_Id":"{order_id}"}',
            {"order_id": "X1"},
            "F_Cash_Collection_Id = 'X1'",
            id="bare",
        ),
        pytest.param(
            '{"content.FStatus":{"$ne":"{s}"},"content.FID":0}',
            {"s": "C"},
            "FStatus != 'C', FID = 0",
            id="ne",
        ),
        pytest.param(
            '{"content.F_Cash_Collection_Id":{"$in":["{a}","{b}"]}}',
            {"a": 1, "b": 2},
            "F_Cash_Collection_Id in [1, 2]",
            id="in",
        ),
        pytest.param(
            '{"content.FStatus":{"$nin":"{states}"}}',
            {"states": ["A", "B"]},
            "FStatus not in ['A', 'B']",
            id="nin",
        ),
        pytest.param(
            '{"content.FID":{"$gt":"{low}","$lte":"{high}"}}',
            {"low": 100002, "high": 100009},
            "FID > 100002, FID <= 100009",
            id="gt-lte",
        ),
        pytest.param(
            '{"content.FID":{"$gte":"{low}"},"content.FStatus":{"$lt":"{s}"}}',
            {"low": 1, "s": "A"},
            "FID >= 1, FStatus < 'A'",
            id="gte-lt",
        ),
        pytest.param('{"content.FNote":{"$exists":true}}', {}, "FNote exists", id="exists"),
        pytest.param(
            '{"$and":[{"content.FStatus":"{s}"},{"content.F_Cash_Collection_Id":"{id}"}]}',
            {"s": "A", "id": 8},
            "FStatus = 'A' and F_Cash_Collection_Id = 8",
            id="and",
        ),
        pytest.param(
            '{"content.FID":{"$gt":0},"$or":[{"content.FStatus":"{s}"},{"content.F_Cash_Collection_Id":"{id}","id":"{id}"}]}',
            {"s": "Z", "id": 9},
            "FID > 0, (FStatus = 'Z' or (F_Cash_Collection_Id = 9 and id = 9))",
            id="or-nested",
        ),
        pytest.param(
            '{"content.F_Cash_Collection_Id":{"$eq":"{order_id}"}}',
            {},
            "F_Cash_Collection_Id = null",
            id="missing-key",
        ),
    ],
)
def test_mongo_query_that_finds_nothing_shows_the_values_for_every_operator(
    where: str, row: dict[str, Any], looked_for: str
) -> None:
    assert _reason(_mongo(where), row) == (
        f"{EMPTY}: _mongoQuery findField=content.FID found nothing for {looked_for} (where={where})"
    )


def test_mongo_query_with_a_scheme_id_names_it_in_the_expression() -> None:
    where = '{"content.F_Cash_Collection_Id":"{order_id}"}'
    assert _reason(f"_mongoQuery orders findField=content.FID where={where}", {"order_id": 0}) == (
        f"{EMPTY}: _mongoQuery orders findField=content.FID found nothing for F_Cash_Collection_Id = 0 (where={where})"
    )


def test_find_collection_that_finds_nothing_shows_each_condition_value() -> None:
    value = "_findCollection find FID from orders where FStatus={{x}} F_Cash_Collection_Id={{y}} _endFind"
    assert _reason(value, {"x": "X1", "y": 7}) == (
        f"{EMPTY}: _findCollection find FID from orders found nothing for FStatus = 'X1', "
        "F_Cash_Collection_Id = 7 (where FStatus={{x}} F_Cash_Collection_Id={{y}})"
    )


def test_find_collection_with_one_condition_and_literals_as_written() -> None:
    value = "_findCollection find FID from orders where FStatus='A' F_Cash_Collection_Id={{y}}"
    assert _reason(value, {"y": 1.5}) == (
        f"{EMPTY}: _findCollection find FID from orders found nothing for FStatus = 'A', "
        "F_Cash_Collection_Id = 1.5 (where FStatus='A' F_Cash_Collection_Id={{y}})"
    )


def test_hostile_values_are_escaped_and_clipped_on_one_line() -> None:
    huge = "A" * 100_000
    reason = _reason(
        "_findCollection find FID from orders where FStatus={{x}} F_Cash_Collection_Id={{y}}",
        {"x": "a\nb\x00c", "y": huge},
    )
    assert "\n" not in reason and "\x00" not in reason
    assert reason == (
        f"{EMPTY}: _findCollection find FID from orders found nothing for FStatus = 'a\\nb\\x00c', "
        f"F_Cash_Collection_Id = '{'A' * 57}…' (100,000 characters) "
        "(where FStatus={{x}} F_Cash_Collection_Id={{y}})"
    )


def test_a_long_list_of_values_shows_its_first_items_and_its_length() -> None:
    where = '{"content.F_Cash_Collection_Id":{"$in":"{ids}"}}'
    assert _reason(_mongo(where), {"ids": list(range(100, 1100))}) == (
        f"{EMPTY}: _mongoQuery findField=content.FID found nothing for "
        f"F_Cash_Collection_Id in [100, 101, 102, 103, 104, … (1,000 values)] (where={where})"
    )


def test_a_lookup_nested_in_function_that_finds_nothing_is_named_with_its_values() -> None:
    value = (
        "_function IFNULL(_findCollection find FID from orders where F_Cash_Collection_Id={{order_id}} _endFind, "
        '_mongoQuery findField=content.FID where={"content.FStatus":"{s}"} _endFind)'
    )
    assert _reason(value, {"order_id": 0, "s": "Q"}) == (
        f"{EMPTY}: _findCollection find FID from orders found nothing for F_Cash_Collection_Id = 0 "
        "(where F_Cash_Collection_Id={{order_id}}); "
        '_mongoQuery findField=content.FID found nothing for FStatus = \'Q\' (where={"content.FStatus":"{s}"})'
    )


def test_a_nested_lookup_that_found_its_row_is_not_blamed() -> None:
    value = "_function NULLIF(_findCollection find FID from orders where F_Cash_Collection_Id={{order_id}} _endFind, 100001)"
    reason = _reason(value, {"order_id": 7})
    assert reason.startswith(EMPTY) and "found nothing" not in reason


def test_a_key_that_is_a_list_shows_the_list() -> None:
    value = "_findCollection find FID from orders where F_Cash_Collection_Id={{order_id}}"
    assert _reason(value, {"order_id": [1, 2]}) == (
        "target.request[0].value: _findCollection key F_Cash_Collection_Id resolved to a list ([1, 2]), "
        "not a single value; map it inside the array's children or beatFlat the array"
    )
