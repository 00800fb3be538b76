"""The store's quarantine on SQLite, MariaDB and PostgreSQL: held rows are never claimed or
replayed, released ones are delivered as they are, every operation is audited."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ferry.store import Hold, RecordResult, Store, quarantine
from ferry.store.quarantine import NotQuarantined

HOLD = Hold("qty-positive", "qty", -1, "value must be at least 0", "source")


def test_a_page_stores_held_rows_quarantined_and_never_hands_them_over(store: Store) -> None:
    page = [("1", None, {"qty": 1}), ("2", None, {"qty": -1})]
    result, handover = store.hand_over("s", page, holds={"2": HOLD}, run_id=None)
    assert (result.new, result.quarantined) == (2, 1)
    assert [row.record_id for row in handover.rows()] == ["1"]
    row = store.get_record("s", "2")
    assert row.status == "quarantined"
    assert row.last_error == "quarantined by qty-positive: qty = -1: value must be at least 0"
    assert store.claim("s", 10, datetime.now(UTC)) == []  # "1" is handed over, "2" is held
    assert store.replay("s", status=["quarantined", "dead"]) == 0
    assert store.replay("s", record_ids=["2"]) == 0
    assert store.waiting("s").quarantined == 1
    [held] = quarantine.list_held(store, scheme_id="s", rule="qty-positive")
    assert (held.record_id, held.path, held.value, held.side) == ("2", "qty", -1, "source")
    assert quarantine.counts(store) == {("s", "qty-positive", "quarantined"): 1}


def test_a_target_hold_comes_with_the_delivery_results(store: Store) -> None:
    store.upsert_records("s", [("1", None, {"qty": -1})])
    assert [r.record_id for r in store.claim("s", 10, datetime.now(UTC))] == ["1"]
    hold = Hold("qty-positive", "FQty", -1, "value must be at least 0")
    store.record_results("s", [RecordResult("1", "quarantined", error=hold.message(), hold=hold)])
    assert store.get_record("s", "1").status == "quarantined"
    assert quarantine.get_held(store, "s", "1").rule == "qty-positive"


def test_released_content_is_not_held_again_but_changed_content_is(store: Store) -> None:
    store.upsert_records("s", [("1", None, {"qty": -1})], holds={"1": HOLD})
    assert quarantine.release(store, "s", ["1"], who="alice") == 1
    assert [r.record_id for r in store.claim("s", 10, datetime.now(UTC))] == ["1"]
    store.record_results("s", [RecordResult("1", "finished")])
    again = store.upsert_records("s", [("1", None, {"qty": -1})], id_check=False, holds={"1": HOLD})
    assert again.quarantined == 0 and store.get_record("s", "1").status == "pending"
    changed = store.upsert_records("s", [("1", None, {"qty": -2})], id_check=False, holds={"1": HOLD})
    assert changed.quarantined == 1 and store.get_record("s", "1").status == "quarantined"


def test_edit_and_drop_are_audited_and_refuse_records_not_quarantined(store: Store) -> None:
    store.upsert_records(
        "s", [("1", None, {"qty": -1}), ("2", None, {"qty": -2})], holds={"1": HOLD, "2": HOLD}
    )
    quarantine.edit(store, "s", "1", {"qty": 3}, who="bob", reason="fixed")
    assert store.get_record("s", "1").content == {"qty": 3} and store.get_record("s", "1").status == "pending"
    assert quarantine.drop(store, "s", ["2"], who="carol", reason="duplicate") == 1
    with pytest.raises(NotQuarantined, match=r"not quarantined: 2 \(dropped\), 9 \(not in the ledger\)"):
        quarantine.release(store, "s", ["2", "9"], who="carol")
    with pytest.raises(ValueError, match="reason"):
        quarantine.drop(store, "s", ["1"], who="carol", reason=" ")
    audit = quarantine.audit_log(store, scheme_id="s")
    assert [(a.operation, a.who, a.status_before, a.status_after, a.reason) for a in audit] == [
        ("drop", "carol", "quarantined", "dropped", "duplicate"),
        ("edit", "bob", "quarantined", "pending", "fixed"),
    ]
    assert audit[1].content_before == {"qty": -1} and audit[1].content_after == {"qty": 3}
    assert store.count_by_status("s")["dropped"] == 1
