from ferry.scheme.metadata import OperationSpec
from ferry.transform.packing import pack

ITEMS = [
    ("r1", {"FBillNo": "A", "lines": [1]}),
    ("r2", {"FBillNo": "A", "lines": [2]}),
    ("r3", {"FBillNo": "B", "lines": [3]}),
]


def test_none_is_one_call_per_record():
    out = pack(OperationSpec(method="none"), "batchSave", "POST", ITEMS, {})
    assert [d.record_ids for d in out] == [["r1"], ["r2"], ["r3"]]
    assert out[0].body == {"FBillNo": "A", "lines": [1]}


def test_batch_array_save_chunks_by_rows():
    out = pack(
        OperationSpec(method="batchArraySave", rows=2, rowsKey="array"), "batchSave", "POST", ITEMS, {}
    )
    assert [d.record_ids for d in out] == [["r1", "r2"], ["r3"]]
    assert out[0].body == [ITEMS[0][1], ITEMS[1][1]]


def test_merge_groups_by_header_keys_and_concatenates_the_body():
    out = pack(
        OperationSpec(method="merge", keys=["FBillNo"], bodyName="lines"), "batchSave", "POST", ITEMS, {}
    )
    assert [d.record_ids for d in out] == [["r1", "r2"], ["r3"]]
    assert out[0].body == {"FBillNo": "A", "lines": [1, 2]}


def test_sql_statements_take_the_whole_batch():
    out = pack(None, "batchexecute", "SQL", ITEMS, {"limit": "1000"}, whole_batch=True)
    assert len(out) == 1 and out[0].record_ids == ["r1", "r2", "r3"] and len(out[0].rows) == 3
