from ferry.expr import EvalContext, compile_value
from ferry.transform.flatten import beat_flat


def test_one_row_per_element_with_suffixed_ids_and_both_path_styles():
    record = {"id": "A1", "shop": "S", "items": [{"sku_id": "k1", "qty": 2}, {"sku_id": "k2", "qty": 3}]}
    rows = list(beat_flat("A1", record, ["items"]))
    assert [rid for rid, _ in rows] == ["A1-0", "A1-1"]
    first = rows[0][1]
    assert first["shop"] == "S"
    assert first["items"] == {"sku_id": "k1", "qty": 2}
    assert "items_sku_id" not in first, "stored once, under the array's key"
    assert compile_value("{items_sku_id}").evaluate(EvalContext(row=first)) == "k1"
    assert compile_value("{{items_qty}}").evaluate(EvalContext(row=first)) == 2
    assert record["items"][1]["sku_id"] == "k2", "input untouched"


def test_empty_or_missing_array_keeps_the_record_once():
    assert list(beat_flat("B", {"items": []}, ["items"])) == [("B", {"items": []})]
    assert list(beat_flat("C", {"x": 1}, ["items"])) == [("C", {"x": 1})]


def test_two_arrays_flatten_in_order():
    record = {"a": [1, 2], "b": [{"v": "x"}, {"v": "y"}]}
    ids = [rid for rid, _ in beat_flat("R", record, ["a", "b"])]
    assert ids == ["R-0-0", "R-0-1", "R-1-0", "R-1-1"]
