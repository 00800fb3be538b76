import itertools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ferry.engine.windows import Window, plan_windows

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 5, 21, 12, 0, tzinfo=TZ)


def test_first_run_starts_at_window_start_and_steps_half_open():
    ws = plan_windows(
        now=NOW, cursor=None, start=datetime(2024, 5, 19, 0, 0, tzinfo=TZ), step=timedelta(days=1)
    )
    assert ws == [
        Window(datetime(2024, 5, 19, tzinfo=TZ), datetime(2024, 5, 20, tzinfo=TZ)),
        Window(datetime(2024, 5, 20, tzinfo=TZ), datetime(2024, 5, 21, tzinfo=TZ)),
        Window(datetime(2024, 5, 21, tzinfo=TZ), NOW),
    ]
    assert all(a.end == b.start for a, b in itertools.pairwise(ws)), "no gap, no overlap"


def test_twenty_days_split_to_a_seven_day_connector_limit_is_three_windows():
    start = NOW - timedelta(days=20)
    ws = plan_windows(
        now=NOW, cursor=start, start=None, step=timedelta(days=30), connector_max=timedelta(days=7)
    )
    assert [w.end - w.start for w in ws] == [timedelta(days=7), timedelta(days=7), timedelta(days=6)]


def test_lookback_and_lag_shift_the_range():
    cursor = NOW - timedelta(hours=1)
    ws = plan_windows(
        now=NOW,
        cursor=cursor,
        start=None,
        step=timedelta(days=1),
        lookback=timedelta(minutes=10),
        lag=timedelta(minutes=5),
    )
    assert ws == [Window(cursor - timedelta(minutes=10), NOW - timedelta(minutes=5))]


def test_nothing_to_do_when_the_cursor_is_past_now_minus_lag():
    assert (
        plan_windows(now=NOW, cursor=NOW, start=None, step=timedelta(days=1), lag=timedelta(minutes=1)) == []
    )


def test_without_cursor_or_start_the_first_window_is_one_step():
    assert plan_windows(now=NOW, cursor=None, start=None, step=timedelta(hours=2)) == [
        Window(NOW - timedelta(hours=2), NOW)
    ]


def test_naive_now_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        plan_windows(now=datetime(2024, 1, 1), cursor=None, start=None, step=timedelta(days=1))
