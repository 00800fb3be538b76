"""Reading the ledger: counts, search filters, single rows, the lookup stream."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from ferry.store import LedgerRow, RecordResult, Store, Waiting, _store

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def filled(store: Store) -> Store:
    store.upsert_records("s", [("SO-1", "XS2024-001", {"n": 1}), ("SO-2", "XS2024-002", {"n": 2})])
    assert sorted(r.record_id for r in store.claim("s", 2, T0)) == ["SO-1", "SO-2"]
    store.upsert_records(
        "s", [("SO-10", "XS2025-001", {"n": 10}), ("so-3", None, {"n": 3}), ("A%_1", "X%_", {"n": 4})]
    )
    store.upsert_records("other", [("SO-1", "XS2024-001", {"n": 100})])
    store.record_results("s", [RecordResult("SO-1", "finished"), RecordResult("SO-2", "dead", error="x")])
    return store


def _ids(rows: list[LedgerRow]) -> list[tuple[str, str]]:
    return sorted((r.scheme_id, r.record_id) for r in rows)


def test_count_by_status_lists_every_status(filled: Store) -> None:
    assert filled.count_by_status("s") == {
        "pending": 3,
        "queued": 0,
        "finished": 1,
        "error": 0,
        "dead": 1,
        "quarantined": 0,
        "dropped": 0,
    }
    assert filled.count_by_status("nothing") == {
        "pending": 0,
        "queued": 0,
        "finished": 0,
        "error": 0,
        "dead": 0,
        "quarantined": 0,
        "dropped": 0,
    }


FILTER_CASES = [
    ("id-exact", {"record_id": "SO-1"}, [("s", "SO-1")]),
    ("id-prefix", {"record_id": "SO-1*"}, [("s", "SO-1"), ("s", "SO-10")]),
    ("id-prefix-case-sensitive", {"record_id": "so-*"}, [("s", "so-3")]),
    ("id-prefix-wildcards-literal", {"record_id": "A%*"}, [("s", "A%_1")]),
    ("underscore-is-literal", {"record_id": "A_*"}, []),
    ("number-prefix", {"number": "XS2024*"}, [("s", "SO-1"), ("s", "SO-2")]),
    ("number-exact", {"number": "XS2025-001"}, [("s", "SO-10")]),
    ("status", {"status": "pending"}, [("s", "A%_1"), ("s", "SO-10"), ("s", "so-3")]),
    ("statuses", {"status": ["finished", "dead"]}, [("s", "SO-1"), ("s", "SO-2")]),
    ("combined", {"status": "dead", "number": "XS*"}, [("s", "SO-2")]),
    (
        "number-star-alone-is-no-filter",
        {"number": "*"},
        [("s", i) for i in ("A%_1", "SO-1", "SO-10", "SO-2", "so-3")],
    ),
    (
        "number-percent-is-no-filter",
        {"number": "%"},
        [("s", i) for i in ("A%_1", "SO-1", "SO-10", "SO-2", "so-3")],
    ),
    (
        "id-blank-is-no-filter",
        {"record_id": "  "},
        [("s", i) for i in ("A%_1", "SO-1", "SO-10", "SO-2", "so-3")],
    ),
    (
        "id-wildcards-only-is-no-filter",
        {"record_id": "%_**"},
        [("s", i) for i in ("A%_1", "SO-1", "SO-10", "SO-2", "so-3")],
    ),
]
"""(case id, filters, expected (scheme, id) pairs); run as one test per backend to share the setup."""


def test_find_records_filters(filled: Store) -> None:
    got = {case: _ids(filled.find_records("s", **filters)) for case, filters, _ in FILTER_CASES}  # type: ignore[arg-type]
    assert got == {case: expected for case, _, expected in FILTER_CASES}


def test_find_records_across_schemes_and_paging(filled: Store) -> None:
    assert _ids(filled.find_records(record_id="SO-1")) == [("other", "SO-1"), ("s", "SO-1")]
    everything = filled.find_records(limit=100)
    assert len(everything) == 6
    pages = filled.find_records(limit=4) + filled.find_records(limit=4, offset=4)
    assert [(r.scheme_id, r.record_id) for r in pages] == [(r.scheme_id, r.record_id) for r in everything]
    assert [r.updated_at for r in everything] == sorted((r.updated_at for r in everything), reverse=True)


def test_find_records_since_until_bound_updated_at(store: Store) -> None:
    store.upsert_records("s", [("early", None, {})])
    time.sleep(0.01)
    middle = datetime.now(UTC)
    time.sleep(0.01)
    store.upsert_records("s", [("late", None, {})])
    assert [r.record_id for r in store.find_records("s", since=middle)] == ["late"]
    assert [r.record_id for r in store.find_records("s", until=middle)] == ["early"]
    with pytest.raises(ValueError, match="since must be a tz-aware"):
        store.find_records("s", since=datetime(2024, 1, 1))


def test_get_record_returns_none_when_missing(filled: Store) -> None:
    row = filled.get_record("s", "SO-2")
    assert row is not None and (row.status, row.content, row.number) == ("dead", {"n": 2}, "XS2024-002")
    assert filled.get_record("s", "missing") is None
    assert filled.get_record("missing", "SO-2") is None


def test_lookup_rows_stream_every_row_in_chunks(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_store, "LOOKUP_CHUNK", 3)
    store.upsert_records("s", [(f"k{i:02d}", f"N{i}", {"i": i}) for i in range(10)])
    store.upsert_records("other", [("k00", None, {})])
    rows = list(store.iter_lookup_rows("s"))
    assert [r["id"] for r in rows] == [f"k{i:02d}" for i in range(10)]
    assert rows[4] == {"id": "k04", "number": "N4", "content": {"i": 4}}
    assert list(store.iter_lookup_rows("empty")) == []


def test_waiting_counts_what_a_scheme_has_undelivered_and_since_which_run(store: Store) -> None:
    assert store.waiting("s") == Waiting(0, 0, 0, None)
    store.upsert_records("s", [(f"r{i}", None, {"i": i}) for i in range(6)], run_id=3)
    store.claim("s", 1, T0)  # r0 queued: in flight, still waiting
    store.record_results(
        "s",
        [
            RecordResult("r1", "finished", run_id=4),
            RecordResult("r2", "error", error="x", next_attempt_at=T0, run_id=5),
            RecordResult("r3", "error", error="x", next_attempt_at=T0, run_id=7),
            RecordResult("r4", "dead", error="x", run_id=6),
        ],
    )
    waiting = store.waiting("s")
    assert waiting == Waiting(pending=2, error=2, dead=1, failing_since=5)
    assert waiting.failing == 3
    assert store.waiting("other") == Waiting()
