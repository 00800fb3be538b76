"""Schema fingerprints and drift events in the store, on SQLite, MariaDB and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ferry.engine.drift import accept_fingerprint
from ferry.store import Store
from ferry.store import drift as stored

T0 = datetime(2024, 5, 3, 4, 0, tzinfo=UTC)
WINDOW = (T0 - timedelta(days=1), T0)


def test_a_fingerprint_is_saved_and_replaced(store: Store) -> None:
    assert stored.load_fingerprint(store, "s1") is None
    stored.save_fingerprint(store, "s1", {"records": 1, "fields": {"id": {"types": "int", "seen": 1}}}, T0)
    stored.save_fingerprint(store, "s1", {"records": 2, "fields": {"编号": {"types": "string"}}}, T0)
    assert stored.load_fingerprint(store, "s1") == {"records": 2, "fields": {"编号": {"types": "string"}}}


def test_events_are_stored_once_per_open_change_and_accepted(store: Store) -> None:
    gone = stored.DriftEvent("items[].outerId", "disappeared", "string", None, "4000117", "fail", 3, WINDOW)
    new = stored.DriftEvent("items[].outerID", "appeared", None, "string", "4000117", "fail", 3, WINDOW)
    assert len(stored.record_drift(store, "s1", [gone, new], T0)) == 2
    assert stored.record_drift(store, "s1", [gone], T0 + timedelta(minutes=1)) == []  # counted again
    [other] = stored.record_drift(store, "s2", [gone], T0)
    events = {e["field"]: e for e in stored.list_drift(store, "s1")}
    assert events["items[].outerId"]["occurrences"] == 2
    assert events["items[].outerId"]["window_start"] == WINDOW[0]
    assert (events["items[].outerID"]["before"], events["items[].outerID"]["after"]) == (None, "string")
    with store.transaction() as conn:
        assert stored.open_drift_counts(conn) == {
            "s1": (2, events["items[].outerID"]["id"]),
            "s2": (1, other),
        }

    stored.save_fingerprint(
        store,
        "s1",
        {
            "records": 20,
            "fields": {
                "items": {"types": "array", "seen": 20},
                "items[]": {"types": "object", "seen": 20, "objects": 20},
                "items[].outerId": {"types": "string", "seen": 20},
            },
        },
        T0,
    )
    assert stored.accept_drift(store, "s1", accept_fingerprint, by="ops", now=T0) == 2
    fields = stored.load_fingerprint(store, "s1")["fields"]  # type: ignore[index]
    assert "items[].outerId" not in fields and fields["items[].outerID"] == {
        "types": "string",
        "seen": 20,
        "objects": 0,
    }
    assert {e["status"] for e in stored.list_drift(store, "s1")} == {"accepted"}
    assert stored.list_drift(store, "s1", status="open") == []
    assert stored.accept_drift(store, "s1", accept_fingerprint, by="ops", now=T0) == 0
    assert stored.open_drift(store) == {"s2": (1, other)}
