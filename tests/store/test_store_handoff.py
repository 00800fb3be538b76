"""The store's hand-off API: hand a page over, release, record results, window totals, leases.

A deliverer sees :class:`~ferry.store.Handover` and :class:`~ferry.store.HandedRow`, never
SQLite rowids: the store keeps them inside the handover and uses them when the results come.
"""

from __future__ import annotations

import os
import pickle
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from ferry.store import HandedRow, Handover, RecordResult, Store, after_fork_in_child, fork_guard
from ferry.store.leases import acquire_lease, release_lease

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
WINDOW = (T0, T0 + timedelta(hours=1))


def _page(*ids: str) -> list[tuple[str, str | None, dict[str, object]]]:
    return [(rid, f"SO-{rid}", {"id": rid, "amount": "12.50", "lines": [{"sku": "A"}]}) for rid in ids]


def test_a_page_handed_over_is_stored_with_its_new_rows_claimed_and_decoded(store: Store) -> None:
    store.upsert_records("s", _page("known"))
    result, handover = store.hand_over("s", _page("b", "known", "a"), window=WINDOW, run_id=7)
    assert (result.new, result.unchanged) == (2, 1)
    assert isinstance(handover, Handover)
    assert (handover.scheme_id, handover.window, handover.run_id) == ("s", WINDOW, 7)
    assert handover.at.tzinfo is not None and abs(handover.at - datetime.now(UTC)) < timedelta(minutes=1)
    assert len(handover) == 2 and handover.record_ids() == ["b", "a"]  # only the new ids, in page order
    assert handover.rows() == [
        HandedRow("b", {"id": "b", "amount": "12.50", "lines": [{"sku": "A"}]}, 0, *WINDOW),
        HandedRow("a", {"id": "a", "amount": "12.50", "lines": [{"sku": "A"}]}, 0, *WINDOW),
    ]
    assert store.count_by_status("s") == {
        "pending": 1,
        "queued": 2,
        "finished": 0,
        "error": 0,
        "dead": 0,
        "quarantined": 0,
        "dropped": 0,
    }


def test_a_redelivered_known_id_and_a_dead_letter_are_never_handed_over(store: Store) -> None:
    store.upsert_records("s", _page("known"))
    dead = RecordResult("bad", "dead", error="no id")
    _, handover = store.hand_over(
        "s",
        [*_page("new", "bad"), ("known", None, {"changed": True})],
        on_change="redeliver",
        dead_letters=[dead],
    )
    assert handover.record_ids() == ["new"]
    assert store.get_record("s", "known").status == "pending"  # type: ignore[union-attr]
    assert store.get_record("s", "bad").status == "dead"  # type: ignore[union-attr]


def test_a_handover_crosses_to_another_process_intact(store: Store) -> None:
    _, handover = store.hand_over("s", _page("a", "b"), window=WINDOW, run_id=3)
    copy = pickle.loads(pickle.dumps(handover))
    assert (copy.scheme_id, copy.window, copy.run_id, copy.at) == ("s", WINDOW, 3, handover.at)
    assert copy.rows() == handover.rows() and len(copy) == 2
    store.record_results("s", [RecordResult("a", "finished")], handover=copy)
    assert store.get_record("s", "a").status == "finished"  # type: ignore[union-attr]


def test_results_of_a_handover_go_straight_to_its_rows(store: Store) -> None:
    store.upsert_records("s", _page("before"))
    _, handover = store.hand_over("s", _page("k", "b", "x"))
    statements: list[str] = []
    sa.event.listen(store._engine, "before_cursor_execute", lambda c, cur, sql, *a: statements.append(sql))
    calls = [{"connection": "erp", "api": "save", "records": 2}]
    results = [RecordResult("b", "finished", response="ok"), RecordResult("x", "error", error="no")]
    store.record_results("s", results, calls, handover=handover)
    updates = [s for s in statements if s.startswith("UPDATE ledger")]
    if store.dialect == "sqlite":  # by rowid: no lookup of the record ids
        assert updates and all("rowid IN" in s for s in updates)
    got = {r.record_id: r.status for r in store.find_records("s", limit=10)}
    assert got == {"before": "pending", "k": "queued", "b": "finished", "x": "error"}
    assert [(c["api"], c["records"]) for c in store.list_api_calls()] == [("save", 2)]


def test_the_old_argument_order_of_record_results_still_works(store: Store) -> None:
    _, claimed = store.claim_records("s", _page("a", "b"))
    rowids = {row[0]: row[4] for row in claimed if row[4] is not None}
    calls = [{"connection": "erp", "api": "save"}]
    store.record_results("s", [RecordResult("a", "finished")], rowids, calls)  # type: ignore[arg-type]
    store.record_results("s", [RecordResult("b", "finished")], None, calls)  # type: ignore[arg-type]
    assert store.count_by_status("s")["finished"] == 2
    assert len(store.list_api_calls()) == 2


def test_released_rows_go_back_to_pending_and_are_claimed_again(store: Store) -> None:
    _, handover = store.hand_over("s", _page("a", "b", "c"))
    assert store.release("s", []) == 0
    assert store.release("s", handover.record_ids()[1:]) == 2
    assert store.count_by_status("s")["pending"] == 2
    assert store.release("s", ["b"]) == 0, "only queued rows are released"
    assert sorted(r.record_id for r in store.claim("s", 10, datetime.now(UTC))) == ["b", "c"]


def test_window_totals_count_each_windows_rows_and_the_finished_ones(store: Store) -> None:
    first, second, empty = WINDOW, (WINDOW[1], WINDOW[1] + timedelta(hours=1)), (T0 - timedelta(days=1), T0)
    _, handover = store.hand_over("s", _page("a", "b", "c"), window=first)
    store.upsert_records("s", _page("d"), window=second)
    store.upsert_records("other", _page("e"), window=first)
    store.record_results("s", [RecordResult("a", "finished"), RecordResult("b", "error")], handover=handover)
    assert store.window_totals("s", [first, second, empty]) == [(3, 1), (1, 0), (0, 0)]
    assert store.window_totals("s", []) == []


def test_leased_tells_whether_a_scheduler_holds_an_unexpired_lease(store: Store) -> None:
    now = datetime.now(UTC)
    assert not store.leased("s")
    assert acquire_lease(store, "s", "collect", "serve-1", now, timedelta(minutes=5)) is None
    assert store.leased("s") and not store.leased("other")
    release_lease(store, "s", "collect", "serve-1")
    acquire_lease(store, "s", "deliver", "serve-1", now - timedelta(hours=1), timedelta(minutes=5))
    assert not store.leased("s"), "an expired lease holds nothing"


def test_a_store_reopened_in_a_forked_child_leaves_checkpoints_to_its_opener(sqlite_store: Store) -> None:
    same = sqlite_store.reopen()
    assert same._checkpointer is not None, "the opener's own process keeps its checkpointer"
    same.close()
    with fork_guard():
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        status = 1
        try:
            after_fork_in_child()
            child = sqlite_store.reopen()
            child.set_cursor("s", "main", T0)
            status = 0 if child._checkpointer is None else 2
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert sqlite_store.get_cursor("s") == T0
