"""Robust volume statistics: is one window's record count out of line with its history?

Pure functions (no store, no clock) for the ``volume_anomaly`` alert rule
(:mod:`ferry.observe.alerts.volume`). A count is compared with the counts of comparable
windows by a *robust z-score*::

    z = (count - median) / sigma
    sigma = max(1.4826 * MAD, min_spread * median, sqrt(median), 1)

``MAD`` is the median absolute deviation from the median; times 1.4826 it estimates the
standard deviation of normally distributed counts while one wild window (an outage, a flash
sale) barely moves it. The three floors keep a flat history (MAD 0) from firing on tiny
differences: ``min_spread`` (a share of the median) because four same-hour-of-week samples
cannot tell a quiet holiday from a real drop, ``sqrt(median)`` because independent arrivals
(orders) vary by about that much even when the history happened not to, and one record.

A second test stands on its own: a window with **zero** records where the history's median is
at least ``zero_when_median_at_least`` is anomalous whatever its z-score.

    >>> v = assess(0, [100, 96, 104, 110], threshold=3.5)
    >>> v.anomalous, v.reason
    (True, 'zero')
    >>> assess(60, [100, 96, 104, 110], threshold=3.5).anomalous   # a holiday-sized dip (-40%)
    False
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Literal, Protocol

__all__ = [
    "LENGTH_RATIO",
    "MAD_SCALE",
    "Counted",
    "History",
    "Verdict",
    "assess",
    "comparable_history",
    "mad",
    "robust_sigma",
]

MAD_SCALE = 1.4826
"""``1 / Φ⁻¹(3/4)``: MAD times this estimates the standard deviation of a normal sample."""

LENGTH_RATIO = 2.0
"""Windows are comparable when neither is more than this many times longer than the other;
their counts are then scaled to the judged window's length (a rate per hour times its hours)."""

Direction = Literal["both", "drop", "spike"]
Basis = Literal["hour-of-week", "hour-of-day", ""]


def mad(values: Sequence[float], center: float | None = None) -> float:
    """The median absolute deviation of ``values`` from ``center`` (default: their median).

    Raises:
        statistics.StatisticsError: ``values`` is empty.
    """
    middle = statistics.median(values) if center is None else center
    return statistics.median(abs(v - middle) for v in values)


def robust_sigma(median: float, spread: float, *, min_spread: float) -> float:
    """The scale a z-score divides by: ``MAD_SCALE * spread`` (``spread`` the MAD), floored at
    ``min_spread * median``, ``sqrt(median)`` and 1 (see the module docstring)."""
    return max(MAD_SCALE * spread, min_spread * median, math.sqrt(max(median, 0.0)), 1.0)


@dataclass(frozen=True)
class Verdict:
    """What :func:`assess` found about one count."""

    count: float
    median: float
    sigma: float
    z: float
    samples: int
    anomalous: bool
    reason: Literal["zero", "z", ""]
    """``zero`` (the zero rule fired), ``z`` (|z| over the threshold) or empty."""


def _beyond(z: float, threshold: float, direction: Direction) -> bool:
    if direction == "drop":
        return z < -threshold
    if direction == "spike":
        return z > threshold
    return abs(z) > threshold


def assess(
    count: float,
    history: Sequence[float],
    *,
    threshold: float,
    min_spread: float = 0.15,
    zero_when_median_at_least: float | None = 5,
    direction: Direction = "both",
) -> Verdict:
    """Judge ``count`` against ``history`` (the comparable windows' counts, same units).

    Anomalous when ``count`` is 0 and the median is at least ``zero_when_median_at_least``
    (``None``: never on that ground), or when ``z`` is beyond ``threshold`` in ``direction``
    (``drop``: only below, ``spike``: only above, ``both``).

    Raises:
        ValueError: ``history`` is empty (the caller decides how much history is enough).
    """
    if not history:
        raise ValueError("no history to compare the count with")
    median = statistics.median(history)
    sigma = robust_sigma(median, mad(history, median), min_spread=min_spread)
    z = (count - median) / sigma
    zero = (
        count == 0
        and zero_when_median_at_least is not None
        and median >= zero_when_median_at_least
        and direction != "spike"
    )
    reason: Literal["zero", "z", ""] = "zero" if zero else "z" if _beyond(z, threshold, direction) else ""
    return Verdict(count, median, sigma, z, len(history), bool(reason), reason)


class Counted(Protocol):
    """A window and its record count (e.g. :class:`ferry.store.alert_queries.WindowCount`)."""

    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...
    @property
    def records(self) -> int: ...


@dataclass(frozen=True)
class History:
    """The counts a window is judged against, scaled to its length, and how they were chosen."""

    counts: list[float]
    basis: Basis
    """``hour-of-week`` (same weekday and hour), ``hour-of-day`` (same hour, any day: the
    fallback while the weekly history is thin) or empty (too few samples: no verdict)."""


def _hours(window: Counted) -> float:
    return (window.end - window.start).total_seconds() / 3600


def _slot(window: Counted, tz: tzinfo) -> tuple[int, int]:
    """``(weekday, hour)`` of the window's middle, in ``tz``."""
    middle = (window.start + (window.end - window.start) / 2).astimezone(tz)
    return middle.weekday(), middle.hour


def comparable_history(
    target: Counted,
    windows: Iterable[Counted],
    *,
    tz: tzinfo,
    days: int,
    min_samples: int,
    length_ratio: float = LENGTH_RATIO,
) -> History:
    """The windows ``target`` is compared with, their counts scaled to ``target``'s length.

    Comparable: started in the ``days`` before ``target`` started, of a length within
    ``length_ratio`` of ``target``'s, and whose middle falls in the same hour of the same
    weekday (in ``tz``); when fewer than ``min_samples`` do, the same hour of any day; when
    fewer still, none (``basis`` empty). A scheme's windows are cut from its cursor to *now*, so
    a run at an odd time makes a short window: it is judged only against windows as short.
    """
    hours = _hours(target)
    since = target.start - timedelta(days=days)
    weekday, hour = _slot(target, tz)
    same_week: list[float] = []
    same_day: list[float] = []
    for window in windows:
        length = _hours(window)
        if not since <= window.start < target.start or not 1 / length_ratio <= length / hours <= length_ratio:
            continue
        scaled = window.records * hours / length
        slot = _slot(window, tz)
        if slot[1] == hour:
            same_day.append(scaled)
            if slot[0] == weekday:
                same_week.append(scaled)
    if len(same_week) >= min_samples:
        return History(same_week, "hour-of-week")
    if len(same_day) >= min_samples:
        return History(same_day, "hour-of-day")
    return History([], "")
