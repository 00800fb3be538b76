"""Chart axes stay readable however many points: no two x labels overlap, none is cut off."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

import pytest

from ferry.console._charts import Series, label_indexes, line_chart, text_width


def hours(count: int, shape: str) -> list[str]:
    start = datetime(2026, 12, 7, 3, tzinfo=UTC)
    return [(start + timedelta(hours=i)).strftime(shape) for i in range(count)]


@pytest.mark.parametrize(
    ("labels", "width"),
    [
        pytest.param(hours(24, "%H:00"), 720, id="dashboard-24h"),
        pytest.param(hours(24, "%H:%M"), 460, id="api-24h"),
        pytest.param(hours(48, "%m-%d %H:%M"), 460, id="api-7-days"),
        pytest.param(hours(168, "%m-%d %H:%M"), 460, id="a-week-of-hours"),
        pytest.param(["最近一小时"] * 30, 460, id="chinese-labels"),
        pytest.param(hours(2, "%H:00"), 720, id="two-points"),
    ],
)
def test_x_labels_never_overlap_nor_leave_the_chart(labels: list[str], width: int) -> None:
    svg = line_chart([Series("calls", list(range(len(labels))))], labels, width=width, height=170)

    drawn = [
        (float(x), text) for x, text in re.findall(r'class="axis x-label" x="([\d.]+)"[^>]*>([^<]+)<', svg)
    ]

    assert drawn[-1][1] == labels[-1], "the newest point is always labelled"
    assert len(drawn) >= min(len(labels), 4), "enough labels to read the axis"
    for (x1, t1), (x2, t2) in itertools.pairwise(drawn):
        assert x2 - x1 >= (text_width(t1) + text_width(t2)) / 2 + 4, f"{t1!r} and {t2!r} overlap"
    for x, text in drawn:
        assert x - text_width(text) / 2 >= 0 and x + text_width(text) / 2 <= width, f"{text!r} is cut off"


def test_labels_are_spaced_evenly_from_the_last() -> None:
    assert label_indexes(hours(24, "%H:00"), 644) == list(range(1, 24, 2))
    assert label_indexes(["a"] * 5, 644, every=2) == [0, 2, 4]
    assert label_indexes([], 644) == [] and label_indexes(["x"], 644) == [0]


def test_the_legend_makes_room_for_long_labels_and_the_caption_names_the_zone() -> None:
    svg = line_chart(
        [Series("接收记录（最近 24 小时）", [1, 2]), Series("Delivered to the target", [1, 1])],
        ["01:00", "02:00"],
        x_caption="UTC+08:00",
    )

    first, second = (float(x) for x in re.findall(r'<text class="legend" x="([\d.]+)"', svg))
    assert second - first >= text_width("接收记录（最近 24 小时）") + 18
    assert ">UTC+08:00</text>" in svg
