"""``ferry records``, ``ferry runs`` and ``ferry replay`` against a store filled through the Store API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from ferry.store import RecordResult

W1 = (datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 2, tzinfo=UTC))
W2 = (datetime(2024, 5, 2, tzinfo=UTC), datetime(2024, 5, 3, tzinfo=UTC))


@pytest.fixture
def ledger(store):
    """Scheme ``shop-orders``: 1 finished, 2 error, 3 dead, 4 pending (window W2); one run."""
    store.save_scheme("shop-orders", "Shop orders", {"id": "shop-orders"})
    store.upsert_records(
        "shop-orders",
        [
            ("1", "SO-001", {"客户": "上海鼎信", "amount": "12.50"}),
            ("2", "SO-002", {"客户": "杭州", "amount": "3.00"}),
            ("3", "SO-003", {"客户": "苏州", "amount": "7.00"}),
        ],
        window=W1,
    )
    store.upsert_records("shop-orders", [("4", "XX-004", {"客户": "南京"})], window=W2)
    store.claim("shop-orders", 3, datetime.now(UTC))
    store.record_results(
        "shop-orders",
        [
            RecordResult("1", "finished", response={"FID": 100, "结果": "成功"}),
            RecordResult(
                "2",
                "error",
                error="target mysql+pymysql://app:hunter2@db/erp refused: Duplicate entry [SO-002]",
                next_attempt_at=datetime.now(UTC) + timedelta(minutes=5),
            ),
            RecordResult("3", "dead", error="物料编码不存在"),
        ],
    )
    run_id = store.start_run("shop-orders", "run")
    store.finish_run(
        run_id,
        "partial",
        {
            "windows": 2,
            "pages": 3,
            "fetched": 4,
            "new": 4,
            "delivered": 1,
            "failed": 1,
            "dead": 1,
            "duration_s": 1.25,
        },
        "1 record failed",
        [
            {
                "window": "[2024-05-01 08:00:00+08:00, 2024-05-02 08:00:00+08:00)",
                "pages": 2,
                "fetched": 3,
                "stored": 3,
                "total": 3,
                "seconds": 0.5,
            },
            {
                "window": "[2024-05-02 08:00:00+08:00, 2024-05-03 08:00:00+08:00)",
                "pages": 1,
                "fetched": 1,
                "stored": 1,
                "total": None,
                "seconds": 0.25,
            },
        ],
    )
    return run_id


def _ids(result) -> list[str]:
    return sorted(item["record_id"] for item in json.loads(result.output))


# -- records -------------------------------------------------------------------------------------


def test_records_table_shows_each_record_with_its_state(ferry, ledger):
    result = ferry("records", "--scheme", "shop-orders")

    assert result.exit_code == 0, result.output
    header = result.output.splitlines()[0].split()
    assert header[:6] == ["scheme", "id", "number", "status", "attempts", "next"]
    rows = {
        line.split()[1]: line.split()
        for line in result.output.splitlines()[2:]
        if line.startswith("shop-orders")
    }
    assert rows["1"][2:5] == ["SO-001", "finished", "1"]
    assert rows["3"][2:5] == ["SO-003", "dead", "1"]
    assert rows["4"][2:5] == ["XX-004", "pending", "0"]
    assert "物料编码不存在" in result.output
    assert "4 records" in result.output


def test_records_filter_by_status_id_and_number(ferry, ledger):
    assert _ids(ferry("records", "--status", "dead", "--json")) == ["3"]
    assert _ids(ferry("records", "--status", "error", "--status", "dead", "--json")) == ["2", "3"]
    assert _ids(ferry("records", "--id", "2", "--json")) == ["2"]
    assert _ids(ferry("records", "--number", "SO-*", "--json")) == ["1", "2", "3"]
    assert _ids(ferry("records", "--scheme", "other", "--json")) == []


def test_records_since_and_until_bound_the_update_time(ferry, ledger):
    assert _ids(ferry("records", "--since", "1h", "--json")) == ["1", "2", "3", "4"]
    assert _ids(ferry("records", "--until", "2020-01-01", "--json")) == []


def test_records_limit_and_offset_page_through_results(ferry, ledger):
    first = _ids(ferry("records", "--limit", "2", "--json"))
    second = _ids(ferry("records", "--limit", "2", "--offset", "2", "--json"))

    assert len(first) == len(second) == 2
    assert sorted(first + second) == ["1", "2", "3", "4"]
    assert "more may match" in ferry("records", "--limit", "2").output


def test_records_never_print_a_password_from_an_error(ferry, ledger):
    table = ferry("records", "--id", "2")
    as_json = ferry("records", "--id", "2", "--json")
    shown = ferry("records", "show", "shop-orders", "2")

    for result in (table, as_json, shown):
        assert "hunter2" not in result.output
    assert "mysql+pymysql://app:***@db/erp" in shown.output


def test_record_show_prints_content_error_and_response_unescaped(ferry, ledger):
    result = ferry("records", "show", "shop-orders", "1")

    assert result.exit_code == 0, result.output
    assert "record 1 of scheme shop-orders" in result.output
    assert '"客户": "上海鼎信"' in result.output
    assert '"结果": "成功"' in result.output
    assert "\\u" not in result.output
    assert "status: finished" in result.output


def test_record_show_json_has_content_and_decoded_response(ferry, ledger):
    result = ferry("records", "show", "shop-orders", "3", "--json")

    doc = json.loads(result.output)
    assert doc["status"] == "dead"
    assert doc["last_error"] == "物料编码不存在"
    assert doc["content"] == {"客户": "苏州", "amount": "7.00"}


def test_record_show_unknown_record_exits_2(ferry, ledger):
    result = ferry("records", "show", "shop-orders", "999")

    assert result.exit_code == 2
    assert "error: no record '999' in scheme 'shop-orders'" in result.output


def test_records_with_an_empty_store(ferry, store):
    result = ferry("records")

    assert result.exit_code == 0
    assert "no records match" in result.output


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--status", "lost"], id="unknown-status"),
        pytest.param(["--since", "yesterday-ish"], id="bad-time"),
        pytest.param(["--limit", "0"], id="zero-limit"),
    ],
)
def test_records_bad_options_exit_2(ferry, store, args):
    assert ferry("records", *args).exit_code == 2


# -- runs ----------------------------------------------------------------------------------------


def test_runs_table_lists_recent_runs_with_counts(ferry, ledger, store):
    other = store.start_run("other", "collect")
    store.finish_run(other, "succeeded", {"fetched": 9, "new": 9, "duration_s": 0.5})

    result = ferry("runs")

    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.output.splitlines()[2:]]
    assert [line[0] for line in lines] == [str(other), str(ledger)]  # newest first
    assert lines[1][1:4] == ["shop-orders", "run", "partial"]
    assert "1 record failed" in result.output


def test_runs_filtered_by_scheme_as_json(ferry, ledger, store):
    store.finish_run(store.start_run("other", "collect"), "succeeded", {})

    runs = json.loads(ferry("runs", "--scheme", "shop-orders", "--json").output)

    assert [r["id"] for r in runs] == [ledger]
    assert runs[0]["counts"]["delivered"] == 1


def test_run_show_prints_every_window(ferry, ledger):
    result = ferry("runs", "show", str(ledger))

    assert result.exit_code == 0, result.output
    assert f"run {ledger} of scheme shop-orders (run): partial" in result.output
    assert "fetched 4" in result.output
    assert "[2024-05-01 08:00:00+08:00, 2024-05-02 08:00:00+08:00)" in result.output
    assert "[2024-05-02 08:00:00+08:00, 2024-05-03 08:00:00+08:00)" in result.output
    assert "1 record failed" in result.output


def test_runs_id_option_is_the_same_as_show(ferry, ledger):
    assert ferry("runs", "--id", str(ledger)).output == ferry("runs", "show", str(ledger)).output


def test_run_show_unknown_id_exits_2(ferry, store):
    result = ferry("runs", "show", "4242")

    assert result.exit_code == 2
    assert "no run with id 4242" in result.output


def test_runs_with_an_empty_store(ferry, store):
    result = ferry("runs")

    assert result.exit_code == 0
    assert "no runs yet" in result.output


# -- replay --------------------------------------------------------------------------------------


def test_replay_by_status_sets_records_pending_and_says_how_many(ferry, ledger, store):
    result = ferry("replay", "shop-orders", "--status", "dead")

    assert result.exit_code == 0, result.output
    assert "1 record of scheme shop-orders set back to pending" in result.output
    assert "ferry run <shop-orders scheme file> --deliver-only" in result.output
    row = store.get_record("shop-orders", "3")
    assert (row.status, row.attempts) == ("pending", 0)
    assert store.get_record("shop-orders", "2").status == "error"


def test_replay_says_which_dead_letters_of_collection_it_left(ferry, ledger, store):
    letter = RecordResult("noid-9", "dead", error="source record has no id: field 'id' is missing or empty")
    store.upsert_records("shop-orders", [("noid-9", None, {"客户": "?"})], window=W2, dead_letters=[letter])

    result = ferry("replay", "shop-orders", "--status", "dead")

    assert result.exit_code == 0, result.output
    assert "1 record of scheme shop-orders set back to pending" in result.output
    assert "1 dead letter from collecting left as it is" in result.output
    assert "ferry records --scheme shop-orders --status dead" in result.output
    assert store.get_record("shop-orders", "noid-9").status == "dead"


def test_replay_by_ids(ferry, ledger, store):
    result = ferry("replay", "shop-orders", "--id", "1", "--id", "2")

    assert result.exit_code == 0, result.output
    assert "2 records of scheme shop-orders set back to pending" in result.output
    assert store.count_by_status("shop-orders") == {
        "pending": 3,
        "queued": 0,
        "finished": 0,
        "error": 0,
        "dead": 1,
        "quarantined": 0,
        "dropped": 0,
    }


def test_replay_by_window_and_status_must_match_both(ferry, ledger, store):
    result = ferry(
        "replay", "shop-orders", "--status", "error", "--status", "dead",
        "--window", "2024-05-01 08:00:00", "2024-05-02 08:00:00",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "2 records" in result.output
    assert store.count_by_status("shop-orders")["pending"] == 3


def test_replay_window_outside_every_record_replays_nothing(ferry, ledger, store):
    result = ferry("replay", "shop-orders", "--window", "2023-01-01", "2023-02-01")

    assert result.exit_code == 0
    assert "0 records" in result.output


def test_replay_of_an_unknown_scheme_exits_2(ferry, ledger):
    result = ferry("replay", "nope", "--status", "dead")

    assert result.exit_code == 2
    assert "unknown scheme 'nope'" in result.output
    assert "shop-orders" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param([], "say which records to replay", id="no-selector"),
        pytest.param(["--status", "pending"], "pending", id="pending-status"),
        pytest.param(["--window", "2024-05-02", "2024-05-01"], "must be before", id="reversed-window"),
        pytest.param(["--window", "2024-05-02"], "--window", id="window-needs-two-values"),
    ],
)
def test_replay_bad_options_exit_2_and_change_nothing(ferry, ledger, store, args, message):
    before = store.count_by_status("shop-orders")

    result = ferry("replay", "shop-orders", *args)

    assert result.exit_code == 2
    assert message in result.output
    assert store.count_by_status("shop-orders") == before


def test_replay_with_run_delivers_at_once(ferry, shop, store):
    ferry("run", shop.scheme(), "--collect-only", "--until", "2024-06-01 00:00:00")
    rows = store.claim("cli-products", 10, datetime.now(UTC))
    store.record_results("cli-products", [RecordResult(r.record_id, "dead", error="boom") for r in rows])

    result = ferry("replay", "cli-products", "--status", "dead", "--run", shop.scheme())

    assert result.exit_code == 0, result.output
    assert "3 records of scheme cli-products set back to pending" in result.output
    assert "cli-products: succeeded" in result.output
    assert len(shop.copied()) == 3
    assert store.count_by_status("cli-products")["finished"] == 3


def test_replay_with_run_of_another_scheme_exits_2(ferry, ledger, shop, store):
    result = ferry("replay", "shop-orders", "--status", "dead", "--run", shop.scheme())

    assert result.exit_code == 2
    assert "is scheme 'cli-products', not 'shop-orders'" in result.output
    assert store.get_record("shop-orders", "3").status == "dead"


def test_run_show_on_a_narrow_terminal_lists_windows_instead_of_a_table(ferry, ledger, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")

    result = ferry("runs", "show", str(ledger))

    assert "  1. [2024-05-01 08:00:00+08:00, 2024-05-02 08:00:00+08:00)" in result.output
    assert "     pages 2, fetched 3, stored 3, total 3, seconds 0.5" in result.output


def test_runs_table_fits_a_narrow_terminal(ferry, ledger, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")

    result = ferry("runs")

    assert all(len(line) <= 80 for line in result.output.splitlines())
    assert "shop-orders" in result.output and "partial" in result.output


def test_record_show_lists_every_attempt_with_its_reason(ferry, ledger):
    text = ferry("records", "show", "shop-orders", "3").output
    assert "attempts:" in text
    assert "#1 " in text and "dead" in text and "物料编码不存在" in text

    doc = json.loads(ferry("records", "show", "shop-orders", "3", "--json").output)
    assert [(h["attempt"], h["status"], h["error"]) for h in doc["attempt_history"]] == [
        (1, "dead", "物料编码不存在")
    ]

    finished = ferry("records", "show", "shop-orders", "1").output
    assert "#1 " in finished and "finished" in finished
