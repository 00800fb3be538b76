"""The CLI's shared helpers: time parsing, redaction, JSON, truncation, progress reporters."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import typer
from rich.console import Console

from ferry.cli._common import SHANGHAI, fmt_time, parse_time, redact, to_json, truncate
from ferry.cli._progress import LineReporter, LiveReporter
from ferry.engine.counts import RunCounts
from ferry.engine.windows import Window


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "2024-05-01 08:30:00", datetime(2024, 5, 1, 8, 30, tzinfo=SHANGHAI), id="naive-is-shanghai"
        ),
        pytest.param("2024-05-01", datetime(2024, 5, 1, tzinfo=SHANGHAI), id="date-only"),
        pytest.param("2024/05/01 08:30", datetime(2024, 5, 1, 8, 30, tzinfo=SHANGHAI), id="slashes"),
        pytest.param(
            "2024-05-01T00:30:00+00:00", datetime(2024, 5, 1, 0, 30, tzinfo=UTC), id="iso-with-offset"
        ),
    ],
)
def test_parse_time_accepts_common_forms(text, expected):
    assert parse_time(text, option="--since") == expected


def test_parse_time_relative_is_before_now():
    now = datetime(2024, 5, 1, tzinfo=UTC)

    assert parse_time("2h", option="--since", now=now) == now - timedelta(hours=2)
    assert parse_time("7d ago", option="--since", now=now) == now - timedelta(days=7)


def test_parse_time_rejects_nonsense_naming_the_option():
    with pytest.raises(typer.BadParameter) as info:
        parse_time("soonish", option="'--until'")

    assert "'soonish' is not a time" in str(info.value)


def test_redact_masks_url_passwords_and_secret_query_values():
    text = (
        "connect mysql+pymysql://app:pa55@db:3306/erp failed; GET https://api.x/v1?app_key=1&token=abc&page=2"
    )

    masked = redact(text)

    assert "pa55" not in masked and "abc" not in masked
    assert "mysql+pymysql://app:***@db:3306/erp" in masked
    assert "token=***&page=2" in masked


def test_to_json_keeps_chinese_and_serialises_odd_values():
    text = to_json(
        {"名称": "螺丝", "at": datetime(2024, 5, 1, tzinfo=UTC), "amount": Decimal("1.50")}, indent=None
    )

    assert "螺丝" in text
    assert json.loads(text) == {"名称": "螺丝", "at": "2024-05-01 00:00:00+00:00", "amount": "1.50"}


def test_fmt_time_shows_shanghai_time():
    assert fmt_time(datetime(2024, 5, 1, 0, 0, tzinfo=UTC)) == "2024-05-01 08:00:00"
    assert fmt_time(None) == ""


def test_truncate_cuts_to_width_and_first_line():
    assert truncate("short", 10) == "short"
    assert truncate("a" * 20, 10) == "a" * 9 + "…"
    assert truncate("first\nsecond", 40) == "first…"
    assert truncate(None, 5) == ""


def _events(reporter) -> None:
    counts = RunCounts(fetched=100, delivered=40)
    window = Window(datetime(2024, 5, 1, tzinfo=SHANGHAI), datetime(2024, 5, 2, tzinfo=SHANGHAI))
    reporter("window", window=window, index=0, total=2)
    reporter("page", window=window, page=0, records=100, counts=counts)
    reporter("deliver", records=40, seconds=0.2, counts=counts)
    reporter("retry", attempt=1, error="timeout talking to mysql://u:secret@h/db")
    reporter("recovered", records=5)
    reporter("something-new", foo=1)


def test_line_reporter_prints_one_line_per_event(capsys):
    reporter = LineReporter("orders", interval=0)

    _events(reporter)

    out = capsys.readouterr().out.splitlines()
    assert out[0] == "[orders] window 1/2 [2024-05-01 00:00:00+08:00, 2024-05-02 00:00:00+08:00)"
    assert out[1].startswith("[orders] page 0: 100 records; fetched 100 (")
    assert out[2].startswith("[orders] delivered a batch of 40 in 0.20s; fetched 100")
    assert out[3] == "[orders] retry 1: timeout talking to mysql://u:***@h/db"
    assert out[4] == "[orders] 5 records left queued by an interrupted run are pending again"
    assert len(out) == 5
    assert (reporter.fetched, reporter.delivered) == (100, 40)


def test_line_reporter_throttles_page_lines_but_not_windows(capsys):
    reporter = LineReporter("orders", interval=3600)
    counts = RunCounts(fetched=1)
    window = Window(datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 2, tzinfo=UTC))

    reporter("window", window=window, index=0, total=2)
    for page in range(5):
        reporter("page", window=window, page=page, records=1, counts=counts)
    reporter("window", window=window, index=1, total=2)
    reporter("page", window=window, page=0, records=1, counts=counts)

    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines] == ["window", "page", "window", "page"]


def test_live_reporter_renders_on_a_terminal():
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120)

    with LiveReporter("orders", console) as reporter:
        _events(reporter)
        reporter.finish()

    text = buffer.getvalue()
    assert "retry 1:" in text
    assert "secret" not in text
    assert reporter.windows_total == 2


def _render(table, width: int) -> list[str]:
    buffer = io.StringIO()
    Console(file=buffer, width=width).print(table)
    return buffer.getvalue().splitlines()


def test_fitted_table_keeps_numbers_whole_and_cuts_the_flexible_column():
    from ferry.cli._tables import fitted_table

    headers = ("id", "fetched", "delivered", "error")
    rows = [
        ("1", "20,000", "19,999", "target refused the batch: duplicate key 'SO-2024-0001' in t_order " * 3)
    ]

    lines = _render(fitted_table(headers, rows, width=60, right={"fetched"}, flex="error"), 60)

    assert all(len(line) <= 60 for line in lines)
    assert "20,000" in lines[2] and "19,999" in lines[2]
    assert lines[2].rstrip().endswith("…")


def test_fitted_table_drops_optional_columns_before_crushing_others():
    from ferry.cli._tables import fitted_table

    headers = ("id", "scheme", "kind", "started", "fetched")
    rows = [("1", "kuaimai-aftersale", "collect", "2024-05-01 08:00:00", "1,234,567")]

    lines = _render(fitted_table(headers, rows, width=50, optional=("kind",)), 50)

    assert lines[0].split() == ["id", "scheme", "started", "fetched"]
    assert "kuaimai-aftersale" in lines[2] and "2024-05-01 08:00:00" in lines[2]


def test_fitted_table_measures_chinese_by_display_width():
    from ferry.cli._tables import natural_width

    assert natural_width(("名称",), [("螺丝",)]) == 4
