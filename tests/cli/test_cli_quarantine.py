"""``ferry quarantine``: list, release, edit-and-release and drop, each with its audit row."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from ferry.store import Hold, RecordResult, Store, quarantine


def hold(store: Store, rid: str, qty: int, rule: str = "qty-positive") -> None:
    store.upsert_records("shop", [(rid, f"SO-{rid}", {"id": rid, "qty": qty, "ship": {"city": "X"}})])
    rows = store.claim("shop", 10, datetime.now(UTC))
    h = Hold(rule, "qty", qty, "value must be at least 1", "target")
    store.record_results(
        "shop", [RecordResult(r.record_id, "quarantined", error=h.message(), hold=h) for r in rows]
    )


def test_list_release_edit_drop_and_audit_through_the_cli(ferry, store: Store) -> None:
    store.save_scheme("shop", "Shop", {})
    for rid, qty in (("1", -1), ("2", 0), ("3", -5)):
        hold(store, rid, qty)

    listed = ferry("quarantine", "list", "--scheme", "shop", "--rule", "qty-positive", "--json")
    assert listed.exit_code == 0, listed.output
    rows = {r["record_id"]: r for r in json.loads(listed.output)}
    assert set(rows) == {"1", "2", "3"}
    assert (rows["1"]["rule"], rows["1"]["path"], rows["1"]["value"], rows["1"]["reason"]) == (
        "qty-positive", "qty", -1, "value must be at least 1",
    )  # fmt: skip
    assert json.loads(ferry("quarantine", "list", "--rule", "other", "--json").output) == []
    shown = ferry("records", "show", "shop", "1", "--json")
    assert json.loads(shown.output)["status"] == "quarantined"
    assert "quarantined by qty-positive: qty = -1: value must be at least 1" in shown.output

    released = ferry("quarantine", "release", "shop", "1", "--user", "alice")
    assert released.exit_code == 0, released.output
    assert "1 record of scheme shop released by alice" in released.output
    assert store.get_record("shop", "1").status == "pending"

    edited = ferry(
        "quarantine", "edit", "shop", "2", "--set", "qty=4", "--set", "ship.city=Hangzhou", "--user", "bob"
    )
    assert edited.exit_code == 0, edited.output
    row = store.get_record("shop", "2")
    assert row.status == "pending" and row.content == {"id": "2", "qty": 4, "ship": {"city": "Hangzhou"}}

    dropped = ferry("quarantine", "drop", "shop", "3", "--reason", "test order", "--user", "carol")
    assert dropped.exit_code == 0, dropped.output
    row = store.get_record("shop", "3")
    assert row.status == "dropped" and row.last_error == "dropped by carol: test order"
    assert [h.record_id for h in quarantine.list_held(store, scheme_id="shop", status="dropped")] == ["3"]

    again = ferry("quarantine", "release", "shop", "3")
    assert again.exit_code == 1 and "not quarantined: 3 (dropped); nothing was changed" in again.output

    audit = json.loads(ferry("quarantine", "audit", "--scheme", "shop", "--json").output)
    assert [
        (a["operation"], a["who"], a["record_id"], a["status_before"], a["status_after"]) for a in audit
    ] == [
        ("drop", "carol", "3", "quarantined", "dropped"),
        ("edit", "bob", "2", "quarantined", "pending"),
        ("release", "alice", "1", "quarantined", "pending"),
    ]
    assert audit[0]["reason"] == "test order" and audit[0]["rule"] == "qty-positive"
    assert audit[1]["content_before"]["qty"] == 0 and audit[1]["content_after"]["qty"] == 4
    table = ferry("quarantine", "audit", "--scheme", "shop")
    assert table.exit_code == 0 and "carol" in table.output


def test_drop_without_a_reason_is_refused(ferry, store: Store) -> None:
    store.save_scheme("shop", "Shop", {})
    hold(store, "9", -1)
    result = ferry("quarantine", "drop", "shop", "9")
    assert result.exit_code == 2 and "--reason" in result.output
    assert store.get_record("shop", "9").status == "quarantined"
