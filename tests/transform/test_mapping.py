import pytest

from ferry.errors import ConfigError, RecordError
from ferry.expr import EvalContext, InMemoryLookups
from ferry.scheme.metadata import FieldSpec
from ferry.transform.mapping import Mapper

ORDER = {
    "io_id": "IO-1",
    "shop_no": "002",
    "items": [{"sku_id": "S1", "qty": "2"}, {"sku_id": "S2", "qty": "5"}],
}
PRODUCTS = [
    {"id": "p1", "number": "S1", "content": {"sku_id": "S1", "FItemID": 101}},
    {"id": "p2", "number": "S2", "content": {"sku_id": "S2", "FItemID": 102}},
]


def fields(*items):
    return [FieldSpec.model_validate(i) for i in items]


def mapper(*items, **kw):
    return Mapper(fields(*items), **kw)


def lookups():
    return InMemoryLookups(lambda scheme: PRODUCTS if scheme == "products" else [], default_scheme="products")


def test_object_and_array_children_nest_into_the_payload():
    m = mapper(
        {"field": "FBillNo", "value": "{io_id}"},
        {"field": "Head", "type": "object", "children": [{"field": "Shop", "value": "{{shop_no}}"}]},
        {
            "field": "Entry",
            "type": "array",
            "value": "items",
            "children": [
                {"field": "FItemID", "value": "{{items.sku_id}}"},
                {"field": "FQty", "type": "int", "value": "{{items.qty}}"},
                {"field": "Shop", "value": "{shop_no}"},
            ],
        },
    )
    assert m.map(EvalContext(row=ORDER)) == {
        "FBillNo": "IO-1",
        "Head": {"Shop": "002"},
        "Entry": [{"FItemID": "S1", "FQty": 2, "Shop": "002"}, {"FItemID": "S2", "FQty": 5, "Shop": "002"}],
    }


def test_array_with_blank_value_is_inferred_from_the_childrens_paths():
    m = mapper(
        {
            "field": "FBillEntry",
            "type": "array",
            "value": "1",
            "children": [{"field": "FMaterialId", "value": "{{items.sku_id}}"}],
        }
    )
    assert m.map(EvalContext(row=ORDER)) == {"FBillEntry": [{"FMaterialId": "S1"}, {"FMaterialId": "S2"}]}


def test_flattened_record_gives_a_one_entry_array():
    row = {**ORDER, "items": {"sku_id": "S9", "qty": "1"}}
    m = mapper(
        {
            "field": "Entry",
            "type": "array",
            "value": "items",
            "children": [{"field": "sku", "value": "{{items.sku_id}}"}],
        }
    )
    assert m.map(EvalContext(row=row)) == {"Entry": [{"sku": "S9"}]}


def test_flat_parent_layout_equals_nested_children():
    flat = mapper(
        {"field": "Entry", "type": "array", "value": "items"},
        {"field": "sku", "value": "{{items.sku_id}}", "parent": "Entry"},
    )
    assert flat.map(EvalContext(row=ORDER)) == {"Entry": [{"sku": "S1"}, {"sku": "S2"}]}


def test_unknown_parent_is_a_config_error_with_the_path():
    with pytest.raises(ConfigError, match=r"target.request\[1\].parent: no object/array field named 'Nope'"):
        mapper({"field": "a", "value": "1"}, {"field": "b", "value": "2", "parent": "Nope"})


def test_parser_wraps_base_data_references():
    m = mapper(
        {"field": "FGroup", "value": "B11", "parser": {"name": "ConvertObjectParser", "params": "FNumber"}}
    )
    assert m.map(EvalContext(row={})) == {"FGroup": {"FNumber": "B11"}}


def test_lookup_inside_array_children_uses_the_element():
    m = mapper(
        {
            "field": "Entry",
            "type": "array",
            "value": "items",
            "children": [
                {
                    "field": "FItemID",
                    "is_required": True,
                    "value": '_mongoQuery findField=content.FItemID where={"content.sku_id":{"$eq":"{{items.sku_id}}"}}',
                }
            ],
        },
        lookup_scheme="products",
    )
    assert m.map(EvalContext(row=ORDER, lookups=lookups())) == {"Entry": [{"FItemID": 101}, {"FItemID": 102}]}


def test_required_lookup_that_finds_nothing_fails_the_record_with_path_and_reason():
    m = mapper(
        {
            "field": "FItemID",
            "is_required": True,
            "value": "_findCollection find FItemID from products where sku_id={{sku}}",
        }
    )
    with pytest.raises(RecordError) as err:
        m.map(EvalContext(row={"sku": "MISSING"}, lookups=lookups()))
    assert "target.request[0]: required field 'FItemID' is empty" in err.value.reason
    assert "found nothing" in err.value.reason


def test_bare_names_inside_array_children_read_the_current_element_first():
    m = mapper(
        {
            "field": "Entry",
            "type": "array",
            "value": "items",
            "children": [
                {
                    "field": "FItemID",
                    "value": '_mongoQuery findField=content.FItemID where={"content.sku_id":{"$eq":"{sku_id}"}}',
                },
                {"field": "Shop", "value": "{shop_no}"},
            ],
        },
        lookup_scheme="products",
    )
    assert m.map(EvalContext(row=ORDER, lookups=lookups())) == {
        "Entry": [{"FItemID": 101, "Shop": "002"}, {"FItemID": 102, "Shop": "002"}]
    }
