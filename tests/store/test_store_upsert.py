"""Collector side: upsert semantics, counts, queued rows, cursor atomicity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ferry.errors import RecordError
from ferry.store import RecordResult, Store, UpsertResult, _ledger_write

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
WINDOW = (T0, T0 + timedelta(hours=1))


def _seed(store: Store) -> None:
    """a, b, c known; a will change, b and c stay the same."""
    store.upsert_records("s", [("a", "A-1", {"v": 1}), ("b", "B-1", {"v": 1}), ("c", None, {"v": 1})])


PAGE = [("a", "A-2", {"v": 2}), ("b", "B-1", {"v": 1}), ("c", None, {"v": 1}), ("d", "D-1", {"v": 1})]


def test_new_ids_are_inserted_pending_with_their_window_and_run(store: Store) -> None:
    run = store.start_run("s", "collect")
    result = store.upsert_records("s", [("1", "SO-1", {"x": 1})], window=WINDOW, run_id=run)
    assert result == UpsertResult(new=1, changed=0, unchanged=0, redelivered=0)
    row = store.get_record("s", "1")
    assert row is not None
    assert (row.status, row.attempts, row.number, row.content) == ("pending", 0, "SO-1", {"x": 1})
    assert (row.window_start, row.window_end, row.run_id) == (*WINDOW, run)
    assert row.next_attempt_at is not None and row.next_attempt_at.tzinfo is not None
    assert row.delivered_at is None and row.last_error is None


def test_claimed_new_ids_without_window_or_run_are_queued_with_empty_ones(store: Store) -> None:
    result, claimed = store.claim_records("s", [("1", None, {"q": "it's"}), ("2", "N'2", {"q": 2})])
    assert result.new == 2 and [row[0] for row in claimed] == ["1", "2"]
    one, two = store.get_record("s", "1"), store.get_record("s", "2")
    assert one is not None and two is not None
    assert (one.status, one.window_start, one.window_end, one.run_id) == ("queued", None, None, None)
    assert (two.number, two.content, one.content) == ("N'2", {"q": 2}, {"q": "it's"})
    assert one.created_at == one.updated_at == one.next_attempt_at == two.created_at


def test_sqlite_page_values_are_literals_quoted_as_sql_strings() -> None:
    from ferry.store._hot import hot_for

    sql = hot_for("sqlite").insert_page("queued", "2024-05-01 08:00:00.000000", None, "x'y", 7)
    assert sql is not None and sql.count("?") == 5
    assert "'queued', 0, 0, '2024-05-01 08:00:00.000000', NULL, 'x''y', 7," in sql
    assert hot_for("mysql").insert_page("queued", None, None, None, None) is None


@pytest.mark.parametrize(
    ("id_check", "on_change", "expected"),
    [
        pytest.param(True, "skip", UpsertResult(1, 1, 2, 0), id="idcheck-skip"),
        pytest.param(True, "redeliver", UpsertResult(1, 1, 2, 1), id="idcheck-redeliver"),
        pytest.param(False, "skip", UpsertResult(1, 1, 2, 3), id="no-idcheck"),
        pytest.param(False, "redeliver", UpsertResult(1, 1, 2, 3), id="no-idcheck-redeliver"),
    ],
)
def test_counts_per_mode(store: Store, id_check: bool, on_change: str, expected: UpsertResult) -> None:
    _seed(store)
    _finish_all(store)
    assert store.upsert_records("s", PAGE, id_check=id_check, on_change=on_change) == expected
    statuses = {r.record_id: r.status for r in store.find_records("s")}
    redelivered = {rid for rid, status in statuses.items() if status == "pending"} - {"d"}
    assert len(redelivered) == expected.redelivered


def _finish_all(store: Store) -> None:
    rows = store.claim("s", 100, T0)
    store.record_results("s", [RecordResult(r.record_id, "finished") for r in rows])


def test_skip_leaves_a_changed_row_untouched(store: Store) -> None:
    _seed(store)
    _finish_all(store)
    store.upsert_records("s", PAGE, on_change="skip")
    row = store.get_record("s", "a")
    assert row is not None
    assert (row.status, row.content, row.number, row.attempts) == ("finished", {"v": 1}, "A-1", 1)


def test_redeliver_replaces_content_and_resets_attempts(store: Store) -> None:
    _seed(store)
    _finish_all(store)
    store.upsert_records("s", PAGE, on_change="redeliver", window=WINDOW)
    row = store.get_record("s", "a")
    assert row is not None
    assert (row.status, row.content, row.number, row.attempts) == ("pending", {"v": 2}, "A-2", 0)
    assert row.window_start == WINDOW[0]
    assert row.delivered_at is not None  # the earlier delivery stays on record
    unchanged = store.get_record("s", "b")
    assert unchanged is not None and unchanged.status == "finished"


def test_without_id_check_every_fetched_row_goes_back_to_pending(store: Store) -> None:
    _seed(store)
    rows = store.claim("s", 100, T0)
    store.record_results("s", [RecordResult(r.record_id, "dead", error="rejected") for r in rows])
    result = store.upsert_records("s", PAGE[:3], id_check=False)
    assert result == UpsertResult(new=0, changed=1, unchanged=2, redelivered=3)
    for rid in ("a", "b", "c"):
        row = store.get_record("s", rid)
        assert row is not None
        assert (row.status, row.attempts, row.last_error) == ("pending", 0, "rejected")


def test_duplicate_ids_in_one_call_last_wins(store: Store) -> None:
    result = store.upsert_records("s", [("x", "1", {"v": 1}), ("y", None, {}), ("x", "2", {"v": 2})])
    assert result == UpsertResult(new=2, changed=0, unchanged=0, redelivered=0)
    row = store.get_record("s", "x")
    assert row is not None and (row.number, row.content) == ("2", {"v": 2})


def test_dead_letters_are_stored_but_not_counted_as_records_to_deliver(store: Store) -> None:
    letter = [RecordResult("noid-1", "dead", error="source record has no id")]
    page = [("a", None, {"v": 1}), ("noid-1", None, {"v": 0})]
    assert store.upsert_records("s", page, dead_letters=letter) == UpsertResult(new=1)
    again = [("a", None, {"v": 1}), ("b", None, {"v": 2}), ("noid-1", None, {"v": 0})]
    result, claimed = store.claim_records("s", again, dead_letters=letter)
    assert result == UpsertResult(new=1, unchanged=1) and [row[0] for row in claimed] == ["b"]
    row = store.get_record("s", "noid-1")
    assert row is not None and (row.status, row.last_error) == ("dead", "source record has no id")


def test_a_queued_row_keeps_its_status_and_is_redelivered_after_its_result(store: Store) -> None:
    store.upsert_records("s", [("a", None, {"v": 1})])
    (claimed,) = store.claim("s", 10, T0)
    result = store.upsert_records("s", [("a", None, {"v": 2})], on_change="redeliver")
    assert result == UpsertResult(new=0, changed=1, unchanged=0, redelivered=1)
    row = store.get_record("s", "a")
    assert row is not None and (row.status, row.content) == ("queued", {"v": 2})
    assert store.claim("s", 10, T0) == []  # still in flight: never handed out twice
    store.record_results("s", [RecordResult("a", "finished", response="ok")])
    row = store.get_record("s", "a")
    assert row is not None
    assert (row.status, row.attempts, row.target_response) == ("pending", 0, "ok")
    assert row.delivered_at is not None
    (again,) = store.claim("s", 10, T0)
    assert again.content == {"v": 2} and claimed.content == {"v": 1}
    store.record_results("s", [RecordResult("a", "finished")])
    row = store.get_record("s", "a")
    assert row is not None and (row.status, row.attempts) == ("finished", 1)


def test_a_queued_row_with_the_same_content_is_not_redelivered_without_id_check(store: Store) -> None:
    store.upsert_records("s", [("a", None, {"v": 1})])
    store.claim("s", 10, T0)
    result = store.upsert_records("s", [("a", None, {"v": 1})], id_check=False)
    assert result == UpsertResult(new=0, changed=0, unchanged=1, redelivered=0)
    store.record_results("s", [RecordResult("a", "finished")])
    row = store.get_record("s", "a")
    assert row is not None and row.status == "finished"


def test_a_recovered_row_whose_content_changed_in_flight_restarts_its_attempts(store: Store) -> None:
    store.upsert_records("s", [("a", None, {"v": 1})])
    store.claim("s", 10, T0)
    store.record_results("s", [RecordResult("a", "error", error="boom", next_attempt_at=T0)])
    store.claim("s", 10, T0 + timedelta(minutes=1))
    store.upsert_records("s", [("a", None, {"v": 2})], on_change="redeliver")
    assert store.recover_queued("s") == 1
    row = store.get_record("s", "a")
    assert row is not None and (row.status, row.attempts, row.content) == ("pending", 0, {"v": 2})


def test_cursor_commits_with_the_page(store: Store) -> None:
    position = datetime(2024, 5, 1, 16, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    store.upsert_records("s", [("a", None, {})], cursor=("main", position))
    assert store.get_cursor("s", "main") == position
    assert store.get_cursor("s", "main").tzinfo == UTC  # type: ignore[union-attr]
    assert store.get_cursor("s", "remedy") is None


def test_cursor_does_not_move_when_the_page_fails(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store.upsert_records("s", [("a", None, {})], cursor=("main", T0))

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("killed between the page and the cursor")

    monkeypatch.setattr(_ledger_write, "set_cursor", explode)
    with pytest.raises(RuntimeError):
        store.upsert_records(
            "s", [("b", None, {}), ("a", None, {"v": 9})], id_check=False, cursor=("main", WINDOW[1])
        )
    monkeypatch.undo()
    assert store.get_cursor("s") == T0
    assert store.get_record("s", "b") is None
    row = store.get_record("s", "a")
    assert row is not None and row.content == {}


def test_a_bad_record_rejects_the_whole_page_and_keeps_the_cursor(store: Store) -> None:
    store.upsert_records("s", [("a", None, {})], cursor=("main", T0))
    with pytest.raises(RecordError, match="record bad: content cannot be stored as JSON"):
        store.upsert_records(
            "s", [("b", None, {}), ("bad", None, {"x": object()})], cursor=("main", WINDOW[1])
        )
    assert store.get_cursor("s") == T0
    assert store.count_by_status("s")["pending"] == 1


def test_invalid_ids_are_record_errors(store: Store) -> None:
    cases: list[tuple[tuple[str, str | None, dict[str, object]], str]] = [
        (("", None, {}), "non-empty string"),
        (("x" * 192, None, {}), "192 characters"),
        (("ok", "n" * 192, {}), "record number"),
    ]
    for record, message in cases:
        with pytest.raises(RecordError, match=message):
            store.upsert_records("s", [("fine", None, {}), record])
    assert store.count_by_status("s")["pending"] == 0


def test_unicode_content_round_trips(store: Store) -> None:
    content = {"客户": "杭州某某科技有限公司", "备注": "含\"引号\"与'单引号'及 emoji 🚚", "数量": 3}
    store.upsert_records("s", [("单号-001", "编号-1", content)])
    row = store.get_record("s", "单号-001")
    assert row is not None and (row.content, row.number) == (content, "编号-1")
    assert list(store.iter_lookup_rows("s")) == [{"id": "单号-001", "number": "编号-1", "content": content}]


def test_naive_window_is_refused(store: Store) -> None:
    naive = datetime(2024, 5, 1)
    with pytest.raises(ValueError, match="window"):
        store.upsert_records("s", [("a", None, {})], window=(naive, naive))


def test_unknown_on_change_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="skip, redeliver"):
        store.upsert_records("s", [("a", None, {})], on_change="update")
