"""Deliverer side: claim, record results, recover, replay."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from ferry.store import RecordResult, Store, open_store

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
LATER = datetime(2100, 1, 1, tzinfo=UTC)


def _put(store: Store, *ids: str, scheme: str = "s", **kwargs: object) -> None:
    store.upsert_records(scheme, [(rid, None, {"id": rid}) for rid in ids], **kwargs)  # type: ignore[arg-type]


def test_claim_marks_rows_queued_and_never_returns_a_row_twice(store: Store) -> None:
    _put(store, *[f"r{i:02d}" for i in range(10)])
    first = store.claim("s", 4, T0)
    second = store.claim("s", 4, T0)
    third = store.claim("s", 4, T0)
    ids = [r.record_id for r in first + second + third]
    assert len(first) == 4 and len(second) == 4 and len(third) == 2
    assert sorted(ids) == [f"r{i:02d}" for i in range(10)]
    assert {r.status for r in first + second + third} == {"queued"}
    assert store.claim("s", 4, T0) == []
    assert store.count_by_status("s") == {
        "pending": 0,
        "queued": 10,
        "finished": 0,
        "error": 0,
        "dead": 0,
        "quarantined": 0,
        "dropped": 0,
    }


def test_claim_takes_the_oldest_due_first(store: Store) -> None:
    _put(store, "old")
    _put(store, "new")
    store.claim("s", 1, T0)  # "old"
    store.record_results(
        "s", [RecordResult("old", "error", error="x", next_attempt_at=T0 - timedelta(days=1))]
    )
    _put(store, "newest")
    assert [r.record_id for r in store.claim("s", 2, T0)] == ["old", "new"]
    assert [r.record_id for r in store.claim("s", 2, T0)] == ["newest"]


def test_claim_respects_next_attempt_at(store: Store) -> None:
    _put(store, "a")
    store.claim("s", 10, T0)
    store.record_results(
        "s", [RecordResult("a", "error", error="busy", next_attempt_at=T0 + timedelta(minutes=5))]
    )
    assert store.claim("s", 10, T0) == []
    assert store.claim("s", 10, T0 + timedelta(minutes=4, seconds=59)) == []
    (row,) = store.claim("s", 10, T0 + timedelta(minutes=5))
    assert (row.record_id, row.attempts, row.last_error) == ("a", 1, "busy")


def test_claim_only_sees_its_own_scheme(store: Store) -> None:
    _put(store, "a", scheme="s1")
    _put(store, "a", scheme="s2")
    (row,) = store.claim("s1", 10, T0)
    assert row.scheme_id == "s1"
    assert store.count_by_status("s2")["pending"] == 1


def test_concurrent_claims_share_the_rows_without_overlap(any_db_url: str) -> None:
    with open_store(any_db_url) as seed:
        _put(seed, *[f"r{i:03d}" for i in range(300)])
    taken: list[list[str]] = [[], []]
    errors: list[BaseException] = []

    def worker(slot: int) -> None:
        try:
            with open_store(any_db_url, migrate=False) as mine:
                while rows := mine.claim("s", 7, T0):
                    taken[slot] += [r.record_id for r in rows]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert not set(taken[0]) & set(taken[1])
    assert sorted(taken[0] + taken[1]) == [f"r{i:03d}" for i in range(300)]


def test_finished_result_records_the_delivery(store: Store) -> None:
    run = store.start_run("s", "deliver")
    _put(store, "a")
    store.claim("s", 10, T0)
    store.record_results("s", [RecordResult("a", "finished", response={"Id": 7, "名称": "ok"}, run_id=run)])
    row = store.get_record("s", "a")
    assert row is not None
    assert (row.status, row.attempts, row.run_id) == ("finished", 1, run)
    assert row.target_response == '{"Id":7,"名称":"ok"}'
    assert row.delivered_at is not None and row.next_attempt_at is None


def test_error_then_dead_then_replay_then_finished(store: Store) -> None:
    _put(store, "a")
    store.claim("s", 10, T0)
    store.record_results("s", [RecordResult("a", "error", response="HTTP 503", error="unavailable")])
    row = store.get_record("s", "a")
    assert row is not None
    assert (row.status, row.attempts, row.last_error, row.target_response) == (
        "error",
        1,
        "unavailable",
        "HTTP 503",
    )
    assert row.next_attempt_at is not None  # no retry time given: due at once
    store.claim("s", 10, LATER)
    store.record_results("s", [RecordResult("a", "dead", error="rejected: bad customer")])
    row = store.get_record("s", "a")
    assert row is not None
    assert (row.status, row.attempts, row.last_error, row.next_attempt_at) == (
        "dead",
        2,
        "rejected: bad customer",
        None,
    )
    assert store.claim("s", 10, LATER) == []
    assert store.replay("s", record_ids=["a"]) == 1
    row = store.get_record("s", "a")
    assert row is not None and (row.status, row.attempts, row.last_error) == (
        "pending",
        0,
        "rejected: bad customer",
    )
    store.claim("s", 10, T0)
    store.record_results("s", [RecordResult("a", "finished")])
    row = store.get_record("s", "a")
    assert row is not None
    assert (row.status, row.attempts, row.target_response) == ("finished", 1, None)
    assert row.last_error == "rejected: bad customer"  # history kept; the status tells the outcome


def test_mixed_results_in_one_call(store: Store) -> None:
    _put(store, *[f"r{i}" for i in range(6)])
    store.claim("s", 10, T0)
    retry = T0 + timedelta(hours=1)
    store.record_results(
        "s",
        [
            RecordResult("r0", "finished", response={"Id": 0}),
            RecordResult("r1", "finished", response={"Id": 1}),
            RecordResult("r2", "finished", response="same"),
            RecordResult("r3", "error", error="timeout", next_attempt_at=retry),
            RecordResult("r4", "error", error="throttled", next_attempt_at=retry),
            RecordResult("r5", "dead", error="bad data"),
            RecordResult("r0", "finished", response={"Id": "last wins"}),
        ],
    )
    rows = {r.record_id: r for r in store.find_records("s")}
    assert rows["r0"].target_response == '{"Id":"last wins"}'
    assert rows["r1"].target_response == '{"Id":1}'
    assert rows["r2"].target_response == "same"
    assert (rows["r3"].status, rows["r3"].last_error, rows["r3"].next_attempt_at) == (
        "error",
        "timeout",
        retry,
    )
    assert (rows["r4"].status, rows["r4"].last_error) == ("error", "throttled")
    assert (rows["r5"].status, rows["r5"].last_error) == ("dead", "bad data")
    assert {r.attempts for r in rows.values()} == {1}


def test_a_70kb_response_is_truncated_to_64kb(store: Store) -> None:
    _put(store, "a")
    store.claim("s", 10, T0)
    store.record_results("s", [RecordResult("a", "finished", response="响应" * 12_000, error="e" * 70_000)])
    row = store.get_record("s", "a")
    assert row is not None and row.target_response is not None and row.last_error is not None
    assert len(row.target_response.encode("utf-8")) <= 64 * 1024
    assert (
        row.target_response.startswith("响应响应")
        and "truncated, 72000 bytes in total" in row.target_response
    )
    assert len(row.last_error.encode("utf-8")) <= 64 * 1024


def test_results_validate_their_input(store: Store) -> None:
    _put(store, "a")
    with pytest.raises(ValueError, match="status must be one of finished, error, dead"):
        store.record_results("s", [RecordResult("a", "done")])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tz-aware"):
        store.record_results("s", [RecordResult("a", "error", next_attempt_at=datetime(2024, 1, 1))])
    row = store.get_record("s", "a")
    assert row is not None and (row.status, row.attempts) == ("pending", 0)


def test_recover_queued_returns_in_flight_rows_to_pending(store: Store) -> None:
    _put(store, "a", "b", "c")
    store.claim("s", 2, T0)
    assert store.recover_queued("s") == 2
    assert store.count_by_status("s")["pending"] == 3
    assert store.recover_queued("s") == 0
    assert len(store.claim("s", 10, T0)) == 3


def test_replay_by_status_and_window(store: Store) -> None:
    w1 = (T0, T0 + timedelta(days=1))
    w2 = (T0 + timedelta(days=1), T0 + timedelta(days=2))
    _put(store, "a", "b", window=w1)
    _put(store, "c", window=w2)
    _put(store, "q", window=w1)
    store.claim("s", 3, T0)
    store.record_results(
        "s",
        [
            RecordResult("a", "dead", error="x"),
            RecordResult("b", "finished"),
            RecordResult("c", "dead", error="y"),
        ],
    )
    store.claim("s", 10, T0)  # "q" stays queued: in flight rows are never replayed
    assert store.replay("s", status="dead", window=w1) == 1
    assert store.get_record("s", "a").status == "pending"  # type: ignore[union-attr]
    assert store.get_record("s", "c").status == "dead"  # type: ignore[union-attr]
    assert store.replay("s", window=w1) == 2  # a (again) and b
    assert store.replay("s", status=["dead", "finished"]) == 1  # c
    assert store.get_record("s", "q").status == "queued"  # type: ignore[union-attr]
    assert store.replay("s", record_ids=["q", "missing"]) == 0


def test_replay_needs_a_filter(store: Store) -> None:
    with pytest.raises(ValueError, match="record_ids, status or window"):
        store.replay("s")


@pytest.mark.parametrize("wildcard", ["*", "%", "**", "_", " ", "", "* *"])
def test_replay_refuses_an_id_that_selects_everything(store: Store, wildcard: str) -> None:
    _put(store, "a", "b")
    store.claim("s", 2, T0)
    store.record_results("s", [RecordResult("a", "dead", error="x"), RecordResult("b", "finished")])

    with pytest.raises(ValueError, match="blank or only wildcards; replay takes exact record ids"):
        store.replay("s", record_ids=["a", wildcard])

    assert store.count_by_status("s") == {
        "pending": 0,
        "queued": 0,
        "finished": 1,
        "error": 0,
        "dead": 1,
        "quarantined": 0,
        "dropped": 0,
    }
    with pytest.raises(ValueError, match="unknown status 'failed'"):
        store.replay("s", status="failed")


def test_failed_attempts_are_kept_as_the_records_history(store: Store) -> None:
    _put(store, "a", "b")
    retry_at = datetime(2024, 5, 1, 8, 20, tzinfo=UTC)
    assert [r.record_id for r in store.claim("s", 10, now=LATER)] == ["a", "b"]
    store.record_results(
        "s",
        [
            RecordResult("a", "error", error="HTTP 502", next_attempt_at=retry_at, run_id=7),
            RecordResult("b", "finished", response={"ok": 1}),
        ],
    )
    assert [r.record_id for r in store.claim("s", 10, now=LATER)] == ["a"]
    store.record_results("s", [RecordResult("a", "dead", error="timed out after 30s", run_id=8)])

    history = store.record_history("s", "a")
    assert [(h["attempt"], h["status"], h["error"], h["run_id"]) for h in history] == [
        (1, "error", "HTTP 502", 7),
        (2, "dead", "timed out after 30s", 8),
    ]
    assert history[0]["next_attempt_at"] == retry_at and history[1]["next_attempt_at"] is None
    assert store.record_history("s", "b") == []  # a success is the ledger row itself
    assert store.record_history("other", "a") == []


def test_claimed_rows_carry_their_sqlite_rowids_and_results_go_straight_to_those_rows(store: Store) -> None:
    _put(store, "before")  # an older row: rowids of the next page do not start at 1
    records = [(rid, None, {"id": rid}) for rid in ("k", "b", "x", "a")]  # not in key order
    _, claimed = store.claim_records("s", records)
    assert [row[0] for row in claimed] == ["k", "b", "x", "a"]
    rowids = {row[0]: row[4] for row in claimed}
    if store.dialect != "sqlite":
        assert set(rowids.values()) == {None}
        return
    with store.transaction() as conn:
        actual = dict(conn.exec_driver_sql("SELECT record_id, rowid FROM ledger WHERE scheme_id = 's'").all())
    assert rowids == {rid: actual[rid] for rid in rowids}

    statements: list[str] = []
    import sqlalchemy as sa

    sa.event.listen(store._engine, "before_cursor_execute", lambda c, cur, sql, *a: statements.append(sql))
    results = [RecordResult("b", "finished", response={"rows": 2}), RecordResult("x", "error", error="no")]
    store.record_results("s", results, {rid: rowids[rid] for rid in ("b", "x")})  # type: ignore[misc]
    updates = [s for s in statements if s.startswith("UPDATE ledger")]
    assert updates and all("rowid IN" in s for s in updates)
    with store.transaction() as conn:  # each row found by its rowid, not a walk of the scheme's rows
        plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + updates[0], (None,) * updates[0].count("?")).all()
    assert "INTEGER PRIMARY KEY (rowid=?)" in str(plan), plan
    got = {
        r.record_id: (r.status, r.target_response, r.last_error) for r in store.find_records("s", limit=10)
    }
    assert got["b"] == ("finished", '{"rows":2}', None)
    assert got["x"][0] == "error" and got["x"][2] == "no"
    assert got["k"][0] == got["a"][0] == "queued" and got["before"][0] == "pending"


def test_replay_leaves_the_dead_letters_of_collection_and_says_how_many(store: Store) -> None:
    letter = RecordResult("noid-1", "dead", error="source record has no id: field 'id' is missing or empty")
    store.upsert_records("s", [("a", None, {"id": "a"}), ("noid-1", None, {"v": 0})], dead_letters=[letter])
    store.claim("s", 5, T0)
    store.record_results("s", [RecordResult("a", "dead", error="rejected by target")])

    by_status = store.replay("s", status="dead")
    by_id = store.replay("s", record_ids=["noid-1"])

    assert (by_status, by_status.kept) == (1, 1), "the delivery that died goes back; the no-id letter stays"
    assert (by_id, by_id.kept) == (0, 1)
    rows = {r.record_id: r for r in store.find_records("s", limit=10)}
    assert (rows["a"].status, rows["noid-1"].status) == ("pending", "dead")
    assert rows["noid-1"].last_error == letter.error
