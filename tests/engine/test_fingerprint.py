"""Fingerprints of source records: optional fields are not drift, new types are, hostile records stay cheap."""

from __future__ import annotations

from typing import Any

from ferry.engine.fingerprint import MAX_FIELDS, MAX_NODES, Change, Fingerprint, compare, record_paths


def _order(i: int, **extra: Any) -> dict[str, Any]:
    return {"id": i, "qty": 2, "price": 12.5, "items": [{"sku": f"A{i}"}], **extra}


def _known(n: int = 20) -> Fingerprint:
    # `remark` is in every other record only: an optional field
    return Fingerprint.of(_order(i, **({"remark": "x"} if i % 2 else {})) for i in range(n))


def test_paths_are_dotted_with_array_elements_and_typed() -> None:
    paths = record_paths(
        {"id": 7, "buyer": {"nick": None}, "items": [{"sku": "A", "n": 1.5}], "tags": ["x", 1]}
    )
    named = Fingerprint(records=1, fields={p: [m, 1, 0] for p, m in paths.items()}).as_dict()["fields"]
    assert {p: v["types"] for p, v in named.items()} == {
        "id": "int",
        "buyer": "object",
        "buyer.nick": "null",
        "items": "array",
        "items[]": "object",
        "items[].sku": "string",
        "items[].n": "float",
        "tags": "array",
        "tags[]": "string,int",
    }


def test_an_optional_field_absent_from_a_whole_page_is_not_drift() -> None:
    page = Fingerprint.of(_order(i) for i in range(5))  # no `remark` on this page
    assert compare(_known(), page) == []


def test_a_field_always_present_before_and_absent_from_the_page_disappeared() -> None:
    page = Fingerprint.of({"id": i, "qty": 2, "price": 1.0, "items": [{"code": "A"}]} for i in range(5))
    assert compare(_known(), page) == [
        Change("items[].code", "appeared", None, "string"),
        Change("items[].sku", "disappeared", "string", None),
    ]


def test_a_new_type_is_drift_but_null_and_whole_numbers_are_not() -> None:
    quiet = Fingerprint.of([_order(1, qty=None), _order(2, price=13)])  # null, and 13 for a float
    assert compare(_known(), quiet) == []
    loud = Fingerprint.of([_order(1, qty="2")])
    assert compare(_known(), loud) == [Change("qty", "type", "int", "string,int")]


def test_a_new_object_is_one_appearance_not_one_per_key() -> None:
    page = Fingerprint.of([_order(1, ext={"a": 1, "b": {"c": 2}})])
    assert compare(_known(), page) == [Change("ext", "appeared", None, "object")]


def test_hostile_records_are_bounded() -> None:
    deep: dict[str, Any] = {}
    cursor = deep
    for _ in range(50_000):
        cursor["a"] = {}
        cursor = cursor["a"]
    assert max(len(p.split(".")) for p in record_paths(deep)) <= 8
    wide = {f"k{i}": i for i in range(100_000)}
    assert len(record_paths(wide)) == MAX_NODES
    long_array = {"items": [{"x": i, f"y{i}": i} for i in range(100_000)]}
    assert len(record_paths(long_array)) <= 2 + 1 + 20  # items, items[], x and the first 20 y's
    many = Fingerprint.of({f"k{i}_{j}": 1 for i in range(1000)} for j in range(5))
    assert len(many.fields) == MAX_FIELDS


def test_a_fingerprint_round_trips_through_its_stored_form() -> None:
    known = _known()
    assert Fingerprint.from_dict(known.as_dict()) == known
