"""The pacer keeps calls within the vendor's sliding-window budgets and honours throttling."""

from __future__ import annotations

import pytest

from ferry.connectors.base import Limits
from ferry.engine.pacing import Pacer, pacer_for


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def calls_per_window(times: list[float], window: float) -> int:
    """The most calls found in any sliding window of ``window`` seconds."""
    return max(sum(1 for t in times if start <= t < start + window) for start in times)


def test_pacer_never_exceeds_five_per_second_and_hundred_per_minute() -> None:
    clock = FakeClock()
    pacer = Pacer(5, 100, clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(250):
        pacer.wait()
        times.append(clock.now)
    assert calls_per_window(times, 1.0) <= 5
    assert calls_per_window(times, 60.0) <= 100
    # 250 calls at 100/min need a little over two minutes, not much more
    assert 120 <= times[-1] - times[0] < 135


def test_unlimited_pacer_never_waits() -> None:
    clock = FakeClock()
    pacer = Pacer(None, None, clock=clock, sleep=clock.sleep)
    for _ in range(1000):
        assert pacer.wait() == 0.0
    assert clock.slept == [] and not pacer.active


def test_penalize_holds_the_next_call_for_the_vendors_retry_after() -> None:
    clock = FakeClock()
    pacer = Pacer(None, None, clock=clock, sleep=clock.sleep)
    pacer.penalize(3.0)
    start = clock.now
    waited = pacer.wait()
    assert waited == pytest.approx(3.0)
    assert clock.now - start == pytest.approx(3.0)
    assert pacer.wait() == 0.0


def test_penalize_without_retry_after_waits_one_second() -> None:
    clock = FakeClock()
    pacer = Pacer(10, None, clock=clock, sleep=clock.sleep)
    pacer.penalize(None)
    assert pacer.wait() == pytest.approx(1.0)


def test_budget_below_one_call_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least one call"):
        Pacer(0.5, None)


class Conn:
    def __init__(self, name: str) -> None:
        self.name = name


def test_connectors_of_one_connection_share_a_pacer_and_others_do_not() -> None:
    limits = Limits(rate_per_second=5, rate_per_minute=100)
    a, b, c = Conn("jst-shared"), Conn("jst-shared"), Conn("jst-other")
    assert pacer_for(a, limits) is pacer_for(b, limits)
    assert pacer_for(a, limits) is not pacer_for(c, limits)
    assert pacer_for(a, Limits(rate_per_second=50)) is not pacer_for(a, limits)
