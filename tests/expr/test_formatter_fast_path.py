"""Epoch formatting without datetime arithmetic where a zone's offset is constant: the results
must be exactly ``apply_formatter``'s, inside and outside the constant-offset range."""

from __future__ import annotations

from datetime import timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ferry.expr import EvalContext, compile_value
from ferry.expr.formatters import apply_formatter, formatter_function
from ferry.expr.tzoffsets import constant_offset

SHANGHAI = ZoneInfo("Asia/Shanghai")
SHANGHAI_LAST_DST_END = 684867600  # 1991-09-15 01:00 +09:00 (CDT -> CST)


def test_shanghai_has_had_a_constant_offset_since_its_last_dst() -> None:
    assert constant_offset(SHANGHAI) == (SHANGHAI_LAST_DST_END, 8 * 3600)


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        pytest.param(ZoneInfo("Europe/Berlin"), None, id="dst-zone"),
        pytest.param(ZoneInfo("America/New_York"), None, id="dst-zone-west"),
        pytest.param(ZoneInfo("UTC"), (0, 0), id="utc"),
        pytest.param(timezone(timedelta(hours=-3, minutes=-30)), (0, -12600), id="fixed-timezone"),
    ],
)
def test_constant_offset_of_other_zones(tz: tzinfo, expected: tuple[int, int] | None) -> None:
    assert constant_offset(tz) == expected


EPOCHS = [
    0,
    1,
    86399,
    SHANGHAI_LAST_DST_END - 1,
    SHANGHAI_LAST_DST_END,
    1714560000,
    1714579199,
    2**31,
    99_999_999_999,
    100_000_000_000,  # from here on: milliseconds
    1714560000123,
    -1,
    -86401,
    1714560000.5,
    True,
    "1714560000",
]


@pytest.mark.parametrize("name", ["datetime", "date", "timestamp", "unix", "timestamp_ms"])
@pytest.mark.parametrize(
    "tz",
    [SHANGHAI, ZoneInfo("Europe/Berlin"), ZoneInfo("Asia/Tokyo"), timezone(timedelta(hours=5, minutes=45))],
    ids=str,
)
def test_formatter_function_gives_exactly_what_apply_formatter_gives(name: str, tz: tzinfo) -> None:
    fast = formatter_function(name)
    for value in EPOCHS:
        assert _outcome(fast, value, tz) == _outcome(lambda v, z: apply_formatter(name, v, z), value, tz), (
            value
        )


def test_formatting_in_alternating_zones_uses_each_zone_s_own_offset() -> None:
    zones = [
        SHANGHAI,
        ZoneInfo("Asia/Tokyo"),
        timezone(timedelta(hours=-3)),
        SHANGHAI,
        ZoneInfo("Europe/Berlin"),
    ]
    fast = formatter_function("datetime")
    for value in EPOCHS:
        for tz in zones:
            assert _outcome(fast, value, tz) == _outcome(
                lambda v, z: apply_formatter("datetime", v, z), value, tz
            )


def _outcome(fn: Any, value: Any, tz: tzinfo) -> Any:
    try:
        return ("ok", fn(value, tz))
    except Exception as exc:  # the comparison includes the failure
        return ("error", type(exc).__name__, str(exc))


def test_int_epoch_formats_in_the_run_zone_on_both_sides_of_the_last_dst_change() -> None:
    cv = compile_value("{{created|datetime}} / {{created|date}}", path="p")
    cases = {
        1714579199: "2024-05-01 23:59:59 / 2024-05-01",
        1714579200: "2024-05-02 00:00:00 / 2024-05-02",
        SHANGHAI_LAST_DST_END - 1: "1991-09-15 01:59:59 / 1991-09-15",  # still +09:00
        SHANGHAI_LAST_DST_END: "1991-09-15 01:00:00 / 1991-09-15",
    }
    for epoch, text in cases.items():
        assert cv.evaluate(EvalContext(row={"created": epoch})) == text
