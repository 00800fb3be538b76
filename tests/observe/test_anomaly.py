"""The robust statistics of ``volume_anomaly`` (pure: no store, no clock) and the active-time clock
of ``freshness``."""

from __future__ import annotations

import statistics
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from volume_history import TARGET, TZ, Hour, history, usual

from ferry.observe.alerts.volume import active_elapsed
from ferry.observe.anomaly import MAD_SCALE, assess, comparable_history, mad, robust_sigma

# -- median, MAD, sigma --------------------------------------------------------------------------


def test_mad_is_the_median_distance_from_the_median() -> None:
    assert mad([1, 2, 3, 4, 100]) == 1  # median 3; distances 2 1 0 1 97
    assert mad([100, 96, 104, 110]) == 4  # median 102; distances 2 6 2 8
    assert mad([7, 7, 7]) == 0
    with pytest.raises(statistics.StatisticsError):
        mad([])


def test_sigma_is_the_scaled_mad_above_its_three_floors() -> None:
    assert robust_sigma(1000, 200, min_spread=0.15) == pytest.approx(MAD_SCALE * 200)  # the MAD rules
    assert robust_sigma(1000, 0, min_spread=0.15) == pytest.approx(150)  # flat history: share of median
    assert robust_sigma(100, 0, min_spread=0.0) == pytest.approx(10)  # arrivals vary by sqrt(n)
    assert robust_sigma(0, 0, min_spread=0.15) == 1.0  # never below one record


@pytest.mark.parametrize(
    ("count", "anomalous", "reason"),
    [
        pytest.param(102, False, "", id="usual"),
        pytest.param(61, False, "", id="holiday-dip-40pct"),
        pytest.param(10, True, "z", id="10x-drop"),
        pytest.param(1020, True, "z", id="10x-spike"),
        pytest.param(0, True, "zero", id="zero"),
    ],
)
def test_a_count_is_judged_by_its_robust_z_score(count: int, anomalous: bool, reason: str) -> None:
    verdict = assess(count, [100, 96, 104, 110], threshold=3.5)
    assert (verdict.anomalous, verdict.reason) == (anomalous, reason)
    assert verdict.median == 102 and verdict.samples == 4
    assert verdict.z == pytest.approx((count - 102) / verdict.sigma)


def test_a_flat_history_does_not_fire_on_a_small_difference() -> None:
    flat = [50.0] * 12  # MAD 0: without a floor any change would be an infinite z
    assert not assess(47, flat, threshold=3.5).anomalous
    assert not assess(56, flat, threshold=3.5).anomalous
    assert assess(5, flat, threshold=3.5).anomalous


def test_the_zero_rule_fires_on_its_own_and_only_above_its_median() -> None:
    # MAD 0 and a tiny median: the z-score alone would stay quiet (sigma floor sqrt(6) ~ 2.4 -> z -2.4)
    assert assess(0, [6, 6, 6, 6], threshold=3.5).reason == "zero"
    assert not assess(0, [4, 4, 4, 4], threshold=3.5).anomalous  # median 4 < 5
    assert not assess(0, [6, 6, 6, 6], threshold=3.5, zero_when_median_at_least=None).anomalous
    assert not assess(0, [60] * 4, threshold=3.5, direction="spike").anomalous


def test_direction_limits_which_side_fires() -> None:
    history = [100, 96, 104, 110]
    assert not assess(10, history, threshold=3.5, direction="spike").anomalous
    assert not assess(1000, history, threshold=3.5, direction="drop").anomalous
    assert assess(10, history, threshold=3.5, direction="drop").anomalous


def test_assess_refuses_an_empty_history() -> None:
    with pytest.raises(ValueError, match="no history"):
        assess(3, [], threshold=3.5)


# -- comparable windows --------------------------------------------------------------------------


def test_history_is_the_same_hour_of_the_same_weekday_when_there_are_enough() -> None:
    past = history(weeks=4)
    target = Hour(TARGET, 100)  # Monday 10:00
    found = comparable_history(target, past, tz=TZ, days=28, min_samples=4)
    assert found.basis == "hour-of-week"
    mondays = [h.records for h in past if h.start.astimezone(TZ).weekday() == 0 and h.start.hour == 10]
    assert sorted(found.counts) == sorted(mondays) and len(mondays) == 4


