"""A run's accounting: the identities, the words a summary uses, and the one exit-code rule."""

from __future__ import annotations

import pytest

from ferry.engine.counts import (
    COUNT_LABELS,
    SHOWN_COUNTS,
    RunCounts,
    accounting_lines,
    count_label,
    still_waiting,
)
from ferry.engine.runner import RunReport

FLAT = RunCounts(fetched=200, flattened=199, new=399, due=399, delivered=399)


def test_balanced_counts_report_no_imbalance() -> None:
    counts = RunCounts(
        fetched=10, filtered_out=2, no_id=1, repeated=1, unchanged=3, new=2, changed=1,
        due=4, delivered=1, failed=1, dead=1, pending=1,
    )  # fmt: skip
    assert counts.imbalance() == [] and counts.balances()


def test_flattened_rows_are_added_to_what_was_fetched() -> None:
    assert FLAT.balances()
    assert FLAT.equations() == ["fetched 200 + flattened rows 199 = new 399", "due 399 = delivered 399"]


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        pytest.param(
            RunCounts(fetched=5, new=3),
            "fetched 5 + flattened 0 = 5 ≠ filtered_out 0 + no_id 0 + rejected 0 + repeated 0 + unchanged 0 + new 3 + changed 0 = 3",
            id="a-record-vanished-on-collect",
        ),
        pytest.param(
            RunCounts(due=4, delivered=2, failed=1),
            "due 4 ≠ delivered 2 + failed 1 + dead 0 + quarantined 0 + pending 0 = 3",
            id="a-record-vanished-on-deliver",
        ),
        pytest.param(
            RunCounts(due=1, delivered=1, delivered_unchanged=2),
            "delivered_unchanged 2 > delivered 1",
            id="more-already-current-than-delivered",
        ),
    ],
)
def test_an_imbalance_names_both_sides(counts: RunCounts, message: str) -> None:
    assert counts.imbalance() == [message]
    assert not counts.balances()


def test_a_dead_letter_from_collecting_is_due_and_dead() -> None:
    counts = RunCounts(fetched=1)
    counts.collect_dead_letter()
    assert (counts.no_id, counts.due, counts.dead) == (1, 1, 1) and counts.balances()


def test_counts_read_back_from_a_run_record_ignore_unknown_and_missing_keys() -> None:
    stored = {**FLAT.as_dict(), "from_a_newer_version": 3}
    del stored["waiting_dead"]
    assert RunCounts.from_dict(stored) == FLAT


def test_still_waiting_says_what_fails_since_when_and_how_to_look() -> None:
    counts = RunCounts(waiting_error=15, waiting_dead=1, failing_since=7, waiting_pending=2)
    assert still_waiting("004-okki", counts) == [
        "16 records still failing since run 7 (15 in error awaiting a retry, 1 dead): "
        "ferry records --scheme 004-okki --status error --status dead",
        "2 records still pending, delivered by the next run: "
        "ferry records --scheme 004-okki --status pending --status queued",
    ]
    assert still_waiting("004-okki", counts, "zh")[0].startswith("16 条记录仍失败（始于运行 7）")
    assert still_waiting("004-okki", RunCounts()) == []


def test_accounting_lines_of_a_stored_run_and_of_one_recorded_before_the_accounting() -> None:
    stored = RunCounts(fetched=3, new=3, due=3, delivered=2, failed=1, waiting_error=1, failing_since=4)
    assert accounting_lines("s", stored.as_dict(), "zh")[:2] == [
        "获取 3 = 新增 3",
        "应写入 3 = 已写入 2 + 失败 1",
    ]
    assert accounting_lines("s", {"fetched": 3, "new": 3, "delivered": 3}) == []


def test_every_shown_count_has_a_label_in_both_languages() -> None:
    assert set(SHOWN_COUNTS) <= set(COUNT_LABELS)
    assert set(RunCounts().as_dict()) <= set(COUNT_LABELS)
    for name in COUNT_LABELS:
        assert count_label(name, "en") != count_label(name, "zh"), name
    assert count_label("no_such_count", "zh") == "no_such_count"


@pytest.mark.parametrize(
    ("status", "counts", "code"),
    [
        pytest.param("succeeded", RunCounts(), 0, id="clean"),
        pytest.param("succeeded", RunCounts(waiting_pending=5), 0, id="pending-is-not-failing"),
        pytest.param("partial", RunCounts(failed=1, waiting_error=1), 1, id="failed-in-this-run"),
        pytest.param("partial", RunCounts(dead=1, no_id=1, waiting_dead=1), 1, id="dead-letter-without-id"),
        pytest.param("succeeded", RunCounts(waiting_error=16), 1, id="still-failing-from-an-earlier-run"),
        pytest.param("failed", RunCounts(), 1, id="the-run-failed"),
        pytest.param("invalid", RunCounts(waiting_error=3), 2, id="invalid-configuration"),
    ],
)
def test_one_exit_code_rule(status: str, counts: RunCounts, code: int) -> None:
    assert RunReport("s", 1, status, counts).exit_code == code
