"""PageKeeper: every record becomes ledger rows or a dead letter keyed so it is never lost."""

from __future__ import annotations

from ferry.connectors.base import Rejected
from ferry.engine.counts import RunCounts
from ferry.engine.dead_letters import PageKeeper, Row
from ferry.store.codec import content_hash


def keep(records: list[dict], *, arrays: list[str] | None = None) -> tuple[list[Row], PageKeeper]:
    keeper = PageKeeper("id", "no", arrays or [], RunCounts())
    rows: list[Row] = []
    for record in records:
        keeper.add(record, rows)
    return rows, keeper


def test_identical_records_without_an_id_are_each_kept_under_their_own_key() -> None:
    twin = {"no": "A", "qty": 1}
    rows, keeper = keep([twin, dict(twin)])
    first = f"noid-{content_hash(twin)}"
    assert [r[0] for r in rows] == [first, f"{first}-2"], "the first key is the one earlier versions used"
    assert keeper.counts.no_id == 2 and set(keeper.letters) == {first, f"{first}-2"}
    assert [r.status for r in keeper.results(run_id=7)] == ["dead", "dead"]


def test_a_flattened_row_whose_id_outgrows_the_ledger_is_a_dead_letter_and_its_siblings_are_kept() -> None:
    record = {"id": "x" * 189, "no": "N", "items": [{"i": n} for n in range(11)]}
    rows, keeper = keep([record], arrays=["items"])
    kept = [r[0] for r in rows if not r[0].startswith("dead-")]
    assert kept == [f"{'x' * 189}-{n}" for n in range(10)]
    [(letter, reason)] = keeper.letters.items()
    assert reason == "flattened id is 192 characters; the ledger keeps 191"
    assert [r[2] for r in rows if r[0] == letter] == [{**record, "items": {"i": 10}}]
    assert keeper.counts.flattened == 10 and keeper.counts.rejected == 1


def test_the_same_unreadable_record_keeps_its_key_from_page_to_page() -> None:
    keeper = PageKeeper("id", None, [], RunCounts())
    first = keeper.rejected(Rejected(b'{"id": 1, "v": NaN}', "NaN is not a number JSON allows", 3))
    keeper.new_page()
    again = keeper.rejected(Rejected(b'{"id": 1, "v": NaN}', "NaN is not a number JSON allows", 4))
    assert first[0] == again[0] and first[0].startswith("dead-")
    assert first[2] == {
        "reason": "record 3 of the page cannot be read: NaN is not a number JSON allows",
        "position": 3,
        "raw": '{"id": 1, "v": NaN}',
    }


def test_content_the_ledger_cannot_encode_is_salvaged_as_a_dead_letter_with_its_text() -> None:
    keeper = PageKeeper("id", None, [], RunCounts())
    rows: list[Row] = [("1", None, {"id": 1}), ("2", None, {"id": 2, "s": "\ud800"})]
    good, letter = keeper.salvage(rows)
    assert good == rows[0]
    assert letter[0].startswith("dead-") and letter[2]["raw"] == '{"id":2,"s":"\\ud800"}'
    assert "record '2': content cannot be stored as it is" in keeper.letters[letter[0]]