def test_thin_weekly_history_falls_back_to_the_same_hour_of_any_day() -> None:
    past = history(weeks=2)  # two Mondays only
    found = comparable_history(Hour(TARGET, 100), past, tz=TZ, days=28, min_samples=4)
    assert found.basis == "hour-of-day" and len(found.counts) == 14
    assert comparable_history(Hour(TARGET, 100), past[-48:], tz=TZ, days=28, min_samples=4).basis == ""


def test_windows_of_other_lengths_are_left_out_and_similar_ones_scaled() -> None:
    week = timedelta(weeks=1)
    target = Hour(TARGET, 100)

    class Span:
        def __init__(self, start: datetime, minutes: int, records: int) -> None:
            self.start, self.end, self.records = start, start + timedelta(minutes=minutes), records

    past = [
        Span(TARGET - week, 60, 100),
        Span(TARGET - 2 * week + timedelta(minutes=15), 30, 50),  # half as long: scaled to 100
        Span(TARGET - 3 * week, 5, 0),  # a 5-minute window: not comparable with an hour
        Span(TARGET - 4 * week, 60 * 24, 2400),  # a whole day: not comparable either
        Span(TARGET - 5 * week, 60, 999),  # older than `days`
    ]
    found = comparable_history(target, past, tz=TZ, days=28, min_samples=2)
    assert found.basis == "hour-of-week" and sorted(found.counts) == [100.0, 100.0]


def test_weekly_seasonality_never_fires_on_a_normal_week() -> None:
    """Every hourly window of a fifth week, judged against the four before it: the weekend and
    the nights are quiet, and hour-of-week history knows it; hour-of-day history would not."""
    hours = history(weeks=5)
    last_week = hours[-168:]
    fired, naive = [], []
    for i, window in enumerate(last_week):
        past = hours[: len(hours) - 168 + i]
        found = comparable_history(window, past, tz=TZ, days=28, min_samples=4)
        assert found.basis == "hour-of-week"
        if assess(window.records, found.counts, threshold=3.5).anomalous:
            fired.append(window)
        daily = [h.records for h in past[-28 * 24 :] if h.start.hour == window.start.hour]
        naive.append(assess(window.records, daily, threshold=3.5).anomalous)
    assert fired == []
    assert sum(naive) >= 10  # the weekend's daytime looks like a drop to a same-hour-of-day history


def test_a_holiday_sized_dip_stays_inside_and_a_10x_drop_does_not() -> None:
    past = history(weeks=4)
    weekly = comparable_history(Hour(TARGET, 0), past, tz=TZ, days=28, min_samples=4).counts
    expected = usual(TARGET)
    assert not assess(round(expected * 0.6), weekly, threshold=3.5).anomalous
    assert assess(round(expected / 10), weekly, threshold=3.5).reason == "z"
    assert assess(0, weekly, threshold=3.5).reason == "zero"


# -- active time (freshness) ---------------------------------------------------------------------

SH = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 6, day, hour, minute, tzinfo=SH)  # 3 June 2024 is a Monday


@pytest.mark.parametrize(
    ("since", "now", "hours", "days", "expected"),
    [
        pytest.param(at(3, 9), at(3, 12), None, None, timedelta(hours=3), id="all-day"),
        pytest.param(
            at(3, 21), at(4, 9), (time(8), time(22)), None, timedelta(hours=2), id="night-does-not-count"
        ),
        pytest.param(
            at(3, 21), at(4, 7), (time(22), time(6)), None, timedelta(hours=8), id="wrapping-midnight"
        ),
        pytest.param(
            at(7, 17), at(10, 9), (time(9), time(18)), ("mon", "tue", "wed", "thu", "fri"),
            timedelta(hours=1), id="weekend-does-not-count",
        ),
        pytest.param(at(3, 12), at(3, 11), None, None, timedelta(0), id="future-since"),
    ],
)  # fmt: skip
def test_active_elapsed_counts_only_active_time(since, now, hours, days, expected) -> None:
    kwargs = {} if days is None else {"days": days}
    assert active_elapsed(since, now, tz=SH, hours=hours, **kwargs) == expected


def test_active_elapsed_stops_counting_once_past_enough() -> None:
    long_ago = at(3, 0) - timedelta(days=3650)
    found = active_elapsed(long_ago, at(3, 12), tz=SH, enough=timedelta(hours=2))
    assert timedelta(hours=2) < found <= timedelta(hours=2) + 2 * timedelta(days=1)
