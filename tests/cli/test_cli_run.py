"""``ferry run``: runs schemes in order, shows progress lines off a terminal, a table per scheme,
and exits 0 / 1 (records failed) / 2 (invalid scheme or option)."""

from __future__ import annotations

import re

import pytest

UNTIL = "2024-06-01 00:00:00"


def _counts(output: str) -> dict[str, str]:
    """The summary table of the first scheme as {header: value}."""
    lines = output.splitlines()
    head = next(i for i, line in enumerate(lines) if line.lstrip().startswith("fetched"))
    headers = re.split(r"\s{2,}", lines[head].strip())  # headers hold single spaces
    values = lines[head + 2].split()
    return dict(zip(headers, values, strict=True))


def test_run_delivers_every_record_and_exits_0(ferry, shop, store):
    result = ferry("run", shop.scheme(), "--until", UNTIL)

    assert result.exit_code == 0, result.output
    assert shop.copied() == [
        ("A1", "IC-A1", "螺丝 M3"),
        ("A2", "IC-A2", "螺母 M3"),
        ("A3", "IC-A3", "垫片 M3"),
    ]
    assert "cli-products: succeeded (run 1)" in result.output
    counts = _counts(result.output)
    assert counts["fetched"] == "3"
    assert counts["new"] == "3"
    assert counts["delivered"] == "3"
    assert counts["failed"] == "0"
    assert re.fullmatch(r"\d+\.\d\ds", counts["duration"])
    assert store.count_by_status("cli-products")["finished"] == 3


def test_progress_is_plain_lines_when_not_a_terminal(ferry, shop):
    result = ferry("run", shop.scheme(), "--until", UNTIL)

    assert "[cli-products] window 1/1 [2024-01-01 00:00:00+08:00, 2024-06-01 00:00:00+08:00)" in result.output
    assert "[cli-products] page 0: 3 records; fetched 3" in result.output
    assert "\x1b[" not in result.output  # no terminal control codes in a log


def test_second_run_finds_nothing_new(ferry, shop):
    ferry("run", shop.scheme(), "--until", UNTIL)

    result = ferry("run", shop.scheme(), "--until", "2024-06-02 00:00:00")

    assert result.exit_code == 0, result.output
    counts = _counts(result.output)
    assert counts["new"] == "0"
    assert counts["delivered"] == "0"


def test_a_record_that_fails_mapping_makes_exit_1_and_points_to_it(ferry, shop, store):
    shop.add_product("B1", None, "无编码")

    result = ferry("run", shop.scheme(), "--until", UNTIL)

    assert result.exit_code == 1, result.output
    assert "cli-products: partial (run 1)" in result.output
    counts = _counts(result.output)
    assert (counts["due"], counts["delivered"], counts["failed"]) == ("4", "3", "1")
    assert (
        "1 record still failing since run 1 (1 in error awaiting a retry, 0 dead): "
        "ferry records --scheme cli-products --status error --status dead"
    ) in result.output
    assert [r.record_id for r in store.find_records("cli-products", status="error")] == ["B1"]
    assert len(shop.copied()) == 3


def test_collect_only_then_deliver_only(ferry, shop, store):
    collected = ferry("run", shop.scheme(), "--collect-only", "--until", UNTIL)

    assert collected.exit_code == 0, collected.output
    assert shop.copied() == []
    assert store.count_by_status("cli-products")["pending"] == 3

    delivered = ferry("run", shop.scheme(), "--deliver-only")

    assert delivered.exit_code == 0, delivered.output
    assert len(shop.copied()) == 3
    assert _counts(delivered.output)["fetched"] == "0"


def test_an_invalid_scheme_stops_everything_before_any_run(ferry, shop, store):
    result = ferry("run", shop.scheme(), shop.scheme("invalid.yaml"), "--until", UNTIL)

    assert result.exit_code == 2
    assert f"INVALID {shop.scheme('invalid.yaml')}: 6 errors" in result.output
    assert "  window.step: invalid duration 'soon'" in result.output
    assert "nothing was run" in result.output
    assert store.list_runs() == []
    assert shop.copied() == []


def test_unknown_scheme_file_exits_2(ferry, tmp_path):
    result = ferry("run", str(tmp_path / "missing.yaml"))

    assert result.exit_code == 2
    assert "file not found" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--collect-only", "--deliver-only"], "choose at most one", id="both-only-flags"),
        pytest.param(["--remedy", "--deliver-only"], "omissionRemedy", id="remedy-without-collect"),
        pytest.param(["--until", "next tuesday"], "is not a time", id="bad-until"),
    ],
)
def test_bad_options_exit_2_before_anything_runs(ferry, shop, store, args, message):
    result = ferry("run", shop.scheme(), *args)

    assert result.exit_code == 2
    assert message in result.output
    assert store.list_runs() == []


def test_schemes_run_in_the_order_given_with_a_summary(ferry, shop, tmp_path):
    second = tmp_path / "schemes" / "products-again.yaml"
    text = (shop.schemes / "products.yaml").read_text(encoding="utf-8")
    second.write_text(text.replace("id: cli-products", "id: cli-products-2"), encoding="utf-8")

    result = ferry("run", shop.scheme(), str(second), "--until", UNTIL)

    assert result.exit_code == 0, result.output
    first_at = result.output.index("cli-products: succeeded")
    second_at = result.output.index("cli-products-2: succeeded")
    assert first_at < second_at
    assert "2 schemes: 2 succeeded" in result.output


def test_two_files_with_the_same_scheme_id_are_refused(ferry, shop, tmp_path):
    copy = tmp_path / "schemes" / "copy.yaml"
    copy.write_text((shop.schemes / "products.yaml").read_text(encoding="utf-8"), encoding="utf-8")

    result = ferry("run", shop.scheme(), str(copy))

    assert result.exit_code == 2
    assert "scheme id 'cli-products' is also the id of" in result.output


def test_a_run_that_cannot_read_its_source_reports_the_error(ferry, shop, store):
    import sqlite3

    with sqlite3.connect(shop.source) as conn:
        conn.execute("DROP TABLE products")

    result = ferry("run", shop.scheme(), "--until", UNTIL)

    assert result.exit_code == 2, result.output  # a missing table is a configuration error
    assert "error:" in result.output
    assert "products" in result.output
    assert "details: ferry runs show 1" in result.output
    assert store.get_run(1)["status"] in ("failed", "invalid")


def test_a_record_still_failing_from_an_earlier_run_exits_1_though_nothing_was_delivered(ferry, shop):
    shop.add_product("B1", None, "无编码")
    first = ferry("run", shop.scheme(), "--until", UNTIL)
    assert first.exit_code == 1, first.output

    # 30 s later: the failed record waits for its retry (the ladder's first step is 1 minute)
    again = ferry("run", shop.scheme(), "--until", "2024-06-01 00:00:30")

    assert again.exit_code == 1, again.output
    assert "cli-products: succeeded (run 2)" in again.output  # the run itself went well ...
    counts = _counts(again.output)
    assert (counts["due"], counts["delivered"], counts["failed"]) == ("0", "0", "0")
    assert (  # ... but the scheme still has a failing record, and the summary says so
        "1 record still failing since run 1 (1 in error awaiting a retry, 0 dead): "
        "ferry records --scheme cli-products --status error --status dead"
    ) in again.output


def test_collected_records_not_yet_delivered_are_said_to_wait_and_exit_0(ferry, shop):
    result = ferry("run", shop.scheme(), "--collect-only", "--until", UNTIL)

    assert result.exit_code == 0, result.output
    counts = _counts(result.output)
    assert (counts["fetched"], counts["new"], counts["due"]) == ("3", "3", "0")
    assert (
        "3 records still pending, delivered by the next run: "
        "ferry records --scheme cli-products --status pending --status queued"
    ) in result.output
    assert "still failing" not in result.output


def test_runs_show_writes_out_the_accounting_of_a_run(ferry, shop):
    shop.add_product("B1", None, "无编码")
    ferry("run", shop.scheme(), "--until", UNTIL)

    result = ferry("runs", "show", "1")

    assert result.exit_code == 0, result.output
    assert "  collect:  fetched 4 = new 4\n" in result.output
    assert "  deliver:  due 4 = delivered 3 + failed 1\n" in result.output
    assert "  after the run: 1 record still failing since run 1" in result.output
    assert "without id 0" in result.output and "no_id" not in result.output  # the one vocabulary
